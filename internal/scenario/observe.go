package scenario

import (
	"math"
	"sort"
	"time"

	"github.com/lagtrail/lagtrail/internal/alisim"
	"github.com/lagtrail/lagtrail/store"
)

// maxRebalances is how many of the latest rebalances GetConsumerProgress
// reports.
const maxRebalances = 3

// rebalanceGeneration is the generation before a group's first rebalance.
const rebalanceGeneration = 100

// Progress returns what GetConsumerProgress reports for the group at t; ok
// is false for a group the scenario does not have. Offsets are the model's
// continuous offsets at t rounded down, the consumer's capped at the
// broker's; LastTimestamp is the produce time of the last consumed message
// (0 when nothing was consumed, -1 when the group hides timestamps).
func (m *Model) Progress(ref store.GroupRef, t time.Time) (alisim.GroupProgress, bool) {
	gs := m.byRef[ref]
	if gs == nil {
		return alisim.GroupProgress{}, false
	}
	k, f := m.minuteOf(t)
	m.mu.Lock()
	defer m.mu.Unlock()
	m.ensure(k)
	var out alisim.GroupProgress
	for ti, ts := range gs.topics {
		tp := alisim.TopicProgress{Name: ts.spec.Name}
		for p, ps := range ts.parts {
			if ps.born > k {
				break
			}
			c := gs.cons[ti][p]
			broker := math.Floor(lerp(ps.s[k-ps.born], ps.e[k-ps.born], f))
			consumer := math.Min(broker, math.Floor(lerp(c.s[k-c.born], c.e[k-c.born], f)))
			last := int64(-1)
			if !gs.spec.HideTimestamps {
				last = m.produceTimeMs(ps, consumer, k)
			}
			tp.Partitions = append(tp.Partitions, alisim.PartitionProgress{
				Partition: p, Broker: int64(broker), Consumer: int64(consumer), LastTimestampMs: last,
			})
		}
		out.Topics = append(out.Topics, tp)
	}
	d := t.Sub(m.start)
	n := sort.Search(len(gs.rebalances), func(i int) bool { return time.Duration(gs.rebalances[i].At) > d })
	for i := max(0, n-maxRebalances); i < n; i++ {
		rb := gs.rebalances[i]
		took := time.Duration(rb.Took)
		if took == 0 {
			took = 30 * time.Second
		}
		reason := rb.Reason
		if reason == "" {
			reason = "consumer joined or left the group"
		}
		out.Rebalances = append(out.Rebalances, alisim.Rebalance{
			Generation:             int64(rebalanceGeneration + i + 1),
			LastRebalanceTimestamp: m.start.Add(time.Duration(rb.At)).UnixMilli(),
			Reason:                 reason,
			RebalanceTimeConsuming: took.Milliseconds(),
			RebalanceSuccess:       true,
		})
	}
	return out, true
}

func lerp(a, b, f float64) float64 { return a + (b-a)*f }

// produceTimeMs returns the produce time, in Unix ms, of message v-1: the
// instant the broker offset first exceeded v-1, in the era (since birth or
// the last recreate) holding minute k. Messages older than the start are
// taken to have been produced at the first minute's rate. Callers hold mu.
func (m *Model) produceTimeMs(ps *partState, v float64, k int) int64 {
	if v <= 0 {
		return 0
	}
	era := ps.eras[0]
	for _, e := range ps.eras {
		if e <= k {
			era = e
		}
	}
	lo, hi := era-ps.born, k-ps.born
	// First minute in [lo, hi] whose end offset reaches v.
	i := lo + sort.Search(hi-lo+1, func(j int) bool { return ps.e[lo+j] >= v })
	if i > hi {
		i = hi
	}
	s, e := ps.s[i], ps.e[i]
	if v <= s {
		// Before the era's first minute: only possible before the start.
		if era != 0 || ps.born != 0 || ps.rate0 <= 0 {
			return m.start.Add(time.Duration(era) * time.Minute).UnixMilli()
		}
		return m.start.UnixMilli() - int64(math.Round(1000*(s-v)/ps.rate0))
	}
	frac := 1.0
	if e > s {
		frac = (v - s) / (e - s)
	}
	at := float64(m.start.UnixMilli()) + float64(ps.born+i)*60000 + frac*60000
	return int64(math.Round(at))
}
