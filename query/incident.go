package query

import (
	"context"
	"fmt"
	"time"

	"github.com/lagtrail/lagtrail/store"
)

// DefaultBaseline is IncidentRequest.Baseline's default.
const DefaultBaseline = time.Hour

// MaxIncidentRange is the longest range an incident report covers: it reads
// every poll.
const MaxIncidentRange = 14 * 24 * time.Hour

// IncidentLookback is how much history before the baseline an incident
// report reads as context for time lag estimates and reset detection.
const IncidentLookback = time.Hour

// IncidentRequest asks what happened to one group over [From, To).
type IncidentRequest struct {
	// Selection must name one group; Topic narrows the report to a topic.
	// Partition is not allowed: the report compares partitions.
	Selection
	From, To time.Time
	// Baseline is how much history before From is read as the group's
	// normal. Default DefaultBaseline.
	Baseline time.Duration
	// StatusWindow is the window statuses are evaluated over. Default
	// DefaultStatusWindow.
	StatusWindow time.Duration
	// Detect tunes what counts as an incident.
	Detect DetectConfig
}

// SeriesPoint is a group's or a partition's state at one poll.
type SeriesPoint struct {
	At  time.Time `json:"at"`
	Lag int64     `json:"lag"`
	// LagMax is the highest lag at a poll the point stands for: Lag when
	// it is one poll (PollsPerPoint 1), the bucket's peak otherwise.
	LagMax int64 `json:"lag_max"`
	// TimeLag is the largest partition time lag, in seconds.
	TimeLag     *float64 `json:"time_lag_seconds"`
	TimeLagKind string   `json:"time_lag_kind,omitempty"`
	// ConsumeRate and ProduceRate are over the interval since the previous
	// poll, in messages per second.
	ConsumeRate *float64 `json:"consume_rate"`
	ProduceRate *float64 `json:"produce_rate"`

	consumed, consumedS, produced, producedS float64
}

// PartitionSeries is one partition's polls.
type PartitionSeries struct {
	PartitionRef
	Points []SeriesPoint `json:"points"`
	Normal Normal        `json:"normal"`
}

// Incident is one stretch of abnormal lag and what went with it.
type Incident struct {
	// Start is the last poll at normal lag: the lag began to grow after
	// it. StartedBefore is true when the lag was already abnormal at the
	// first poll read.
	Start         time.Time `json:"start"`
	StartedBefore bool      `json:"started_before"`
	// Detected is the first poll of the first sustained run of elevated
	// lag.
	Detected time.Time `json:"detected"`
	// Peak and PeakLag: the highest group lag at a poll, and when.
	Peak    time.Time `json:"peak"`
	PeakLag int64     `json:"peak_lag"`
	// PeakTimeLag is the highest group time lag at a poll (seconds), when,
	// and how it was obtained; nil when none is known.
	PeakTimeLag     *float64   `json:"peak_time_lag_seconds"`
	PeakTimeLagAt   *time.Time `json:"peak_time_lag_at"`
	PeakTimeLagKind string     `json:"peak_time_lag_kind,omitempty"`
	// Recovered is the first poll back at normal lag; nil when the lag had
	// not recovered by the range's end.
	Recovered *time.Time `json:"recovered"`
	// RecoveryTime is Recovered - Start; DrainTime Recovered - Peak. Zero
	// when not recovered. RecoverySeconds and DrainSeconds are the same in
	// seconds, for JSON.
	RecoveryTime    time.Duration `json:"-"`
	DrainTime       time.Duration `json:"-"`
	RecoverySeconds float64       `json:"recovery_seconds"`
	DrainSeconds    float64       `json:"drain_seconds"`
	// Cause compares production and consumption around the start.
	Cause Cause `json:"cause"`
	// Affected are the partitions whose lag was elevated, or that broke or
	// stalled, during the incident; Unaffected the others.
	Affected   []PartitionImpact `json:"affected"`
	Unaffected []PartitionRef    `json:"unaffected"`
	// Timeline is what happened, in time order.
	Timeline []TimelineEntry `json:"timeline"`
}

// PartitionImpact is how one partition took part in an incident.
type PartitionImpact struct {
	PartitionRef
	PeakLag int64     `json:"peak_lag"`
	PeakAt  time.Time `json:"peak_at"`
	// Why says what made it affected: elevated lag, a break, a status.
	Why string `json:"why"`
}

// The kinds of Cause.
const (
	CauseConsumptionDropped = "consumption_dropped"
	CauseProductionRose     = "production_rose"
	CauseBoth               = "production_rose_consumption_dropped"
	CauseBehind             = "consumption_behind"
	CauseRewind             = "rewind"
	CauseReset              = "reset_to_latest"
	CauseUnknown            = "unknown"
)

// Cause is what changed around an incident's start.
type Cause struct {
	Kind string `json:"kind"`
	Text string `json:"text"`
	// Before covers the polls in the CauseWindow up to the start, After
	// those from the start up to a CauseWindow later or the peak,
	// whichever is first. Rates in messages per second; nil when unknown.
	ProduceBefore *float64 `json:"produce_before"`
	ConsumeBefore *float64 `json:"consume_before"`
	ProduceAfter  *float64 `json:"produce_after"`
	ConsumeAfter  *float64 `json:"consume_after"`
}

// CauseWindow is how far before and after an incident's start Cause
// compares rates (at least ten poll intervals).
const CauseWindow = 10 * time.Minute

// The kinds of TimelineEntry.
const (
	TimelineLagRising     = "lag_rising"
	TimelineElevated      = "elevated"
	TimelineStatus        = "status"
	TimelineRebalance     = "rebalance"
	TimelineRebalanceSeen = "rebalance_inferred"
	TimelineBreak         = "break"
	TimelinePollFailed    = "poll_failed"
	TimelinePeakLag       = "peak_lag"
	TimelinePeakTimeLag   = "peak_time_lag"
	TimelineRecovered     = "recovered"
	TimelineNotRecovered  = "not_recovered"
)

// TimelineEntry is one thing that happened.
type TimelineEntry struct {
	At   time.Time `json:"at"`
	Kind string    `json:"kind"`
	Text string    `json:"text"`
}

// Rebalance is a rebalance of the group, recorded from the API's
// RebalanceInfoList or inferred from every lagging partition pausing at
// once for less than StallSamples polls.
type Rebalance struct {
	At         time.Time     `json:"at"`
	Inferred   bool          `json:"inferred"`
	Generation int64         `json:"generation,omitempty"`
	Reason     string        `json:"reason,omitempty"`
	Duration   time.Duration `json:"-"`
	DurationMs int64         `json:"duration_ms,omitempty"`
	Success    bool          `json:"success"`
}

// PollFailures sums up the failed polls of the range.
type PollFailures struct {
	Attempts int `json:"attempts"`
	Failed   int `json:"failed"`
	// ByCode counts failures per error code, in descending order.
	ByCode []CodeCount `json:"by_code"`
	// Gaps are the stretches between successful polls longer than
	// GapFactor median poll intervals, with the failures inside them.
	Gaps []PollGap `json:"gaps"`
}

// CodeCount is how often one error code came back.
type CodeCount struct {
	Code  string `json:"code"`
	Count int    `json:"count"`
}

// PollGap is a stretch without a successful poll.
type PollGap struct {
	From   time.Time `json:"from"`
	To     time.Time `json:"to"`
	Failed int       `json:"failed"`
	Codes  []string  `json:"codes"`
}

// IncidentReport is the answer to an IncidentRequest.
type IncidentReport struct {
	Group store.GroupRef `json:"group"`
	Topic string         `json:"topic,omitempty"`
	From  time.Time      `json:"from"`
	To    time.Time      `json:"to"`
	// Baseline is how much history before From was read as normal.
	Baseline time.Duration `json:"-"`
	// PollInterval is the median interval between successful polls.
	PollInterval time.Duration `json:"-"`
	// BaselineSeconds and PollIntervalSeconds are the same in seconds,
	// for JSON.
	BaselineSeconds     float64 `json:"baseline_seconds"`
	PollIntervalSeconds float64 `json:"poll_interval_seconds"`
	// PollsPerPoint is 1 unless the range held more than store.MaxBuckets
	// polls; then each point is the last of that many polls and peaks are
	// those points' peaks.
	PollsPerPoint int `json:"polls_per_point"`
	// Normal is the group's yardstick; the thresholds derive from it.
	Normal    Normal     `json:"normal"`
	Incidents []Incident `json:"incidents"`
	// Statuses is the group's status timeline over the range, at every
	// poll.
	Statuses []Interval `json:"statuses"`
	// Events are the series breaks in the range.
	Events     []store.Event `json:"events"`
	Rebalances []Rebalance   `json:"rebalances"`
	Failures   PollFailures  `json:"poll_failures"`
	// Series is the group at every poll, from Baseline before From;
	// Partitions the same per partition.
	Series     []SeriesPoint     `json:"series"`
	Partitions []PartitionSeries `json:"partitions"`
}

// Incident reads every poll of the group over the range and the baseline
// before it, finds the incidents (Episodes), and describes each. The
// per-poll figures are computed in the database; the detection is
// Episodes, a pure function of them.
func (e *Engine) Incident(ctx context.Context, req IncidentRequest) (*IncidentReport, error) {
	if err := req.validate(); err != nil {
		return nil, err
	}
	groups, err := e.resolve(ctx, req.Selection)
	if err != nil {
		return nil, err
	}
	g := groups[0]
	from, to := req.From.UTC(), req.To.UTC()
	readFrom := from.Add(-req.Baseline)
	rng := store.Range{Region: g.Region, InstanceID: g.InstanceID, Group: g.Group, From: readFrom, To: to}
	polls, err := e.src.ReadPolls(ctx, rng)
	if err != nil {
		return nil, fmt.Errorf("incident: %w", err)
	}
	rep := &IncidentReport{Group: g, Topic: req.Topic, From: from, To: to, Baseline: req.Baseline, PollsPerPoint: 1}
	var times []time.Time
	for _, p := range polls {
		if p.OK && p.PartitionCount > 0 {
			times = append(times, p.SampledAt)
		}
	}
	rep.Failures = pollFailures(polls, from, to)
	if len(times) == 0 {
		return rep, nil
	}
	edges, per := pollEdges(times, to, store.MaxBuckets)
	rep.PollsPerPoint = per
	q := e.aggregate(groups, req.Selection, store.LevelGroup, edges)
	// The baseline is context enough: a longer lookback would double the
	// work of a one-day report. Time lags of partitions whose consumer has
	// been stuck since before it are lower bounds.
	q.Lookback = IncidentLookback
	aggs, err := e.src.Buckets(ctx, q)
	if err != nil {
		return nil, fmt.Errorf("incident: %w", err)
	}
	rep.Series = seriesFrom(aggs, edges)
	q.By = store.LevelPartition
	if aggs, err = e.src.Buckets(ctx, q); err != nil {
		return nil, fmt.Errorf("incident: %w", err)
	}
	rep.Partitions = partitionSeries(aggs, edges)
	q.By = store.LevelGroup
	if rep.Events, err = e.src.Events(ctx, q); err != nil {
		return nil, fmt.Errorf("incident: %w", err)
	}
	rebs, err := e.src.ReadRebalances(ctx, rng)
	if err != nil {
		return nil, fmt.Errorf("incident: %w", err)
	}
	rep.PollInterval = MedianInterval(timePoints(times))
	rep.BaselineSeconds, rep.PollIntervalSeconds = rep.Baseline.Seconds(), rep.PollInterval.Seconds()
	// Statuses at every point in the range.
	var inRange []time.Time
	for _, t := range edges[:len(edges)-1] {
		if !t.Before(from) {
			inRange = append(inRange, t)
		}
	}
	if len(inRange) > 0 {
		sq := e.aggregate(groups, req.Selection, store.LevelPartition, append(inRange, to))
		sq.Window = req.StatusWindow
		sq.Lookback = max(IncidentLookback, req.StatusWindow)
		states, err := e.partitionStates(ctx, sq)
		if err != nil {
			return nil, fmt.Errorf("incident: %w", err)
		}
		rep.Statuses = Timeline(groups, states, append(inRange, to), Rules{Window: req.StatusWindow})
	}
	describeIncidents(rep, rebs, req.Detect)
	return rep, nil
}

func (req *IncidentRequest) validate() error {
	switch {
	case req.Group == "":
		return fmt.Errorf("%w: an incident report needs a group (--group)", ErrInvalidRequest)
	case req.Partition != nil:
		return fmt.Errorf("%w: an incident report compares the partitions of a group; leave out --partition", ErrInvalidRequest)
	case !req.From.Before(req.To):
		return fmt.Errorf("%w: --from %s must be before --to %s", ErrInvalidRequest,
			req.From.UTC().Format(time.RFC3339), req.To.UTC().Format(time.RFC3339))
	case req.To.Sub(req.From) > MaxIncidentRange:
		return fmt.Errorf("%w: the range is %s; an incident report reads every poll and covers at most %s",
			ErrInvalidRequest, req.To.Sub(req.From), MaxIncidentRange)
	case req.Baseline < 0:
		return fmt.Errorf("%w: baseline must not be negative, got %s", ErrInvalidRequest, req.Baseline)
	case req.StatusWindow < 0:
		return fmt.Errorf("%w: status window must be positive, got %s", ErrInvalidRequest, req.StatusWindow)
	}
	if req.Baseline == 0 {
		req.Baseline = DefaultBaseline
	}
	if req.StatusWindow == 0 {
		req.StatusWindow = DefaultStatusWindow
	}
	return nil
}

// pollEdges returns bucket edges that put each poll time (ascending) at the
// start of its own bucket, the last ending at to; with more than maxBuckets
// polls, every per-th poll starts a bucket.
func pollEdges(times []time.Time, to time.Time, maxBuckets int) ([]time.Time, int) {
	per := (len(times) + maxBuckets - 1) / maxBuckets
	edges := make([]time.Time, 0, len(times)/per+2)
	for i := 0; i < len(times); i += per {
		if n := len(edges); n == 0 || times[i].After(edges[n-1]) {
			edges = append(edges, times[i])
		}
	}
	if to.After(edges[len(edges)-1]) {
		edges = append(edges, to)
	} else {
		edges = append(edges, edges[len(edges)-1].Add(time.Millisecond))
	}
	return edges, per
}

func timePoints(ts []time.Time) []Point {
	pts := make([]Point, len(ts))
	for i, t := range ts {
		pts[i] = Point{T: t}
	}
	return pts
}

// pointFrom turns one bucket aggregate into a series point at its last
// poll.
func pointFrom(a store.BucketAggregate, edges []time.Time) SeriesPoint {
	p := SeriesPoint{At: edges[a.Bucket], TimeLag: a.TimeLag, ConsumeRate: a.ConsumeRate, ProduceRate: a.ProduceRate}
	if a.LagAt != nil {
		p.At = a.LagAt.UTC()
	}
	if a.Lag != nil {
		p.Lag, p.LagMax = *a.Lag, *a.Lag
	}
	if a.LagMax != nil {
		p.LagMax = max(p.LagMax, *a.LagMax)
	}
	if a.TimeLag != nil {
		p.TimeLagKind = a.TimeLagKind.String()
	}
	if a.Consumed != nil {
		p.consumed, p.consumedS = *a.Consumed, a.ConsumeCovered
	}
	if a.Produced != nil {
		p.produced, p.producedS = *a.Produced, a.ProduceCovered
	}
	return p
}

func seriesFrom(aggs []store.BucketAggregate, edges []time.Time) []SeriesPoint {
	out := make([]SeriesPoint, 0, len(aggs))
	for _, a := range aggs {
		if a.Lag != nil {
			out = append(out, pointFrom(a, edges))
		}
	}
	return out
}

func partitionSeries(aggs []store.BucketAggregate, edges []time.Time) []PartitionSeries {
	var out []PartitionSeries
	for _, a := range aggs {
		if a.Lag == nil {
			continue
		}
		ref := PartitionRef{Topic: a.Topic, Partition: a.Partition}
		if n := len(out); n == 0 || out[n-1].PartitionRef != ref {
			out = append(out, PartitionSeries{PartitionRef: ref})
		}
		ps := &out[len(out)-1]
		ps.Points = append(ps.Points, pointFrom(a, edges))
	}
	return out
}
