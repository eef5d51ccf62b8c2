package query_test

import (
	"slices"
	"testing"
	"time"

	"github.com/lagtrail/lagtrail/internal/scenariotest"
	"github.com/lagtrail/lagtrail/query"
)

// TestIncidentReportCases runs the incident report on
// testdata/incident-cases.yaml: a stall of two partitions out of eight, a
// production burst above capacity, and a quiet group.
func TestIncidentReportCases(t *testing.T) {
	t.Parallel()
	end := scenariotest.Monday.Add(5 * time.Hour)
	h := scenariotest.GenerateFile(t, "testdata/incident-cases.yaml", scenariotest.Monday, 5*time.Hour)
	m := h.Model
	e, st := engineOn(t, h.URL)
	from := scenariotest.Monday.Add(90 * time.Minute)
	report := func(group string) *query.IncidentReport {
		rep, err := e.Incident(t.Context(), query.IncidentRequest{Selection: query.Selection{Group: group}, From: from, To: end})
		if err != nil {
			t.Fatal(err)
		}
		for _, rb := range rep.Rebalances {
			t.Errorf("%s: rebalance at %s (inferred %v), but none happened", group, rb.At, rb.Inferred)
		}
		return rep
	}
	iv := m.PollInterval()

	t.Run("partial stall", func(t *testing.T) {
		ref := groupRef(t, m, "ledger")
		ev := event(t, m, "stall", "ledger")
		rep := report("ledger")
		if len(rep.Incidents) != 1 {
			t.Fatalf("%d incidents, want 1", len(rep.Incidents))
		}
		inc := rep.Incidents[0]
		tr := modelTruth(t, m, st, ref, ev.From, end)
		within2(t, "start", inc.Start, ev.From, iv)
		if inc.PeakLag != tr.peakLag || !inc.Peak.Equal(tr.peak) {
			t.Errorf("peak %d at %s, model %d at %s", inc.PeakLag, inc.Peak, tr.peakLag, tr.peak)
		}
		if inc.Recovered == nil {
			t.Fatal("not recovered")
		}
		within2(t, "recovery", *inc.Recovered, tr.recovered, iv)
		want := scriptedPartitions(t, m, ref, ev)
		if got := affectedRefs(inc); !slices.Equal(got, want) {
			t.Errorf("affected %v, scripted %v", got, want)
		}
		if len(inc.Unaffected) != 6 {
			t.Errorf("unaffected %v, want the 6 others", inc.Unaffected)
		}
		if inc.Cause.Kind != query.CauseConsumptionDropped {
			t.Errorf("cause %s: %s; want %s", inc.Cause.Kind, inc.Cause.Text, query.CauseConsumptionDropped)
		}
	})

	t.Run("burst", func(t *testing.T) {
		ref := groupRef(t, m, "indexer")
		rep := report("indexer")
		if len(rep.Incidents) != 1 {
			t.Fatalf("%d incidents, want 1", len(rep.Incidents))
		}
		inc := rep.Incidents[0]
		burst := scenariotest.Monday.Add(150 * time.Minute)
		tr := modelTruth(t, m, st, ref, burst, end)
		within2(t, "start", inc.Start, burst, iv)
		if inc.PeakLag != tr.peakLag || !inc.Peak.Equal(tr.peak) {
			t.Errorf("peak %d at %s, model %d at %s", inc.PeakLag, inc.Peak, tr.peakLag, tr.peak)
		}
		if inc.Recovered == nil {
			t.Fatal("not recovered")
		}
		within2(t, "recovery", *inc.Recovered, tr.recovered, iv)
		if len(inc.Affected) != 4 || len(inc.Unaffected) != 0 {
			t.Errorf("affected %v, unaffected %v; want all 4 partitions affected", affectedRefs(inc), inc.Unaffected)
		}
		if inc.Cause.Kind != query.CauseProductionRose {
			t.Errorf("cause %s: %s; want %s", inc.Cause.Kind, inc.Cause.Text, query.CauseProductionRose)
		}
		t.Logf("burst: start %s, peak %d at %s, recovered %s (model %s); %s", inc.Start.Format(time.TimeOnly), inc.PeakLag,
			inc.Peak.Format(time.TimeOnly), inc.Recovered.Format(time.TimeOnly), tr.recovered.Format(time.TimeOnly), inc.Cause.Text)
	})

	t.Run("quiet group", func(t *testing.T) {
		if rep := report("mailer"); len(rep.Incidents) != 0 {
			t.Errorf("%d incidents on a quiet group: %+v", len(rep.Incidents), rep.Incidents[0])
		}
	})
}
