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
// group's committed offset (ConsumerOffset) as piecewise linear functions of
// time since the server's epoch: linear from the epoch, with optional
// scripted changes (Script). See At for the exact semantics.
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
	// Script holds scripted incidents (stalls, rate changes, rewinds,
	// resets to latest, topic recreation), applied in order of At; At
	// values must be non-decreasing and >= 0. Without a script the
	// partition is a single linear segment. See At for the semantics.
	Script []Change
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
// The model is piecewise linear in segments. Let d = t.Sub(epoch), clamped to
// 0 when t is before epoch. Segment 0 starts at d = 0 with broker offset
// BrokerStart, consumer offset ConsumerStart and rates ProduceRate and
// ConsumeRate. Within a segment that starts at T with offsets B and C and
// rates P and Q, with s = d-T in seconds:
//
//	broker   = B + floor(P * s)
//	consumer = min(broker, C + floor(Q * s))
//
// Each Change in Script, taken in order, ends the current segment at its At:
// broker and consumer are computed at At with the formula above, then the
// change gives the next segment's start offsets and rates:
//
//   - ChangeRates: offsets unchanged; the rates become the Change's
//     ProduceRate and ConsumeRate;
//   - ChangeRewind: consumer becomes max(0, consumer-Messages);
//   - ChangeResetToLatest: consumer becomes broker;
//   - ChangeRecreate: broker and consumer both become 0; rates unchanged.
//
// Offsets at d come from the last segment starting at or before d, so a
// change whose At equals d has already applied, and several changes with the
// same At apply one after the other. Without a Script this is the single
// segment 0 formula.
//
// lastTimestampMs is the produce time, in Unix milliseconds, of message
// consumer-1 (the last message the group consumed):
//
//   - LastTimestampMs when it is non-zero;
//   - otherwise 0 when consumer is 0 (nothing was ever consumed);
//   - otherwise the instant the broker offset first reached consumer (first
//     exceeded consumer-1), looking only at the segments since the last
//     ChangeRecreate (older messages no longer exist), or all segments when
//     there was none. Within the segment where that happens (start T, start
//     broker B, rate P) it is epoch + T + (consumer-B)/P seconds in continuous
//     time, rounded to the nearest millisecond (epoch taken in whole Unix
//     milliseconds);
//   - otherwise, when the broker offset was already at or past consumer at
//     the epoch, messages older than the epoch are assumed to have been
//     produced at segment 0's ProduceRate, giving
//     epoch + (consumer-BrokerStart)/ProduceRate seconds, rounded to the
//     nearest millisecond (so this may lie before the epoch), or the epoch in
//     Unix milliseconds when ProduceRate is 0.
//
// A segment that begins with a recreate starts from broker 0, so the last
// case only arises when no ChangeRecreate has applied yet.
//
// The server reports -1 instead when the request sets HideLastTimestamp=true
// or a FaultHiddenTimestamps fault applies.
func (p Partition) At(epoch, t time.Time) (broker, consumer, lastTimestampMs int64) {
	m := p.evaluate(t.Sub(epoch))
	broker, consumer = m.broker, m.consumer
	if p.LastTimestampMs != 0 {
		return broker, consumer, p.LastTimestampMs
	}
	return broker, consumer, m.produceTimeMs(epoch, p)
}

// TimeLag returns the model's true time lag at t: zero when consumer >=
// broker, otherwise t minus the produce time of message consumer-1 (as
// lastTimestampMs of At, including a non-zero LastTimestampMs override). ok
// is false when that produce time is unknown (nothing consumed yet, consumer
// == 0). Offsets are taken as At(epoch, t) and t is clamped to the epoch like
// there; the lag is floored at zero, since rounding the produce time to the
// millisecond may put it up to half a millisecond after t.
func (p Partition) TimeLag(epoch, t time.Time) (lag time.Duration, ok bool) {
	if t.Before(epoch) {
		t = epoch
	}
	broker, consumer, ts := p.At(epoch, t)
	switch {
	case consumer >= broker:
		return 0, true
	case consumer == 0:
		return 0, false
	}
	return max(0, t.Sub(time.UnixMilli(ts))), true
}

// Validate reports the first problem that would make the fleet ambiguous or
// its offsets meaningless: empty or duplicate IDs (instance IDs across the
// fleet, group IDs within an instance, topic names within a group), negative
// offsets or status, ConsumerStart above BrokerStart, negative or
// non-finite rates, and bad scripts (see Change). Partitions are numbered by
// position, so their IDs cannot clash.
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
	return validateScript(p.Script)
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
				parts := append([]Partition(nil), tp.Partitions...)
				for n := range parts {
					parts[n].Script = append([]Change(nil), parts[n].Script...)
				}
				cg.Topics[k] = Topic{Name: tp.Name, Partitions: parts}
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
