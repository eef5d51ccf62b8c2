package ingest_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/aliyun/alibaba-cloud-sdk-go/sdk/auth/credentials"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/lagtrail/lagtrail/ingest"
	"github.com/lagtrail/lagtrail/internal/alisim"
	"github.com/lagtrail/lagtrail/store"
)

var exampleTarget = ingest.Target{Region: "cn-hangzhou", Instance: "alikafka_pre-cn-mp919o4v", Groups: []string{"kafka-test"}}

// The reference's example response, partition by partition.
var exampleOffsets = []struct {
	broker, consumer, lastMs int64
}{
	{9, 9, 1566874931649}, {9, 9, 1566874931605}, {10, 10, 1566874931561}, {8, 8, 1566874931628},
	{8, 8, 1566874931579}, {10, 10, 1566874931570}, {9, 9, 1566874931639}, {8, 8, 1566874931586},
	{9, 9, 1566874931661}, {8, 8, 1566874931616}, {8, 8, 1566874931596}, {9, 9, 1566874931671},
}

func TestRunOnceStoresTheReferenceExample(t *testing.T) {
	t.Parallel()
	h := newHarness(t, alisim.Config{Fleet: alisim.ExampleFleet()})
	rec := h.recorder(t, h.config(exampleTarget))

	before := time.Now().UTC()
	res, err := rec.RunOnce(context.Background())
	if err != nil || len(res.Failed) != 0 || res.Groups != 1 {
		t.Fatalf("RunOnce = %+v, %v; want 1 group, no failures", res, err)
	}
	after := time.Now().UTC()
	got := h.samples(t)
	if len(got) != 12 {
		t.Fatalf("got %d samples, want 12", len(got))
	}
	for i, s := range got {
		want := exampleOffsets[i]
		if s.Group != (store.GroupRef{Region: "cn-hangzhou", InstanceID: "alikafka_pre-cn-mp919o4v", Group: "kafka-test"}) || s.Topic != "kafka-test" || s.Partition != int32(i) {
			t.Errorf("sample %d is %+v/%s/%d", i, s.Group, s.Topic, s.Partition)
		}
		if s.BrokerOffset != want.broker || s.ConsumerOffset != want.consumer || s.Lag != 0 {
			t.Errorf("partition %d: broker %d consumer %d lag %d, want %d %d 0", i, s.BrokerOffset, s.ConsumerOffset, s.Lag, want.broker, want.consumer)
		}
		if s.LastConsumedAt == nil || !s.LastConsumedAt.Equal(time.UnixMilli(want.lastMs)) {
			t.Errorf("partition %d: last_consumed_at %v, want %v", i, s.LastConsumedAt, time.UnixMilli(want.lastMs).UTC())
		}
		// The sample time is the recorder's clock at the response.
		if s.SampledAt.Before(before.Truncate(time.Microsecond)) || s.SampledAt.After(after) {
			t.Errorf("sampled_at %s outside the call [%s, %s]", s.SampledAt, before, after)
		}
	}
	polls := h.polls(t)
	if len(polls) != 1 || !polls[0].OK || polls[0].RequestID == "" || polls[0].PartitionCount != 12 {
		t.Fatalf("polls = %+v, want one ok poll with a request id and 12 partitions", polls)
	}

	// A second run a moment later adds 12 more.
	if res, err := rec.RunOnce(context.Background()); err != nil || len(res.Failed) != 0 {
		t.Fatalf("second RunOnce = %+v, %v", res, err)
	}
	if n := len(h.samples(t)); n != 24 {
		t.Fatalf("after the second run: %d samples, want 24", n)
	}
}

func TestRunOnceMatchesTheModel(t *testing.T) {
	t.Parallel()
	epoch := time.Date(2026, 11, 21, 0, 0, 0, 0, time.UTC)
	now := epoch.Add(90 * time.Minute)
	fleet := alisim.Fleet{Instances: []alisim.Instance{{
		Region: "cn-shanghai", ID: "alikafka_model",
		Groups: []alisim.Group{{
			ID: "orders-consumer",
			Topics: []alisim.Topic{
				{Name: "orders", Partitions: []alisim.Partition{
					{BrokerStart: 1000, ConsumerStart: 900, ProduceRate: 12.5, ConsumeRate: 10},
					{BrokerStart: 50, ConsumerStart: 50, ProduceRate: 3, ConsumeRate: 5},
				}},
				{Name: "payments", Partitions: []alisim.Partition{
					{BrokerStart: 7, ConsumerStart: 0, ProduceRate: 0.5, ConsumeRate: 0.25},
				}},
			},
			Rebalances: []alisim.Rebalance{{Generation: 4, LastRebalanceTimestamp: epoch.UnixMilli(), Reason: "join", RebalanceTimeConsuming: 120, RebalanceSuccess: true}},
		}},
	}}}
	h := newHarness(t, alisim.Config{Fleet: fleet, Epoch: epoch, Now: func() time.Time { return now }})
	rec := h.recorder(t, h.config(ingest.Target{Region: "cn-shanghai", Instance: "alikafka_model"}))
	if res, err := rec.RunOnce(context.Background()); err != nil || len(res.Failed) != 0 || res.Groups != 1 {
		t.Fatalf("RunOnce = %+v, %v", res, err)
	}
	got := h.samples(t)
	var want []store.PartitionSample
	for _, tp := range fleet.Instances[0].Groups[0].Topics {
		for i, p := range tp.Partitions {
			b, c, last := p.At(epoch, now)
			s := store.PartitionSample{Topic: tp.Name, Partition: int32(i), BrokerOffset: b, ConsumerOffset: c, Lag: max(b-c, 0)}
			if last > 0 {
				lt := time.UnixMilli(last).UTC()
				s.LastConsumedAt = &lt
			}
			want = append(want, s)
		}
	}
	if len(got) != len(want) {
		t.Fatalf("got %d samples, want %d", len(got), len(want))
	}
	for i := range want {
		g, w := got[i], want[i]
		if g.Topic != w.Topic || g.Partition != w.Partition || g.BrokerOffset != w.BrokerOffset || g.ConsumerOffset != w.ConsumerOffset || g.Lag != w.Lag {
			t.Errorf("sample %d = %s/%d broker %d consumer %d lag %d, want %s/%d %d %d %d", i, g.Topic, g.Partition, g.BrokerOffset, g.ConsumerOffset, g.Lag, w.Topic, w.Partition, w.BrokerOffset, w.ConsumerOffset, w.Lag)
		}
		if (g.LastConsumedAt == nil) != (w.LastConsumedAt == nil) || (g.LastConsumedAt != nil && !g.LastConsumedAt.Equal(*w.LastConsumedAt)) {
			t.Errorf("sample %d last_consumed_at %v, want %v", i, g.LastConsumedAt, w.LastConsumedAt)
		}
	}
	rb, err := h.store.ReadRebalances(context.Background(), store.Range{})
	if err != nil || len(rb) != 1 || rb[0].Generation != 4 || rb[0].Reason != "join" {
		t.Fatalf("rebalances = %+v, %v; want generation 4", rb, err)
	}
	// Discovery used the paged group list: one GetConsumerList call.
	if n := h.sim.RequestCount(alisim.ActionGetConsumerList); n != 1 {
		t.Errorf("GetConsumerList called %d times, want 1", n)
	}
}

func TestHideLastTimestampStoresNull(t *testing.T) {
	t.Parallel()
	h := newHarness(t, alisim.Config{Fleet: alisim.ExampleFleet()})
	cfg := h.config(exampleTarget)
	cfg.Alibaba.HideLastTimestamp = true
	if res, err := h.recorder(t, cfg).RunOnce(context.Background()); err != nil || len(res.Failed) != 0 {
		t.Fatalf("RunOnce = %+v, %v", res, err)
	}
	got := h.samples(t)
	if len(got) != 12 {
		t.Fatalf("got %d samples, want 12", len(got))
	}
	for _, s := range got {
		if s.LastConsumedAt != nil {
			t.Errorf("partition %d: last_consumed_at %v, want NULL when hidden", s.Partition, s.LastConsumedAt)
		}
	}
}

func TestEveryFaultIsRecorded(t *testing.T) {
	t.Parallel()
	tests := []struct {
		fault    alisim.Fault
		wantCode string
		// then is what a retry sees; only throttling is retried.
		retried bool
	}{
		{alisim.FaultThrottlingUser, "Throttling.User", true},
		{alisim.FaultThrottlingAPI, "Throttling.Api", true},
		{alisim.FaultThrottling, "Throttling", true},
		{alisim.FaultFlowControl, "ONS_SYSTEM_FLOW_CONTROL", true},
		{alisim.FaultServiceUnavailable, "ServiceUnavailable", false},
		{alisim.FaultInternalError, "InternalError", false},
		{alisim.FaultHang, ingest.CodeTimeout, false},
		{alisim.FaultMalformed, ingest.CodeMalformedResponse, false},
		{alisim.FaultSuccessFalse, "500", false},
		{alisim.FaultNumericCode, "500", false},
	}
	for _, tt := range tests {
		t.Run(string(tt.fault), func(t *testing.T) {
			t.Parallel()
			// The hang outlasts the poll timeout many times over, and the
			// poll timeout any answer on a loaded machine.
			h := newHarness(t, alisim.Config{Fleet: alisim.ExampleFleet(), HangFor: time.Minute})
			cfg := h.config(exampleTarget)
			cfg.PollTimeout = 5 * time.Second
			if err := h.sim.Inject(tt.fault); err != nil {
				t.Fatal(err)
			}
			res, err := h.recorder(t, cfg).RunOnce(context.Background())
			if err != nil {
				t.Fatal(err)
			}
			polls := h.polls(t)
			if len(polls) == 0 || polls[0].OK || polls[0].ErrorCode != tt.wantCode {
				t.Fatalf("first poll = %+v, want a failure with code %q", first(polls), tt.wantCode)
			}
			if polls[0].ErrorMessage == "" {
				t.Errorf("failed poll has no error message")
			}
			if tt.retried {
				// The retry after the backoff got the normal answer.
				if len(polls) != 2 || !polls[1].OK || len(res.Failed) != 0 {
					t.Fatalf("polls = %+v, result %+v; want a throttled poll then a successful retry", polls, res)
				}
				if n := len(h.samples(t)); n != 12 {
					t.Errorf("%d samples, want the retry's 12", n)
				}
				return
			}
			if len(polls) != 1 || len(res.Failed) != 1 || !strings.Contains(res.Failed[0], tt.wantCode) {
				t.Fatalf("polls = %d, result %+v; want one failed poll named %q", len(polls), res, tt.wantCode)
			}
			if n := len(h.samples(t)); n != 0 {
				t.Errorf("a failed poll stored %d samples", n)
			}
		})
	}
}

func first(p []store.PollRecord) any {
	if len(p) == 0 {
		return "none"
	}
	return p[0]
}

func TestWrongSecretIsRejectedAndNothingSampled(t *testing.T) {
	t.Parallel()
	h := newHarness(t, alisim.Config{Fleet: alisim.ExampleFleet()})
	cfg := h.config(exampleTarget)
	cfg.Alibaba.Credentials = credentials.NewStaticAKCredentialsProvider(testKeyID, "wrong-secret")
	res, err := h.recorder(t, cfg).RunOnce(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Failed) != 1 || !strings.Contains(res.Failed[0], "SignatureDoesNotMatch") {
		t.Fatalf("result %+v, want the group failed with SignatureDoesNotMatch", res)
	}
	if n := len(h.samples(t)); n != 0 {
		t.Errorf("%d samples written with a wrong secret", n)
	}
	polls := h.polls(t)
	if len(polls) != 1 || polls[0].OK || polls[0].ErrorCode != "SignatureDoesNotMatch" {
		t.Errorf("polls = %+v, want one SignatureDoesNotMatch failure", polls)
	}
}

func TestDiscoveryFollowsGroupsAndInstances(t *testing.T) {
	t.Parallel()
	part := []alisim.Partition{{BrokerStart: 10, ConsumerStart: 5}}
	mk := func(ids ...string) []alisim.Group {
		var gs []alisim.Group
		for _, id := range ids {
			gs = append(gs, alisim.Group{ID: id, Topics: []alisim.Topic{{Name: "t", Partitions: part}}})
		}
		return gs
	}
	many := make([]string, 0, 230)
	for i := range 230 {
		many = append(many, fmt.Sprintf("group-%03d", i))
	}
	fleet := alisim.Fleet{Instances: []alisim.Instance{
		{Region: "cn-beijing", ID: "inst-a", Groups: mk("a1", "a2")},
		{Region: "cn-beijing", ID: "inst-b", Groups: mk(many...)},
		{Region: "cn-beijing", ID: "inst-stopped", ServiceStatus: 7, Groups: mk("never")},
		{Region: "cn-qingdao", ID: "inst-other-region", Groups: mk("elsewhere")},
	}}
	h := newHarness(t, alisim.Config{Fleet: fleet})
	cfg := h.config(ingest.Target{Region: "cn-beijing"})
	cfg.Alibaba.RequestsPerSecond = 100
	res, err := h.recorder(t, cfg).RunOnce(context.Background())
	if err != nil || len(res.Failed) != 0 {
		t.Fatalf("RunOnce = %+v, %v", res, err)
	}
	if res.Groups != 232 {
		t.Fatalf("polled %d groups, want 232 (2 + 230 over three pages; none from the stopped instance or the other region)", res.Groups)
	}
	groups, err := h.store.Groups(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	for _, g := range groups {
		if g.InstanceID == "inst-stopped" || g.Region != "cn-beijing" {
			t.Errorf("polled %+v, which discovery should have left out", g)
		}
	}
	if n := h.sim.RequestCount(alisim.ActionGetConsumerList); n != 1+3 {
		t.Errorf("GetConsumerList called %d times, want 4 (1 page for inst-a, 3 for inst-b)", n)
	}
}

// TestRunPicksUpNewGroupsAndDropsVanishedOnes runs the recorder and changes
// the fleet under it.
func TestRunPicksUpNewGroupsAndDropsVanishedOnes(t *testing.T) {
	t.Parallel()
	part := []alisim.Partition{{BrokerStart: 10, ConsumerStart: 5}}
	fleet := func(ids ...string) alisim.Fleet {
		inst := alisim.Instance{Region: "cn-hangzhou", ID: "inst"}
		for _, id := range ids {
			inst.Groups = append(inst.Groups, alisim.Group{ID: id, Topics: []alisim.Topic{{Name: "t", Partitions: part}}})
		}
		return alisim.Fleet{Instances: []alisim.Instance{inst}}
	}
	h := newHarness(t, alisim.Config{Fleet: fleet("old", "stays")})
	cfg := h.config(ingest.Target{Region: "cn-hangzhou", Instance: "inst"})
	cfg.Interval = time.Second
	cfg.PollTimeout = 500 * time.Millisecond
	cfg.DiscoveryInterval = time.Second
	stop := runRecorder(t, h.recorder(t, cfg))

	waitFor(t, waitLimit, "both initial groups polled", func() bool {
		return polledGroups(h)["old"] > 0 && polledGroups(h)["stays"] > 0
	})
	if err := h.sim.SetFleet(fleet("stays", "new")); err != nil {
		t.Fatal(err)
	}
	waitFor(t, waitLimit, "the new group polled", func() bool { return polledGroups(h)["new"] > 0 })
	// Discovery stopped the vanished group's goroutine before it started
	// the new group's, and a call of it already sent ends within the poll
	// timeout. Once stays has been polled twice more, at least an interval
	// later, old's requests are all in; none may follow while stays is
	// polled three more times.
	stays := polledGroups(h)["stays"]
	waitFor(t, waitLimit, "stays polled twice more", func() bool { return polledGroups(h)["stays"] >= stays+2 })
	oldCount := countRequests(h.sim, "old")
	stays = polledGroups(h)["stays"]
	waitFor(t, waitLimit, "stays polled three more times", func() bool { return polledGroups(h)["stays"] >= stays+3 })
	if n := countRequests(h.sim, "old"); n != oldCount {
		t.Errorf("vanished group polled %d more times after discovery dropped it", n-oldCount)
	}
	if err := stop(); err != nil {
		t.Fatalf("Run returned %v", err)
	}
}

func polledGroups(h *harness) map[string]int {
	out := map[string]int{}
	for _, r := range h.sim.Requests() {
		if r.Action == alisim.ActionGetConsumerProgress && r.Status == 200 {
			out[r.ConsumerID]++
		}
	}
	return out
}

func countRequests(sim *alisim.Server, group string) int {
	n := 0
	for _, r := range sim.Requests() {
		if r.Action == alisim.ActionGetConsumerProgress && r.ConsumerID == group {
			n++
		}
	}
	return n
}

// TestClampedValuesAreStoredAndCounted serves a LastTimestamp that is not a
// time on one partition: the poll is stored, that partition's time as
// unknown and the other's as given, and the clamp is counted by kind.
func TestClampedValuesAreStoredAndCounted(t *testing.T) {
	t.Parallel()
	const good = int64(1736164800000)
	h := newHarness(t, alisim.Config{
		Fleet: alisim.ExampleFleet(),
		Progress: func(_, _, _ string, _ time.Time) alisim.GroupProgress {
			return alisim.GroupProgress{Topics: []alisim.TopicProgress{{Name: "t", Partitions: []alisim.PartitionProgress{
				{Partition: 0, Broker: 10, Consumer: 5, LastTimestampMs: -7},
				{Partition: 1, Broker: 10, Consumer: 10, LastTimestampMs: good},
			}}}}
		},
	})
	reg := prometheus.NewRegistry()
	rec, err := ingest.New(h.config(exampleTarget), h.store, testLogger(t), reg)
	if err != nil {
		t.Fatal(err)
	}
	defer rec.Close()
	if res, err := rec.RunOnce(context.Background()); err != nil || len(res.Failed) != 0 {
		t.Fatalf("RunOnce = %+v, %v; want the poll stored", res, err)
	}
	got := h.samples(t)
	if len(got) != 2 || got[0].LastConsumedAt != nil || got[1].LastConsumedAt == nil || got[1].LastConsumedAt.UnixMilli() != good || got[0].Lag != 5 {
		t.Fatalf("samples %+v; want partition 0 with lag 5 and no time, partition 1 at %d", got, good)
	}
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	var counted []string
	for _, mf := range mfs {
		if mf.GetName() != "lagtrail_clamped_values_total" {
			continue
		}
		for _, m := range mf.GetMetric() {
			var labels []string
			for _, lp := range m.GetLabel() {
				labels = append(labels, lp.GetName()+"="+lp.GetValue())
			}
			counted = append(counted, fmt.Sprintf("%s %v", strings.Join(labels, ","), m.GetCounter().GetValue()))
		}
	}
	if want := "kind=last_timestamp,region=cn-hangzhou 1"; len(counted) != 1 || counted[0] != want {
		t.Errorf("lagtrail_clamped_values_total: %q, want %q", counted, want)
	}
}
