package query_test

import (
	"slices"
	"testing"
	"time"

	"github.com/lagtrail/lagtrail/internal/scenario"
	"github.com/lagtrail/lagtrail/internal/scenariotest"
	"github.com/lagtrail/lagtrail/query"
	"github.com/lagtrail/lagtrail/store"
)

const week = 7 * 24 * time.Hour

// openScenario returns an engine and store on the bundled scenario's
// generated week.
func openScenario(t *testing.T, name string) (*query.Engine, *store.Store, scenariotest.History) {
	t.Helper()
	h := scenariotest.Generate(t, name, scenariotest.Monday, week)
	e, st := engineOn(t, h.URL)
	return e, st, h
}

// modelLag is the group's true total lag at t, each partition floored at 0
// as the store floors it.
func modelLag(t *testing.T, m *scenario.Model, ref store.GroupRef, at time.Time) int64 {
	t.Helper()
	gp, ok := m.Progress(ref, at)
	if !ok {
		t.Fatalf("model has no group %v", ref)
	}
	var sum int64
	for _, tp := range gp.Topics {
		for _, p := range tp.Partitions {
			sum += max(p.Broker-p.Consumer, 0)
		}
	}
	return sum
}

// scriptedPartitions returns the partitions an incident of the model
// befell: those it names, or every partition of the group.
func scriptedPartitions(t *testing.T, m *scenario.Model, ref store.GroupRef, ev scenario.Event) []query.PartitionRef {
	t.Helper()
	gp, _ := m.Progress(ref, ev.From)
	var out []query.PartitionRef
	for _, tp := range gp.Topics {
		for _, p := range tp.Partitions {
			if ev.Topic != "" && ev.Topic != tp.Name || len(ev.Partitions) > 0 && !slices.Contains(ev.Partitions, p.Partition) {
				continue
			}
			out = append(out, query.PartitionRef{Topic: tp.Name, Partition: int32(p.Partition)})
		}
	}
	slices.SortFunc(out, comparePartitions)
	return out
}

func groupRef(t *testing.T, m *scenario.Model, name string) store.GroupRef {
	t.Helper()
	for _, g := range m.Groups() {
		if g.Group == name {
			return g
		}
	}
	t.Fatalf("scenario has no group %s", name)
	return store.GroupRef{}
}

func event(t *testing.T, m *scenario.Model, kind, group string) scenario.Event {
	t.Helper()
	for _, ev := range m.Events() {
		if ev.Kind == kind && ev.Group.Group == group {
			return ev
		}
	}
	t.Fatalf("scenario has no %s of %s", kind, group)
	return scenario.Event{}
}

// okPolls returns the times of the group's successful polls in [from, to).
func okPolls(t *testing.T, st *store.Store, ref store.GroupRef, from, to time.Time) []time.Time {
	t.Helper()
	ps, err := st.ReadPolls(t.Context(), store.Range{Region: ref.Region, InstanceID: ref.InstanceID, Group: ref.Group, From: from, To: to})
	if err != nil {
		t.Fatal(err)
	}
	var out []time.Time
	for _, p := range ps {
		if p.OK {
			out = append(out, p.SampledAt)
		}
	}
	return out
}

// truth is what the model says of an incident, at the polls that were
// taken.
type truth struct {
	start     time.Time
	peak      time.Time
	peakLag   int64
	recovered time.Time
}

// modelTruth reads the model at every poll in [start, to): the peak of the
// group's lag at a poll, and the first moment after the peak (in steps of
// 10s) at which the model's lag is back within twice what it was a minute
// before the start: the backlog is gone, only messages in flight remain.
func modelTruth(t *testing.T, m *scenario.Model, st *store.Store, ref store.GroupRef, start, to time.Time) truth {
	t.Helper()
	tr := truth{start: start}
	polls := okPolls(t, st, ref, start, to)
	normal := modelLag(t, m, ref, start.Add(-time.Minute))
	for _, at := range polls {
		if l := modelLag(t, m, ref, at); l > tr.peakLag {
			tr.peak, tr.peakLag = at, l
		}
	}
	for at := tr.peak.Truncate(time.Minute); at.Before(to); at = at.Add(10 * time.Second) {
		if l := modelLag(t, m, ref, at); l <= max(2*normal, 1) {
			tr.recovered = at
			break
		}
	}
	if tr.recovered.IsZero() {
		t.Fatalf("model: %s does not recover by %s", ref.Group, to)
	}
	return tr
}

func comparePartitions(a, b query.PartitionRef) int {
	if a.Topic != b.Topic {
		if a.Topic < b.Topic {
			return -1
		}
		return 1
	}
	return int(a.Partition - b.Partition)
}

func affectedRefs(inc query.Incident) []query.PartitionRef {
	out := make([]query.PartitionRef, len(inc.Affected))
	for i, a := range inc.Affected {
		out[i] = a.PartitionRef
	}
	slices.SortFunc(out, comparePartitions)
	return out
}

func within2(t *testing.T, what string, got, want time.Time, interval time.Duration) {
	t.Helper()
	if d := got.Sub(want); d > 2*interval || d < -2*interval {
		t.Errorf("%s at %s, model %s: %s apart, more than 2 poll intervals (%s)", what, got.Format(time.TimeOnly), want.Format(time.TimeOnly), d, 2*interval)
	}
}

// TestIncidentReportFindsScriptedIncidents checks the incident report
// against the incident scenario's stall and rewind.
func TestIncidentReportFindsScriptedIncidents(t *testing.T) {
	t.Parallel()
	e, st, h := openScenario(t, "incident")
	m := h.Model
	for _, tc := range []struct {
		group, kind string
		cause       []string
		timeline    []string
	}{
		{"payments-ledger", "stall", []string{query.CauseConsumptionDropped},
			[]string{query.TimelineRebalance, query.TimelineStatus, query.TimelinePeakLag, query.TimelinePeakTimeLag, query.TimelineRecovered}},
		{"warehouse-loader", "rewind", []string{query.CauseRewind},
			[]string{query.TimelineBreak, query.TimelinePeakLag, query.TimelineRecovered}},
	} {
		t.Run(tc.group, func(t *testing.T) {
			t.Parallel()
			ref := groupRef(t, m, tc.group)
			ev := event(t, m, tc.kind, tc.group)
			from, to := ev.From.Add(-70*time.Minute), ev.From.Add(3*time.Hour)
			rep, err := e.Incident(t.Context(), query.IncidentRequest{Selection: query.Selection{Group: tc.group}, From: from, To: to})
			if err != nil {
				t.Fatal(err)
			}
			if len(rep.Incidents) != 1 {
				t.Fatalf("%d incidents, want 1: %+v", len(rep.Incidents), rep.Incidents)
			}
			inc := rep.Incidents[0]
			tr := modelTruth(t, m, st, ref, ev.From, to)
			iv := m.PollInterval()
			within2(t, "start", inc.Start, tr.start, iv)
			if inc.PeakLag != tr.peakLag || !inc.Peak.Equal(tr.peak) {
				t.Errorf("peak %d at %s, model %d at %s", inc.PeakLag, inc.Peak, tr.peakLag, tr.peak)
			}
			if inc.Recovered == nil {
				t.Fatalf("not recovered; model recovers at %s", tr.recovered)
			}
			within2(t, "recovery", *inc.Recovered, tr.recovered, iv)
			if got, want := affectedRefs(inc), scriptedPartitions(t, m, ref, ev); !slices.Equal(got, want) {
				t.Errorf("affected %v, scripted %v", got, want)
			}
			if len(inc.Unaffected) != 0 {
				t.Errorf("unaffected %v, want none: the incident hit the whole group", inc.Unaffected)
			}
			if !slices.Contains(tc.cause, inc.Cause.Kind) {
				t.Errorf("cause %s (%s), want one of %v", inc.Cause.Kind, inc.Cause.Text, tc.cause)
			}
			kinds := map[string]bool{}
			for _, en := range inc.Timeline {
				kinds[en.Kind] = true
			}
			for _, k := range tc.timeline {
				if !kinds[k] {
					t.Errorf("timeline has no %s entry: %+v", k, inc.Timeline)
				}
			}
			t.Logf("%s: start %s (model %s), peak %d at %s, recovered %s (model %s), cause %s",
				tc.group, inc.Start.Format(time.TimeOnly), tr.start.Format(time.TimeOnly), inc.PeakLag,
				inc.Peak.Format(time.TimeOnly), inc.Recovered.Format(time.TimeOnly), tr.recovered.Format(time.TimeOnly), inc.Cause.Text)
		})
	}
}

// TestIncidentReportQuiet checks that nothing is reported where nothing
// happened: every group of the quiet scenario from Wednesday noon to the
// end of its week, and the groups of the incident scenario that no
// incident touched, over the hours of its incidents (the rewind of
// warehouse-loader on Thursday at 10:00 and the stall of payments-ledger
// on Saturday at 02:10, from four hours before each to six after). The
// quiet week's Monday to Thursday repeat one another (the same daily
// cycle, weekly factor 1), so from Wednesday noon the reports still cross
// every change the week has: a full weekday night and peak, orders' busier
// Friday and the drops into Saturday and Sunday. A report reads every
// poll: the whole quiet week and the three incident days cost the test
// run minutes of CPU and proved nothing more.
func TestIncidentReportQuiet(t *testing.T) {
	t.Parallel()
	day := 24 * time.Hour
	untouched := []string{"order-fulfilment", "fraud-scoring", "clickstream-etl", "inventory-sync", "audit-archiver"}
	cases := []struct {
		scenario, name string
		groups         []string
		from, to       time.Duration
	}{
		{"quiet", "week", []string{"order-fulfilment", "payments-ledger", "fraud-scoring", "clickstream-etl"}, 2*day + 12*time.Hour, week},
		{"incident", "rewind", untouched, 3*day + 6*time.Hour, 3*day + 16*time.Hour},
		{"incident", "stall", untouched, 5*day + 2*time.Hour + 10*time.Minute - 4*time.Hour, 5*day + 2*time.Hour + 10*time.Minute + 6*time.Hour},
	}
	for _, c := range cases {
		for _, g := range c.groups {
			t.Run(c.scenario+"/"+c.name+"/"+g, func(t *testing.T) {
				t.Parallel()
				e, _, _ := openScenario(t, c.scenario)
				rep, err := e.Incident(t.Context(), query.IncidentRequest{
					Selection: query.Selection{Group: g}, From: scenariotest.Monday.Add(c.from), To: scenariotest.Monday.Add(c.to)})
				if err != nil {
					t.Fatal(err)
				}
				if len(rep.Series) < int((c.to-c.from)/time.Minute)*9/10 {
					t.Fatalf("%d polls read, want about one a minute", len(rep.Series))
				}
				for _, inc := range rep.Incidents {
					t.Errorf("false incident from %s, peak %d at %s (normal p95 %.0f): %s",
						inc.Start, inc.PeakLag, inc.Peak, rep.Normal.LagP95, inc.Cause.Text)
				}
			})
		}
	}
}
