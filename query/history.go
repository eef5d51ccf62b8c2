package query

import (
	"context"
	"fmt"
	"time"

	"github.com/lagtrail/lagtrail/store"
)

// Range is a selection over a time range, cut into buckets.
type Range struct {
	Selection
	// From and To bound the range, [From, To).
	From, To time.Time
	// Step is the bucket width; zero derives it from the range with
	// DefaultStep.
	Step time.Duration
	// By is the level of detail of the rows.
	By store.Level
	// Tier picks where the buckets are computed; TierAuto by default.
	Tier Tier
	// Explain asks History for the plan of its bucket statement, run
	// under EXPLAIN (ANALYZE, BUFFERS), in place of the rows.
	Explain bool
}

// Tier is where History computes its buckets.
type Tier string

// The tiers.
const (
	// TierAuto reads the rollups when they can answer exactly and the
	// range is long (RollupMinRange), and the raw tier otherwise.
	TierAuto Tier = ""
	// TierRaw computes every bucket from the raw samples.
	TierRaw Tier = "raw"
	// TierRollup reads the hourly or daily rollups; a request they cannot
	// answer is an error.
	TierRollup Tier = "rollup"
)

// RollupMinRange is the shortest range TierAuto reads from the rollups.
const RollupMinRange = 24 * time.Hour

// rollupProblem says why the rollups cannot answer a history of these
// edges, or returns "" when they can: steps of whole hours on the hour
// (whole UTC days read the daily tier), at the group or partition level,
// the group level for whole groups only.
func rollupProblem(r Range, edges []time.Time, step time.Duration) string {
	switch {
	case step%time.Hour != 0 || store.RollupTier(edges) == 0:
		return "the step must be whole hours and the range start on the hour"
	case r.By == store.LevelTopic:
		return "rollups keep no lag per topic; use --by group or --by partition"
	case r.By == store.LevelGroup && (r.Topic != "" || r.Partition != nil):
		return "rollups keep the lag of whole groups only; use --by partition for a topic or partition"
	}
	return ""
}

// edges validates r and returns its bucket edges and step.
func (r Range) edges() ([]time.Time, time.Duration, error) {
	if r.Step < 0 {
		return nil, 0, fmt.Errorf("%w: step must be positive, got %s", ErrInvalidRequest, r.Step)
	}
	if r.From.After(r.To) {
		return nil, 0, fmt.Errorf("%w: --from %s is after --to %s", ErrInvalidRequest,
			r.From.UTC().Format(time.RFC3339), r.To.UTC().Format(time.RFC3339))
	}
	step := r.Step
	if step == 0 {
		step = DefaultStep(r.To.Sub(r.From))
	}
	e, err := Edges(r.From.UTC(), r.To.UTC(), step, store.MaxBuckets)
	return e, step, err
}

// Row is what one key did in one bucket [Start, End). Pointers are nil when
// the value is unknown: no sample (lag) or no counted interval (rates) in
// the bucket.
type Row struct {
	store.Key
	Start, End time.Time
	// Polls is the number of polls with samples in the bucket.
	Polls int
	// Lag is the sum of the partitions' lag at the last poll in the
	// bucket; LagMax the largest such sum in the bucket.
	Lag, LagMax *int64
	// Clamped counts partition samples whose broker offset was read below
	// the consumer offset; their lag counted as 0.
	Clamped int64
	// TimeLag is the largest partition time lag at the last poll, in
	// seconds; TimeLagKind says whether it was sampled, estimated or is a
	// lower bound.
	TimeLag     *float64
	TimeLagKind store.TimeLagKind
	// Consumed and Produced are the messages counted in the bucket,
	// interpolated at its edges: consecutive buckets add up to the count
	// over their union.
	Consumed, Produced *float64
	// ConsumeRate, ProduceRate and NetRate (produce minus consume) are in
	// messages per second.
	ConsumeRate, ProduceRate, NetRate *float64
	// Covered is the seconds of the bucket the consumer's counted intervals
	// span.
	Covered float64
	// Slope is the least-squares slope of the lag over the bucket's polls,
	// in messages per second.
	Slope *float64
	// Events are the kinds of series breaks that end in the bucket.
	Events []string
}

// History is the answer to a Range: a row per key and bucket, every bucket
// present, and the series breaks in the range.
type History struct {
	Groups []store.GroupRef
	From   time.Time
	To     time.Time
	Step   time.Duration
	By     store.Level
	// Rows are ordered by key, then time.
	Rows []Row
	// Events are the breaks in the range, in time order. The rollups keep
	// none: read from them, a History has no events (Engine.Events lists
	// those of the raw tier).
	Events []store.Event
	// Tier is where the buckets were computed: TierRaw or TierRollup.
	Tier Tier
	// Plan is PostgreSQL's EXPLAIN (ANALYZE, BUFFERS) of the bucket
	// statement when the Range asked for it; Rows and Events are then
	// empty.
	Plan string
}

// History aggregates the selected partitions over r's buckets: lag, time
// lag, rates and breaks. The aggregation runs in the database.
func (e *Engine) History(ctx context.Context, r Range) (*History, error) {
	edges, step, err := r.edges()
	if err != nil {
		return nil, err
	}
	groups, err := e.resolve(ctx, r.Selection)
	if err != nil {
		return nil, err
	}
	tier := TierRaw
	problem := rollupProblem(r, edges, step)
	switch r.Tier {
	case TierAuto:
		if problem == "" && edges[len(edges)-1].Sub(edges[0]) >= RollupMinRange {
			tier = TierRollup
		}
	case TierRollup:
		if problem != "" {
			return nil, fmt.Errorf("%w: cannot read the rollups: %s", ErrInvalidRequest, problem)
		}
		tier = TierRollup
	case TierRaw:
	default:
		return nil, fmt.Errorf("%w: unknown tier %q: want raw or rollup", ErrInvalidRequest, r.Tier)
	}
	q := e.aggregate(groups, r.Selection, r.By, edges)
	h := &History{Groups: groups, From: edges[0], To: edges[len(edges)-1], Step: step, By: r.By, Tier: tier}
	if r.Explain {
		plan, err := e.src.ExplainBuckets(ctx, q, tier == TierRollup)
		if err != nil {
			return nil, fmt.Errorf("history: %w", err)
		}
		h.Plan = plan
		return h, nil
	}
	if tier == TierRollup {
		aggs, err := e.src.RollupBuckets(ctx, q)
		if err != nil {
			return nil, fmt.Errorf("history: %w", err)
		}
		h.Rows = fillRows(aggs, edges)
		return h, nil
	}
	aggs, err := e.src.Buckets(ctx, q)
	if err != nil {
		return nil, fmt.Errorf("history: %w", err)
	}
	if h.Events, err = e.src.Events(ctx, q); err != nil {
		return nil, fmt.Errorf("history: %w", err)
	}
	h.Rows = fillRows(aggs, edges)
	return h, nil
}

// fillRows turns aggregates (ordered by key, then bucket) into rows with
// every bucket of every key present.
func fillRows(aggs []store.BucketAggregate, edges []time.Time) []Row {
	n := len(edges) - 1
	var rows []Row
	for i := 0; i < len(aggs); {
		key := aggs[i].Key
		byBucket := make(map[int]store.BucketAggregate)
		for ; i < len(aggs) && aggs[i].Key == key; i++ {
			byBucket[aggs[i].Bucket] = aggs[i]
		}
		for b := range n {
			row := Row{Key: key, Start: edges[b], End: edges[b+1]}
			if a, ok := byBucket[b]; ok {
				row = rowFrom(a, row)
			}
			rows = append(rows, row)
		}
	}
	return rows
}

// rowFrom fills row from a bucket aggregate.
func rowFrom(a store.BucketAggregate, row Row) Row {
	row.Polls = a.Polls
	row.Lag, row.LagMax, row.Clamped = a.Lag, a.LagMax, a.Clamped
	row.TimeLag, row.TimeLagKind = a.TimeLag, a.TimeLagKind
	row.Consumed, row.Produced = a.Consumed, a.Produced
	row.ConsumeRate, row.ProduceRate = a.ConsumeRate, a.ProduceRate
	row.NetRate = NetRate(a.ConsumeRate, a.ProduceRate)
	row.Covered = a.ConsumeCovered
	row.Slope = a.LagSlope
	row.Events = a.Events
	return row
}

// NetRate returns produce minus consume, the rate the lag grows at, or nil
// when either is unknown.
func NetRate(consume, produce *float64) *float64 {
	if consume == nil || produce == nil {
		return nil
	}
	v := *produce - *consume
	return &v
}

// Events returns the series breaks of the selected partitions in [From,
// To): rewinds, resets to latest, broker offset decreases and gaps.
func (e *Engine) Events(ctx context.Context, r Range) ([]store.Event, error) {
	if !r.To.After(r.From) {
		return nil, fmt.Errorf("%w: --from %s is not before --to %s", ErrInvalidRequest,
			r.From.UTC().Format(time.RFC3339), r.To.UTC().Format(time.RFC3339))
	}
	groups, err := e.resolve(ctx, r.Selection)
	if err != nil {
		return nil, err
	}
	ev, err := e.src.Events(ctx, e.aggregate(groups, r.Selection, r.By, []time.Time{r.From.UTC(), r.To.UTC()}))
	if err != nil {
		return nil, fmt.Errorf("events: %w", err)
	}
	return ev, nil
}
