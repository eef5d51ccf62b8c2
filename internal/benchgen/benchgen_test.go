package benchgen_test

import (
	"reflect"
	"regexp"
	"testing"
	"time"

	"github.com/lagtrail/lagtrail/internal/benchgen"
	"github.com/lagtrail/lagtrail/store"
)

var uuidRE = regexp.MustCompile(`^[0-9A-F]{8}-[0-9A-F]{4}-4[0-9A-F]{3}-[89AB][0-9A-F]{3}-[0-9A-F]{12}$`)

func TestBenchgenRounds(t *testing.T) {
	for _, tc := range []struct {
		name string
		cfg  benchgen.Config
	}{
		{"one group", benchgen.Config{Groups: 1, Partitions: 1, Rounds: 30, Interval: time.Minute}},
		{"small fleet", benchgen.Config{Groups: 5, Partitions: 4, Rounds: 24 * 60, Interval: time.Minute, Seed: 7}},
		{"ten-minute polls", benchgen.Config{Groups: 12, Partitions: 12, Rounds: 2 * 144, Interval: 10 * time.Minute, Seed: 3}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			g, err := benchgen.New(tc.cfg)
			if err != nil {
				t.Fatal(err)
			}
			if want := int64(tc.cfg.Groups * tc.cfg.Partitions * tc.cfg.Rounds); g.Samples() != want {
				t.Errorf("Samples() = %d, want %d", g.Samples(), want)
			}
			stallGroup, stallFrom, stallTo := g.Stall()
			prev := map[string]store.PartitionOffsets{}
			samples := 0
			for i := range tc.cfg.Rounds {
				polls := g.Round(i)
				if len(polls) != tc.cfg.Groups {
					t.Fatalf("round %d: %d polls, want %d", i, len(polls), tc.cfg.Groups)
				}
				for gi, p := range polls {
					checkPoll(t, g, i, gi, p)
					for _, po := range p.Topics[0].Partitions {
						samples++
						key := p.Group.Group + "/" + string(rune('a'+po.Partition))
						if old, ok := prev[key]; ok {
							if po.BrokerOffset < old.BrokerOffset || po.ConsumerOffset < old.ConsumerOffset {
								t.Fatalf("round %d %s: offsets went back: %+v after %+v", i, key, po, old)
							}
							if gi == stallGroup && i > stallFrom && i < stallTo && po.ConsumerOffset != old.ConsumerOffset {
								t.Fatalf("round %d %s: consumer moved during the stall [%d, %d)", i, key, stallFrom, stallTo)
							}
						}
						prev[key] = po
					}
				}
			}
			if int64(samples) != g.Samples() {
				t.Errorf("generated %d samples, Samples() says %d", samples, g.Samples())
			}
			if tc.cfg.Groups >= 3 && stallGroup < 0 {
				t.Errorf("no stalled group among %d", tc.cfg.Groups)
			}
		})
	}
}

func checkPoll(t *testing.T, g *benchgen.Generator, i, gi int, p *store.Poll) {
	t.Helper()
	at := g.Time(i)
	cfg := g.Config()
	switch {
	case p.Group != g.Group(gi):
		t.Fatalf("round %d poll %d: group %+v, want %+v", i, gi, p.Group, g.Group(gi))
	case !p.OK || len(p.Topics) != 1 || p.Topics[0].Topic != g.Topic(gi) || len(p.Topics[0].Partitions) != cfg.Partitions:
		t.Fatalf("round %d poll %d: unexpected shape %+v", i, gi, p)
	case p.SampledAt.Before(at) || !p.SampledAt.Before(at.Add(min(cfg.Interval, time.Minute))):
		t.Fatalf("round %d poll %d: sampled at %s, want within the round from %s", i, gi, p.SampledAt, at)
	case !p.StartedAt.Before(p.SampledAt) || p.SampledAt.Sub(p.StartedAt) != p.Duration:
		t.Fatalf("round %d poll %d: started %s, sampled %s, duration %s", i, gi, p.StartedAt, p.SampledAt, p.Duration)
	case !uuidRE.MatchString(p.RequestID):
		t.Fatalf("round %d poll %d: request id %q is not an upper-case UUID", i, gi, p.RequestID)
	}
	var total int64
	for _, po := range p.Topics[0].Partitions {
		lag := po.BrokerOffset - po.ConsumerOffset
		total += lag
		if lag < 0 {
			t.Fatalf("round %d poll %d: consumer ahead of broker: %+v", i, gi, po)
		}
		sampledMs := p.SampledAt.UnixMilli()
		if po.LastTimestampMs != -1 && (po.LastTimestampMs >= sampledMs || po.LastTimestampMs < sampledMs-21*24*3600*1000) {
			t.Fatalf("round %d poll %d: last timestamp %d not shortly before %d", i, gi, po.LastTimestampMs, sampledMs)
		}
	}
	if total != p.TotalDiff {
		t.Fatalf("round %d poll %d: total diff %d, partitions sum to %d", i, gi, p.TotalDiff, total)
	}
}

// The same seed gives the same polls, in order or not; another seed gives
// others.
func TestBenchgenDeterminism(t *testing.T) {
	cfg := benchgen.Config{Groups: 4, Partitions: 3, Rounds: 100, Interval: time.Minute, Seed: 42}
	a, _ := benchgen.New(cfg)
	b, _ := benchgen.New(cfg)
	var seq [][]*store.Poll
	for i := range 100 {
		seq = append(seq, a.Round(i))
	}
	for _, i := range []int{99, 0, 57, 58, 12} {
		if got := b.Round(i); !reflect.DeepEqual(got, seq[i]) {
			t.Fatalf("round %d out of order differs from in order", i)
		}
	}
	cfg.Seed = 43
	c, _ := benchgen.New(cfg)
	if reflect.DeepEqual(c.Round(50), seq[50]) {
		t.Error("seeds 42 and 43 gave the same round 50")
	}
}

// Hidden timestamps, lagging groups and a stall all occur in a fleet.
func TestBenchgenFleetShape(t *testing.T) {
	g, err := benchgen.New(benchgen.Config{Groups: 20, Partitions: 12, Rounds: 24 * 60, Interval: time.Minute, Seed: 1})
	if err != nil {
		t.Fatal(err)
	}
	stallGroup, from, to := g.Stall()
	if stallGroup != 1 || to-from != 60 || to > 24*60 {
		t.Fatalf("Stall() = %d, %d, %d; want group 1, one hour within the day", stallGroup, from, to)
	}
	hidden, maxLag := 0, make([]int64, 20)
	for i := range 24 * 60 {
		for gi, p := range g.Round(i) {
			if i == 0 && p.LastTimestampMs == -1 {
				hidden++
			}
			maxLag[gi] = max(maxLag[gi], p.TotalDiff)
		}
	}
	if hidden == 0 || hidden == 20 {
		t.Errorf("%d of 20 groups hide their timestamps; want some", hidden)
	}
	if maxLag[1] < 10*maxLag[0] || maxLag[5] < 10*maxLag[0] {
		t.Errorf("max lag: stalled %d, lagging %d, keeper %d; want the first two far above", maxLag[1], maxLag[5], maxLag[0])
	}
}

func TestBenchgenNewRejects(t *testing.T) {
	for _, cfg := range []benchgen.Config{
		{Groups: 0, Partitions: 1, Rounds: 1, Interval: time.Minute},
		{Groups: 1, Partitions: 0, Rounds: 1, Interval: time.Minute},
		{Groups: 1, Partitions: 1, Rounds: 0, Interval: time.Minute},
		{Groups: 1, Partitions: 1, Rounds: 1, Interval: time.Millisecond},
	} {
		if _, err := benchgen.New(cfg); err == nil {
			t.Errorf("New(%+v) = nil error", cfg)
		}
	}
}
