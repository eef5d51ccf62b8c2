package benchgen

import (
	"errors"
	"fmt"
	"math"
	"time"

	"github.com/lagtrail/lagtrail/store"
)

// Region and Instance are where every generated group lives.
const (
	Region   = "cn-hangzhou"
	Instance = "alikafka_bench-cn-0001"
)

// DefaultStart is Config.Start's default: a Monday, midnight UTC.
var DefaultStart = time.Date(2025, 1, 6, 0, 0, 0, 0, time.UTC)

// Config describes the fleet and the history to generate.
type Config struct {
	// Groups is the number of consumer groups; each reads one topic of its
	// own. At least 1.
	Groups int
	// Partitions is the number of partitions of each topic. At least 1.
	Partitions int
	// Rounds is the length of the history in poll rounds. At least 1.
	Rounds int
	// Interval is the time between rounds: every group is polled once per
	// round. At least one second.
	Interval time.Duration
	// Start is the time of round 0, truncated to the second and made UTC;
	// zero means DefaultStart.
	Start time.Time
	// Seed chooses the history; the same seed and configuration give the
	// same polls.
	Seed uint64
}

// consumer kinds.
const (
	keeper  = iota // keeps up
	lagging        // capacity below peak production
	stalled        // stops for an hour, then catches up
)

type groupSpec struct {
	ref      store.GroupRef
	topic    string
	kind     int
	capacity float64 // consumer capacity, in multiples of each partition's base rate
	hidden   bool    // LastTimestampMs is -1
	jitter   time.Duration
	phase    float64 // diurnal phase, hours
	base     []float64
	initial  []int64
}

// Generator produces the polls of a history, round by round. It is not safe
// for concurrent use.
type Generator struct {
	cfg                 Config
	groups              []groupSpec
	stallFrom, stallEnd int // rounds [stallFrom, stallEnd) of the stalled group

	// state after round cur: broker and consumer offsets per group and
	// partition, flattened.
	cur                int
	broker, consumer   []int64
	tailMs             []float64
	initBroker, initCo []int64
}

// New validates cfg and returns a Generator for it.
func New(cfg Config) (*Generator, error) {
	switch {
	case cfg.Groups < 1:
		return nil, fmt.Errorf("benchgen: groups must be at least 1, got %d", cfg.Groups)
	case cfg.Partitions < 1:
		return nil, fmt.Errorf("benchgen: partitions must be at least 1, got %d", cfg.Partitions)
	case cfg.Rounds < 1:
		return nil, fmt.Errorf("benchgen: rounds must be at least 1, got %d", cfg.Rounds)
	case cfg.Interval < time.Second:
		return nil, fmt.Errorf("benchgen: interval must be at least 1s, got %s", cfg.Interval)
	case cfg.Groups > 100_000 || cfg.Partitions > 10_000:
		return nil, errors.New("benchgen: at most 100000 groups of 10000 partitions")
	}
	if cfg.Start.IsZero() {
		cfg.Start = DefaultStart
	}
	cfg.Start = cfg.Start.UTC().Truncate(time.Second)
	g := &Generator{cfg: cfg, stallFrom: -1, stallEnd: -1}
	if cfg.Groups >= 3 {
		g.stallFrom, g.stallEnd = stallWindow(cfg.Rounds, cfg.Interval)
	}
	maxJitter := min(cfg.Interval, time.Minute) / 2
	for i := range cfg.Groups {
		s := groupSpec{
			ref:   store.GroupRef{Region: Region, InstanceID: Instance, Group: fmt.Sprintf("bench-group-%03d", i)},
			topic: fmt.Sprintf("bench-topic-%03d", i),
			kind:  keeper, capacity: 20,
			hidden: i%4 == 3,
			jitter: time.Duration(g.u(1, i, 0, 0)*float64(maxJitter/time.Millisecond)) * time.Millisecond,
			phase:  4 * (g.u(2, i, 0, 0) - 0.5),
		}
		switch {
		case i == 1 && g.stallFrom >= 0:
			s.kind, s.capacity = stalled, 3
		case i%10 == 5:
			s.kind, s.capacity = lagging, 0.95
		case i%10 == 8:
			s.kind, s.capacity = lagging, 1.25
		}
		// Group base rate log-uniform in [0.5, 500] messages/s per
		// partition, each partition within ±30% of it.
		groupRate := 0.5 * math.Pow(1000, g.u(3, i, 0, 0))
		groupOffset := 1_000_000 + int64(g.u(4, i, 0, 0)*999_000_000)
		for p := range cfg.Partitions {
			s.base = append(s.base, groupRate*(0.7+0.6*g.u(5, i, p, 0)))
			s.initial = append(s.initial, groupOffset+int64(g.u(6, i, p, 0)*1_000_000))
		}
		g.groups = append(g.groups, s)
	}
	n := cfg.Groups * cfg.Partitions
	g.broker, g.consumer, g.tailMs = make([]int64, n), make([]int64, n), make([]float64, n)
	g.initBroker, g.initCo = make([]int64, n), make([]int64, n)
	for i, s := range g.groups {
		for p := range cfg.Partitions {
			k := i*cfg.Partitions + p
			g.initBroker[k] = s.initial[p]
			g.initCo[k] = s.initial[p] - int64(s.base[p]*2)
		}
	}
	g.reset()
	return g, nil
}

// stallWindow places the stall of one hour six hours before the end of the
// history, or a third into a history too short for that.
func stallWindow(rounds int, interval time.Duration) (int, int) {
	n := max(1, int(time.Hour/interval))
	from := rounds - int(6*time.Hour/interval) - n
	if from < 1 {
		from = rounds / 3
	}
	return from, from + n
}

func (g *Generator) reset() {
	g.cur = 0
	copy(g.broker, g.initBroker)
	copy(g.consumer, g.initCo)
	for i := range g.tailMs {
		g.tailMs[i] = 200 + 2800*g.u(7, i/g.cfg.Partitions, i%g.cfg.Partitions, 0)
	}
}

// Config returns the configuration, with defaults applied.
func (g *Generator) Config() Config { return g.cfg }

// Samples returns the number of partition samples of the history: groups ×
// partitions × rounds.
func (g *Generator) Samples() int64 {
	return int64(g.cfg.Groups) * int64(g.cfg.Partitions) * int64(g.cfg.Rounds)
}

// Time returns the time of round i, before each group's jitter.
func (g *Generator) Time(i int) time.Time {
	return g.cfg.Start.Add(time.Duration(i) * g.cfg.Interval)
}

// End returns the end of the history: the time of round Rounds.
func (g *Generator) End() time.Time { return g.Time(g.cfg.Rounds) }

// Group returns group i.
func (g *Generator) Group(i int) store.GroupRef { return g.groups[i].ref }

// Topic returns the topic group i reads.
func (g *Generator) Topic(i int) string { return g.groups[i].topic }

// Stall returns the index of the group that stalls and the rounds
// [from, to) of its stall, or -1, -1, -1 when no group stalls (fewer than
// three groups).
func (g *Generator) Stall() (group, from, to int) {
	if g.stallFrom < 0 {
		return -1, -1, -1
	}
	return 1, g.stallFrom, g.stallEnd
}

// Round returns the polls of round i, one per group in group order, each
// with one topic of Config.Partitions partitions. Rounds at or after
// Config.Rounds continue the history. Calls with increasing i are cheap; a
// smaller i than the previous call's recomputes the history from round 0.
func (g *Generator) Round(i int) []*store.Poll {
	if i < 0 {
		panic("benchgen: negative round")
	}
	if i < g.cur {
		g.reset()
	}
	for g.cur < i {
		g.advance()
	}
	at := g.Time(i)
	polls := make([]*store.Poll, len(g.groups))
	for gi := range g.groups {
		polls[gi] = g.poll(gi, i, at)
	}
	return polls
}

// rate returns partition p of group gi's production rate in messages/s in
// round i.
func (g *Generator) rate(gi, p, i int) float64 {
	s := &g.groups[gi]
	t := g.Time(i)
	hour := float64(t.Hour()) + float64(t.Minute())/60 + s.phase
	diurnal := 1 + 0.6*math.Sin(2*math.Pi*(hour-9)/24)
	noise := 0.75 + 0.5*g.u(8, gi, p, i)
	return s.base[p] * diurnal * noise
}

// advance moves the state from round cur to cur+1.
func (g *Generator) advance() {
	i := g.cur
	secs := g.cfg.Interval.Seconds()
	for gi := range g.groups {
		s := &g.groups[gi]
		capacity := s.capacity
		if s.kind == stalled && i+1 >= g.stallFrom && i+1 < g.stallEnd {
			capacity = 0
		}
		for p := range g.cfg.Partitions {
			k := gi*g.cfg.Partitions + p
			r := g.rate(gi, p, i)
			g.broker[k] += int64(math.Round(r * secs))
			g.tailMs[k] = 200 + 2800*g.u(7, gi, p, i+1)
			target := g.broker[k] - int64(r*g.tailMs[k]/1000)
			if step := min(int64(capacity*s.base[p]*secs), target-g.consumer[k]); step > 0 {
				g.consumer[k] += step
			}
		}
	}
	g.cur++
}

// poll builds group gi's poll of round i from the current state.
func (g *Generator) poll(gi, i int, at time.Time) *store.Poll {
	s := &g.groups[gi]
	sampled := at.Add(s.jitter)
	dur := time.Duration(50+g.u(9, gi, 0, i)*400) * time.Millisecond
	sampledMs := sampled.UnixMilli()
	parts := make([]store.PartitionOffsets, g.cfg.Partitions)
	var total int64
	groupLast := int64(-1)
	for p := range parts {
		k := gi*g.cfg.Partitions + p
		lag := g.broker[k] - g.consumer[k]
		total += lag
		last := int64(-1)
		if !s.hidden {
			behind := g.tailMs[k] + 1000*float64(lag)/max(g.rate(gi, p, i), 0.01)
			last = sampledMs - int64(min(behind, 20*24*3600*1000))
			groupLast = max(groupLast, last)
		}
		parts[p] = store.PartitionOffsets{
			Partition: int32(p), BrokerOffset: g.broker[k], ConsumerOffset: g.consumer[k], LastTimestampMs: last,
		}
	}
	return &store.Poll{
		Group:           s.ref,
		StartedAt:       sampled.Add(-dur),
		SampledAt:       sampled,
		Duration:        dur,
		OK:              true,
		RequestID:       g.requestID(gi, i),
		TotalDiff:       total,
		LastTimestampMs: groupLast,
		Topics:          []store.TopicSample{{Topic: s.topic, Partitions: parts}},
	}
}

// requestID returns an upper-case version 4 UUID derived from the seed,
// the group and the round, like alikafka's request ids.
func (g *Generator) requestID(gi, i int) string {
	a, b := g.hash(10, gi, 0, i), g.hash(11, gi, 0, i)
	a = a&^0xf000 | 0x4000     // version 4
	b = b&^(0xc<<60) | 0x8<<60 // RFC 4122 variant
	return fmt.Sprintf("%08X-%04X-%04X-%04X-%012X",
		a>>32, (a>>16)&0xffff, a&0xffff, b>>48, b&0xffffffffffff)
}

// u returns a uniform value in [0, 1) for (stream, group, partition, round).
func (g *Generator) u(stream, gi, p, i int) float64 {
	return float64(g.hash(stream, gi, p, i)>>11) / (1 << 53)
}

func (g *Generator) hash(stream, gi, p, i int) uint64 {
	h := g.cfg.Seed
	for _, v := range [...]uint64{uint64(stream), uint64(gi), uint64(p), uint64(i)} {
		h = splitmix(h ^ v)
	}
	return h
}

// splitmix is SplitMix64's output function.
func splitmix(x uint64) uint64 {
	x += 0x9e3779b97f4a7c15
	x = (x ^ x>>30) * 0xbf58476d1ce4e5b9
	x = (x ^ x>>27) * 0x94d049bb133111eb
	return x ^ x>>31
}
