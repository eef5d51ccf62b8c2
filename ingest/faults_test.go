package ingest_test

import (
	"fmt"
	"sort"
	"testing"
	"time"

	"github.com/lagtrail/lagtrail/ingest"
	"github.com/lagtrail/lagtrail/internal/alisim"
	"github.com/lagtrail/lagtrail/store"
)

// TestRecordUnderFaults runs the recorder against an endpoint that throttles
// a third of the calls and fails others in every way it can, then checks the
// database against the endpoint's own log of what it answered.
func TestRecordUnderFaults(t *testing.T) {
	t.Parallel()
	// 36 groups every 3 s ask for 12 calls a second, over the limit.
	const groups = 36
	const rps = 8
	inst := alisim.Instance{Region: "cn-hangzhou", ID: "inst-faults"}
	for i := range groups {
		inst.Groups = append(inst.Groups, alisim.Group{ID: fmt.Sprintf("group-%02d", i), Topics: []alisim.Topic{{
			Name:       "events",
			Partitions: []alisim.Partition{{BrokerStart: 100, ConsumerStart: 90, ProduceRate: 5, ConsumeRate: 5}, {BrokerStart: 7, ConsumerStart: 7, ProduceRate: 1, ConsumeRate: 1}},
		}}})
	}
	h := newHarness(t, alisim.Config{
		Fleet: alisim.Fleet{Instances: []alisim.Instance{inst}},
		FaultRates: map[alisim.Fault]float64{
			alisim.FaultThrottlingUser:     1.0 / 3,
			alisim.FaultServiceUnavailable: 0.05,
			alisim.FaultMalformed:          0.05,
			alisim.FaultNumericCode:        0.05,
			alisim.FaultSuccessFalse:       0.05,
			alisim.FaultHang:               0.05,
		},
		Seed:    7,
		HangFor: 30 * time.Second,
	})
	cfg := h.config(ingest.Target{Region: "cn-hangzhou", Instance: "inst-faults"})
	// The poll timeout is far longer than an answer takes on a loaded
	// machine, so that only the hangs time out.
	cfg.Interval = 3 * time.Second
	cfg.PollTimeout = 2 * time.Second
	cfg.Alibaba.RequestsPerSecond = rps
	stop := runRecorder(t, h.recorder(t, cfg))

	// Run until the endpoint answered 20 requests, with each outcome the
	// test checks for among them.
	exercised := []alisim.Fault{alisim.FaultNone, alisim.FaultThrottlingUser, alisim.FaultHang, alisim.FaultNumericCode}
	waitFor(t, waitLimit, "20 requests, with a success, throttling, a hang and a numeric code", func() bool {
		reqs := progressRequests(h.sim)
		seen := map[alisim.Fault]bool{}
		for _, r := range reqs {
			seen[r.Fault] = true
		}
		for _, f := range exercised {
			if !seen[f] {
				return false
			}
		}
		return len(reqs) >= 20
	})
	if err := stop(); err != nil {
		t.Fatalf("Run returned %v, want nil after cancel", err)
	}

	// The endpoint logs a hung request when it notices the client left,
	// which may be after Run returned; wait until it logged as many
	// requests as polls were stored.
	polls := h.polls(t)
	var reqs []alisim.Request
	waitFor(t, waitLimit, "a logged request per stored poll", func() bool {
		reqs = progressRequests(h.sim)
		return len(reqs) >= len(polls)
	})
	if len(reqs) < 20 {
		t.Fatalf("only %d requests; the recorder did not keep polling", len(reqs))
	}

	// Every request the endpoint answered is one poll row, with the code
	// the fault implies; every success is stored with its request id.
	wantCode := map[alisim.Fault]string{
		alisim.FaultNone:               "",
		alisim.FaultThrottlingUser:     "Throttling.User",
		alisim.FaultServiceUnavailable: "ServiceUnavailable",
		alisim.FaultMalformed:          ingest.CodeMalformedResponse,
		alisim.FaultNumericCode:        "500",
		alisim.FaultSuccessFalse:       "500",
		alisim.FaultHang:               ingest.CodeTimeout,
	}
	want := map[string]int{}
	okIDs := map[string]bool{}
	for _, r := range reqs {
		want[wantCode[r.Fault]]++
		if r.Fault == alisim.FaultNone {
			okIDs[r.RequestID] = true
		}
	}
	got := map[string]int{}
	samples := 0
	for _, p := range polls {
		got[p.ErrorCode]++
		if p.OK {
			samples += p.PartitionCount
			if !okIDs[p.RequestID] {
				t.Errorf("stored ok poll with request id %q that the endpoint never answered with success", p.RequestID)
			}
		}
	}
	for code, n := range want {
		if got[code] != n {
			t.Errorf("code %q: %d polls stored, endpoint answered %d", code, got[code], n)
		}
	}
	if len(polls) != len(reqs) {
		t.Errorf("%d polls stored for %d requests", len(polls), len(reqs))
	}
	for _, f := range exercised {
		if want[wantCode[f]] == 0 {
			t.Errorf("the run saw no %q; the test exercised less than it claims", f)
		}
	}
	if n := len(h.samples(t)); n != samples || n != 2*want[""] {
		t.Errorf("%d samples stored; ok polls account for %d, endpoint successes for %d", n, samples, 2*want[""])
	}

	// The request limit holds over every one-second window, judged by the
	// send times the limiter governs, each stored poll's StartedAt (arrival
	// at the endpoint adds the machine's scheduling jitter). One request of
	// slack is allowed in a window; the long-run rate must stay at or under
	// the limit.
	times := make([]time.Time, len(polls))
	for i, p := range polls {
		times[i] = p.StartedAt
	}
	sort.Slice(times, func(i, j int) bool { return times[i].Before(times[j]) })
	for i := range times {
		n := 0
		for j := i; j < len(times) && times[j].Sub(times[i]) < time.Second; j++ {
			n++
		}
		if n > rps+1 {
			t.Fatalf("%d requests in the second from %s; limit is %d/s", n, times[i].Format(time.StampMilli), rps)
		}
	}
	span := times[len(times)-1].Sub(times[0]).Seconds()
	if rate := float64(len(times)-1) / span; rate > rps*1.05 {
		t.Errorf("average rate %.2f/s over %.1fs exceeds %d/s", rate, span, rps)
	}

	// A group is never polled twice at once.
	byGroup := map[string][]store.PollRecord{}
	for _, p := range polls {
		byGroup[p.Group.Group] = append(byGroup[p.Group.Group], p)
	}
	for g, ps := range byGroup {
		sort.Slice(ps, func(i, j int) bool { return ps[i].StartedAt.Before(ps[j].StartedAt) })
		for i := 1; i < len(ps); i++ {
			if ps[i].StartedAt.Before(ps[i-1].SampledAt) {
				t.Errorf("group %s: poll started %s before the previous one ended %s", g, ps[i].StartedAt, ps[i-1].SampledAt)
			}
		}
	}
}

func progressRequests(sim *alisim.Server) []alisim.Request {
	var out []alisim.Request
	for _, r := range sim.Requests() {
		if r.Action == alisim.ActionGetConsumerProgress {
			out = append(out, r)
		}
	}
	return out
}
