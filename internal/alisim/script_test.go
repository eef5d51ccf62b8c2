package alisim_test

import (
	"math"
	"strings"
	"testing"
	"time"

	"github.com/lagtrail/lagtrail/internal/alisim"
)

// incidents is a partition that goes through every kind of change:
//
//	 0s  b=1000 c=900  P=10 Q=8
//	10s  b=1100 c=980  consumer stalls (P=10 Q=0)
//	30s  b=1300 c=980  rewind 100 -> c=880
//	40s  b=1400 c=880  P=5 Q=50
//	50s  b=1450 c=1380 reset to latest -> c=1450
//	60s  b=1500 c=1500 recreate -> b=0 c=0, then at the same instant P=2 Q=1
var incidents = alisim.Partition{
	BrokerStart: 1000, ConsumerStart: 900, ProduceRate: 10, ConsumeRate: 8,
	Script: []alisim.Change{
		{At: 10 * time.Second, Kind: alisim.ChangeRates, ProduceRate: 10, ConsumeRate: 0},
		{At: 30 * time.Second, Kind: alisim.ChangeRewind, Messages: 100},
		{At: 40 * time.Second, Kind: alisim.ChangeRates, ProduceRate: 5, ConsumeRate: 50},
		{At: 50 * time.Second, Kind: alisim.ChangeResetToLatest},
		{At: time.Minute, Kind: alisim.ChangeRecreate},
		{At: time.Minute, Kind: alisim.ChangeRates, ProduceRate: 2, ConsumeRate: 1},
	},
}

func TestPartitionAtScript(t *testing.T) {
	t.Parallel()
	epoch := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	em := epoch.UnixMilli()
	script := func(p alisim.Partition, changes ...alisim.Change) alisim.Partition {
		p.Script = changes
		return p
	}
	rates := func(at time.Duration, produce, consume float64) alisim.Change {
		return alisim.Change{At: at, Kind: alisim.ChangeRates, ProduceRate: produce, ConsumeRate: consume}
	}
	rewind := func(at time.Duration, n int64) alisim.Change {
		return alisim.Change{At: at, Kind: alisim.ChangeRewind, Messages: n}
	}
	reset := func(at time.Duration) alisim.Change { return alisim.Change{At: at, Kind: alisim.ChangeResetToLatest} }
	recreate := func(at time.Duration) alisim.Change { return alisim.Change{At: at, Kind: alisim.ChangeRecreate} }

	tests := []struct {
		name                 string
		p                    alisim.Partition
		after                time.Duration
		broker, consumer, ts int64
	}{
		{"empty script is the linear model", script(alisim.Partition{BrokerStart: 100, ConsumerStart: 90, ProduceRate: 1, ConsumeRate: 5}), 10 * time.Second, 110, 110, em + 10000},
		{"change after t not applied", script(alisim.Partition{ProduceRate: 4, ConsumeRate: 2}, rewind(time.Hour, 5)), 10 * time.Second, 40, 20, em + 5000},

		{"consumer stall", script(alisim.Partition{ProduceRate: 10, ConsumeRate: 10}, rates(10*time.Second, 10, 0)), 30 * time.Second, 300, 100, em + 10000},
		{"producer stall, consumer lagging", script(alisim.Partition{ProduceRate: 10, ConsumeRate: 5}, rates(10*time.Second, 0, 5)), 15 * time.Second, 100, 75, em + 7500},
		{"producer stall, consumer capped", script(alisim.Partition{ProduceRate: 10, ConsumeRate: 5}, rates(10*time.Second, 0, 5)), 40 * time.Second, 100, 100, em + 10000},
		{"faster consumer capped in new segment", script(alisim.Partition{ProduceRate: 10}, rates(10*time.Second, 1, 100)), 12 * time.Second, 102, 102, em + 12000},
		{"fractional At and rates", script(alisim.Partition{ProduceRate: 3}, rates(1500*time.Millisecond, 7, 6)), 3 * time.Second, 14, 9, em + 2214},

		{"rewind exactly at t", script(alisim.Partition{ProduceRate: 10, ConsumeRate: 10}, rewind(20*time.Second, 50)), 20 * time.Second, 200, 150, em + 15000},
		{"just before rewind", script(alisim.Partition{ProduceRate: 10, ConsumeRate: 10}, rewind(20*time.Second, 50)), 20*time.Second - time.Millisecond, 199, 199, em + 19900},
		{"after rewind", script(alisim.Partition{ProduceRate: 10, ConsumeRate: 10}, rewind(20*time.Second, 50)), 25 * time.Second, 250, 200, em + 20000},
		{"rewind to before the epoch", script(alisim.Partition{BrokerStart: 100, ConsumerStart: 100, ProduceRate: 10, ConsumeRate: 10}, rewind(5*time.Second, 80)), 5 * time.Second, 150, 70, em - 3000},
		{"rewind floored at zero", script(alisim.Partition{BrokerStart: 10, ConsumerStart: 5}, rewind(time.Second, 100)), 2 * time.Second, 10, 0, 0},
		{"rewind at epoch, static broker", script(alisim.Partition{BrokerStart: 10, ConsumerStart: 10}, rewind(0, 4)), time.Minute, 10, 6, em},

		{"reset to latest", script(alisim.Partition{ProduceRate: 10, ConsumeRate: 2}, reset(10*time.Second)), 10 * time.Second, 100, 100, em + 10000},
		{"after reset to latest", script(alisim.Partition{ProduceRate: 10, ConsumeRate: 2}, reset(10*time.Second)), 15 * time.Second, 150, 110, em + 11000},

		{"recreate exactly at t", script(alisim.Partition{BrokerStart: 1000, ConsumerStart: 900, ProduceRate: 10, ConsumeRate: 20}, recreate(10*time.Second)), 10 * time.Second, 0, 0, 0},
		{"after recreate, caught up", script(alisim.Partition{BrokerStart: 1000, ConsumerStart: 900, ProduceRate: 10, ConsumeRate: 20}, recreate(10*time.Second)), 15 * time.Second, 50, 50, em + 15000},
		{"after recreate, lagging", script(alisim.Partition{ProduceRate: 10, ConsumeRate: 4}, recreate(10*time.Second)), 20 * time.Second, 100, 40, em + 14000},
		{"after recreate, nothing consumed", script(alisim.Partition{BrokerStart: 50, ConsumerStart: 50, ProduceRate: 10}, recreate(10*time.Second)), 20 * time.Second, 100, 0, 0},
		{"recreate at epoch", script(alisim.Partition{BrokerStart: 50, ConsumerStart: 50, ProduceRate: 10, ConsumeRate: 5}, recreate(0)), 4 * time.Second, 40, 20, em + 2000},

		{"sequence: consumer stalled on a message older than the epoch", incidents, 20 * time.Second, 1200, 980, em - 2000},
		{"sequence: after rewind, message older than the epoch", incidents, 35 * time.Second, 1350, 880, em - 12000},
		{"sequence: catching up at new rates", incidents, 45 * time.Second, 1425, 1130, em + 13000},
		{"sequence: reset exactly at t", incidents, 50 * time.Second, 1450, 1450, em + 50000},
		{"sequence: capped after reset", incidents, 55 * time.Second, 1475, 1475, em + 55000},
		{"sequence: recreate and rates at the same t", incidents, time.Minute, 0, 0, 0},
		{"sequence: after recreate", incidents, 70 * time.Second, 20, 10, em + 65000},

		{"before epoch applies changes at zero", script(alisim.Partition{BrokerStart: 10, ConsumerStart: 10, ProduceRate: 2}, rewind(0, 4)), -time.Hour, 10, 6, em - 2000},
		{"fixed timestamp wins", script(alisim.Partition{ProduceRate: 10, ConsumeRate: 10, LastTimestampMs: 123}, rewind(20*time.Second, 50)), 25 * time.Second, 250, 200, 123},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			b, c, ts := tt.p.At(epoch, epoch.Add(tt.after))
			if b != tt.broker || c != tt.consumer || ts != tt.ts {
				t.Errorf("At = (%d, %d, %d), want (%d, %d, %d)", b, c, ts, tt.broker, tt.consumer, tt.ts)
			}
		})
	}
}

// The consumer never passes the broker and lastTimestampMs never lies after
// t, whatever the script does.
func TestPartitionAtScriptInvariants(t *testing.T) {
	t.Parallel()
	epoch := time.Date(2025, 1, 1, 0, 0, 0, 123456789, time.UTC)
	for d := time.Duration(0); d <= 80*time.Second; d += 137 * time.Millisecond {
		at := epoch.Add(d)
		b, c, ts := incidents.At(epoch, at)
		if c < 0 || c > b {
			t.Fatalf("after %v: broker %d consumer %d", d, b, c)
		}
		if c > 0 && ts > at.UnixMilli()+1 {
			t.Fatalf("after %v: lastTimestampMs %d is after t %d", d, ts, at.UnixMilli())
		}
	}
}

func TestPartitionTimeLag(t *testing.T) {
	t.Parallel()
	epoch := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	stall := alisim.Partition{ProduceRate: 10, ConsumeRate: 10, Script: []alisim.Change{{At: 10 * time.Second, Kind: alisim.ChangeRates, ProduceRate: 10}}}
	tests := []struct {
		name  string
		p     alisim.Partition
		after time.Duration
		lag   time.Duration
		ok    bool
	}{
		{"caught up", alisim.Partition{BrokerStart: 10, ConsumerStart: 10}, time.Hour, 0, true},
		{"empty topic", alisim.Partition{}, time.Hour, 0, true},
		{"nothing consumed", alisim.Partition{BrokerStart: 10}, time.Hour, 0, false},
		{"lagging linear", alisim.Partition{ProduceRate: 4, ConsumeRate: 2}, 10 * time.Second, 5 * time.Second, true},
		{"static lagging", alisim.Partition{BrokerStart: 10, ConsumerStart: 4}, time.Hour, time.Hour, true},
		{"before epoch clamps", alisim.Partition{BrokerStart: 7, ConsumerStart: 3, ProduceRate: 10, ConsumeRate: 10}, -time.Hour, 400 * time.Millisecond, true},
		{"stall grows", stall, 30 * time.Second, 20 * time.Second, true},
		{"stall grows, sub-millisecond t", stall, 30*time.Second + 250*time.Microsecond, 20*time.Second + 250*time.Microsecond, true},
		{"sequence after rewind", incidents, 35 * time.Second, 47 * time.Second, true},
		{"sequence catching up", incidents, 45 * time.Second, 32 * time.Second, true},
		{"sequence caught up", incidents, 55 * time.Second, 0, true},
		{"sequence after recreate", incidents, 70 * time.Second, 5 * time.Second, true},
		{"after recreate, nothing consumed", alisim.Partition{BrokerStart: 5, ConsumerStart: 5, ProduceRate: 1, Script: []alisim.Change{{At: time.Second, Kind: alisim.ChangeRecreate}}}, 3 * time.Second, 0, false},
		{"fixed timestamp", alisim.Partition{BrokerStart: 10, ConsumerStart: 4, LastTimestampMs: epoch.UnixMilli() - 1000}, time.Minute, time.Minute + time.Second, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			lag, ok := tt.p.TimeLag(epoch, epoch.Add(tt.after))
			if lag != tt.lag || ok != tt.ok {
				t.Errorf("TimeLag = (%v, %v), want (%v, %v)", lag, ok, tt.lag, tt.ok)
			}
		})
	}
}

func TestValidateScript(t *testing.T) {
	t.Parallel()
	withScript := func(changes ...alisim.Change) alisim.Fleet {
		p := alisim.Partition{BrokerStart: 10, ConsumerStart: 5, ProduceRate: 1, Script: changes}
		return alisim.Fleet{Instances: []alisim.Instance{{Region: "r", ID: "i", Groups: []alisim.Group{{ID: "g", Topics: []alisim.Topic{{Name: "t", Partitions: []alisim.Partition{{}, p}}}}}}}}
	}
	ok := alisim.Change{At: time.Second, Kind: alisim.ChangeResetToLatest}
	tests := []struct {
		name    string
		change  alisim.Change
		wantErr string
	}{
		{"unknown kind", alisim.Change{At: 2 * time.Second, Kind: "pause"}, `"pause" at 2s): unknown kind`},
		{"empty kind", alisim.Change{At: 2 * time.Second}, "unknown kind"},
		{"negative At", alisim.Change{At: -time.Second, Kind: alisim.ChangeRecreate}, "negative At"},
		{"decreasing At", alisim.Change{At: time.Second - 1, Kind: alisim.ChangeRecreate}, "decreasing At"},
		{"negative produce rate", alisim.Change{At: 2 * time.Second, Kind: alisim.ChangeRates, ProduceRate: -1}, "invalid ProduceRate -1"},
		{"NaN produce rate", alisim.Change{At: 2 * time.Second, Kind: alisim.ChangeRates, ProduceRate: math.NaN()}, "invalid ProduceRate NaN"},
		{"negative consume rate", alisim.Change{At: 2 * time.Second, Kind: alisim.ChangeRates, ConsumeRate: -0.5}, "invalid ConsumeRate -0.5"},
		{"infinite consume rate", alisim.Change{At: 2 * time.Second, Kind: alisim.ChangeRates, ConsumeRate: math.Inf(1)}, "invalid ConsumeRate +Inf"},
		{"rewind without messages", alisim.Change{At: 2 * time.Second, Kind: alisim.ChangeRewind}, "non-positive Messages 0"},
		{"rewind negative messages", alisim.Change{At: 2 * time.Second, Kind: alisim.ChangeRewind, Messages: -3}, "non-positive Messages -3"},
		{"rates with messages", alisim.Change{At: 2 * time.Second, Kind: alisim.ChangeRates, Messages: 3}, "rewind-only Messages"},
		{"rewind with rate", alisim.Change{At: 2 * time.Second, Kind: alisim.ChangeRewind, Messages: 3, ConsumeRate: 1}, "rates-only ProduceRate or ConsumeRate"},
		{"reset with messages", alisim.Change{At: 2 * time.Second, Kind: alisim.ChangeResetToLatest, Messages: 3}, "rewind-only Messages"},
		{"recreate with rate", alisim.Change{At: 2 * time.Second, Kind: alisim.ChangeRecreate, ProduceRate: 1}, "rates-only ProduceRate or ConsumeRate"},
		{"same At is fine", alisim.Change{At: time.Second, Kind: alisim.ChangeRates}, ""},
		{"valid rewind", alisim.Change{At: 2 * time.Second, Kind: alisim.ChangeRewind, Messages: 1}, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			err := withScript(ok, tt.change).Validate()
			if tt.wantErr == "" {
				if err != nil {
					t.Fatalf("Validate: %v", err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) || !strings.Contains(err.Error(), `partition 1: script change 1 `) {
				t.Errorf("Validate error %v, want one about partition 1, script change 1, containing %q", err, tt.wantErr)
			}
		})
	}
	if err := withScript(alisim.Change{At: -1, Kind: alisim.ChangeRecreate}).Validate(); err == nil || !strings.Contains(err.Error(), "script change 0 ") {
		t.Errorf("first change negative: Validate error %v", err)
	}
	if _, err := alisim.New(alisim.Config{Credentials: map[string]string{"id": "s"}, Fleet: withScript(alisim.Change{Kind: "nope"})}); err == nil || !strings.Contains(err.Error(), "unknown kind") {
		t.Errorf("New with a bad script: error %v", err)
	}
}

// The server copies scripts: changing the caller's slices after New, or the
// slices Fleet returns, does not change what it serves; and it serves the
// scripted model.
func TestServerScript(t *testing.T) {
	t.Parallel()
	epoch := time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)
	clock := newManualClock(epoch)
	p := incidents
	p.Script = append([]alisim.Change(nil), incidents.Script...)
	fleet := alisim.Fleet{Instances: []alisim.Instance{{
		Region: alisim.ExampleRegion, ID: "inst-1",
		Groups: []alisim.Group{{ID: "g1", Topics: []alisim.Topic{{Name: "t", Partitions: []alisim.Partition{p}}}}},
	}}}
	srv, ts := startServer(t, alisim.Config{Fleet: fleet, Epoch: epoch, Now: clock.Now})
	p.Script[1].Messages = 1
	srv.Fleet().Instances[0].Groups[0].Topics[0].Partitions[0].Script[1].Messages = 2
	if got := srv.Fleet().Instances[0].Groups[0].Topics[0].Partitions[0].Script[1].Messages; got != 100 {
		t.Fatalf("server's script changed with the caller's: Messages %d", got)
	}
	client := newClient(t, ts, testKeyID, testSecret)
	for _, after := range []time.Duration{20 * time.Second, 35 * time.Second, time.Minute, 70 * time.Second} {
		at := epoch.Add(after)
		clock.Set(at)
		resp, err, pn := getProgress(client, progressRequest(alisim.ExampleRegion, "inst-1", "g1", false))
		if err != nil || pn != nil {
			t.Fatalf("after %v: err %v panic %v", after, err, pn)
		}
		b, c, lts := incidents.At(epoch, at)
		o := resp.ConsumerProgress.TopicList.TopicListItem[0].OffsetList.OffsetListItem[0]
		if o.BrokerOffset != b || o.ConsumerOffset != c || o.LastTimestamp != lts {
			t.Errorf("after %v: %+v, want broker %d consumer %d ts %d", after, o, b, c, lts)
		}
	}
}
