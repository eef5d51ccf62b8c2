package query_test

import (
	"context"
	"errors"
	"log/slog"
	"math"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/aliyun/alibaba-cloud-sdk-go/sdk/auth/credentials"

	"github.com/lagtrail/lagtrail/ingest"
	"github.com/lagtrail/lagtrail/internal/alisim"
	"github.com/lagtrail/lagtrail/internal/pgtest"
	"github.com/lagtrail/lagtrail/internal/scenario"
	"github.com/lagtrail/lagtrail/query"
	"github.com/lagtrail/lagtrail/store"
)

// liveScenario names the fleet: an idle topic read by idle-reader and a
// busy one read by busy-reader. Their offsets come from liveProgress, which
// moves them by the second; the scenario model steps by the minute.
const liveScenario = `name: live-idle
description: an idle group and a busy one, recorded at 1 s polls
seed: 3
poll_interval: 1m
instances:
  - id: alikafka_post-cn-live0001
    region: cn-hangzhou
    name: live
    topics:
      - {name: idle, partitions: 2, rate: 0.3}
      - {name: busy, partitions: 2, rate: 50}
    groups:
      - {id: idle-reader, topics: [idle], capacity: 100}
      - {id: busy-reader, topics: [busy], capacity: 500}
`

// The live recording's timeline, from its start: busy-reader stalls from
// liveStallAt for liveStallFor (15 polls at 1 s), then works off its
// backlog within seconds.
const (
	liveStallAt  = 30 * time.Second
	liveStallFor = 15 * time.Second
	// liveIdleEvery is how often each idle partition gets a message.
	liveIdleEvery = 2700 * time.Millisecond
)

// liveProgress is what the simulated API reports at t for a recording that
// started at t0. Each idle partition gets a message every liveIdleEvery
// (the two partitions out of phase), consumed half a second later. The
// period is not a whole number of seconds, so polls a second apart fall at
// every point of it, and about one poll in five sees a lag of 1 whatever
// the recorder's phase. The busy partitions get 50 messages a second,
// consumed 0.2 s later, until the stall; then the consumer offset stays put
// for liveStallFor, and afterwards moves at 500 a second until it is back.
func liveProgress(t0 time.Time, group string, t time.Time) alisim.GroupProgress {
	s := t.Sub(t0).Seconds()
	ms := func(sec float64) int64 { return t0.Add(time.Duration(sec * float64(time.Second))).UnixMilli() }
	var tp alisim.TopicProgress
	switch group {
	case "idle-reader":
		tp.Name = "idle"
		for p := range 2 {
			phase := 1.3 * float64(p)
			every := liveIdleEvery.Seconds()
			produced := int64(math.Floor((s + phase) / every))
			consumed := int64(math.Floor((s + phase - 0.5) / every))
			tp.Partitions = append(tp.Partitions, alisim.PartitionProgress{
				Partition: p, Broker: 1000 + produced, Consumer: 1000 + consumed,
				LastTimestampMs: ms(every*float64(consumed) - phase),
			})
		}
	case "busy-reader":
		tp.Name = "busy"
		at, until := liveStallAt.Seconds(), (liveStallAt + liveStallFor).Seconds()
		for p := range 2 {
			broker := int64(math.Floor(50 * s))
			consumed := int64(math.Floor(50 * (min(s, at) - 0.2)))
			if s >= until {
				consumed = min(broker, consumed+int64(math.Floor(500*(s-until))))
			}
			consumed = max(consumed, 0)
			tp.Partitions = append(tp.Partitions, alisim.PartitionProgress{
				Partition: p, Broker: 100_000 + broker, Consumer: 100_000 + consumed,
				LastTimestampMs: ms(float64(consumed) / 50),
			})
		}
	}
	return alisim.GroupProgress{Topics: []alisim.TopicProgress{tp}}
}

// TestLiveIdleAndStall records two groups live through the SDK (an
// ingest.Recorder against internal/alisim) at 1 s polls, for about a
// minute: an idle one, and a busy one that stalls for 15 polls and then
// catches up. The idle partitions, which get a message now and then, must
// never be worse than OK in query status, nor in the fleet's view at the
// last poll; the stall must be one incident that starts at the stall,
// peaks at its end and recovers after it, with a STALL in its statuses.
func TestLiveIdleAndStall(t *testing.T) {
	t.Parallel()
	spec, err := scenario.Parse([]byte(liveScenario))
	if err != nil {
		t.Fatal(err)
	}
	zero := time.Now().UTC()
	m, err := scenario.New(spec, zero.Truncate(time.Minute))
	if err != nil {
		t.Fatal(err)
	}
	const keyID, secret = "LTAI5tLiveTestKey", "live-test-secret"
	simCfg := m.ServerConfig(map[string]string{keyID: secret}, nil)
	simCfg.Progress = func(_, _, group string, at time.Time) alisim.GroupProgress { return liveProgress(zero, group, at) }
	sim, err := alisim.New(simCfg)
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(sim)
	t.Cleanup(srv.Close)
	_, st := engineOn(t, pgtest.URL(t))
	rec, err := ingest.New(ingest.Config{
		Interval:    time.Second,
		PollTimeout: 900 * time.Millisecond,
		Alibaba: ingest.AlibabaConfig{
			Endpoint: strings.TrimPrefix(srv.URL, "http://"), Scheme: "http",
			Credentials: credentials.NewStaticAKCredentialsProvider(keyID, secret),
		},
		Targets: []ingest.Target{{Region: "cn-hangzhou", Instance: "alikafka_post-cn-live0001", Groups: []string{"idle-reader", "busy-reader"}}},
	}, st, slog.New(slog.DiscardHandler), nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(rec.Close)
	runCtx, stopRun := context.WithCancel(context.Background())
	ran := make(chan error, 1)
	go func() { ran <- rec.Run(runCtx) }()
	stallFrom, stallTo := zero.Add(liveStallAt), zero.Add(liveStallAt+liveStallFor)
	// The backlog is gone 2 s after the stall; record 10 s more.
	until := stallTo.Add(12 * time.Second)

	// Record until the backlog is gone, however slowly the machine goes.
	deadline := time.Now().Add(time.Until(until) + 3*time.Minute)
	for recorded := false; !recorded; {
		select {
		case err := <-ran:
			t.Fatalf("the recorder stopped: %v", err)
		case <-time.After(200 * time.Millisecond):
		}
		polls, err := st.ReadPolls(context.Background(), store.Range{})
		recorded = err == nil && len(polls) > 0 && !polls[len(polls)-1].SampledAt.Before(until)
		if !recorded && time.Now().After(deadline) {
			t.Fatalf("no poll after %s by %s", until.Format(time.RFC3339), deadline.Format(time.RFC3339))
		}
	}
	stopRun()
	if err := <-ran; err != nil && !errors.Is(err, context.Canceled) {
		t.Fatalf("recorder: %v", err)
	}
	e, err := query.New(st, query.Config{}, nil)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()

	// Idle: never worse than OK, though its lag was above zero at polls.
	// The first seconds of the recording are left out: until a poll has
	// seen no lag there is nothing to tell a message in flight from a
	// stall, and 3 polls with lag and no progress are STALL (as in Burrow,
	// whose ring then holds no commit with zero lag).
	idle := query.Selection{Group: "idle-reader"}
	polls, err := st.ReadPolls(ctx, store.Range{Group: "idle-reader"})
	if err != nil || len(polls) == 0 {
		t.Fatalf("idle-reader polls: %d, %v", len(polls), err)
	}
	checkFrom := polls[0].SampledAt.Add(15 * time.Second).Truncate(time.Second)
	ivs, err := e.Status(ctx, query.StatusRequest{Range: query.Range{Selection: idle, From: checkFrom, To: until, Step: time.Second}})
	if err != nil {
		t.Fatal(err)
	}
	for _, iv := range ivs {
		if iv.Status > query.StatusOK {
			t.Errorf("idle-reader %s to %s: %s (%s)", iv.From.Format(time.TimeOnly), iv.To.Format(time.TimeOnly), iv.Status, iv.Reason)
		}
	}
	samples, err := st.ReadPartitionOffsets(ctx, store.Range{Group: "idle-reader"})
	if err != nil {
		t.Fatal(err)
	}
	lagged := 0
	for _, smp := range samples {
		if smp.Lag > 0 {
			lagged++
		}
	}
	if lagged == 0 {
		t.Error("idle-reader never had lag: the recording does not test the idle case")
	}
	t.Logf("idle-reader: %d of %d partition samples had a lag", lagged, len(samples))
	fleet, err := e.Fleet(ctx, query.FleetRequest{})
	if err != nil {
		t.Fatal(err)
	}
	for _, g := range fleet {
		if g.Group.Group == "idle-reader" && g.Status != "OK" && g.Status != "NODATA" {
			t.Errorf("fleet: idle-reader %s (%s)", g.Status, g.Reason)
		}
	}

	// The stall: one incident from its start to after its end.
	rep, err := e.Incident(ctx, query.IncidentRequest{Selection: query.Selection{Group: "busy-reader"}, From: zero.Add(10 * time.Second), To: until})
	if err != nil {
		t.Fatal(err)
	}
	if len(rep.Incidents) != 1 {
		t.Fatalf("%d incidents, want 1: %+v", len(rep.Incidents), rep.Incidents)
	}
	inc := rep.Incidents[0]
	// A loaded machine may delay a poll by seconds: allow 3 poll
	// intervals, and at least 5 s, of a 15 s stall.
	slack := max(3*rep.PollInterval, 5*time.Second)
	if inc.Start.Before(stallFrom.Add(-slack)) || inc.Start.After(stallFrom.Add(slack)) ||
		inc.Peak.Before(stallTo.Add(-slack)) || inc.Peak.After(stallTo.Add(slack)) ||
		inc.Recovered == nil || !inc.Recovered.After(stallTo) {
		t.Errorf("incident start %s, peak %s, recovered %v; the stall was %s to %s (polls every %s)",
			inc.Start.Format(time.TimeOnly), inc.Peak.Format(time.TimeOnly), inc.Recovered, stallFrom.Format(time.TimeOnly), stallTo.Format(time.TimeOnly), rep.PollInterval)
	}
	t.Logf("stall %s to %s; incident from %s, peak %s (lag %d), recovered %v", stallFrom.Format(time.TimeOnly), stallTo.Format(time.TimeOnly),
		inc.Start.Format(time.TimeOnly), inc.Peak.Format(time.TimeOnly), inc.PeakLag, inc.Recovered)
	if !slices.ContainsFunc(rep.Statuses, func(iv query.Interval) bool { return iv.Status == query.StatusStall || iv.Status == query.StatusStop }) {
		t.Errorf("no STALL or STOP in the incident report's statuses: %+v", rep.Statuses)
	}
}
