package store

import (
	"fmt"
	"math"
	"time"
)

// Level is the level of detail an aggregate is computed at.
type Level int

// The levels of detail.
const (
	// LevelGroup sums over every selected partition of a group.
	LevelGroup Level = iota
	// LevelTopic sums over the selected partitions of each topic.
	LevelTopic
	// LevelPartition keeps each partition apart.
	LevelPartition
)

// String returns "group", "topic" or "partition".
func (l Level) String() string {
	switch l {
	case LevelGroup:
		return "group"
	case LevelTopic:
		return "topic"
	case LevelPartition:
		return "partition"
	}
	return fmt.Sprintf("Level(%d)", int(l))
}

// Defaults of AggregateQuery's zero fields.
const (
	// DefaultGapFactor: two consecutive samples of a partition further
	// apart than this many median poll intervals of the group leave a gap
	// that no rate bridges.
	DefaultGapFactor = 3
	// DefaultResetFactor: a consumer offset that jumps to or past the
	// previous broker offset faster than this many times the fastest
	// consumption seen before on that partition is a reset to latest, not
	// consumption.
	DefaultResetFactor = 10
	// MaxBuckets is the most buckets one aggregate may have.
	MaxBuckets = 100_000
	// EdgeSlack is how far past the first and last edge samples are read,
	// so that poll intervals straddling an edge are interpolated rather
	// than cut off. Intervals longer than this at the edges are lost.
	EdgeSlack = time.Hour
)

// AggregateQuery selects the samples an aggregate reads and how it buckets
// them.
type AggregateQuery struct {
	// Groups are the groups to read. At least one is required; groups the
	// store does not know are ignored.
	Groups []GroupRef
	// Topic selects one topic by name; empty selects every topic.
	Topic string
	// Partition selects one partition number; nil selects every partition.
	Partition *int32
	// By is the level of detail of the rows returned.
	By Level
	// Edges are the bucket boundaries: bucket i is [Edges[i], Edges[i+1]).
	// At least two, strictly increasing, at most MaxBuckets+1.
	Edges []time.Time
	// Lookback is how much history before Edges[0] is read as context: for
	// the median poll interval, the fastest earlier consumption (resets to
	// latest), the broker history time lag is estimated from and the
	// status window. It is never reported as a bucket. Zero reads none.
	Lookback time.Duration
	// GapFactor overrides DefaultGapFactor when positive.
	GapFactor float64
	// ResetFactor overrides DefaultResetFactor when positive.
	ResetFactor float64
	// Window is the sliding window of PartitionStates. Required there,
	// ignored elsewhere.
	Window time.Duration
}

func (q AggregateQuery) validate() error {
	switch {
	case len(q.Groups) == 0:
		return fmt.Errorf("%w: no group selected", ErrInvalidRange)
	case len(q.Edges) < 2:
		return fmt.Errorf("%w: need at least two bucket edges, got %d", ErrInvalidRange, len(q.Edges))
	case len(q.Edges) > MaxBuckets+1:
		return fmt.Errorf("%w: %d buckets, more than %d", ErrInvalidRange, len(q.Edges)-1, MaxBuckets)
	case q.By < LevelGroup || q.By > LevelPartition:
		return fmt.Errorf("%w: unknown level %d", ErrInvalidRange, int(q.By))
	case q.Lookback < 0:
		return fmt.Errorf("%w: negative lookback %s", ErrInvalidRange, q.Lookback)
	case q.Partition != nil && *q.Partition < 0:
		return fmt.Errorf("%w: negative partition %d", ErrInvalidRange, *q.Partition)
	case q.GapFactor < 0 || math.IsNaN(q.GapFactor) || math.IsInf(q.GapFactor, 0):
		return fmt.Errorf("%w: invalid gap factor %v", ErrInvalidRange, q.GapFactor)
	case q.ResetFactor < 0 || math.IsNaN(q.ResetFactor) || math.IsInf(q.ResetFactor, 0):
		return fmt.Errorf("%w: invalid reset factor %v", ErrInvalidRange, q.ResetFactor)
	}
	for i := 1; i < len(q.Edges); i++ {
		if !q.Edges[i].After(q.Edges[i-1]) {
			return fmt.Errorf("%w: bucket edge %d (%s) is not after edge %d (%s)", ErrInvalidRange,
				i, q.Edges[i].UTC().Format(time.RFC3339Nano), i-1, q.Edges[i-1].UTC().Format(time.RFC3339Nano))
		}
	}
	return nil
}

// filters returns q's topic and partition as query parameters (nil: any)
// and its edges in UTC.
func (q AggregateQuery) filters() (topic, partition any, edges []time.Time) {
	if q.Topic != "" {
		topic = q.Topic
	}
	if q.Partition != nil {
		partition = *q.Partition
	}
	edges = make([]time.Time, len(q.Edges))
	for i, e := range q.Edges {
		edges[i] = e.UTC()
	}
	return topic, partition, edges
}

func (q AggregateQuery) gapFactor() float64 {
	if q.GapFactor > 0 {
		return q.GapFactor
	}
	return DefaultGapFactor
}

func (q AggregateQuery) resetFactor() float64 {
	if q.ResetFactor > 0 {
		return q.ResetFactor
	}
	return DefaultResetFactor
}

// TimeLagKind says how a time lag was obtained.
type TimeLagKind int

// The kinds of time lag, from most to least certain. The largest time lag
// over several partitions has the kind of the partition it comes from,
// except that it is a lower bound when any partition's is.
const (
	// TimeLagSampled comes from the API's LastTimestamp (or is zero because
	// there is no lag).
	TimeLagSampled TimeLagKind = iota
	// TimeLagEstimated is interpolated from the recorded broker offsets:
	// the time the broker offset passed the consumer offset.
	TimeLagEstimated
	// TimeLagLowerBound: the broker offset passed the consumer offset
	// before the earliest sample read, so the value is a lower bound.
	TimeLagLowerBound
)

// String returns "sampled", "estimated" or "lower_bound".
func (k TimeLagKind) String() string {
	switch k {
	case TimeLagSampled:
		return "sampled"
	case TimeLagEstimated:
		return "estimated"
	case TimeLagLowerBound:
		return "lower_bound"
	}
	return fmt.Sprintf("TimeLagKind(%d)", int(k))
}

// Key identifies the rows of an aggregate: a group, plus a topic at
// LevelTopic and LevelPartition, plus a partition at LevelPartition.
type Key struct {
	Group GroupRef
	// Topic is empty at LevelGroup.
	Topic string
	// Partition is -1 above LevelPartition.
	Partition int32
}

// BucketAggregate is what one key did in one bucket. Pointer fields are nil
// when unknown: no sample, or no counted interval, in the bucket.
type BucketAggregate struct {
	Key
	// Bucket is the index of the bucket: [Edges[Bucket], Edges[Bucket+1]).
	Bucket int
	// Polls is the number of polls with samples of the key in the bucket.
	Polls int
	// Lag is the key's lag (sum over its partitions, each floored at 0) at
	// the last poll in the bucket, sampled at LagAt; LagMax is the largest
	// such sum in the bucket.
	Lag    *int64
	LagMax *int64
	LagAt  *time.Time
	// Clamped counts partition samples in the bucket whose broker offset was
	// below the consumer offset (read before the commit); their lag counted
	// as 0.
	Clamped int64
	// LagSlope is the least-squares slope of the key's lag over the polls
	// in the bucket, in messages per second (PromQL deriv); LagIntercept is
	// the fitted lag at the bucket's start. Nil with fewer than two polls.
	LagSlope     *float64
	LagIntercept *float64
	// Consumed and Produced are the consumer and broker offset advances
	// attributed to the bucket, interpolated at its edges, so that adjacent
	// buckets add up exactly. Intervals broken by a decrease, a reset to
	// latest (consumer only) or a gap are not counted.
	Consumed *float64
	Produced *float64
	// ConsumeRate and ProduceRate are in messages per second: the sum over
	// partitions of each partition's count over the time its counted
	// intervals cover in the bucket. Nil when nothing was counted.
	ConsumeRate *float64
	ProduceRate *float64
	// ConsumeCovered and ProduceCovered are the seconds of the bucket the
	// best-covered partition's counted intervals span.
	ConsumeCovered float64
	ProduceCovered float64
	// TimeLag is the largest time lag of the key's partitions at the last
	// poll in the bucket, in seconds, and TimeLagKind how it was obtained
	// (see TimeLagKind for several partitions).
	TimeLag     *float64
	TimeLagKind TimeLagKind
	// Events lists the kinds of series breaks (EventRewind, ...) that end in
	// the bucket, sorted.
	Events []string
}

// The kinds of series breaks the store detects between two consecutive
// samples of a partition.
const (
	// EventRewind: the consumer offset went down.
	EventRewind = "rewind"
	// EventResetToLatest: the consumer offset jumped to or past the previous
	// broker offset implausibly fast; the skipped messages are not counted
	// as consumed.
	EventResetToLatest = "reset_to_latest"
	// EventBrokerDecrease: the broker offset went down (topic recreated or
	// truncated); neither offset's change counts.
	EventBrokerDecrease = "broker_decrease"
	// EventGap: the samples are further apart than the gap limit.
	EventGap = "gap"
)

// Event is a series break shared by one or more partitions of a topic
// between the same two polls.
type Event struct {
	Group GroupRef `json:"group"`
	Topic string   `json:"topic"`
	Kind  string   `json:"kind"`
	// From and To are the times of the two samples the break lies between.
	From time.Time `json:"from"`
	To   time.Time `json:"to"`
	// Partitions are the partitions that broke, ascending.
	Partitions []int32 `json:"partitions"`
	// ConsumerFrom, ConsumerTo, BrokerFrom and BrokerTo are the offsets
	// before and after, summed over Partitions.
	ConsumerFrom int64 `json:"consumer_from"`
	ConsumerTo   int64 `json:"consumer_to"`
	BrokerFrom   int64 `json:"broker_from"`
	BrokerTo     int64 `json:"broker_to"`
}

// PartitionState is what a status evaluation needs to know about one
// partition at the last poll of a bucket, looking back over the query's
// Window.
type PartitionState struct {
	Key
	Bucket int
	// At is the time of the sample.
	At                     time.Time
	BrokerOffset, Consumer int64
	Lag                    int64
	// Samples is the number of samples in (At-Window, At].
	Samples int
	// LagMin is the smallest lag in the window, LagFirst the oldest.
	LagMin, LagFirst int64
	// LagDecreases counts consecutive sample pairs in the window whose lag
	// went down.
	LagDecreases int
	// Rewound is how many messages the consumer offset went back by in the
	// window (excluding broker decreases).
	Rewound int64
	// UnchangedSince is the time of the first sample showing the current
	// consumer offset; UnchangedSamples counts the samples since then,
	// that one included. SinceIsLowerBound is set when the offset did not
	// change in everything read, so the offset may be older still.
	UnchangedSince    time.Time
	UnchangedSamples  int
	SinceIsLowerBound bool
	// CaughtUpAt is the time of the last sample read with no lag; zero
	// when there is none.
	CaughtUpAt time.Time
	// SinceCaughtUp counts the samples after the one at CaughtUpAt.
	SinceCaughtUp int
	// WindowStart is the time of the first sample in the window.
	WindowStart time.Time
	// RewindFrom is the highest consumer offset a rewind in the window
	// went back from; 0 without a rewind.
	RewindFrom int64
	// AllowedLag is the group's allowed lag, from its status rule
	// (StatusRule; lagtrail.group_rules): 0 unless the recorder's config
	// sets one.
	AllowedLag int64
}
