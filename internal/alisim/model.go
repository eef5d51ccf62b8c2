package alisim

import (
	"errors"
	"fmt"
	"math"
	"time"
)

// ServiceStatusRunning is the ServiceStatus GetInstanceList reports for a
// running instance. An Instance whose ServiceStatus is zero is running.
const ServiceStatusRunning = 5

// Fleet is everything the simulated endpoint knows about: alikafka instances in
// any number of regions, their consumer groups, the topics each group
// consumes and the offsets of every partition over time.
//
// Topics are modelled per group: two groups consuming a topic of the same
// name each carry their own copy of its partitions, so their broker offsets
// need not agree. This keeps every group independent and easy to set up.
type Fleet struct {
	// Instances are served in this order by GetInstanceList.
	Instances []Instance
}

// Instance is one alikafka instance.
type Instance struct {
	// Region is the region ID, such as "cn-hangzhou". Requests only find the
	// instance when their RegionId equals it.
	Region string
	// ID is the instance ID, unique across the whole Fleet.
	ID string
	// Name is the display name GetInstanceList reports.
	Name string
	// ServiceStatus is reported by GetInstanceList. Zero means
	// ServiceStatusRunning (5). It affects nothing else: a non-running
	// instance still answers GetConsumerList and GetConsumerProgress.
	ServiceStatus int
	// Groups are served in this order by GetConsumerList.
	Groups []Group
}

// Group is one consumer group of an instance.
type Group struct {
	// ID is the group ID (ConsumerId), unique within its instance.
	ID string
	// Remark is reported by GetConsumerList.
	Remark string
	// Topics are the topics the group has committed offsets for, reported in
	// this order by GetConsumerProgress.
	Topics []Topic
	// Rebalances are reported verbatim in GetConsumerProgress's
	// RebalanceInfoList, with GroupId set to the group's ID. When there are
	// none the RebalanceInfoList field is left out of the response, as in
	// the reference example.
	Rebalances []Rebalance
}

// Topic is one topic as seen by a group.
type Topic struct {
	// Name is the topic name, unique within its group.
	Name string
	// Partitions are numbered by their index: Partitions[i] is partition i.
	Partitions []Partition
}

// Partition models one partition's log end offset (BrokerOffset) and the
// group's committed offset (ConsumerOffset) as linear functions of time since
// the server's epoch. See At for the exact semantics.
type Partition struct {
	// BrokerStart is the log end offset at the epoch.
	BrokerStart int64
	// ConsumerStart is the committed offset at the epoch. It must not exceed
	// BrokerStart.
	ConsumerStart int64
	// ProduceRate is the number of messages appended per second. Zero keeps
	// the broker offset static.
	ProduceRate float64
	// ConsumeRate is the number of messages the group commits per second,
	// capped by the broker offset. Zero keeps the committed offset static.
	ConsumeRate float64
	// LastTimestampMs, when non-zero, is reported as LastTimestamp
	// regardless of the offsets (for static examples).
	LastTimestampMs int64
}

// Rebalance is one entry of GetConsumerProgress's RebalanceInfoList.
type Rebalance struct {
	// Generation is the group generation after the rebalance.
	Generation int64
	// LastRebalanceTimestamp is the Unix time of the rebalance in ms.
	LastRebalanceTimestamp int64
	// Reason is the free-text reason.
	Reason string
	// RebalanceTimeConsuming is how long the rebalance took, in ms.
	RebalanceTimeConsuming int64
	// RebalanceSuccess tells whether the rebalance completed.
	RebalanceSuccess bool
}

// At returns the partition's offsets and LastTimestamp at clock time t for a
// model that started at epoch.
//
// With s = t.Sub(epoch) in seconds, clamped to 0 when t is before epoch:
//
//	broker   = BrokerStart + floor(ProduceRate * s)
//	consumer = min(broker, ConsumerStart + floor(ConsumeRate * s))
//
// lastTimestampMs is the produce time, in Unix milliseconds, of message
// consumer-1 (the last message the group consumed):
//
//   - LastTimestampMs when it is non-zero;
//   - otherwise 0 when consumer is 0 (nothing was ever consumed);
//   - otherwise, when ProduceRate > 0, the instant the model appended that
//     message, which is when broker first exceeded consumer-1:
//     epoch + (consumer-BrokerStart)/ProduceRate seconds, rounded to the
//     nearest millisecond. Messages older than the epoch are assumed to have
//     been produced at the same rate, so this may lie before the epoch;
//   - otherwise (static broker offset) the epoch in Unix milliseconds.
//
// The server reports -1 instead when the request sets HideLastTimestamp=true
// or a FaultHiddenTimestamps fault applies.
func (p Partition) At(epoch, t time.Time) (broker, consumer, lastTimestampMs int64) {
	s := t.Sub(epoch).Seconds()
	if s < 0 {
		s = 0
	}
	broker = p.BrokerStart + int64(math.Floor(p.ProduceRate*s))
	consumer = p.ConsumerStart + int64(math.Floor(p.ConsumeRate*s))
	if consumer > broker {
		consumer = broker
	}
	switch {
	case p.LastTimestampMs != 0:
		lastTimestampMs = p.LastTimestampMs
	case consumer == 0:
		lastTimestampMs = 0
	case p.ProduceRate > 0:
		lastTimestampMs = epoch.UnixMilli() + int64(math.Round(1000*float64(consumer-p.BrokerStart)/p.ProduceRate))
	default:
		lastTimestampMs = epoch.UnixMilli()
	}
	return broker, consumer, lastTimestampMs
}

// Validate reports the first problem that would make the fleet ambiguous or
// its offsets meaningless: empty or duplicate IDs (instance IDs across the
// fleet, group IDs within an instance, topic names within a group), negative
// offsets or status, ConsumerStart above BrokerStart, and negative or
// non-finite rates. Partitions are numbered by position, so their IDs
// cannot clash.
func (f Fleet) Validate() error {
	seenInst := make(map[string]bool, len(f.Instances))
	for i, inst := range f.Instances {
		if inst.ID == "" {
			return fmt.Errorf("instance %d: empty ID", i)
		}
		if inst.Region == "" {
			return fmt.Errorf("instance %q: empty Region", inst.ID)
		}
		if seenInst[inst.ID] {
			return fmt.Errorf("duplicate instance ID %q", inst.ID)
		}
		seenInst[inst.ID] = true
		if inst.ServiceStatus < 0 {
			return fmt.Errorf("instance %q: negative ServiceStatus %d", inst.ID, inst.ServiceStatus)
		}
		seenGroup := make(map[string]bool, len(inst.Groups))
		for j, g := range inst.Groups {
			if g.ID == "" {
				return fmt.Errorf("instance %q: group %d: empty ID", inst.ID, j)
			}
			if seenGroup[g.ID] {
				return fmt.Errorf("instance %q: duplicate group ID %q", inst.ID, g.ID)
			}
			seenGroup[g.ID] = true
			if err := validateTopics(g.Topics); err != nil {
				return fmt.Errorf("instance %q: group %q: %w", inst.ID, g.ID, err)
			}
		}
	}
	return nil
}

func validateTopics(topics []Topic) error {
	seen := make(map[string]bool, len(topics))
	for k, tp := range topics {
		if tp.Name == "" {
			return fmt.Errorf("topic %d: empty name", k)
		}
		if seen[tp.Name] {
			return fmt.Errorf("duplicate topic %q", tp.Name)
		}
		seen[tp.Name] = true
		for n, p := range tp.Partitions {
			if err := p.validate(); err != nil {
				return fmt.Errorf("topic %q: partition %d: %w", tp.Name, n, err)
			}
		}
	}
	return nil
}

func (p Partition) validate() error {
	switch {
	case p.BrokerStart < 0 || p.ConsumerStart < 0:
		return errors.New("negative start offset")
	case p.ConsumerStart > p.BrokerStart:
		return fmt.Errorf("ConsumerStart %d exceeds BrokerStart %d", p.ConsumerStart, p.BrokerStart)
	case !finiteNonNegative(p.ProduceRate):
		return fmt.Errorf("invalid ProduceRate %v", p.ProduceRate)
	case !finiteNonNegative(p.ConsumeRate):
		return fmt.Errorf("invalid ConsumeRate %v", p.ConsumeRate)
	}
	return nil
}

func finiteNonNegative(x float64) bool {
	return x >= 0 && !math.IsInf(x, 1) && !math.IsNaN(x)
}

// clone deep-copies the fleet so later changes by the caller cannot race
// with the server, and normalises ServiceStatus 0 to ServiceStatusRunning.
func (f Fleet) clone() Fleet {
	out := Fleet{Instances: make([]Instance, len(f.Instances))}
	for i, inst := range f.Instances {
		c := inst
		if c.ServiceStatus == 0 {
			c.ServiceStatus = ServiceStatusRunning
		}
		c.Groups = make([]Group, len(inst.Groups))
		for j, g := range inst.Groups {
			cg := g
			cg.Rebalances = append([]Rebalance(nil), g.Rebalances...)
			cg.Topics = make([]Topic, len(g.Topics))
			for k, tp := range g.Topics {
				cg.Topics[k] = Topic{Name: tp.Name, Partitions: append([]Partition(nil), tp.Partitions...)}
			}
			c.Groups[j] = cg
		}
		out.Instances[i] = c
	}
	return out
}

// instance returns the instance with this ID in this region.
func (f *Fleet) instance(region, id string) (*Instance, bool) {
	for i := range f.Instances {
		if f.Instances[i].ID == id && f.Instances[i].Region == region {
			return &f.Instances[i], true
		}
	}
	return nil, false
}

// group returns the group with this ID.
func (inst *Instance) group(id string) (*Group, bool) {
	for i := range inst.Groups {
		if inst.Groups[i].ID == id {
			return &inst.Groups[i], true
		}
	}
	return nil, false
}
