package query

import (
	"math"
	"slices"

	"github.com/lagtrail/lagtrail/store"
)

// BacklogSeconds is how far behind, in seconds of current production, a
// group must be for its lag to be a backlog: store.DefaultBacklog's, the
// one rule every surface applies (IsBacklog).
const BacklogSeconds = store.DefaultBacklogSeconds

// IsBacklog reports whether lag is a backlog at the production rate
// produce (messages per second; nil when unknown): store.DefaultBacklog.
func IsBacklog(lag int64, produce *float64) bool {
	p := 0.0
	if produce != nil {
		p = *produce
	}
	return store.DefaultBacklog.Exceeds(float64(lag), p)
}

// Capacity is a group's production profile and the consumption it was seen
// to reach, from its History rows.
type Capacity struct {
	// Buckets is the number of rows with both rates known.
	Buckets int
	// ProduceP50, ProduceP99 and ProduceMax are over the rows' production
	// rates, in messages per second (nearest-rank percentiles).
	ProduceP50, ProduceP99, ProduceMax float64
	// Observed is the highest consumption rate of a row that started with
	// a backlog (lag above BacklogSeconds of production) and ended with
	// less lag: the consumer was working flat out. Zero when no row did.
	Observed float64
	// BackloggedBuckets is the number of such rows.
	BackloggedBuckets int
	// ConsumeMax is the highest consumption rate of any row.
	ConsumeMax float64
	// Headroom is Observed ÷ ProduceP99; without a backlogged row it is
	// ConsumeMax ÷ ProduceP99 and only a lower bound (LowerBound). Zero
	// when ProduceP99 is zero.
	Headroom   float64
	LowerBound bool
}

// CapacityFrom summarises one key's rows, in time order (as History
// returns them, one key at a time).
func CapacityFrom(rows []Row) Capacity {
	var c Capacity
	var produce []float64
	var prevLag *int64
	for _, r := range rows {
		startLag := prevLag
		prevLag = r.Lag
		if r.ProduceRate == nil || r.ConsumeRate == nil {
			continue
		}
		c.Buckets++
		p, q := *r.ProduceRate, *r.ConsumeRate
		produce = append(produce, p)
		c.ConsumeMax = max(c.ConsumeMax, q)
		if startLag != nil && r.Lag != nil && IsBacklog(*startLag, &p) && *r.Lag < *startLag {
			c.BackloggedBuckets++
			c.Observed = max(c.Observed, q)
		}
	}
	if len(produce) == 0 {
		return c
	}
	slices.Sort(produce)
	c.ProduceP50 = nearestRank(produce, 0.50)
	c.ProduceP99 = nearestRank(produce, 0.99)
	c.ProduceMax = produce[len(produce)-1]
	if c.ProduceP99 > 0 {
		if c.BackloggedBuckets > 0 {
			c.Headroom = c.Observed / c.ProduceP99
		} else {
			c.Headroom, c.LowerBound = c.ConsumeMax/c.ProduceP99, true
		}
	}
	return c
}

// nearestRank returns the q quantile of sorted values by the nearest-rank
// method.
func nearestRank(sorted []float64, q float64) float64 {
	i := int(math.Ceil(q*float64(len(sorted)))) - 1
	return sorted[max(0, min(i, len(sorted)-1))]
}
