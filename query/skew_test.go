package query_test

import (
	"errors"
	"math"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/lagtrail/lagtrail/query"
	"github.com/lagtrail/lagtrail/store"
)

// skewPart describes one partition's row over a one-hour window: lag at
// the end, rates, lag change (produced minus consumed) and slope. NaN
// leaves a value unknown.
type skewPart struct {
	topic            string
	lag              int64
	produce, consume float64
	change, slope    float64
}

var skewWindowStart = time.Date(2025, 1, 6, 13, 0, 0, 0, time.UTC)

func skewRows(parts []skewPart) []query.Row {
	const secs = 3600.0
	group := store.GroupRef{Region: "cn-hangzhou", InstanceID: "alikafka-1", Group: "g"}
	counts := map[string]int32{}
	rows := make([]query.Row, len(parts))
	for i, p := range parts {
		topic := skewOr(p.topic, "t")
		r := query.Row{
			Key:   store.Key{Group: group, Topic: topic, Partition: counts[topic]},
			Start: skewWindowStart, End: skewWindowStart.Add(time.Hour), Polls: 60,
		}
		counts[topic]++
		if p.lag >= 0 {
			r.Lag = &p.lag
		}
		if !math.IsNaN(p.produce) {
			r.ProduceRate = skewF(p.produce)
			r.Produced = skewF(p.produce * secs)
		}
		if !math.IsNaN(p.consume) {
			r.ConsumeRate = skewF(p.consume)
			if r.Produced != nil && !math.IsNaN(p.change) {
				r.Consumed = skewF(*r.Produced - p.change)
			}
		}
		if !math.IsNaN(p.slope) {
			r.Slope = skewF(p.slope)
		}
		rows[i] = r
	}
	return rows
}

func skewOr(s, def string) string {
	if s == "" {
		return def
	}
	return s
}

func skewF(v float64) *float64 { return &v }

// skewSteady is a partition producing and consuming rate/s with a small, flat
// lag.
func skewSteady(rate float64) skewPart {
	return skewPart{lag: int64(rate), produce: rate, consume: rate, change: 0, slope: 0}
}

// skewStalled is a partition whose consumer stopped for the last minutes of
// the window at rate/s of production.
func skewStalled(rate float64, minutes float64) skewPart {
	grew := rate * minutes * 60
	return skewPart{lag: int64(rate + grew), produce: rate, consume: rate * (60 - minutes) / 60, change: grew, slope: grew / 1800}
}

func skewTimes(n int, p skewPart) []skewPart {
	out := make([]skewPart, n)
	for i := range out {
		out[i] = p
	}
	return out
}

func skewWith(parts []skewPart, i int, p skewPart) []skewPart {
	parts = slices.Clone(parts)
	parts[i] = p
	return parts
}

// skewFlagged returns "topic/partition" of the partitions flag picks.
func skewFlagged(s query.Skew, flag func(query.PartitionSkew) bool) []string {
	var out []string
	for _, p := range s.Partitions {
		if flag(p) {
			out = append(out, p.Topic+"/"+strconv.Itoa(int(p.Partition)))
		}
	}
	return out
}

func skewIsHot(p query.PartitionSkew) bool   { return p.Hot }
func skewIsStuck(p query.PartitionSkew) bool { return p.Stuck }

func TestSkewFromFlags(t *testing.T) {
	t.Parallel()
	nan := math.NaN()
	for _, tc := range []struct {
		name             string
		parts            []skewPart
		cfg              query.SkewConfig
		wantHot          []string
		wantStuck        []string
		wantHotReason    []string // substrings of the first hot partition's reason
		wantStuckReason  []string // substrings of the first stuck partition's reason
		wantProduceRatio float64  // the group's produce max/median; 0 for nil
	}{
		{
			name:    "one partition at 4x the median is hot",
			parts:   skewWith(skewTimes(5, skewSteady(10)), 3, skewSteady(40)),
			wantHot: []string{"t/3"}, wantHotReason: []string{"produces 40/s", "4× the median partition of topic t (10/s)", "threshold: above 2× the median and at least 1/s", "50.0% of the group's production"},
			wantProduceRatio: 4,
		},
		{
			name:             "exactly the factor is not above it",
			parts:            skewWith(skewTimes(5, skewSteady(10)), 3, skewSteady(20)),
			wantProduceRatio: 2,
		},
		{
			name:    "a lower factor flags it",
			parts:   skewWith(skewTimes(5, skewSteady(10)), 3, skewSteady(20)),
			cfg:     query.SkewConfig{HotFactor: 1.5},
			wantHot: []string{"t/3"}, wantHotReason: []string{"2× the median", "above 1.5× the median"},
			wantProduceRatio: 2,
		},
		{
			name:             "negligible production is never hot",
			parts:            skewWith(skewTimes(5, skewSteady(0.1)), 3, skewSteady(0.8)),
			wantProduceRatio: 8,
		},
		{
			name:    "a lower floor flags it",
			parts:   skewWith(skewTimes(5, skewSteady(0.1)), 3, skewSteady(0.8)),
			cfg:     query.SkewConfig{HotMinRate: 0.5},
			wantHot: []string{"t/3"}, wantHotReason: []string{"produces 0.8/s", "8× the median", "at least 0.5/s"},
			wantProduceRatio: 8,
		},
		{
			name:    "all production on one partition",
			parts:   skewWith(skewTimes(4, skewSteady(0)), 2, skewSteady(5)),
			wantHot: []string{"t/2"}, wantHotReason: []string{"produces 5/s", "while the median partition of topic t produces nothing", "100.0% of the group's production"},
		},
		{
			name: "hot is judged within a topic",
			parts: []skewPart{
				{topic: "a", produce: 10, consume: 10, lag: 10}, {topic: "a", produce: 10, consume: 10, lag: 10}, {topic: "a", produce: 10, consume: 10, lag: 10},
				{topic: "b", produce: 40, consume: 40, lag: 40}, {topic: "b", produce: 40, consume: 40, lag: 40}, {topic: "b", produce: 40, consume: 40, lag: 40},
			},
			wantProduceRatio: 40.0 / 25,
		},
		{
			name:    "two hot partitions of sixteen",
			parts:   skewWith(skewWith(skewTimes(16, skewSteady(10)), 3, skewSteady(45)), 11, skewSteady(25)),
			wantHot: []string{"t/3", "t/11"}, wantProduceRatio: 4.5,
		},
		{
			name:      "a partition stalled for 20 minutes is stuck",
			parts:     skewWith(skewTimes(4, skewSteady(10)), 1, skewStalled(10, 20)),
			wantStuck: []string{"t/1"}, wantProduceRatio: 1,
			wantStuckReason: []string{"lag grew by 12000 messages, 20m of its production at 10/s", "consumed 6.67/s", "other 3 partitions held (median change 0s"},
		},
		{
			name:      "a consumer that consumed nothing",
			parts:     skewWith(skewTimes(4, skewSteady(10)), 2, skewPart{lag: 36000, produce: 10, consume: 0, change: 36000, slope: 10}),
			wantStuck: []string{"t/2"}, wantProduceRatio: 1,
			wantStuckReason: []string{"1h of its production", "it consumed nothing"},
		},
		{
			name: "while the others drained",
			parts: skewWith(skewTimes(4, skewPart{lag: 10, produce: 10, consume: 15, change: -18000, slope: -5}), 0,
				skewStalled(10, 20)),
			wantStuck: []string{"t/0"}, wantStuckReason: []string{"other 3 partitions drained (median change -30m of their production)"},
			wantProduceRatio: 1,
		},
		{
			name:             "every partition falling behind is the group's problem",
			parts:            skewTimes(6, skewStalled(10, 20)),
			wantProduceRatio: 1,
		},
		{
			name:             "a majority falling behind is the group's problem",
			parts:            append(skewTimes(5, skewStalled(10, 20)), skewTimes(3, skewSteady(10))...),
			wantProduceRatio: 1,
		},
		{
			name:      "two of eight stalled",
			parts:     skewWith(skewWith(skewTimes(8, skewSteady(10)), 2, skewStalled(10, 40)), 5, skewStalled(10, 40)),
			wantStuck: []string{"t/2", "t/5"}, wantProduceRatio: 1,
			wantStuckReason: []string{"other 7 partitions held"},
		},
		{
			name:             "others growing by half the threshold are not holding",
			parts:            append(skewTimes(3, skewStalled(10, 2.5)), skewStalled(10, 20)),
			wantProduceRatio: 1,
		},
		{
			name:             "growth under the minimum time of production",
			parts:            skewWith(skewTimes(4, skewSteady(10)), 1, skewStalled(10, 4)),
			wantProduceRatio: 1,
		},
		{
			name:      "a lower minimum growth flags it",
			parts:     skewWith(skewTimes(4, skewSteady(10)), 1, skewStalled(10, 4)),
			cfg:       query.SkewConfig{StuckMinGrowth: 3 * time.Minute},
			wantStuck: []string{"t/1"}, wantStuckReason: []string{"4m of its production", "growth of at least 3m of production and 100 messages"},
			wantProduceRatio: 1,
		},
		{
			name:             "growth under the minimum messages",
			parts:            skewWith(skewTimes(4, skewSteady(0.1)), 1, skewStalled(0.1, 15)),
			wantProduceRatio: 1,
		},
		{
			name:             "lag grew but the fitted slope is falling",
			parts:            skewWith(skewTimes(4, skewSteady(10)), 1, skewPart{lag: 12000, produce: 10, consume: 5, change: 12000, slope: -1}),
			wantProduceRatio: 1,
		},
		{
			name:             "a group of one partition has no others to compare with",
			parts:            []skewPart{skewStalled(10, 20)},
			wantProduceRatio: 1,
		},
		{
			name:             "unknown slope or counts are never stuck",
			parts:            skewWith(skewWith(skewTimes(4, skewSteady(10)), 1, skewPart{lag: 12000, produce: 10, consume: 5, change: 12000, slope: nan}), 2, skewPart{lag: 12000, produce: 10, consume: nan, change: nan, slope: 10}),
			wantProduceRatio: 1,
		},
		{
			name:             "a hot partition the group cannot keep up with is hot and stuck",
			parts:            skewWith(skewTimes(8, skewSteady(10)), 3, skewPart{lag: 50000, produce: 40, consume: 25, change: 54000, slope: 15}),
			wantHot:          []string{"t/3"},
			wantStuck:        []string{"t/3"},
			wantStuckReason:  []string{"22m30s of its production at 40/s", "consumed 25/s"},
			wantProduceRatio: 4,
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			s := query.SkewFrom(skewRows(tc.parts), tc.cfg)
			if got := skewFlagged(s, skewIsHot); !slices.Equal(got, tc.wantHot) {
				t.Errorf("hot %v, want %v", got, tc.wantHot)
			}
			if got := skewFlagged(s, skewIsStuck); !slices.Equal(got, tc.wantStuck) {
				t.Errorf("stuck %v, want %v", got, tc.wantStuck)
			}
			for _, p := range s.Partitions {
				if p.Hot != (p.HotReason != "") || p.Stuck != (p.StuckReason != "") {
					t.Errorf("%s/%d: hot %v reason %q, stuck %v reason %q", p.Topic, p.Partition, p.Hot, p.HotReason, p.Stuck, p.StuckReason)
				}
			}
			skewCheckReason(t, s, skewIsHot, func(p query.PartitionSkew) string { return p.HotReason }, tc.wantHotReason)
			skewCheckReason(t, s, skewIsStuck, func(p query.PartitionSkew) string { return p.StuckReason }, tc.wantStuckReason)
			got := s.Total.Produce.Ratio
			switch {
			case tc.wantProduceRatio == 0 && got != nil:
				t.Errorf("group produce ratio %v, want none", *got)
			case tc.wantProduceRatio != 0 && (got == nil || math.Abs(*got-tc.wantProduceRatio) > 1e-9):
				t.Errorf("group produce ratio %v, want %v", got, tc.wantProduceRatio)
			}
		})
	}
}

func skewCheckReason(t *testing.T, s query.Skew, flag func(query.PartitionSkew) bool, reason func(query.PartitionSkew) string, want []string) {
	t.Helper()
	for _, p := range s.Partitions {
		if !flag(p) {
			continue
		}
		for _, w := range want {
			if !strings.Contains(reason(p), w) {
				t.Errorf("%s/%d: reason %q does not say %q", p.Topic, p.Partition, reason(p), w)
			}
		}
		return
	}
}

// TestSkewFromShares checks the shares, totals, lag change and the
// spreads per topic and for the group.
func TestSkewFromShares(t *testing.T) {
	t.Parallel()
	nan := math.NaN()
	parts := []skewPart{
		{topic: "a", lag: 100, produce: 10, consume: 8, change: 7200, slope: 2},
		{topic: "a", lag: 300, produce: 30, consume: 30, change: 0, slope: 0},
		{topic: "a", lag: 600, produce: 20, consume: 22, change: -7200, slope: -2},
		{topic: "b", lag: 0, produce: 40, consume: 40, change: 0, slope: 0},
		{topic: "b", lag: -1, produce: nan, consume: nan, change: nan, slope: nan},
	}
	s := query.SkewFrom(skewRows(parts), query.SkewConfig{})
	if s.Lag != 1000 || s.ProduceRate != 100 || s.ConsumeRate != 100 {
		t.Errorf("totals lag %d produce %v consume %v, want 1000 100 100", s.Lag, s.ProduceRate, s.ConsumeRate)
	}
	if !s.From.Equal(skewWindowStart) || !s.To.Equal(skewWindowStart.Add(time.Hour)) || s.Group.Group != "g" {
		t.Errorf("window %s..%s of %v", s.From, s.To, s.Group)
	}
	if s.Config != (query.SkewConfig{HotFactor: 2, HotMinRate: 1, StuckMinGrowth: 5 * time.Minute, StuckMinLag: 100}) {
		t.Errorf("config %+v, want the defaults", s.Config)
	}
	wantLag := []float64{0.1, 0.3, 0.6, 0}
	wantProduce := []float64{0.1, 0.3, 0.2, 0.4}
	wantConsume := []float64{0.08, 0.3, 0.22, 0.4}
	wantChange := []float64{7200, 0, -7200, 0}
	wantGrowth := []float64{720, 0, -360, 0}
	var sumLag, sumProduce, sumConsume float64
	for i, p := range s.Partitions[:4] {
		for _, c := range []struct {
			name      string
			got       *float64
			want      float64
			sum       *float64
			sumWanted bool
		}{
			{"lag share", p.LagShare, wantLag[i], &sumLag, true},
			{"produce share", p.ProduceShare, wantProduce[i], &sumProduce, true},
			{"consume share", p.ConsumeShare, wantConsume[i], &sumConsume, true},
			{"lag change", p.LagChange, wantChange[i], nil, false},
			{"growth seconds", p.GrowthSeconds, wantGrowth[i], nil, false},
		} {
			if c.got == nil || math.Abs(*c.got-c.want) > 1e-9 {
				t.Errorf("%s/%d %s = %v, want %v", p.Topic, p.Partition, c.name, c.got, c.want)
				continue
			}
			if c.sumWanted {
				*c.sum += *c.got
			}
		}
	}
	for name, sum := range map[string]float64{"lag": sumLag, "produce": sumProduce, "consume": sumConsume} {
		if math.Abs(sum-1) > 1e-9 {
			t.Errorf("%s shares add up to %v, want 1", name, sum)
		}
	}
	unknown := s.Partitions[4]
	if unknown.LagShare != nil || unknown.ProduceShare != nil || unknown.ConsumeShare != nil || unknown.LagChange != nil || unknown.ProduceVsMedian != nil {
		t.Errorf("partition without samples has figures: %+v", unknown)
	}
	if v := s.Partitions[1].ProduceVsMedian; v == nil || *v != 1.5 {
		t.Errorf("a/1 produce vs median %v, want 1.5", v)
	}
	if len(s.Topics) != 2 || s.Topics[0].Topic != "a" || s.Topics[1].Topic != "b" || s.Total.Topic != "" {
		t.Fatalf("topics %+v", s.Topics)
	}
	ratio := func(r *float64) float64 {
		if r == nil {
			return -1
		}
		return *r
	}
	for _, c := range []struct {
		name         string
		sp           query.PartitionSpread
		n            int
		median, max  float64
		maxPartition string
		ratio        float64 // -1: none
	}{
		{"a lag", s.Topics[0].Lag, 3, 300, 600, "a/2", 2},
		{"a produce", s.Topics[0].Produce, 3, 20, 30, "a/1", 1.5},
		{"a consume", s.Topics[0].Consume, 3, 22, 30, "a/1", 30.0 / 22},
		{"b lag", s.Topics[1].Lag, 1, 0, 0, "b/0", -1},
		{"b produce", s.Topics[1].Produce, 1, 40, 40, "b/0", 1},
		{"group lag", s.Total.Lag, 4, 200, 600, "a/2", 3},
		{"group produce", s.Total.Produce, 4, 25, 40, "b/0", 1.6},
		{"group consume", s.Total.Consume, 4, 26, 40, "b/0", 40.0 / 26},
	} {
		if c.sp.N != c.n || c.sp.Median != c.median || c.sp.Max != c.max ||
			c.sp.MaxTopic+"/"+strconv.Itoa(int(c.sp.MaxPartition)) != c.maxPartition || math.Abs(ratio(c.sp.Ratio)-c.ratio) > 1e-9 {
			t.Errorf("%s: n %d median %v max %v at %s/%d ratio %v, want %d %v %v at %s ratio %v",
				c.name, c.sp.N, c.sp.Median, c.sp.Max, c.sp.MaxTopic, c.sp.MaxPartition, ratio(c.sp.Ratio), c.n, c.median, c.max, c.maxPartition, c.ratio)
		}
	}
	if s.Topics[1].Partitions != 2 || s.Total.Partitions != 5 {
		t.Errorf("partitions: b %d, group %d; want 2 and 5", s.Topics[1].Partitions, s.Total.Partitions)
	}
}

func TestSkewFromNoRows(t *testing.T) {
	t.Parallel()
	s := query.SkewFrom(nil, query.SkewConfig{})
	if len(s.Partitions) != 0 || len(s.Topics) != 0 || s.Total.Lag.N != 0 || s.Total.Lag.Ratio != nil {
		t.Errorf("skew of nothing: %+v", s)
	}
}

func TestSkewConfigValidate(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name string
		cfg  query.SkewConfig
		want string // "" for valid
	}{
		{"zero takes defaults", query.SkewConfig{}, ""},
		{"factor just above 1", query.SkewConfig{HotFactor: 1.01}, ""},
		{"factor 1", query.SkewConfig{HotFactor: 1}, "--hot-factor must be greater than 1, got 1"},
		{"factor below 1", query.SkewConfig{HotFactor: 0.5}, "--hot-factor must be greater than 1, got 0.5"},
		{"negative factor", query.SkewConfig{HotFactor: -3}, "--hot-factor must be greater than 1, got -3"},
		{"NaN factor", query.SkewConfig{HotFactor: math.NaN()}, "--hot-factor must be greater than 1, got NaN"},
		{"infinite factor", query.SkewConfig{HotFactor: math.Inf(1)}, "--hot-factor"},
		{"negative floor", query.SkewConfig{HotMinRate: -1}, "--hot-min-rate must be positive, got -1"},
		{"negative growth", query.SkewConfig{StuckMinGrowth: -time.Minute}, "--stuck-min-growth must be positive, got -1m0s"},
		{"negative lag", query.SkewConfig{StuckMinLag: -1}, "stuck minimum lag must not be negative"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			err := tc.cfg.Validate()
			switch {
			case tc.want == "" && err != nil:
				t.Errorf("error %v, want none", err)
			case tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want) || !errors.Is(err, query.ErrInvalidRequest)):
				t.Errorf("error %v, want one wrapping ErrInvalidRequest that says %q", err, tc.want)
			}
		})
	}
}
