package query

import (
	"cmp"
	"context"
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/lagtrail/lagtrail/store"
)

// Defaults of SkewRequest and SkewConfig.
const (
	// DefaultSkewWindow is SkewRequest.Window's default.
	DefaultSkewWindow = 24 * time.Hour
	// DefaultHotFactor is SkewConfig.HotFactor's default.
	DefaultHotFactor = 2.0
	// DefaultHotMinRate is SkewConfig.HotMinRate's default, in messages
	// per second.
	DefaultHotMinRate = 1.0
	// DefaultStuckMinGrowth is SkewConfig.StuckMinGrowth's default.
	DefaultStuckMinGrowth = 5 * time.Minute
	// DefaultStuckMinLag is SkewConfig.StuckMinLag's default, in messages.
	DefaultStuckMinLag = 100
)

// SkewConfig says when SkewFrom flags a partition hot or stuck. Zero fields
// take their defaults.
type SkewConfig struct {
	// HotFactor: a partition is hot when its production rate is more than
	// HotFactor times the median production rate of its topic's
	// partitions. Greater than 1; default 2.
	HotFactor float64
	// HotMinRate is the production rate, in messages per second, below
	// which a partition is never hot: its production is negligible.
	// Positive; default 1.
	HotMinRate float64
	// StuckMinGrowth: a partition is stuck only when its lag grew over the
	// window by at least this long of its own production (lag change ≥
	// production rate × StuckMinGrowth), while the median growth of the
	// group's other partitions stayed under half of it. Default 5m.
	StuckMinGrowth time.Duration
	// StuckMinLag: and its lag grew by at least this many messages.
	// Default 100.
	StuckMinLag int64
}

// withDefaults fills c's zero fields.
func (c SkewConfig) withDefaults() SkewConfig {
	if c.HotFactor == 0 {
		c.HotFactor = DefaultHotFactor
	}
	if c.HotMinRate == 0 {
		c.HotMinRate = DefaultHotMinRate
	}
	if c.StuckMinGrowth == 0 {
		c.StuckMinGrowth = DefaultStuckMinGrowth
	}
	if c.StuckMinLag == 0 {
		c.StuckMinLag = DefaultStuckMinLag
	}
	return c
}

// Validate returns an error wrapping ErrInvalidRequest when a field is out
// of range. Zero fields are valid: they take their defaults.
func (c SkewConfig) Validate() error {
	switch {
	case math.IsNaN(c.HotFactor) || math.IsInf(c.HotFactor, 0) || c.HotFactor != 0 && c.HotFactor <= 1:
		return fmt.Errorf("%w: --hot-factor must be greater than 1, got %v", ErrInvalidRequest, c.HotFactor)
	case math.IsNaN(c.HotMinRate) || math.IsInf(c.HotMinRate, 0) || c.HotMinRate < 0:
		return fmt.Errorf("%w: --hot-min-rate must be positive, got %v", ErrInvalidRequest, c.HotMinRate)
	case c.StuckMinGrowth < 0:
		return fmt.Errorf("%w: --stuck-min-growth must be positive, got %s", ErrInvalidRequest, c.StuckMinGrowth)
	case c.StuckMinLag < 0:
		return fmt.Errorf("%w: stuck minimum lag must not be negative, got %d", ErrInvalidRequest, c.StuckMinLag)
	}
	return nil
}

// SkewRequest asks how a group's lag, production and consumption are
// spread over its partitions, over [At-Window, At).
type SkewRequest struct {
	// Selection names one group (required) and optionally one topic;
	// Partition must be nil: skew compares partitions.
	Selection
	// At is the end of the window (exclusive).
	At time.Time
	// Window is the window's length. Default 24h.
	Window time.Duration
	// SkewConfig says when a partition is flagged.
	SkewConfig
}

// PartitionSkew is one partition's share of its group over the window.
// Pointers are nil when unknown.
type PartitionSkew struct {
	store.Key
	// Polls is the number of polls with a sample of the partition.
	Polls int
	// Lag is the partition's lag at its last poll in the window; LagShare
	// its fraction of the sum over the group's partitions (nil when that
	// sum is 0).
	Lag      *int64
	LagShare *float64
	// ProduceRate and ConsumeRate are in messages per second over the
	// window; the shares are their fractions of the group's sums.
	ProduceRate, ProduceShare *float64
	ConsumeRate, ConsumeShare *float64
	// ProduceVsMedian is ProduceRate over the median production rate of
	// the topic's partitions; nil when that median is 0.
	ProduceVsMedian *float64
	// LagChange is produced minus consumed over the window: how many
	// messages the backlog grew by (negative: drained). Like the rates it
	// leaves out rewinds, resets to latest, broker decreases and gaps.
	LagChange *float64
	// GrowthSeconds is LagChange in seconds of the partition's own
	// production (LagChange / ProduceRate); nil without production.
	GrowthSeconds *float64
	// Slope is the least-squares slope of the lag over the window's
	// polls, in messages per second.
	Slope *float64
	// Events are the kinds of series breaks in the window.
	Events []string
	// Hot and Stuck are the flags, HotReason and StuckReason why they are
	// set (empty when not).
	Hot         bool
	HotReason   string
	Stuck       bool
	StuckReason string
}

// PartitionSpread is how one figure is spread over partitions: its median and
// maximum over those where it is known.
type PartitionSpread struct {
	// N is the number of partitions where the figure is known.
	N int
	// Median and Max are over those; zero when N is 0.
	Median, Max float64
	// MaxTopic and MaxPartition name the partition holding Max (the first
	// in topic and partition order on a tie).
	MaxTopic     string
	MaxPartition int32
	// Ratio is Max / Median; nil when N is 0 or Median is 0.
	Ratio *float64
}

// SkewSpread is the spread of lag, production rate and consumption rate
// over the partitions of one topic, or of the whole group when Topic is
// empty.
type SkewSpread struct {
	Topic      string
	Partitions int
	Lag        PartitionSpread
	Produce    PartitionSpread
	Consume    PartitionSpread
}

// Skew is how a group's lag and traffic are spread over its partitions
// over [From, To).
type Skew struct {
	Group    store.GroupRef
	From, To time.Time
	// Config is the configuration the flags were set with, defaults
	// applied.
	Config SkewConfig
	// Partitions are ordered by topic, then partition.
	Partitions []PartitionSkew
	// Topics are the spreads per topic, by name; Total is the group's.
	Topics []SkewSpread
	Total  SkewSpread
	// Lag, ProduceRate and ConsumeRate are the sums over the partitions
	// where each is known: the denominators of the shares.
	Lag                      int64
	ProduceRate, ConsumeRate float64
}

// Skew compares the partitions of one group over [At-Window, At): each
// partition's share of the lag, production and consumption, its lag
// change and slope, and whether it is hot or stuck (see SkewFrom). The
// window is aggregated in one bucket per partition, in the database, from
// the raw samples: the rollups keep no lag slope.
func (e *Engine) Skew(ctx context.Context, req SkewRequest) (*Skew, error) {
	if req.Group == "" {
		return nil, fmt.Errorf("%w: skew needs a group: give --group", ErrInvalidRequest)
	}
	if req.Partition != nil {
		return nil, fmt.Errorf("%w: --partition does not apply to skew, which compares the partitions of a group", ErrInvalidRequest)
	}
	if req.Window == 0 {
		req.Window = DefaultSkewWindow
	}
	if req.Window < 0 {
		return nil, fmt.Errorf("%w: --window must be positive, got %s", ErrInvalidRequest, req.Window)
	}
	if req.At.IsZero() {
		return nil, fmt.Errorf("%w: no time given for the end of the window", ErrInvalidRequest)
	}
	if err := req.SkewConfig.Validate(); err != nil {
		return nil, err
	}
	groups, err := e.resolve(ctx, req.Selection)
	if err != nil {
		return nil, err
	}
	at := req.At.UTC()
	edges := []time.Time{at.Add(-req.Window), at}
	aggs, err := e.src.Buckets(ctx, e.aggregate(groups, req.Selection, store.LevelPartition, edges))
	if err != nil {
		return nil, fmt.Errorf("skew: %w", err)
	}
	s := SkewFrom(fillRows(aggs, edges), req.SkewConfig)
	s.Group, s.From, s.To = groups[0], edges[0], edges[1]
	return &s, nil
}

// SkewFrom computes the skew of one group from its partitions' rows over
// the window: one row per partition (History rows at the partition level,
// with one bucket spanning the window). Zero fields of cfg take their
// defaults.
//
// A partition is hot when its production rate is at least cfg.HotMinRate
// and more than cfg.HotFactor times the median production rate of its
// topic's partitions.
//
// A partition is stuck when, over the window, its lag slope is positive,
// its lag grew (LagChange) by at least cfg.StuckMinLag messages and by at
// least cfg.StuckMinGrowth of its own production, while the median growth
// of the group's other partitions, each in time of its own production,
// stayed under half of cfg.StuckMinGrowth: the others drained or held. A
// group whose partitions all fall behind has no stuck partition (that is
// the group's problem, which query status and drain show), nor has a group
// of one partition.
func SkewFrom(rows []Row, cfg SkewConfig) Skew {
	cfg = cfg.withDefaults()
	s := Skew{Config: cfg}
	if len(rows) > 0 {
		s.Group, s.From, s.To = rows[0].Group, rows[0].Start, rows[0].End
	}
	rows = slices.Clone(rows)
	slices.SortStableFunc(rows, func(a, b Row) int {
		return cmp.Or(cmp.Compare(a.Topic, b.Topic), cmp.Compare(a.Partition, b.Partition))
	})
	s.Partitions = make([]PartitionSkew, len(rows))
	for i, r := range rows {
		p := PartitionSkew{
			Key: r.Key, Polls: r.Polls, Lag: r.Lag, ProduceRate: r.ProduceRate, ConsumeRate: r.ConsumeRate,
			Slope: r.Slope, Events: r.Events,
		}
		if r.Produced != nil && r.Consumed != nil {
			p.LagChange = skewPtr(*r.Produced - *r.Consumed)
			if r.ProduceRate != nil && *r.ProduceRate > 0 {
				p.GrowthSeconds = skewPtr(*p.LagChange / *r.ProduceRate)
			}
		}
		if r.Lag != nil {
			s.Lag += *r.Lag
		}
		if r.ProduceRate != nil {
			s.ProduceRate += *r.ProduceRate
		}
		if r.ConsumeRate != nil {
			s.ConsumeRate += *r.ConsumeRate
		}
		s.Partitions[i] = p
	}
	for i := range s.Partitions {
		p := &s.Partitions[i]
		if p.Lag != nil {
			p.LagShare = skewShare(float64(*p.Lag), float64(s.Lag))
		}
		if p.ProduceRate != nil {
			p.ProduceShare = skewShare(*p.ProduceRate, s.ProduceRate)
		}
		if p.ConsumeRate != nil {
			p.ConsumeShare = skewShare(*p.ConsumeRate, s.ConsumeRate)
		}
	}
	s.Total = skewSpreadOf("", s.Partitions)
	for lo := 0; lo < len(s.Partitions); {
		hi := lo
		for hi < len(s.Partitions) && s.Partitions[hi].Topic == s.Partitions[lo].Topic {
			hi++
		}
		sp := skewSpreadOf(s.Partitions[lo].Topic, s.Partitions[lo:hi])
		s.Topics = append(s.Topics, sp)
		for i := lo; i < hi; i++ {
			skewHot(&s.Partitions[i], sp.Produce, s.ProduceRate, cfg)
		}
		lo = hi
	}
	skewStuck(s.Partitions, cfg)
	return s
}

// skewShare returns part/total, or nil when total is not positive.
func skewShare(part, total float64) *float64 {
	if total <= 0 {
		return nil
	}
	return skewPtr(part / total)
}

func skewPtr[T any](v T) *T { return &v }

// skewSpreadOf returns the spread of ps's lag and rates.
func skewSpreadOf(topic string, ps []PartitionSkew) SkewSpread {
	sp := SkewSpread{Topic: topic, Partitions: len(ps)}
	sp.Lag = skewSpreadValues(ps, func(p PartitionSkew) *float64 {
		if p.Lag == nil {
			return nil
		}
		return skewPtr(float64(*p.Lag))
	})
	sp.Produce = skewSpreadValues(ps, func(p PartitionSkew) *float64 { return p.ProduceRate })
	sp.Consume = skewSpreadValues(ps, func(p PartitionSkew) *float64 { return p.ConsumeRate })
	return sp
}

func skewSpreadValues(ps []PartitionSkew, value func(PartitionSkew) *float64) PartitionSpread {
	var sp PartitionSpread
	var vs []float64
	for _, p := range ps {
		v := value(p)
		if v == nil {
			continue
		}
		if len(vs) == 0 || *v > sp.Max {
			sp.Max, sp.MaxTopic, sp.MaxPartition = *v, p.Topic, p.Partition
		}
		vs = append(vs, *v)
	}
	sp.N = len(vs)
	if sp.N == 0 {
		return sp
	}
	sp.Median = skewMedian(vs)
	if sp.Median > 0 {
		sp.Ratio = skewPtr(sp.Max / sp.Median)
	}
	return sp
}

// skewMedian returns the median of vs (the mean of the middle two for an even
// count), sorting vs. vs must not be empty.
func skewMedian(vs []float64) float64 {
	slices.Sort(vs)
	n := len(vs)
	if n%2 == 1 {
		return vs[n/2]
	}
	return (vs[n/2-1] + vs[n/2]) / 2
}

// skewHot sets p.ProduceVsMedian and the hot flag against its topic's
// production spread.
func skewHot(p *PartitionSkew, topic PartitionSpread, groupProduce float64, cfg SkewConfig) {
	if p.ProduceRate == nil {
		return
	}
	rate := *p.ProduceRate
	if topic.Median > 0 {
		p.ProduceVsMedian = skewPtr(rate / topic.Median)
	}
	if rate < cfg.HotMinRate || rate <= cfg.HotFactor*topic.Median {
		return
	}
	p.Hot = true
	times := "while the median partition of topic " + p.Topic + " produces nothing"
	if p.ProduceVsMedian != nil {
		times = fmt.Sprintf("%s× the median partition of topic %s (%s/s)", skewNum(*p.ProduceVsMedian), p.Topic, skewNum(topic.Median))
	}
	p.HotReason = fmt.Sprintf("produces %s/s, %s; %s of the group's production (threshold: above %s× the median and at least %s/s)",
		skewNum(rate), times, skewPercent(rate/groupProduce), skewNum(cfg.HotFactor), skewNum(cfg.HotMinRate))
}

// skewStuck sets the stuck flags of ps, the partitions of one group.
func skewStuck(ps []PartitionSkew, cfg SkewConfig) {
	minGrowth := cfg.StuckMinGrowth.Seconds()
	// growth is each partition's lag change in seconds of its production;
	// a partition with no production that did not grow held.
	growth := make([]*float64, len(ps))
	for i, p := range ps {
		switch {
		case p.GrowthSeconds != nil:
			growth[i] = p.GrowthSeconds
		case p.LagChange != nil && *p.LagChange <= 0:
			growth[i] = skewPtr(0.0)
		case p.LagChange != nil:
			growth[i] = skewPtr(math.Inf(1))
		}
	}
	for i := range ps {
		p := &ps[i]
		if p.Slope == nil || *p.Slope <= 0 || p.LagChange == nil || *p.LagChange < float64(cfg.StuckMinLag) ||
			p.GrowthSeconds == nil || *p.GrowthSeconds < minGrowth {
			continue
		}
		var others []float64
		for j, g := range growth {
			if j != i && g != nil {
				others = append(others, *g)
			}
		}
		if len(others) == 0 {
			continue
		}
		m := skewMedian(others)
		if m >= minGrowth/2 {
			continue
		}
		held := "held"
		if m < 0 {
			held = "drained"
		}
		consumed := "consumed nothing"
		if p.ConsumeRate != nil && *p.ConsumeRate > 0 {
			consumed = fmt.Sprintf("consumed %s/s", skewNum(*p.ConsumeRate))
		}
		p.Stuck = true
		p.StuckReason = fmt.Sprintf("lag grew by %.0f messages, %s of its production at %s/s (slope %s/s), and it %s, while the group's other %d partitions %s (median change %s of their production) (threshold: growth of at least %s of production and %d messages)",
			*p.LagChange, skewDuration(*p.GrowthSeconds), skewNum(*p.ProduceRate), skewNum(*p.Slope), consumed,
			len(others), held, skewDuration(m), skewDuration(minGrowth), cfg.StuckMinLag)
	}
}

// skewNum writes x with three significant digits, without exponent or
// trailing zeros.
func skewNum(x float64) string {
	if x == 0 || math.IsNaN(x) || math.IsInf(x, 0) {
		return strconv.FormatFloat(x, 'f', -1, 64)
	}
	d := 2 - int(math.Floor(math.Log10(math.Abs(x))))
	if d <= 0 {
		p := math.Pow(10, float64(-d))
		return strconv.FormatFloat(math.Round(x/p)*p, 'f', 0, 64)
	}
	s := strconv.FormatFloat(x, 'f', d, 64)
	s = strings.TrimRight(s, "0")
	return strings.TrimSuffix(s, ".")
}

func skewPercent(x float64) string {
	return strconv.FormatFloat(100*x, 'f', 1, 64) + "%"
}

// skewDuration writes a signed number of seconds as a rounded duration.
func skewDuration(s float64) string {
	if math.IsInf(s, 0) || math.IsNaN(s) || math.Abs(s) > 1e9 {
		return skewNum(s) + "s"
	}
	d := time.Duration(s * float64(time.Second))
	if d.Abs() >= time.Minute {
		d = d.Round(time.Second)
	} else {
		d = d.Round(100 * time.Millisecond)
	}
	out := d.String()
	if strings.HasSuffix(out, "m0s") {
		out = strings.TrimSuffix(out, "0s")
	}
	if strings.HasSuffix(out, "h0m") {
		out = strings.TrimSuffix(out, "0m")
	}
	return out
}
