package scenario

import (
	"time"

	"github.com/lagtrail/lagtrail/store"
)

// Event is an incident of the scenario placed in time.
type Event struct {
	// Kind is the incident's kind (a Kind constant).
	Kind string
	// Group is the group it befalls; for partition_added and
	// topic_recreated only Region and InstanceID are set.
	Group store.GroupRef
	// Topic and Partitions narrow it, when the incident did.
	Topic      string
	Partitions []int
	// From is when it happens; To when it ends (From for instant ones, the
	// end of the pause for a rebalance).
	From, To time.Time
	// Factor, Messages and Count are the incident's.
	Factor   float64
	Messages int64
	Count    int
}

// Events returns the scenario's incidents placed in time, in scenario
// order.
func (m *Model) Events() []Event {
	var out []Event
	for _, inc := range m.scn.Incidents {
		inst := m.instanceOf(inc)
		if inst == nil {
			continue
		}
		e := Event{
			Kind: inc.Kind, Topic: inc.Topic, Partitions: inc.Partitions,
			From:   m.start.Add(time.Duration(inc.At)),
			Factor: inc.Factor, Messages: inc.Messages, Count: inc.Count,
			Group: store.GroupRef{Region: inst.Region, InstanceID: inst.ID, Group: inc.Group},
		}
		e.To = e.From.Add(time.Duration(inc.For))
		if inc.Kind == KindRebalance {
			took := time.Duration(inc.Took)
			if took == 0 {
				took = 30 * time.Second
			}
			e.To = e.From.Add(took)
		}
		out = append(out, e)
	}
	return out
}

// instanceOf finds the instance an incident belongs to (validated before).
func (m *Model) instanceOf(inc Incident) *Instance {
	for i := range m.scn.Instances {
		in := &m.scn.Instances[i]
		if inc.Instance != "" && in.ID != inc.Instance {
			continue
		}
		if inc.Group != "" && in.group(inc.Group) != nil || inc.Group == "" && in.topic(inc.Topic) != nil {
			return in
		}
	}
	return nil
}

// Rates returns the group's mean production and consumption rates over
// [from, to), in messages per second over all its partitions, from the
// model's continuous offsets: what an observer with perfect samples would
// measure. Jumps (rewinds, resets, recreated topics) are not counted. ok is
// false for an unknown group or an empty range.
func (m *Model) Rates(ref store.GroupRef, from, to time.Time) (produce, consume float64, ok bool) {
	gs := m.byRef[ref]
	if gs == nil || !to.After(from) {
		return 0, 0, false
	}
	kTo, _ := m.minuteOf(to)
	m.mu.Lock()
	defer m.mu.Unlock()
	m.ensure(kTo)
	var produced, consumed float64
	for ti, ts := range gs.topics {
		for p, ps := range ts.parts {
			produced += m.overlap(ps.born, ps.s, ps.e, from, to)
			c := gs.cons[ti][p]
			consumed += m.overlap(c.born, c.s, c.e, from, to)
		}
	}
	secs := to.Sub(from).Seconds()
	return produced / secs, consumed / secs, true
}

// overlap sums the increases of a minute series over [from, to), prorating
// the minutes at the edges. Callers hold mu.
func (m *Model) overlap(born int, s, e []float64, from, to time.Time) float64 {
	lo, hi := from.Sub(m.start), to.Sub(m.start)
	total := 0.0
	for i := range e {
		a := time.Duration(born+i) * time.Minute
		covered := min(a+time.Minute, hi) - max(a, lo)
		if covered > 0 {
			total += (e[i] - s[i]) * covered.Seconds() / 60
		}
	}
	return total
}
