package query_test

import (
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/lagtrail/lagtrail/query"
	"github.com/lagtrail/lagtrail/store"
)

// TestScenario records 200 one-minute polls of seven groups from the
// simulated endpoint, through the real SDK, the ingest path and
// PostgreSQL, with one injected incident per group, and checks what the
// query engine makes of them against the model.
func TestScenario(t *testing.T) {
	t.Parallel()
	r, msg := replay(t)
	if msg != "" {
		t.Fatal(msg)
	}
	for _, tc := range []struct {
		name string
		fn   func(*testing.T, *recorded)
	}{
		{"steady rates, slope and lag", checkSteady},
		{"steady drain ETA", checkDrain},
		{"bucket totals add up", checkTotals},
		{"clean groups have no events", checkClean},
		{"stall", checkStall},
		{"rewind", checkRewind},
		{"reset to latest", checkReset},
		{"topic recreated", checkRecreate},
		{"gap", checkGap},
		{"hidden timestamps", checkHidden},
		{"bad selections", checkBadSelections},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			tc.fn(t, r)
		})
	}
}

func history(t *testing.T, r *recorded, id string, from, to time.Duration, step time.Duration, by store.Level) *query.History {
	t.Helper()
	h, err := r.engine.History(t.Context(), query.Range{Selection: sel(id), From: epoch.Add(from), To: epoch.Add(to), Step: step, By: by})
	if err != nil {
		t.Fatalf("History %s: %v", id, err)
	}
	return h
}

// Steady state: rates within 1% of the model, lag slope within 2%, lag at
// each bucket's end exactly the model's at that poll.
func checkSteady(t *testing.T, r *recorded) {
	h := history(t, r, "steady", at(10), at(120), 5*time.Minute, store.LevelGroup)
	if len(h.Rows) != 22 {
		t.Fatalf("%d rows, want 22", len(h.Rows))
	}
	for _, row := range h.Rows {
		switch {
		case row.ConsumeRate == nil || !within(*row.ConsumeRate, 320, 0.01):
			t.Errorf("%s: consume rate %v, model 320/s", row.Start, deref(row.ConsumeRate))
		case row.ProduceRate == nil || !within(*row.ProduceRate, 200, 0.01):
			t.Errorf("%s: produce rate %v, model 200/s", row.Start, deref(row.ProduceRate))
		case row.NetRate == nil || !within(*row.NetRate, -120, 0.01):
			t.Errorf("%s: net rate %v, model -120/s", row.Start, deref(row.NetRate))
		case row.Slope == nil || !within(*row.Slope, -120, 0.02):
			t.Errorf("%s: lag slope %v, model -120/s", row.Start, deref(row.Slope))
		case row.Lag == nil || row.LagMax == nil:
			t.Errorf("%s: no lag", row.Start)
		}
		if row.Lag != nil {
			last := lastPoll(r.polled["steady"], row.End)
			if want := r.modelLag("steady", last); *row.Lag != want {
				t.Errorf("%s: lag %d, model %d at %s", row.Start, *row.Lag, want, last)
			}
			if *row.LagMax < *row.Lag {
				t.Errorf("%s: lag_max %d below lag %d", row.Start, *row.LagMax, *row.Lag)
			}
		}
		if row.TimeLag == nil || row.TimeLagKind != store.TimeLagSampled {
			t.Errorf("%s: time lag %v (%s), want sampled", row.Start, deref(row.TimeLag), row.TimeLagKind)
		}
	}
}

// lastPoll returns the last poll time before end.
func lastPoll(polls []time.Time, end time.Time) time.Time {
	var last time.Time
	for _, p := range polls {
		if p.Before(end) {
			last = p
		}
	}
	return last
}

// Once draining, the ETA is within 5% of the model's.
func checkDrain(t *testing.T, r *recorded) {
	for _, m := range []int{30, 60, 120} {
		atT := epoch.Add(at(m))
		ds, err := r.engine.Drain(t.Context(), query.DrainRequest{Selection: sel("steady"), At: atT, Window: 15 * time.Minute, Horizon: time.Hour})
		if err != nil {
			t.Fatalf("Drain: %v", err)
		}
		if len(ds) != 1 {
			t.Fatalf("%d drain rows, want 1", len(ds))
		}
		d := ds[0]
		if d.Slope == nil || !within(*d.Slope, -120, 0.02) {
			t.Errorf("at %dm: slope %v, model -120/s", m, deref(d.Slope))
		}
		if d.LagAt == nil || d.Lag == nil || d.ETA == nil || d.PredictedLag == nil {
			t.Fatalf("at %dm: missing lag, ETA or prediction: %+v", m, d)
		}
		wantETA := float64(r.modelLag("steady", *d.LagAt)) / 120
		if !within(d.ETA.Seconds(), wantETA, 0.05) {
			t.Errorf("at %dm: ETA %s, model %.0fs", m, d.ETA, wantETA)
		}
		wantPred := float64(r.modelLag("steady", atT.Add(time.Hour)))
		if !within(*d.PredictedLag, wantPred, 0.02) {
			t.Errorf("at %dm: predicted lag %.0f, model %.0f", m, *d.PredictedLag, wantPred)
		}
	}
	// A group whose lag grows has no ETA.
	ds, err := r.engine.Drain(t.Context(), query.DrainRequest{Selection: sel("reset"), At: epoch.Add(at(60))})
	if err != nil || len(ds) != 1 {
		t.Fatalf("Drain reset: %v %d", err, len(ds))
	}
	if ds[0].ETA != nil {
		t.Errorf("growing lag has an ETA: %s", *ds[0].ETA)
	}
}

// Bucket totals add up to the range total exactly, with incidents inside.
func checkTotals(t *testing.T, r *recorded) {
	for _, id := range []string{"steady", "rewind", "reset", "recreate", "gap", "stall"} {
		whole := history(t, r, id, at(5), at(190), 24*time.Hour, store.LevelGroup)
		for _, step := range []time.Duration{time.Minute, 7 * time.Minute, 30 * time.Minute} {
			h := history(t, r, id, at(5), at(190), step, store.LevelGroup)
			var c, p float64
			for _, row := range h.Rows {
				if row.Consumed != nil {
					c += *row.Consumed
				}
				if row.Produced != nil {
					p += *row.Produced
				}
			}
			if len(whole.Rows) != 1 || whole.Rows[0].Consumed == nil || whole.Rows[0].Produced == nil {
				t.Fatalf("%s: whole-range row missing: %+v", id, whole.Rows)
			}
			if d := c - *whole.Rows[0].Consumed; d > 1e-6 || d < -1e-6 {
				t.Errorf("%s step %s: buckets consumed %.6f, range %.6f", id, step, c, *whole.Rows[0].Consumed)
			}
			if d := p - *whole.Rows[0].Produced; d > 1e-6 || d < -1e-6 {
				t.Errorf("%s step %s: buckets produced %.6f, range %.6f", id, step, p, *whole.Rows[0].Produced)
			}
		}
	}
}

// The clean groups show no events and an all-OK status.
func checkClean(t *testing.T, r *recorded) {
	for _, id := range []string{"steady", "hidden"} {
		ev, err := r.engine.Events(t.Context(), query.Range{Selection: sel(id), From: epoch, To: epoch.Add(at(ticks))})
		if err != nil {
			t.Fatal(err)
		}
		if len(ev) != 0 {
			t.Errorf("%s: false events %+v", id, ev)
		}
	}
	ivs := status(t, r, "steady", at(0), at(150))
	if len(ivs) != 1 || ivs[0].Status != query.StatusOK {
		t.Errorf("steady: status %v, want one OK interval", summary(ivs))
	}
}

func status(t *testing.T, r *recorded, id string, from, to time.Duration) []query.Interval {
	t.Helper()
	ivs, err := r.engine.Status(t.Context(), query.StatusRequest{
		Range:  query.Range{Selection: sel(id), From: epoch.Add(from), To: epoch.Add(to), Step: time.Minute},
		Window: 15 * time.Minute,
	})
	if err != nil {
		t.Fatalf("Status %s: %v", id, err)
	}
	return ivs
}

// spansNear reports whether got has want's statuses in order, each edge
// within a minute.
func spansNear(got, want []span) bool {
	if len(got) != len(want) {
		return false
	}
	for i := range got {
		if got[i].status != want[i].status || abs(got[i].from-want[i].from) > 1 || abs(got[i].to-want[i].to) > 1 {
			return false
		}
	}
	return true
}

func abs(x int) int { return max(x, -x) }

type span struct {
	status   string
	from, to int // minutes
}

func summary(ivs []query.Interval) []span {
	var out []span
	for _, iv := range ivs {
		out = append(out, span{iv.Status.String(), int(iv.From.Sub(epoch) / time.Minute), int(iv.To.Sub(epoch) / time.Minute)})
	}
	return out
}

// The stall is STALL within three polls, STOP once it lasts longer than
// the window saw the consumer progress before it (half the window: about
// 67m), OK again once the consumer catches up, and no break in the series.
func checkStall(t *testing.T, r *recorded) {
	// Poll times jitter by a few seconds, so edges may move by a minute.
	got := summary(status(t, r, "stall", at(5), at(150)))
	want := []span{{"OK", 5, 62}, {"STALL", 62, 68}, {"STOP", 68, 91}, {"OK", 91, 150}}
	if !spansNear(got, want) {
		t.Errorf("status %v, want %v (edges +-1m)", got, want)
	}
	ev, _ := r.engine.Events(t.Context(), query.Range{Selection: sel("stall"), From: epoch, To: epoch.Add(at(ticks))})
	if len(ev) != 0 {
		t.Errorf("a stall is not a series break: %+v", ev)
	}
	// While stalled the consumer rate is zero, not unknown.
	h := history(t, r, "stall", at(65), at(85), 5*time.Minute, store.LevelGroup)
	for _, row := range h.Rows {
		if row.ConsumeRate == nil || *row.ConsumeRate != 0 {
			t.Errorf("%s: consume rate %v while stalled, want 0", row.Start, deref(row.ConsumeRate))
		}
	}
}

// The rewind is one event on partition 0, REWIND until the consumer is back
// where it went back from (a few minutes, well within the window), and
// never negative or inflated throughput.
func checkRewind(t *testing.T, r *recorded) {
	ev, err := r.engine.Events(t.Context(), query.Range{Selection: sel("rewind"), From: epoch, To: epoch.Add(at(ticks))})
	if err != nil {
		t.Fatal(err)
	}
	if len(ev) != 1 || ev[0].Kind != store.EventRewind || !slices.Equal(ev[0].Partitions, []int32{0}) ||
		ev[0].ConsumerFrom-ev[0].ConsumerTo < 4000 || ev[0].To.Before(epoch.Add(at(45))) || ev[0].From.After(epoch.Add(at(45))) {
		t.Fatalf("events %+v, want one rewind of partition 0 by ~5000 around 45m", ev)
	}
	h := history(t, r, "rewind", at(30), at(70), time.Minute, store.LevelPartition)
	for _, row := range h.Rows {
		if row.ConsumeRate != nil && (*row.ConsumeRate < 0 || *row.ConsumeRate > 15.5) {
			t.Errorf("partition %d %s: consume rate %v outside the model's 0..15/s", row.Partition, row.Start, *row.ConsumeRate)
		}
	}
	got := summary(status(t, r, "rewind", at(30), at(70)))
	if len(got) != 3 || got[1].status != "REWIND" || got[1].from < 45 || got[1].from > 47 || got[1].to-got[1].from < 2 || got[1].to-got[1].from > 8 || got[2].status != "OK" {
		t.Errorf("status %v, want REWIND from ~45m until the consumer is back where it was, then OK", got)
	}
}

// The reset to latest is one event on both partitions; the skipped
// messages are never counted as consumed.
func checkReset(t *testing.T, r *recorded) {
	ev, err := r.engine.Events(t.Context(), query.Range{Selection: sel("reset"), From: epoch, To: epoch.Add(at(ticks))})
	if err != nil {
		t.Fatal(err)
	}
	if len(ev) != 1 || ev[0].Kind != store.EventResetToLatest || !slices.Equal(ev[0].Partitions, []int32{0, 1}) {
		t.Fatalf("events %+v, want one reset_to_latest of partitions 0,1", ev)
	}
	h := history(t, r, "reset", at(5), at(150), time.Minute, store.LevelGroup)
	for _, row := range h.Rows {
		if row.ConsumeRate != nil && *row.ConsumeRate > 120*1.01 {
			t.Errorf("%s: consume rate %v above the model's 120/s", row.Start, *row.ConsumeRate)
		}
	}
	// After the reset the lag is (near) zero and grows again.
	after := history(t, r, "reset", at(82), at(84), time.Minute, store.LevelGroup)
	if after.Rows[0].Lag == nil || *after.Rows[0].Lag > 2*40*240 {
		t.Errorf("lag after reset %v, want at most a few minutes' growth", deref(after.Rows[0].Lag))
	}
}

// The recreated topic is one broker_decrease event on every partition;
// produce and consume rates stay within the model's.
func checkRecreate(t *testing.T, r *recorded) {
	ev, err := r.engine.Events(t.Context(), query.Range{Selection: sel("recreate"), From: epoch, To: epoch.Add(at(ticks))})
	if err != nil {
		t.Fatal(err)
	}
	if len(ev) != 1 || ev[0].Kind != store.EventBrokerDecrease || !slices.Equal(ev[0].Partitions, []int32{0, 1, 2}) ||
		ev[0].BrokerTo >= ev[0].BrokerFrom {
		t.Fatalf("events %+v, want one broker_decrease of partitions 0,1,2", ev)
	}
	h := history(t, r, "recreate", at(5), at(150), time.Minute, store.LevelGroup)
	for _, row := range h.Rows {
		for name, v := range map[string]*float64{"consume": row.ConsumeRate, "produce": row.ProduceRate} {
			if v != nil && (*v < 0 || *v > 90*1.01) {
				t.Errorf("%s: %s rate %v outside the model's 0..90/s", row.Start, name, *v)
			}
		}
	}
}

// The 10-minute gap is one event; rates inside it are unknown, not zero,
// and its status is NODATA.
func checkGap(t *testing.T, r *recorded) {
	ev, err := r.engine.Events(t.Context(), query.Range{Selection: sel("gap"), From: epoch, To: epoch.Add(at(ticks))})
	if err != nil {
		t.Fatal(err)
	}
	if len(ev) != 1 || ev[0].Kind != store.EventGap || ev[0].To.Sub(ev[0].From) < 10*time.Minute {
		t.Fatalf("events %+v, want one gap of 10 minutes or more", ev)
	}
	h := history(t, r, "gap", at(121), at(129), time.Minute, store.LevelGroup)
	for _, row := range h.Rows {
		if row.ConsumeRate != nil || row.ProduceRate != nil || row.Lag != nil {
			t.Errorf("%s: values inside the gap: rates %v/%v lag %v", row.Start, deref(row.ConsumeRate), deref(row.ProduceRate), deref(row.Lag))
		}
	}
	// The last poll before the gap is at 120m; the status holds for three
	// poll intervals, then is NODATA until polls resume at 130m.
	got := summary(status(t, r, "gap", at(100), at(150)))
	want := []span{{"OK", 100, 123}, {"NODATA", 123, 130}, {"OK", 130, 150}}
	if !spansNear(got, want) {
		t.Errorf("status %v, want %v (edges +-1m)", got, want)
	}
}

// With LastTimestamp hidden, the estimated time lag is within one poll
// interval of the model's true value, and before the recorded history it
// is only a lower bound.
func checkHidden(t *testing.T, r *recorded) {
	h := history(t, r, "hidden", at(0), at(ticks), time.Minute, store.LevelGroup)
	var estimated, bounds int
	for _, row := range h.Rows {
		if row.TimeLag == nil {
			continue
		}
		last := lastPoll(r.polled["hidden"], row.End)
		truth := r.modelTimeLag("hidden", last)
		switch row.TimeLagKind {
		case store.TimeLagEstimated:
			estimated++
			if d := *row.TimeLag - truth; d > interval.Seconds() || d < -interval.Seconds() {
				t.Errorf("%s: estimated time lag %.1fs, model %.1fs", row.Start, *row.TimeLag, truth)
			}
		case store.TimeLagLowerBound:
			bounds++
			if *row.TimeLag > truth+1e-6 {
				t.Errorf("%s: lower bound %.1fs above the model's %.1fs", row.Start, *row.TimeLag, truth)
			}
			if last.After(epoch.Add(5 * time.Minute)) {
				t.Errorf("%s: lower bound after 5 minutes of history", row.Start)
			}
		default:
			t.Errorf("%s: time lag kind %s with hidden timestamps", row.Start, row.TimeLagKind)
		}
	}
	if estimated < len(r.polled["hidden"])*3/4 || bounds == 0 || bounds > 2 {
		t.Errorf("%d estimated, %d lower bounds; want nearly all estimated and the first bounded", estimated, bounds)
	}
}

// Bad selections get one clear error each, wrapping ErrInvalidRequest.
func checkBadSelections(t *testing.T, r *recorded) {
	ctx := t.Context()
	from, to := epoch, epoch.Add(time.Hour)
	for _, tc := range []struct {
		name string
		rng  query.Range
		want error
	}{
		{"unknown group", query.Range{Selection: sel("nope"), From: from, To: to}, query.ErrUnknownGroup},
		{"unknown topic", query.Range{Selection: query.Selection{Group: "steady", Topic: "nope"}, From: from, To: to}, query.ErrUnknownTopic},
		{"from after to", query.Range{Selection: sel("steady"), From: to, To: from}, query.ErrInvalidRequest},
		{"negative step", query.Range{Selection: sel("steady"), From: from, To: to, Step: -time.Minute}, query.ErrInvalidRequest},
		{"too many buckets", query.Range{Selection: sel("steady"), From: from, To: from.Add(1000 * time.Hour), Step: time.Second}, query.ErrInvalidRequest},
		{"negative partition", query.Range{Selection: query.Selection{Group: "steady", Partition: new(int32(-1))}, From: from, To: to}, query.ErrInvalidRequest},
	} {
		_, err := r.engine.History(ctx, tc.rng)
		if !errors.Is(err, tc.want) {
			t.Errorf("%s: error %v, want %v", tc.name, err, tc.want)
		}
	}
	// A name recorded under two instances is ambiguous until narrowed.
	for _, inst := range []string{"alikafka-a", "alikafka-b"} {
		p := &store.Poll{Group: store.GroupRef{Region: region, InstanceID: inst, Group: "dup"}, StartedAt: from, SampledAt: from, OK: true,
			Topics: []store.TopicSample{{Topic: "t", Partitions: []store.PartitionOffsets{{Partition: 0, BrokerOffset: 5, ConsumerOffset: 3, LastTimestampMs: -1}}}}}
		if err := r.store.WritePoll(ctx, p); err != nil {
			t.Fatal(err)
		}
	}
	_, err := r.engine.History(ctx, query.Range{Selection: sel("dup"), From: from, To: to})
	if !errors.Is(err, query.ErrAmbiguousGroup) || !strings.Contains(err.Error(), "alikafka-a") || !strings.Contains(err.Error(), "alikafka-b") {
		t.Errorf("ambiguous group: %v, want ErrAmbiguousGroup naming both instances", err)
	}
	h, err := r.engine.History(ctx, query.Range{Selection: query.Selection{Group: "dup", Instance: "alikafka-b"}, From: from, To: to})
	if err != nil || len(h.Groups) != 1 || h.Groups[0].InstanceID != "alikafka-b" {
		t.Errorf("narrowed by instance: %v %+v", err, h)
	}
}

func deref[T any](p *T) any {
	if p == nil {
		return nil
	}
	return *p
}
