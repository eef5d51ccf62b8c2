package scenario_test

import (
	"math"
	"testing"
	"time"

	"github.com/lagtrail/lagtrail/examples"
	"github.com/lagtrail/lagtrail/internal/scenario"
	"github.com/lagtrail/lagtrail/store"
)

var start = time.Date(2025, 3, 3, 0, 0, 0, 0, time.UTC) // a Monday

func mustModel(t *testing.T, yaml string) *scenario.Model {
	t.Helper()
	s, err := scenario.Parse([]byte(yaml))
	if err != nil {
		t.Fatalf("parse: %v", err)
	}
	m, err := scenario.New(s, start)
	if err != nil {
		t.Fatalf("new: %v", err)
	}
	return m
}

// offsets sums a group's broker and consumer offsets at t.
func offsets(t *testing.T, m *scenario.Model, ref store.GroupRef, at time.Time) (broker, consumer int64) {
	t.Helper()
	gp, ok := m.Progress(ref, at)
	if !ok {
		t.Fatalf("no group %v", ref)
	}
	for _, tp := range gp.Topics {
		for _, p := range tp.Partitions {
			broker += p.Broker
			consumer += p.Consumer
		}
	}
	return broker, consumer
}

const steady = `
seed: 1
instances:
  - id: i1
    region: cn-hangzhou
    topics:
      - {name: t, partitions: 4, rate: 100, start_offset: 1000000}
    groups:
      - {id: g, topics: [t], capacity: 300, latency: 2s}
incidents:
  - {kind: stall, group: g, at: 2h, for: 30m}
  - {kind: rewind, group: g, at: 5h, messages: 1000, topic: t, partitions: [1]}
  - {kind: reset_to_latest, group: g, at: 6h}
  - {kind: rebalance, group: g, at: 7h, took: 30s}
  - {kind: partition_added, topic: t, at: 8h, count: 2}
  - {kind: topic_recreated, topic: t, at: 9h}
`

func TestModelFollowsTheScript(t *testing.T) {
	t.Parallel()
	m := mustModel(t, steady)
	g := m.Groups()[0]
	h := func(d time.Duration) time.Time { return start.Add(d) }

	// Keeping up: 100 msg/s over 4 partitions, lag = rate × latency.
	b0, _ := offsets(t, m, g, h(time.Hour))
	b1, c1 := offsets(t, m, g, h(time.Hour+10*time.Minute))
	if got := b1 - b0; got < 59_996 || got > 60_004 {
		t.Errorf("produced in 10m = %d, want 60000", got)
	}
	if lag := b1 - c1; lag < 196 || lag > 204 {
		t.Errorf("steady lag = %d, want 200 (100 msg/s × 2s)", lag)
	}

	// Stall from 2h for 30m: the consumer does not move, lag grows by
	// 180,000; then it drains at capacity (300/s, net 200/s).
	_, cs := offsets(t, m, g, h(2*time.Hour+time.Minute))
	b2, ce := offsets(t, m, g, h(2*time.Hour+30*time.Minute))
	if ce != cs {
		t.Errorf("consumer moved during the stall: %d -> %d", cs, ce)
	}
	if lag := b2 - ce; lag < 180_000 || lag > 180_400 {
		t.Errorf("lag after the stall = %d, want about 180200", lag)
	}
	_, d0 := offsets(t, m, g, h(2*time.Hour+35*time.Minute))
	_, d1 := offsets(t, m, g, h(2*time.Hour+45*time.Minute))
	if rate := float64(d1-d0) / 600; math.Abs(rate-300) > 0.5 {
		t.Errorf("draining consumption rate = %.2f, want the capacity 300", rate)
	}
	prod, cons, _ := m.Rates(g, h(2*time.Hour+35*time.Minute), h(2*time.Hour+45*time.Minute))
	if math.Abs(prod-100) > 1e-9 || math.Abs(cons-300) > 1e-9 {
		t.Errorf("Rates = %v, %v; want 100, 300", prod, cons)
	}
	if b, c := offsets(t, m, g, h(4*time.Hour)); b-c > 204 {
		t.Errorf("lag at 4h = %d: not caught up", b-c)
	}

	// Rewind of partition 1 only.
	before, _ := m.Progress(g, h(5*time.Hour-time.Second))
	after, _ := m.Progress(g, h(5*time.Hour))
	p1b := before.Topics[0].Partitions[1]
	p1a := after.Topics[0].Partitions[1]
	if d := (p1a.Broker - p1a.Consumer) - (p1b.Broker - p1b.Consumer); d < 995 || d > 1005 {
		t.Errorf("rewind grew partition 1's lag by %d, want 1000", d)
	}
	if p0a := after.Topics[0].Partitions[0]; p0a.Broker-p0a.Consumer > 51 {
		t.Errorf("partition 0 lag after a rewind of partition 1 = %d", p0a.Broker-p0a.Consumer)
	}

	// Reset to latest: no lag at all.
	if b, c := offsets(t, m, g, h(6*time.Hour)); b != c {
		t.Errorf("after reset_to_latest lag = %d, want 0", b-c)
	}

	// Rebalance reported from 7h on, not before.
	if gp, _ := m.Progress(g, h(7*time.Hour-time.Second)); len(gp.Rebalances) != 0 {
		t.Errorf("rebalance reported before it happened")
	}
	gp, _ := m.Progress(g, h(7*time.Hour+time.Minute))
	if len(gp.Rebalances) != 1 || gp.Rebalances[0].LastRebalanceTimestamp != h(7*time.Hour).UnixMilli() || gp.Rebalances[0].RebalanceTimeConsuming != 30000 {
		t.Errorf("rebalances = %+v", gp.Rebalances)
	}

	// Partitions added at 8h start empty.
	gp, _ = m.Progress(g, h(8*time.Hour-time.Second))
	if n := len(gp.Topics[0].Partitions); n != 4 {
		t.Errorf("partitions before 8h = %d", n)
	}
	gp, _ = m.Progress(g, h(8*time.Hour+time.Minute))
	if n := len(gp.Topics[0].Partitions); n != 6 {
		t.Fatalf("partitions after 8h = %d", n)
	}
	if p := gp.Topics[0].Partitions[5]; p.Broker < 995 || p.Broker > 1000 {
		t.Errorf("new partition's broker offset a minute in = %d, want 1000 (100 msg/s over 6 partitions)", p.Broker)
	}

	// Recreated at 9h: everything near zero.
	if b, _ := offsets(t, m, g, h(9*time.Hour+time.Second)); b > 200 {
		t.Errorf("broker offsets a second after recreation = %d", b)
	}
}

func TestLastTimestampTracksTimeLag(t *testing.T) {
	t.Parallel()
	m := mustModel(t, steady)
	g := m.Groups()[0]
	for _, c := range []struct {
		at      time.Duration
		wantLag time.Duration
	}{
		{time.Hour, 2 * time.Second},
		{2*time.Hour + 20*time.Minute, 20*time.Minute + 2*time.Second},
	} {
		at := start.Add(c.at)
		gp, _ := m.Progress(g, at)
		for _, p := range gp.Topics[0].Partitions {
			lag := at.Sub(time.UnixMilli(p.LastTimestampMs))
			if d := lag - c.wantLag; d < -100*time.Millisecond || d > 100*time.Millisecond {
				t.Errorf("at %s partition %d time lag %s, want %s", c.at, p.Partition, lag, c.wantLag)
			}
		}
	}
}

func TestBundledScenariosRun(t *testing.T) {
	t.Parallel()
	for _, name := range examples.ScenarioNames() {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			data, err := examples.Scenario(name)
			if err != nil {
				t.Fatal(err)
			}
			m := mustModel(t, string(data))
			rounds, polls := 0, 0
			err = m.History(start, start.Add(7*24*time.Hour), 5*time.Minute, func(ps []*store.Poll) error {
				rounds++
				polls += len(ps)
				for _, p := range ps {
					if p.OK && p.PartitionCount() == 0 {
						t.Fatalf("ok poll without partitions: %+v", p)
					}
				}
				return nil
			})
			if err != nil {
				t.Fatal(err)
			}
			if rounds != 7*24*12 || polls != rounds*len(m.Groups()) {
				t.Errorf("rounds %d polls %d for %d groups", rounds, polls, len(m.Groups()))
			}
		})
	}
}
