package ingest_test

import (
	"context"
	"path/filepath"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/lagtrail/lagtrail/ingest"
	"github.com/lagtrail/lagtrail/internal/alisim"
	"github.com/lagtrail/lagtrail/internal/pgtest"
	"github.com/lagtrail/lagtrail/internal/spool"
	"github.com/lagtrail/lagtrail/store"
)

// outageHarness is a harness whose database can be halted, with a config
// polling its groups every 3 seconds.
func outageHarness(t *testing.T, groups int) (*harness, func(context.Context) error, func(context.Context) error, ingest.Config) {
	t.Helper()
	inst := alisim.Instance{Region: "cn-hangzhou", ID: "inst-outage"}
	target := ingest.Target{Region: "cn-hangzhou", Instance: "inst-outage"}
	for i := range groups {
		id := "g" + string(rune('a'+i))
		target.Groups = append(target.Groups, id)
		inst.Groups = append(inst.Groups, alisim.Group{ID: id, Topics: []alisim.Topic{{Name: "t", Partitions: []alisim.Partition{
			{BrokerStart: 100, ConsumerStart: 90, ProduceRate: 5, ConsumeRate: 5},
			{BrokerStart: 200, ConsumerStart: 150, ProduceRate: 5, ConsumeRate: 4},
		}}}})
	}
	h := newHarness(t, alisim.Config{Fleet: alisim.Fleet{Instances: []alisim.Instance{inst}}})
	srv, url := pgtest.Private(t)
	st, err := store.Open(context.Background(), store.Config{DatabaseURL: url}, testLogger(t))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(st.Close)
	h.store = st
	cfg := h.config(target)
	// The poll timeout is far longer than a call to the simulator takes on
	// a loaded machine: a poll that timed out would have no request id to
	// match with the endpoint's answers.
	cfg.Interval = 3 * time.Second
	cfg.PollTimeout = 2 * time.Second
	return h, srv.Halt, srv.Resume, cfg
}

// answeredIDs returns the request ids of the GetConsumerProgress calls the
// endpoint answered.
func answeredIDs(h *harness) map[string]bool {
	out := map[string]bool{}
	for _, r := range progressRequests(h.sim) {
		if r.Status != 0 {
			out[r.RequestID] = true
		}
	}
	return out
}

// checkEveryAnswerStoredOnce fails t unless the stored polls are exactly
// the endpoint's answers, one each.
func checkEveryAnswerStoredOnce(t *testing.T, h *harness) {
	t.Helper()
	answered := answeredIDs(h)
	stored := map[string]int{}
	for _, p := range h.polls(t) {
		stored[p.RequestID]++
	}
	for id := range answered {
		if stored[id] != 1 {
			t.Errorf("answered request %s stored %d times, want once", id, stored[id])
		}
	}
	for id := range stored {
		if !answered[id] {
			t.Errorf("stored poll %q was never answered by the endpoint", id)
		}
	}
	if len(answered) == 0 {
		t.Fatal("the endpoint answered nothing")
	}
}

func TestRunSpoolsWhileTheDatabaseIsDownAndWritesInOrderAfter(t *testing.T) {
	t.Parallel()
	h, halt, resume, cfg := outageHarness(t, 3)
	sp, err := spool.Open(spool.Config{Dir: filepath.Join(t.TempDir(), "spool")}, testLogger(t))
	if err != nil {
		t.Fatal(err)
	}
	defer sp.Close()
	cfg.Spool = sp
	reg := prometheus.NewRegistry()
	rec, err := ingest.New(cfg, h.store, testLogger(t), reg)
	if err != nil {
		t.Fatal(err)
	}
	defer rec.Close()
	stop := runRecorder(t, rec)

	waitFor(t, waitLimit, "a poll of each group stored before the outage", func() bool { return len(h.polls(t)) >= 3 })
	if err := halt(context.Background()); err != nil {
		t.Fatal(err)
	}
	waitFor(t, waitLimit, "6 polls in the spool during the outage", func() bool { return sp.Stats().Records >= 6 })
	if !rec.Health().WritesFailing {
		t.Error("Health().WritesFailing is false during the outage")
	}
	if err := resume(context.Background()); err != nil {
		t.Fatal(err)
	}
	waitFor(t, waitLimit, "the spool drained after the database came back", func() bool { return sp.Stats().Records == 0 })
	if err := stop(); err != nil {
		t.Fatal(err)
	}
	if n := sp.Stats().Records; n != 0 {
		t.Fatalf("spool holds %d polls after the recorder stopped", n)
	}
	checkEveryAnswerStoredOnce(t, h)
	if n := metricValue(t, reg, "lagtrail_write_errors_total", ""); n < 1 {
		t.Errorf("write_errors_total = %v, want the outage's failed writes counted", n)
	}
}

func TestSpooledPollsOutliveTheRecorder(t *testing.T) {
	t.Parallel()
	h, halt, resume, cfg := outageHarness(t, 2)
	dir := filepath.Join(t.TempDir(), "spool")
	// run runs a recorder on the spool until until holds.
	run := func(what string, until func(*spool.Spool) bool) {
		sp, err := spool.Open(spool.Config{Dir: dir}, testLogger(t))
		if err != nil {
			t.Fatal(err)
		}
		defer sp.Close()
		cfg := cfg
		cfg.Spool = sp
		stop := runRecorder(t, h.recorder(t, cfg))
		waitFor(t, waitLimit, what, func() bool { return until(sp) })
		if err := stop(); err != nil {
			t.Fatal(err)
		}
	}
	if err := halt(context.Background()); err != nil {
		t.Fatal(err)
	}
	// A poll of each group during the outage, all into the spool, then the
	// recorder stops.
	run("a poll of each group answered during the outage", func(*spool.Spool) bool { return len(answeredIDs(h)) >= 2 })
	if err := resume(context.Background()); err != nil {
		t.Fatal(err)
	}
	// A new recorder writes them first.
	run("the spool drained", func(sp *spool.Spool) bool { return sp.Stats().Records == 0 })
	sp, err := spool.Open(spool.Config{Dir: dir}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if n := sp.Stats().Records; n != 0 {
		t.Errorf("spool holds %d polls after the second run", n)
	}
	sp.Close()
	checkEveryAnswerStoredOnce(t, h)
}

func TestWithoutASpoolTheMemoryBoundDropsTheOldestAndCountsThem(t *testing.T) {
	t.Parallel()
	h, halt, _, cfg := outageHarness(t, 3)
	cfg.Buffer.MemoryPolls = 4
	reg := prometheus.NewRegistry()
	rec, err := ingest.New(cfg, h.store, testLogger(t), reg)
	if err != nil {
		t.Fatal(err)
	}
	defer rec.Close()
	if err := halt(context.Background()); err != nil {
		t.Fatal(err)
	}
	stop := runRecorder(t, rec)
	waitFor(t, waitLimit, "6 polls answered with the database down", func() bool { return len(answeredIDs(h)) >= 6 })
	if err := stop(); err != nil {
		t.Fatal(err)
	}
	polled := len(answeredIDs(h))
	dropped := metricValue(t, reg, "lagtrail_dropped_polls_total", "memory_full")
	if polled < 6 {
		t.Fatalf("only %d polls answered", polled)
	}
	// At most MemoryPolls are kept; every other poll is counted as dropped.
	if int(dropped) < polled-4 {
		t.Errorf("%d polled with nowhere to go and room for 4, but only %v counted as dropped", polled, dropped)
	}
}

// metricValue gathers reg and returns the counter or gauge value of name
// (with reason as its label, when given).
func metricValue(t *testing.T, reg *prometheus.Registry, name, reason string) float64 {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
		for _, m := range mf.GetMetric() {
			if reason != "" {
				ok := false
				for _, lp := range m.GetLabel() {
					if lp.GetName() == "reason" && lp.GetValue() == reason {
						ok = true
					}
				}
				if !ok {
					continue
				}
			}
			if c := m.GetCounter(); c != nil {
				return c.GetValue()
			}
			return m.GetGauge().GetValue()
		}
	}
	t.Fatalf("no metric %s %s", name, reason)
	return 0
}
