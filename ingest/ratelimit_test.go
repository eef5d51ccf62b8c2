package ingest_test

import (
	"fmt"
	"sort"
	"testing"
	"time"

	"github.com/lagtrail/lagtrail/ingest"
	"github.com/lagtrail/lagtrail/internal/alisim"
)

// TestRateLimitHoldsWhenCallsStall hangs every client of a region at once.
// Polls due meanwhile must not pile up and go out together when the calls
// return: the limit holds over every one-second window, stall or not.
func TestRateLimitHoldsWhenCallsStall(t *testing.T) {
	t.Parallel()
	const groups, rps, clients = 100, 60, 4
	inst := alisim.Instance{Region: "cn-hangzhou", ID: "inst-burst"}
	target := ingest.Target{Region: "cn-hangzhou", Instance: "inst-burst"}
	for i := range groups {
		id := fmt.Sprintf("g%03d", i)
		target.Groups = append(target.Groups, id)
		inst.Groups = append(inst.Groups, alisim.Group{ID: id, Topics: []alisim.Topic{{Name: "t", Partitions: []alisim.Partition{{BrokerStart: 10, ConsumerStart: 5}}}}})
	}
	h := newHarness(t, alisim.Config{Fleet: alisim.Fleet{Instances: []alisim.Instance{inst}}, HangFor: 1500 * time.Millisecond})
	cfg := h.config(target)
	cfg.Interval = 2 * time.Second
	cfg.PollTimeout = 1900 * time.Millisecond
	cfg.Alibaba.RequestsPerSecond = rps
	cfg.Alibaba.ClientsPerRegion = clients
	stop := runRecorder(t, h.recorder(t, cfg))
	// Once every group has been polled, hang every client at once.
	waitFor(t, waitLimit, "a round of polls", func() bool { return len(progressRequests(h.sim)) >= groups })
	hangs := make([]alisim.Fault, clients)
	for i := range hangs {
		hangs[i] = alisim.FaultHang
	}
	if err := h.sim.Inject(hangs...); err != nil {
		t.Fatal(err)
	}
	// The endpoint logs requests as they end. Wait until the hung ones
	// ended and a round of polls followed them, which includes the polls
	// due during the stall.
	waitFor(t, waitLimit, "the hung requests and a round of polls after them", func() bool {
		reqs := progressRequests(h.sim)
		hung, after := 0, 0
		for _, r := range reqs {
			after++
			if r.Fault == alisim.FaultHang {
				hung, after = hung+1, 0
			}
		}
		return hung == clients && after >= groups
	})
	if err := stop(); err != nil {
		t.Fatal(err)
	}
	hung := 0
	var arrived []time.Time
	for _, r := range progressRequests(h.sim) {
		arrived = append(arrived, r.Time)
		if r.Fault == alisim.FaultHang {
			hung++
		}
	}
	if hung != clients {
		t.Fatalf("%d requests hung, want %d", hung, clients)
	}
	// The limiter governs when calls are sent: each stored poll's
	// StartedAt. Arrival at the endpoint adds the machine's scheduling
	// jitter, logged for comparison.
	var sent []time.Time
	for _, p := range h.polls(t) {
		sent = append(sent, p.StartedAt)
	}
	peak, peakArrived := peakPerSecond(sent), peakPerSecond(arrived)
	t.Logf("%d calls; peak %d sent in one second, %d arrived (limit %d)", len(sent), peak, peakArrived, rps)
	if len(sent) < groups {
		t.Errorf("only %d calls stored for %d groups polled at least twice", len(sent), groups)
	}
	if peak > rps {
		t.Errorf("%d calls sent in one second, over the limit of %d: polls queued behind the stalled calls went out together", peak, rps)
	}
}

// peakPerSecond returns the most times in any one-second window.
func peakPerSecond(at []time.Time) int {
	sort.Slice(at, func(i, j int) bool { return at[i].Before(at[j]) })
	peak := 0
	for i := range at {
		j := i
		for j < len(at) && at[j].Sub(at[i]) < time.Second {
			j++
		}
		peak = max(peak, j-i)
	}
	return peak
}
