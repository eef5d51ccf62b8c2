package scenario

import (
	"errors"
	"fmt"
	"math"
	"slices"
	"time"

	"github.com/lagtrail/lagtrail/internal/alisim"
)

// Limits on a scenario's size, so that a typo cannot make the model take
// gigabytes.
const (
	maxPartitions      = 1024
	maxTotalPartitions = 20_000
	maxIncidentSpan    = 400 * 24 * time.Hour
)

// HistoryFaults are the faults a scenario may give rates for: the ones whose
// outcome generated history can reproduce exactly as record stores it.
var HistoryFaults = []alisim.Fault{
	alisim.FaultThrottlingUser, alisim.FaultThrottlingAPI, alisim.FaultThrottling, alisim.FaultFlowControl,
	alisim.FaultServiceUnavailable, alisim.FaultInternalError, alisim.FaultHang, alisim.FaultHiddenTimestamps,
}

// Validate reports the first problem with the scenario, naming where it is.
func (s *Scenario) Validate() error {
	if len(s.Instances) == 0 {
		return errors.New("no instances")
	}
	if iv := time.Duration(s.PollInterval); iv != 0 && (iv < time.Second || iv > time.Hour) {
		return fmt.Errorf("poll_interval %s: want between 1s and 1h", iv)
	}
	if err := s.validateFaults(); err != nil {
		return err
	}
	seenInst := map[string]bool{}
	total := 0
	for i, inst := range s.Instances {
		where := fmt.Sprintf("instances[%d]", i)
		switch {
		case inst.ID == "":
			return fmt.Errorf("%s: no id", where)
		case inst.Region == "":
			return fmt.Errorf("instance %q: no region", inst.ID)
		case seenInst[inst.ID]:
			return fmt.Errorf("instance %q: listed twice", inst.ID)
		}
		seenInst[inst.ID] = true
		topics := map[string]bool{}
		for j, t := range inst.Topics {
			if err := t.validate(); err != nil {
				return fmt.Errorf("instance %q: topics[%d] %q: %w", inst.ID, j, t.Name, err)
			}
			if topics[t.Name] {
				return fmt.Errorf("instance %q: topic %q listed twice", inst.ID, t.Name)
			}
			topics[t.Name] = true
			total += t.Partitions
		}
		groups := map[string]bool{}
		for j, g := range inst.Groups {
			if err := g.validate(topics); err != nil {
				return fmt.Errorf("instance %q: groups[%d] %q: %w", inst.ID, j, g.ID, err)
			}
			if groups[g.ID] {
				return fmt.Errorf("instance %q: group %q listed twice", inst.ID, g.ID)
			}
			groups[g.ID] = true
		}
	}
	for i, inc := range s.Incidents {
		if err := s.validateIncident(inc); err != nil {
			return fmt.Errorf("incidents[%d] (%s at %s): %w", i, inc.Kind, time.Duration(inc.At), err)
		}
		if inc.Kind == KindPartitionAdded {
			total += inc.Count
		}
	}
	if total > maxTotalPartitions {
		return fmt.Errorf("%d partitions in all: at most %d", total, maxTotalPartitions)
	}
	return nil
}

func (s *Scenario) validateFaults() error {
	sum := 0.0
	for name, rate := range s.Faults {
		if !slices.Contains(HistoryFaults, alisim.Fault(name)) {
			return fmt.Errorf("faults: unknown fault %q: want one of %v", name, HistoryFaults)
		}
		if !(rate >= 0 && rate <= 1) {
			return fmt.Errorf("faults: %s rate %v: want between 0 and 1", name, rate)
		}
		sum += rate
	}
	if sum > 1 {
		return fmt.Errorf("faults: rates add up to %v, more than 1", sum)
	}
	return nil
}

func (t Topic) validate() error {
	switch {
	case t.Name == "":
		return errors.New("no name")
	case t.Partitions < 1 || t.Partitions > maxPartitions:
		return fmt.Errorf("partitions %d: want 1 to %d", t.Partitions, maxPartitions)
	case !finite(t.Rate) || t.Rate < 0 || t.Rate > 1e7:
		return fmt.Errorf("rate %v: want 0 to 1e7 messages/s", t.Rate)
	case !finite(t.Diurnal) || t.Diurnal < 0 || t.Diurnal >= 1:
		return fmt.Errorf("diurnal %v: want at least 0 and below 1", t.Diurnal)
	case !finite(t.PeakHour) || t.PeakHour < 0 || t.PeakHour >= 24:
		return fmt.Errorf("peak_hour %v: want at least 0 and below 24", t.PeakHour)
	case len(t.Weekly) != 0 && len(t.Weekly) != 7:
		return fmt.Errorf("weekly has %d values: want 7, Monday first", len(t.Weekly))
	case !finite(t.Growth) || t.Growth < -0.5 || t.Growth > 10:
		return fmt.Errorf("growth %v: want -0.5 to 10 per week", t.Growth)
	case !finite(t.Noise) || t.Noise < 0 || t.Noise >= 1:
		return fmt.Errorf("noise %v: want at least 0 and below 1", t.Noise)
	case len(t.Skew) > t.Partitions:
		return fmt.Errorf("skew has %d weights for %d partitions", len(t.Skew), t.Partitions)
	case t.StartOffset < 0 || t.StartOffset > 1<<50:
		return fmt.Errorf("start_offset %d: want 0 to 2^50", t.StartOffset)
	}
	for i, w := range t.Weekly {
		if !finite(w) || w < 0 || w > 100 {
			return fmt.Errorf("weekly[%d] %v: want 0 to 100", i, w)
		}
	}
	for i, w := range t.Skew {
		if !finite(w) || w <= 0 || w > 1000 {
			return fmt.Errorf("skew[%d] %v: want above 0, at most 1000", i, w)
		}
	}
	for i, b := range t.Bursts {
		if err := b.validate(); err != nil {
			return fmt.Errorf("bursts[%d]: %w", i, err)
		}
	}
	return nil
}

func (b Burst) validate() error {
	if err := wholeMinutes("at", b.At, false); err != nil {
		return err
	}
	if err := wholeMinutes("for", b.For, true); err != nil {
		return err
	}
	switch {
	case !finite(b.Factor) || b.Factor <= 0 || b.Factor > 1000:
		return fmt.Errorf("factor %v: want above 0, at most 1000", b.Factor)
	case b.Every != 0 && b.Every <= b.For:
		return fmt.Errorf("every %s: want longer than for (%s)", time.Duration(b.Every), time.Duration(b.For))
	}
	if b.Every != 0 {
		return wholeMinutes("every", b.Every, true)
	}
	return nil
}

func (g Group) validate(topics map[string]bool) error {
	switch {
	case g.ID == "":
		return errors.New("no id")
	case len(g.Topics) == 0:
		return errors.New("consumes no topics")
	case !finite(g.Capacity) || g.Capacity <= 0 || g.Capacity > 1e8:
		return fmt.Errorf("capacity %v: want above 0 messages/s, at most 1e8", g.Capacity)
	case g.Latency < 0 || time.Duration(g.Latency) > time.Hour:
		return fmt.Errorf("latency %s: want 0 to 1h", time.Duration(g.Latency))
	}
	seen := map[string]bool{}
	for _, t := range g.Topics {
		if !topics[t] {
			return fmt.Errorf("topic %q is not a topic of the instance", t)
		}
		if seen[t] {
			return fmt.Errorf("topic %q listed twice", t)
		}
		seen[t] = true
	}
	return nil
}

func (s *Scenario) validateIncident(inc Incident) error {
	if err := wholeMinutes("at", inc.At, false); err != nil {
		return err
	}
	if time.Duration(inc.At) > maxIncidentSpan {
		return fmt.Errorf("at: more than %d days from the start", maxIncidentSpan/(24*time.Hour))
	}
	topicKind := inc.Kind == KindPartitionAdded || inc.Kind == KindTopicRecreated
	switch inc.Kind {
	case KindStall, KindSlow, KindRewind, KindResetToLatest, KindRebalance, KindPartitionAdded, KindTopicRecreated:
	case "":
		return errors.New("no kind")
	default:
		return fmt.Errorf("unknown kind %q: want stall, slow, rewind, reset_to_latest, rebalance, partition_added or topic_recreated", inc.Kind)
	}
	var inst *Instance
	var err error
	if topicKind {
		if inc.Group != "" {
			return errors.New("group: not used by this kind; name the topic")
		}
		inst, err = s.findInstance(inc.Instance, func(in *Instance) bool { return in.topic(inc.Topic) != nil }, "topic", inc.Topic)
	} else {
		inst, err = s.findInstance(inc.Instance, func(in *Instance) bool { return in.group(inc.Group) != nil }, "group", inc.Group)
	}
	if err != nil {
		return err
	}
	if !topicKind && inc.Topic != "" && !slices.Contains(inst.group(inc.Group).Topics, inc.Topic) {
		return fmt.Errorf("topic %q: not consumed by group %q", inc.Topic, inc.Group)
	}
	if len(inc.Partitions) > 0 {
		if inc.Kind != KindStall && inc.Kind != KindRewind && inc.Kind != KindResetToLatest {
			return errors.New("partitions: only stall, rewind and reset_to_latest take partitions")
		}
		if inc.Topic == "" {
			return errors.New("partitions: name the topic they belong to")
		}
		for _, p := range inc.Partitions {
			if p < 0 || p >= inst.topic(inc.Topic).Partitions {
				return fmt.Errorf("partitions: %d is not a partition of topic %q", p, inc.Topic)
			}
		}
	}
	needFor := inc.Kind == KindStall || inc.Kind == KindSlow
	if needFor {
		if err := wholeMinutes("for", inc.For, true); err != nil {
			return err
		}
	} else if inc.For != 0 {
		return errors.New("for: only stall and slow last a while")
	}
	if (inc.Factor != 0) != (inc.Kind == KindSlow) || (inc.Kind == KindSlow && !(inc.Factor > 0 && inc.Factor < 1)) {
		return fmt.Errorf("factor %v: a slow consumer needs a factor between 0 and 1, other kinds none", inc.Factor)
	}
	if (inc.Messages != 0) != (inc.Kind == KindRewind) || inc.Messages < 0 {
		return fmt.Errorf("messages %d: a rewind needs messages > 0, other kinds none", inc.Messages)
	}
	if (inc.Count != 0) != (inc.Kind == KindPartitionAdded) || inc.Count < 0 || inc.Count > maxPartitions {
		return fmt.Errorf("count %d: partition_added needs a count from 1 to %d, other kinds none", inc.Count, maxPartitions)
	}
	if inc.Kind != KindRebalance && (inc.Took != 0 || inc.Reason != "") {
		return errors.New("took, reason: only a rebalance takes them")
	}
	if inc.Took < 0 || time.Duration(inc.Took) > time.Hour {
		return fmt.Errorf("took %s: want 0 to 1h", time.Duration(inc.Took))
	}
	return nil
}

// findInstance finds the instance an incident names, or the only one that
// has the group or topic.
func (s *Scenario) findInstance(id string, has func(*Instance) bool, what, name string) (*Instance, error) {
	if name == "" {
		return nil, fmt.Errorf("%s: required for this kind", what)
	}
	var found *Instance
	for i := range s.Instances {
		in := &s.Instances[i]
		if id != "" && in.ID != id || !has(in) {
			continue
		}
		if found != nil {
			return nil, fmt.Errorf("%s %q is in several instances: name the instance", what, name)
		}
		found = in
	}
	if found == nil {
		if id != "" {
			return nil, fmt.Errorf("no %s %q in instance %q", what, name, id)
		}
		return nil, fmt.Errorf("no %s %q in any instance", what, name)
	}
	return found, nil
}

func (in *Instance) topic(name string) *Topic {
	for i := range in.Topics {
		if in.Topics[i].Name == name {
			return &in.Topics[i]
		}
	}
	return nil
}

func (in *Instance) group(id string) *Group {
	for i := range in.Groups {
		if in.Groups[i].ID == id {
			return &in.Groups[i]
		}
	}
	return nil
}

func wholeMinutes(name string, d Duration, positive bool) error {
	v := time.Duration(d)
	switch {
	case v < 0:
		return fmt.Errorf("%s %s: negative", name, v)
	case positive && v == 0:
		return fmt.Errorf("%s: required, a positive number of minutes", name)
	case v%time.Minute != 0:
		return fmt.Errorf("%s %s: want whole minutes", name, v)
	}
	return nil
}

func finite(x float64) bool { return !math.IsNaN(x) && !math.IsInf(x, 0) }
