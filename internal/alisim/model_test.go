package alisim_test

import (
	"testing"
	"time"

	"github.com/lagtrail/lagtrail/internal/alisim"
)

func TestPartitionAt(t *testing.T) {
	t.Parallel()
	epoch := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	em := epoch.UnixMilli()
	tests := []struct {
		name                 string
		p                    alisim.Partition
		after                time.Duration
		broker, consumer, ts int64
	}{
		{"static", alisim.Partition{BrokerStart: 10, ConsumerStart: 4}, time.Hour, 10, 4, em},
		{"static fixed timestamp", alisim.Partition{BrokerStart: 10, ConsumerStart: 4, LastTimestampMs: 123}, time.Hour, 10, 4, 123},
		{"nothing consumed", alisim.Partition{BrokerStart: 10}, time.Minute, 10, 0, 0},
		{"producing, not consuming", alisim.Partition{BrokerStart: 100, ConsumerStart: 50, ProduceRate: 10}, 2500 * time.Millisecond, 125, 50, em - 5000},
		{"consumer catches up and is capped", alisim.Partition{BrokerStart: 100, ConsumerStart: 90, ProduceRate: 1, ConsumeRate: 5}, 10 * time.Second, 110, 110, em + 10000},
		{"lagging consumer", alisim.Partition{BrokerStart: 0, ConsumerStart: 0, ProduceRate: 4, ConsumeRate: 2}, 10 * time.Second, 40, 20, em + 5000},
		{"fractional rate floors", alisim.Partition{BrokerStart: 0, ProduceRate: 0.3, ConsumeRate: 0.2}, 10 * time.Second, 3, 2, em + 6667},
		{"before epoch clamps", alisim.Partition{BrokerStart: 7, ConsumerStart: 3, ProduceRate: 10, ConsumeRate: 10}, -time.Hour, 7, 3, em - 400},
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

func modelFleet() alisim.Fleet {
	return alisim.Fleet{Instances: []alisim.Instance{{
		Region: "cn-hangzhou", ID: "inst-1", Name: "one",
		Groups: []alisim.Group{{
			ID: "g1",
			Topics: []alisim.Topic{
				{Name: "orders", Partitions: []alisim.Partition{
					{BrokerStart: 1000, ConsumerStart: 900, ProduceRate: 10, ConsumeRate: 8},
					{BrokerStart: 500, ConsumerStart: 500, ProduceRate: 2.5, ConsumeRate: 5},
					{BrokerStart: 42, ConsumerStart: 40},
				}},
				{Name: "payments", Partitions: []alisim.Partition{
					{BrokerStart: 0, ConsumerStart: 0, ProduceRate: 100, ConsumeRate: 1},
				}},
			},
			Rebalances: []alisim.Rebalance{{Generation: 7, LastRebalanceTimestamp: 1700000000000, Reason: "consumer joined", RebalanceTimeConsuming: 120, RebalanceSuccess: true}},
		}},
	}}}
}

// Offsets served at two clock times equal Partition.At; aggregates are the
// sums and maxima; HideLastTimestamp=true gives -1 everywhere.
func TestProgressFollowsModel(t *testing.T) {
	t.Parallel()
	epoch := time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)
	clock := newManualClock(epoch)
	fleet := modelFleet()
	srv, ts := startServer(t, alisim.Config{Fleet: fleet, Epoch: epoch, Now: clock.Now})
	client := newClient(t, ts, testKeyID, testSecret)
	if !srv.Epoch().Equal(epoch) {
		t.Fatalf("Epoch() = %v", srv.Epoch())
	}

	for _, after := range []time.Duration{37 * time.Second, 95*time.Minute + 500*time.Millisecond} {
		for _, hide := range []bool{false, true} {
			at := epoch.Add(after)
			clock.Set(at)
			resp, err, p := getProgress(client, progressRequest("cn-hangzhou", "inst-1", "g1", hide))
			if p != nil || err != nil {
				t.Fatalf("after %v: err %v panic %v", after, err, p)
			}
			cp := resp.ConsumerProgress
			var groupDiff, groupTS int64
			topics := fleet.Instances[0].Groups[0].Topics
			if len(cp.TopicList.TopicListItem) != len(topics) {
				t.Fatalf("%d topics, want %d", len(cp.TopicList.TopicListItem), len(topics))
			}
			for i, tp := range topics {
				got := cp.TopicList.TopicListItem[i]
				if got.Topic != tp.Name || len(got.OffsetList.OffsetListItem) != len(tp.Partitions) {
					t.Fatalf("topic %d = %q with %d partitions", i, got.Topic, len(got.OffsetList.OffsetListItem))
				}
				var diff, maxTS int64
				for n, part := range tp.Partitions {
					b, c, lts := part.At(epoch, at)
					if hide {
						lts = -1
					}
					o := got.OffsetList.OffsetListItem[n]
					if o.Partition != n || o.BrokerOffset != b || o.ConsumerOffset != c || o.LastTimestamp != lts {
						t.Errorf("after %v hide %v: %s/%d = %+v, want broker %d consumer %d ts %d", after, hide, tp.Name, n, o, b, c, lts)
					}
					diff += b - c
					maxTS = max(maxTS, lts)
				}
				if hide {
					maxTS = -1
				}
				if got.TotalDiff != diff || got.LastTimestamp != maxTS {
					t.Errorf("topic %s TotalDiff %d LastTimestamp %d, want %d %d", tp.Name, got.TotalDiff, got.LastTimestamp, diff, maxTS)
				}
				groupDiff += diff
				groupTS = max(groupTS, maxTS)
			}
			if hide {
				groupTS = -1
			}
			if cp.TotalDiff != groupDiff || cp.LastTimestamp != groupTS {
				t.Errorf("group TotalDiff %d LastTimestamp %d, want %d %d", cp.TotalDiff, cp.LastTimestamp, groupDiff, groupTS)
			}
			if groupDiff == 0 {
				t.Errorf("model has no lag; the test would not catch a zero TotalDiff")
			}
			rb := cp.RebalanceInfoList.RebalanceInfoListItem
			if len(rb) != 1 || rb[0].GroupId != "g1" || rb[0].Generation != 7 || rb[0].Reason != "consumer joined" ||
				rb[0].LastRebalanceTimestamp != 1700000000000 || rb[0].RebalanceTimeConsuming != 120 || !rb[0].RebalanceSuccess {
				t.Errorf("rebalances = %+v", rb)
			}
		}
	}
}

func TestProgressUnknownInstanceOrGroup(t *testing.T) {
	t.Parallel()
	_, ts := startServer(t, alisim.Config{Fleet: alisim.ExampleFleet()})
	client := newClient(t, ts, testKeyID, testSecret)
	tests := []struct {
		name, region, instance, group, prefix string
	}{
		{"unknown instance", alisim.ExampleRegion, "alikafka_nope", alisim.ExampleGroup, "BIZ_INSTANCE_NOT_FOUND"},
		{"instance in another region", "cn-beijing", alisim.ExampleInstance, alisim.ExampleGroup, "BIZ_INSTANCE_NOT_FOUND"},
		{"unknown group", alisim.ExampleRegion, alisim.ExampleInstance, "nope", "BIZ_SUBSCRIPTION_NOT_FOUND"},
	}
	for _, tt := range tests {
		resp, err, p := getProgress(client, progressRequest(tt.region, tt.instance, tt.group, false))
		if err != nil || p != nil {
			t.Fatalf("%s: err %v panic %v", tt.name, err, p)
		}
		if resp.Success || resp.Code != 400 || len(resp.Message) < len(tt.prefix) || resp.Message[:len(tt.prefix)] != tt.prefix {
			t.Errorf("%s: Success %v Code %d Message %q", tt.name, resp.Success, resp.Code, resp.Message)
		}
		if resp.GetHttpStatus() != 200 {
			t.Errorf("%s: HTTP %d, want 200", tt.name, resp.GetHttpStatus())
		}
	}
}
