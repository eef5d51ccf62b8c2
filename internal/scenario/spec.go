package scenario

import (
	"errors"

	"github.com/lagtrail/lagtrail/internal/strictyaml"
)

// Duration is a time span written as "90s", "2h30m" or "5d2h10m".
type Duration = strictyaml.Duration

// Scenario is a simulated alikafka fleet: its instances, topics, consumer
// groups, how fast messages are produced and consumed, what goes wrong and
// when. It is what a scenario YAML file holds; Parse reads one.
type Scenario struct {
	// Name names the scenario in reports.
	Name string `yaml:"name"`
	// Description says what the scenario shows.
	Description string `yaml:"description"`
	// Seed chooses the noise; the same seed gives the same history.
	Seed uint64 `yaml:"seed"`
	// PollInterval is the interval of generated history. Zero means one
	// minute.
	PollInterval Duration `yaml:"poll_interval"`
	// Faults maps an API fault (see the alisim.Fault names allowed by
	// Validate) to the fraction of GetConsumerProgress requests that get
	// it.
	Faults map[string]float64 `yaml:"faults"`
	// Instances are the alikafka instances.
	Instances []Instance `yaml:"instances"`
	// Incidents are what goes wrong, and when.
	Incidents []Incident `yaml:"incidents"`
}

// Instance is one alikafka instance with its topics and groups.
type Instance struct {
	// ID is the instance ID, unique in the scenario.
	ID string `yaml:"id"`
	// Region is the region ID, such as cn-hangzhou.
	Region string `yaml:"region"`
	// Name is the display name.
	Name string `yaml:"name"`
	// Topics are the instance's topics.
	Topics []Topic `yaml:"topics"`
	// Groups are the instance's consumer groups.
	Groups []Group `yaml:"groups"`
}

// Topic is one topic and how fast it is produced to.
//
// Its production rate at time t, in messages per second over the whole
// topic, is
//
//	rate × (1 + diurnal·cos(2π(h − peak_hour)/24)) × weekly[weekday]
//	     × (1 + growth·weeks) × burst factor
//
// where h is the hour of day in UTC, weeks the time since the scenario's
// start in weeks, and the burst factor the product of the factors of the
// bursts under way. It is evaluated at the start of each minute and held
// for the minute. Partition i gets the share skew[i]/Σskew of it, times
// (1 + noise·u) with u uniform in [-1, 1), drawn per partition and minute
// from the seed.
type Topic struct {
	// Name is the topic name, unique in its instance.
	Name string `yaml:"name"`
	// Partitions is the number of partitions at the start (1 to 1024).
	Partitions int `yaml:"partitions"`
	// Rate is the base production rate in messages per second over the
	// topic.
	Rate float64 `yaml:"rate"`
	// Diurnal is the amplitude of the daily cycle, in [0, 1).
	Diurnal float64 `yaml:"diurnal"`
	// PeakHour is the UTC hour of the daily peak, in [0, 24). Zero means
	// midnight.
	PeakHour float64 `yaml:"peak_hour"`
	// Weekly holds seven multipliers, Monday first; empty means all 1.
	Weekly []float64 `yaml:"weekly"`
	// Growth is the production growth per week as a fraction (0.05 is 5%
	// more each week, linearly).
	Growth float64 `yaml:"growth"`
	// Noise is the amplitude of per-minute noise, in [0, 1).
	Noise float64 `yaml:"noise"`
	// Skew holds relative weights of the first partitions; missing ones
	// weigh 1. Partitions added later weigh 1.
	Skew []float64 `yaml:"skew"`
	// Bursts multiply the rate for a while.
	Bursts []Burst `yaml:"bursts"`
	// StartOffset is every partition's broker offset at the start. Zero
	// means a month of production at Rate.
	StartOffset int64 `yaml:"start_offset"`
}

// Burst multiplies a topic's production rate by Factor during
// [At, At+For).
type Burst struct {
	// At is the start, from the scenario's start, in whole minutes.
	At Duration `yaml:"at"`
	// For is the length, in whole minutes.
	For Duration `yaml:"for"`
	// Factor multiplies the rate (> 0).
	Factor float64 `yaml:"factor"`
	// Every, when set, repeats the burst at this period (whole minutes,
	// longer than For).
	Every Duration `yaml:"every"`
}

// Group is one consumer group.
//
// The group consumes up to Capacity messages per second over all its
// partitions. Each minute every partition asks for what it needs to be
// Latency behind its broker offset; when the asks add up to more than the
// capacity, the capacity is shared out evenly, a partition never getting
// more than it asked for (max-min fairness). So the group's consumption rate
// while it has a backlog everywhere is exactly its capacity.
type Group struct {
	// ID is the group ID, unique in its instance.
	ID string `yaml:"id"`
	// Remark is what GetConsumerList reports.
	Remark string `yaml:"remark"`
	// Topics names the instance's topics the group consumes.
	Topics []string `yaml:"topics"`
	// Capacity is the most messages per second the group consumes (> 0).
	Capacity float64 `yaml:"capacity"`
	// Latency is how far behind the broker offset the consumer trails when
	// it keeps up, as time at the current production rate. Zero means one
	// second.
	Latency Duration `yaml:"latency"`
	// HideTimestamps makes the simulator report LastTimestamp -1 for the
	// group, as the API does with HideLastTimestamp.
	HideTimestamps bool `yaml:"hide_timestamps"`
}

// The incident kinds.
const (
	// KindStall: the group (or the listed partitions) consumes nothing
	// during [at, at+for).
	KindStall = "stall"
	// KindSlow: the group's capacity is multiplied by factor during
	// [at, at+for).
	KindSlow = "slow"
	// KindRewind: at at, the consumer offset of each listed partition (all
	// by default) moves back by messages, floored at 0.
	KindRewind = "rewind"
	// KindResetToLatest: at at, the consumer offsets jump to the broker
	// offsets.
	KindResetToLatest = "reset_to_latest"
	// KindRebalance: at at, the group rebalances: it consumes nothing for
	// took, and GetConsumerProgress reports the rebalance in its
	// RebalanceInfoList from then on.
	KindRebalance = "rebalance"
	// KindPartitionAdded: at at, the topic gains count partitions, which
	// start empty.
	KindPartitionAdded = "partition_added"
	// KindTopicRecreated: at at, the topic is deleted and created again:
	// broker and consumer offsets of every partition become 0.
	KindTopicRecreated = "topic_recreated"
)

// Incident is one scripted event. Times are from the scenario's start and
// must be whole minutes, except took.
type Incident struct {
	// Kind is one of the Kind constants.
	Kind string `yaml:"kind"`
	// At is when it happens.
	At Duration `yaml:"at"`
	// For is how long a stall or slow consumer lasts.
	For Duration `yaml:"for"`
	// Instance names the instance; it may be left out when the group or
	// topic name is unique in the scenario.
	Instance string `yaml:"instance"`
	// Group names the group (all kinds but partition_added and
	// topic_recreated).
	Group string `yaml:"group"`
	// Topic names the topic (partition_added, topic_recreated), or limits
	// a group incident to one of the group's topics.
	Topic string `yaml:"topic"`
	// Partitions limits a stall, rewind or reset to these partitions of
	// Topic.
	Partitions []int `yaml:"partitions"`
	// Factor multiplies the capacity of a slow consumer, in (0, 1).
	Factor float64 `yaml:"factor"`
	// Messages is how far a rewind goes back.
	Messages int64 `yaml:"messages"`
	// Count is how many partitions partition_added adds.
	Count int `yaml:"count"`
	// Took is how long a rebalance takes (default 30s, at most 1h).
	Took Duration `yaml:"took"`
	// Reason is a rebalance's reason.
	Reason string `yaml:"reason"`
}

// Parse reads a scenario from YAML, refusing unknown keys, and validates it.
func Parse(data []byte) (*Scenario, error) {
	var s Scenario
	if err := strictyaml.Decode(data, &s); err != nil {
		if errors.Is(err, strictyaml.ErrEmpty) {
			return nil, errors.New("scenario is empty")
		}
		return nil, err
	}
	if err := s.Validate(); err != nil {
		return nil, err
	}
	return &s, nil
}
