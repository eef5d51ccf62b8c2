package scenario

import (
	"fmt"
	"math"
	"slices"
	"sort"
	"sync"
	"time"

	"github.com/lagtrail/lagtrail/store"
)

// Model is a scenario set running from a start time: the offsets of every
// partition and consumer at any later time. It is computed a minute at a
// time, from the start, and kept, so asking for times in order is cheap.
// It is safe for concurrent use.
type Model struct {
	scn   *Scenario
	start time.Time

	mu      sync.Mutex
	minutes int // minutes computed: state is known for [start, start+minutes)
	topics  []*topicState
	groups  []*groupState
	byRef   map[store.GroupRef]*groupState
}

// topicState is one topic of one instance.
type topicState struct {
	spec   *Topic
	weekly [7]float64 // by time.Weekday
	parts  []*partState
	// events holds partition_added and topic_recreated, by minute.
	events map[int][]Incident
	// groups are the groups consuming the topic.
	groups []*groupState
	seed   uint64
}

// partState is one partition's broker offset, minute by minute.
type partState struct {
	born int // minute it appeared
	// s and e are the broker offset at the start (after that minute's
	// events) and end of each minute since born.
	s, e []float64
	// eras are the minutes the partition was born or recreated in.
	eras   []int
	weight float64
	rate0  float64 // messages/s in its first minute
}

// groupState is one consumer group.
type groupState struct {
	ref     store.GroupRef
	spec    *Group
	topics  []*topicState
	cons    [][]*consState // by topic, partition
	latency float64        // seconds
	// incidents of the group, in scenario order.
	incidents []Incident
	// rebalances are the group's rebalance incidents, by At.
	rebalances []Incident
}

// consState is the group's consumer offset on one partition, minute by
// minute, like partState.
type consState struct {
	born int
	s, e []float64
}

// New sets the scenario running from start, which is truncated to the
// minute. The scenario must be valid (Parse validates it).
func New(s *Scenario, start time.Time) (*Model, error) {
	if err := s.Validate(); err != nil {
		return nil, fmt.Errorf("scenario: %w", err)
	}
	m := &Model{scn: s, start: start.UTC().Truncate(time.Minute), byRef: map[store.GroupRef]*groupState{}}
	for ii := range s.Instances {
		inst := &s.Instances[ii]
		byName := map[string]*topicState{}
		for ti := range inst.Topics {
			t := &inst.Topics[ti]
			ts := &topicState{spec: t, events: map[int][]Incident{}, seed: hash(s.Seed, uint64(len(m.topics)), 0x7470)}
			for d := range ts.weekly {
				ts.weekly[d] = 1
			}
			if len(t.Weekly) == 7 {
				for i, w := range t.Weekly {
					ts.weekly[(i+1)%7] = w // Monday first in YAML; time.Sunday is 0
				}
			}
			startOffset := float64(t.StartOffset)
			if startOffset == 0 {
				startOffset = math.Round(t.Rate * 30 * 86400 / float64(t.Partitions))
			}
			for p := range t.Partitions {
				w := 1.0
				if p < len(t.Skew) {
					w = t.Skew[p]
				}
				ts.parts = append(ts.parts, &partState{eras: []int{0}, weight: w, s: []float64{startOffset}})
			}
			byName[t.Name] = ts
			m.topics = append(m.topics, ts)
		}
		for gi := range inst.Groups {
			g := &inst.Groups[gi]
			gs := &groupState{
				ref:     store.GroupRef{Region: inst.Region, InstanceID: inst.ID, Group: g.ID},
				spec:    g,
				latency: time.Duration(g.Latency).Seconds(),
			}
			if g.Latency == 0 {
				gs.latency = 1
			}
			for _, name := range g.Topics {
				ts := byName[name]
				gs.topics = append(gs.topics, ts)
				ts.groups = append(ts.groups, gs)
				cs := make([]*consState, len(ts.parts))
				for p := range cs {
					cs[p] = &consState{}
				}
				gs.cons = append(gs.cons, cs)
			}
			m.groups = append(m.groups, gs)
			m.byRef[gs.ref] = gs
		}
		for _, inc := range s.Incidents {
			if inc.Instance != "" && inc.Instance != inst.ID {
				continue
			}
			minute := int(time.Duration(inc.At) / time.Minute)
			switch inc.Kind {
			case KindPartitionAdded, KindTopicRecreated:
				if ts := byName[inc.Topic]; ts != nil {
					ts.events[minute] = append(ts.events[minute], inc)
				}
			default:
				if gs := m.byRef[store.GroupRef{Region: inst.Region, InstanceID: inst.ID, Group: inc.Group}]; gs != nil {
					gs.incidents = append(gs.incidents, inc)
					if inc.Kind == KindRebalance {
						gs.rebalances = append(gs.rebalances, inc)
					}
				}
			}
		}
	}
	for _, gs := range m.groups {
		sort.SliceStable(gs.rebalances, func(i, j int) bool { return gs.rebalances[i].At < gs.rebalances[j].At })
	}
	m.initConsumers()
	return m, nil
}

// initConsumers puts every consumer where it would be keeping up at the
// start: latency behind its broker offset at the first minute's rate.
func (m *Model) initConsumers() {
	for _, ts := range m.topics {
		for p, ps := range ts.parts {
			ps.rate0 = m.partRate(ts, p, 0)
			for _, gs := range ts.groups {
				c := gs.consumer(ts, p)
				c.s = []float64{math.Max(0, ps.s[0]-ps.rate0*gs.latency)}
			}
		}
	}
}

// consumer returns the group's consumer state on partition p of ts.
func (gs *groupState) consumer(ts *topicState, p int) *consState {
	for i, t := range gs.topics {
		if t == ts {
			return gs.cons[i][p]
		}
	}
	return nil
}

// Start returns the model's start: time zero of the scenario's offsets.
func (m *Model) Start() time.Time { return m.start }

// Scenario returns the scenario the model runs.
func (m *Model) Scenario() *Scenario { return m.scn }

// Groups returns every group of the scenario, in scenario order.
func (m *Model) Groups() []store.GroupRef {
	out := make([]store.GroupRef, len(m.groups))
	for i, gs := range m.groups {
		out[i] = gs.ref
	}
	return out
}

// PollInterval returns the scenario's poll interval, defaulted.
func (m *Model) PollInterval() time.Duration {
	if m.scn.PollInterval == 0 {
		return time.Minute
	}
	return time.Duration(m.scn.PollInterval)
}

// minuteOf splits t into a minute index and the fraction of it elapsed,
// clamped to the start.
func (m *Model) minuteOf(t time.Time) (int, float64) {
	d := t.Sub(m.start)
	if d <= 0 {
		return 0, 0
	}
	k := int(d / time.Minute)
	return k, float64(d%time.Minute) / float64(time.Minute)
}

// ensure computes the state up to and including minute k. Callers hold mu.
func (m *Model) ensure(k int) {
	for m.minutes <= k {
		m.step()
	}
}

// step computes minute m.minutes.
func (m *Model) step() {
	k := m.minutes
	for _, ts := range m.topics {
		m.topicEvents(ts, k)
	}
	for _, gs := range m.groups {
		m.groupEvents(gs, k)
	}
	for _, ts := range m.topics {
		for p, ps := range ts.parts {
			i := k - ps.born
			r := m.partRate(ts, p, k)
			ps.e = append(ps.e, ps.s[i]+r*60)
		}
	}
	for _, gs := range m.groups {
		m.consume(gs, k)
	}
	// Open the next minute: start values are the end values until the
	// next minute's events move them.
	for _, ts := range m.topics {
		for _, ps := range ts.parts {
			ps.s = append(ps.s, ps.e[len(ps.e)-1])
		}
	}
	for _, gs := range m.groups {
		for _, cs := range gs.cons {
			for _, c := range cs {
				c.s = append(c.s, c.e[len(c.e)-1])
			}
		}
	}
	m.minutes++
}

// topicEvents applies the topic's partition_added and topic_recreated
// incidents of minute k.
func (m *Model) topicEvents(ts *topicState, k int) {
	for _, inc := range ts.events[k] {
		switch inc.Kind {
		case KindTopicRecreated:
			for p, ps := range ts.parts {
				ps.s[k-ps.born] = 0
				ps.eras = append(ps.eras, k)
				for _, gs := range ts.groups {
					c := gs.consumer(ts, p)
					c.s[k-c.born] = 0
				}
			}
		case KindPartitionAdded:
			for range inc.Count {
				ts.parts = append(ts.parts, &partState{born: k, eras: []int{k}, weight: 1, s: []float64{0}})
				for _, gs := range ts.groups {
					for i, t := range gs.topics {
						if t == ts {
							gs.cons[i] = append(gs.cons[i], &consState{born: k, s: []float64{0}})
						}
					}
				}
			}
		}
	}
}

// groupEvents applies the group's rewinds and resets of minute k.
func (m *Model) groupEvents(gs *groupState, k int) {
	for _, inc := range gs.incidents {
		if int(time.Duration(inc.At)/time.Minute) != k || (inc.Kind != KindRewind && inc.Kind != KindResetToLatest) {
			continue
		}
		for ti, ts := range gs.topics {
			if inc.Topic != "" && inc.Topic != ts.spec.Name {
				continue
			}
			for p, c := range gs.cons[ti] {
				if len(inc.Partitions) > 0 && !slices.Contains(inc.Partitions, p) {
					continue
				}
				ps := ts.parts[p]
				i := k - c.born
				if inc.Kind == KindRewind {
					c.s[i] = math.Max(0, c.s[i]-float64(inc.Messages))
				} else {
					c.s[i] = ps.s[k-ps.born]
				}
			}
		}
	}
}

// consume shares the group's capacity for minute k among its partitions.
func (m *Model) consume(gs *groupState, k int) {
	factor := 1.0
	minuteStart := time.Duration(k) * time.Minute
	type ask struct {
		c      *consState
		need   float64
		broker float64
	}
	var asks []ask
	for _, inc := range gs.incidents {
		at := time.Duration(inc.At)
		switch inc.Kind {
		case KindSlow:
			if minuteStart >= at && minuteStart < at+time.Duration(inc.For) {
				factor *= inc.Factor
			}
		case KindStall:
			if len(inc.Partitions) == 0 && inc.Topic == "" && minuteStart >= at && minuteStart < at+time.Duration(inc.For) {
				factor = 0
			}
		case KindRebalance:
			took := time.Duration(inc.Took)
			if inc.Took == 0 {
				took = 30 * time.Second
			}
			lo, hi := max(at, minuteStart), min(at+took, minuteStart+time.Minute)
			if hi > lo {
				factor *= 1 - float64(hi-lo)/float64(time.Minute)
			}
		}
	}
	for ti, ts := range gs.topics {
		for p, c := range gs.cons[ti] {
			ps := ts.parts[p]
			pi, ci := k-ps.born, k-c.born
			broker := ps.e[pi]
			rate := (ps.e[pi] - ps.s[pi]) / 60
			need := math.Max(0, broker-rate*gs.latency-c.s[ci])
			if gs.stalled(ts.spec.Name, p, minuteStart) {
				need = 0
			}
			asks = append(asks, ask{c: c, need: need, broker: broker})
		}
	}
	needs := make([]float64, len(asks))
	for i, a := range asks {
		needs[i] = a.need
	}
	got := share(needs, gs.spec.Capacity*60*factor)
	for i, a := range asks {
		cur := a.c.s[k-a.c.born]
		a.c.e = append(a.c.e, math.Min(math.Max(a.broker, cur), cur+got[i]))
	}
}

// stalled tells whether a partition-scoped stall holds partition p of topic
// at minute start d.
func (gs *groupState) stalled(topic string, p int, d time.Duration) bool {
	for _, inc := range gs.incidents {
		if inc.Kind != KindStall || (len(inc.Partitions) == 0 && inc.Topic == "") {
			continue
		}
		if inc.Topic != topic || len(inc.Partitions) > 0 && !slices.Contains(inc.Partitions, p) {
			continue
		}
		if at := time.Duration(inc.At); d >= at && d < at+time.Duration(inc.For) {
			return true
		}
	}
	return false
}

// share divides budget among needs by max-min fairness: nobody gets more
// than they need, and what is left is split evenly among the rest.
func share(needs []float64, budget float64) []float64 {
	got := make([]float64, len(needs))
	total := 0.0
	for _, n := range needs {
		total += n
	}
	if total <= budget {
		copy(got, needs)
		return got
	}
	order := make([]int, len(needs))
	for i := range order {
		order[i] = i
	}
	sort.Slice(order, func(a, b int) bool { return needs[order[a]] < needs[order[b]] })
	left := budget
	for n, i := range order {
		fair := left / float64(len(order)-n)
		g := math.Min(needs[i], fair)
		got[i] = g
		left -= g
	}
	return got
}

// partRate returns partition p's production rate in messages/s during
// minute k.
func (m *Model) partRate(ts *topicState, p, k int) float64 {
	t := ts.spec
	at := m.start.Add(time.Duration(k) * time.Minute)
	h := float64(at.Hour()) + float64(at.Minute())/60
	r := t.Rate * (1 + t.Diurnal*math.Cos(2*math.Pi*(h-t.PeakHour)/24)) * ts.weekly[at.Weekday()]
	r *= max(0, 1+t.Growth*at.Sub(m.start).Hours()/(7*24))
	d := time.Duration(k) * time.Minute
	for _, b := range t.Bursts {
		from := time.Duration(b.At)
		if d < from {
			continue
		}
		if b.Every != 0 {
			from += (d - from) / time.Duration(b.Every) * time.Duration(b.Every)
		}
		if d < from+time.Duration(b.For) {
			r *= b.Factor
		}
	}
	sum := 0.0
	for _, ps := range ts.parts {
		sum += ps.weight
	}
	r *= ts.parts[p].weight / sum
	if t.Noise > 0 {
		u := float64(hash(ts.seed, uint64(p), uint64(k))>>11)/(1<<53)*2 - 1
		r *= 1 + t.Noise*u
	}
	return r
}

// hash mixes the values with SplitMix64.
func hash(seed uint64, vs ...uint64) uint64 {
	h := seed
	for _, v := range vs {
		h ^= v
		h += 0x9e3779b97f4a7c15
		h = (h ^ h>>30) * 0xbf58476d1ce4e5b9
		h = (h ^ h>>27) * 0x94d049bb133111eb
		h ^= h >> 31
	}
	return h
}
