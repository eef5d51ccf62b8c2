package query_test

import (
	"errors"
	"math"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/lagtrail/lagtrail/internal/scenario"
	"github.com/lagtrail/lagtrail/internal/scenariotest"
	"github.com/lagtrail/lagtrail/query"
	"github.com/lagtrail/lagtrail/store"
)

const capWeek = 7 * 24 * time.Hour

func TestCapacityConfidence(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		hours, days int
		want        query.Confidence
	}{
		{0, 0, query.ConfidenceNone},
		{1, 1, query.ConfidenceLow},
		{30, 1, query.ConfidenceLow}, // one day, however long
		{3, 3, query.ConfidenceLow},  // too few hours
		{4, 2, query.ConfidenceMedium},
		{11, 5, query.ConfidenceMedium},
		{12, 2, query.ConfidenceMedium},
		{12, 3, query.ConfidenceHigh},
		{200, 9, query.ConfidenceHigh},
	} {
		if got := query.CapacityConfidence(c.hours, c.days); got != c.want {
			t.Errorf("CapacityConfidence(%d hours, %d days) = %s, want %s", c.hours, c.days, got, c.want)
		}
	}
}

func TestHeadroomVerdict(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		headroom float64
		conf     query.Confidence
		want     query.Verdict
	}{
		{0.85, query.ConfidenceHigh, query.VerdictInsufficient},
		{0.999, query.ConfidenceLow, query.VerdictInsufficient},
		{1, query.ConfidenceMedium, query.VerdictTight},
		{1.19, query.ConfidenceHigh, query.VerdictTight},
		{1.2, query.ConfidenceHigh, query.VerdictOK},
		{3, query.ConfidenceLow, query.VerdictOK},
		// Without an observed capacity the headroom is a lower bound:
		// never insufficient, whatever it is.
		{0.5, query.ConfidenceNone, query.VerdictUnknown},
		{2, query.ConfidenceNone, query.VerdictUnknown},
		{math.NaN(), query.ConfidenceHigh, query.VerdictUnknown},
		{0, query.ConfidenceHigh, query.VerdictUnknown},
		{math.Inf(1), query.ConfidenceHigh, query.VerdictUnknown},
	} {
		if got := query.HeadroomVerdict(c.headroom, c.conf); got != c.want {
			t.Errorf("HeadroomVerdict(%v, %s) = %s, want %s", c.headroom, c.conf, got, c.want)
		}
	}
}

func TestProjectPeak(t *testing.T) {
	t.Parallel()
	at := time.Date(2025, 1, 27, 14, 0, 0, 0, time.UTC)
	for _, c := range []struct {
		name                   string
		peak, capacity, growth float64
		want                   query.Projection
	}{
		{"already above", 1100, 950, 0.02, query.Projection{Status: query.ProjectionAlready}},
		{"at capacity", 950, 950, 0.02, query.Projection{Status: query.ProjectionAlready}},
		{"already, shrinking", 1100, 950, -0.05, query.Projection{Status: query.ProjectionAlready}},
		{"flat", 600, 950, 0, query.Projection{Status: query.ProjectionNotOnTrend}},
		{"shrinking", 600, 950, -0.01, query.Projection{Status: query.ProjectionNotOnTrend}},
		// 612 x (1 + 0.0764 k) > 720 first at k = 3 (2.31 weeks).
		{"grows into it", 612, 720, 0.0764, query.Projection{Status: query.ProjectionDate, At: at.Add(3 * capWeek), Weeks: 3}},
		// 2.2 weeks to reach it: the third weekly peak exceeds it.
		{"between peaks", 500, 610, 0.1, query.Projection{Status: query.ProjectionDate, At: at.Add(3 * capWeek), Weeks: 3}},
		{"next week", 940, 950, 0.05, query.Projection{Status: query.ProjectionDate, At: at.Add(capWeek), Weeks: 1}},
		{"too slow", 100, 950, 0.001, query.Projection{Status: query.ProjectionBeyond}},
		{"unknown capacity", 600, math.NaN(), 0.02, query.Projection{Status: query.ProjectionUnknown}},
		{"no peak", math.NaN(), 950, 0.02, query.Projection{Status: query.ProjectionUnknown}},
		{"no growth fit", 600, 950, math.NaN(), query.Projection{Status: query.ProjectionUnknown}},
	} {
		t.Run(c.name, func(t *testing.T) {
			if got := query.ProjectPeak(c.peak, at, c.capacity, c.growth); got != c.want {
				t.Errorf("ProjectPeak(%v, cap %v, growth %v) = %+v, want %+v", c.peak, c.capacity, c.growth, got, c.want)
			}
		})
	}
}

func TestDrainAfterBurst(t *testing.T) {
	t.Parallel()
	worstAt := time.Date(2025, 1, 6, 13, 0, 0, 0, time.UTC)
	drained := worstAt.Add(4*time.Hour + 30*time.Minute)
	for _, c := range []struct {
		name       string
		worst      float64
		drainedAt  *time.Time
		rate, p50  float64
		wantStatus query.DrainStatus
		wantSecs   float64
	}{
		{"drained in the replay", 1e6, &drained, 950, 600, query.DrainReplayed, 4.5 * 3600},
		{"not drained: estimate", 1e6, nil, 950, 700, query.DrainEstimated, 4000},
		{"not drained and never will", 1e6, nil, 950, 950, query.DrainNever, 0},
		{"no backlog", 0, nil, 950, 600, query.DrainNone, 0},
		{"no rate", 1e6, nil, 0, 600, query.DrainUnknown, 0},
	} {
		t.Run(c.name, func(t *testing.T) {
			d := query.DrainAfterBurst(c.worst, worstAt, c.drainedAt, c.rate, c.p50)
			if d.Status != c.wantStatus || math.Abs(d.Seconds-c.wantSecs) > 1e-9 {
				t.Errorf("got %s after %v s, want %s after %v s", d.Status, d.Seconds, c.wantStatus, c.wantSecs)
			}
		})
	}
}

func TestCapacityRequestValidate(t *testing.T) {
	t.Parallel()
	at := scenariotest.Monday.Add(30 * 24 * time.Hour)
	part := int32(0)
	for _, c := range []struct {
		name string
		req  query.CapacityRequest
		want string // "" for valid
	}{
		{"30 days", query.CapacityRequest{At: at, Window: query.DefaultCapacityWindow}, ""},
		{"one day", query.CapacityRequest{At: at, Window: 24 * time.Hour}, ""},
		{"zero", query.CapacityRequest{At: at}, "--window must be positive, got 0s"},
		{"negative", query.CapacityRequest{At: at, Window: -time.Hour}, "--window must be positive"},
		{"an hour", query.CapacityRequest{At: at, Window: time.Hour}, "--window 1h0m0s is too short: a capacity report needs at least 24h0m0s"},
		{"not whole hours", query.CapacityRequest{At: at, Window: 36*time.Hour + 30*time.Minute}, "whole hours"},
		{"too long", query.CapacityRequest{At: at, Window: 400 * 24 * time.Hour}, "too long"},
		{"no end", query.CapacityRequest{Window: query.DefaultCapacityWindow}, "--at"},
		{"a partition", query.CapacityRequest{At: at, Window: query.DefaultCapacityWindow, Selection: query.Selection{Partition: &part}}, "whole groups"},
	} {
		t.Run(c.name, func(t *testing.T) {
			err := c.req.Validate()
			switch {
			case c.want == "" && err != nil:
				t.Errorf("got %v, want valid", err)
			case c.want != "" && (err == nil || !errors.Is(err, query.ErrInvalidRequest) || !strings.Contains(err.Error(), c.want)):
				t.Errorf("got %v, want ErrInvalidRequest saying %q", err, c.want)
			}
		})
	}
	from, to := query.CapacityRequest{At: at.Add(25 * time.Minute), Window: 48 * time.Hour}.Bounds()
	if !to.Equal(at) || !from.Equal(at.Add(-48*time.Hour)) {
		t.Errorf("Bounds = [%v, %v), want the hours before %v", from, to, at)
	}
}

func TestCapacityOf(t *testing.T) {
	t.Parallel()
	f := func(v float64) *float64 { return &v }
	tm := func(t time.Time) *time.Time { return &t }
	peakAt := scenariotest.Monday.Add(21*24*time.Hour + 14*time.Hour)
	base := store.CapacityProfile{
		Group: store.GroupRef{Group: "g"}, Hours: 672,
		ProduceMean: f(400), ProduceP50: f(380), ProduceP95: f(560), ProduceP99: f(620), ProduceMax: f(1300),
		SeasonHours: 168, FitHours: 672, FitMean: f(400), FitAt: tm(scenariotest.Monday.Add(14 * 24 * time.Hour)),
		GrowthPerWeek: f(20), ConsumeMax: f(720),
		WeeklyPeak: f(620), WeeklyPeakAt: tm(peakAt),
		ReplayRate: f(720), WorstBacklog: f(6e6), WorstBacklogAt: tm(scenariotest.Monday.Add(15*24*time.Hour + 6*time.Hour)),
		DrainedAt: tm(scenariotest.Monday.Add(15*24*time.Hour + 9*time.Hour + 48*time.Minute)),
	}
	observed := base
	observed.BackloggedHours, observed.BackloggedDays, observed.Capacity = 6, 2, f(720)
	unknown := base
	unknown.ReplayRate, unknown.DrainedAt = f(720), nil
	empty := store.CapacityProfile{Group: store.GroupRef{Group: "e"}}
	short := observed
	short.FitHours = query.MinGrowthHours - 1
	for _, c := range []struct {
		name        string
		p           store.CapacityProfile
		verdict     query.Verdict
		conf        query.Confidence
		headroom    float64
		lowerBound  bool
		projection  query.ProjectionStatus
		drain       query.DrainStatus
		summaryHint string
	}{
		{"observed, tight", observed, query.VerdictTight, query.ConfidenceMedium, 720.0 / 620, false, query.ProjectionDate, query.DrainReplayed, "keeps up with little room"},
		{"never backlogged", unknown, query.VerdictUnknown, query.ConfidenceNone, 720.0 / 620, true, query.ProjectionUnknown, query.DrainEstimated, "never seen working off a backlog"},
		{"no rollups", empty, query.VerdictUnknown, query.ConfidenceNone, math.NaN(), true, query.ProjectionUnknown, query.DrainUnknown, "no hourly rollups"},
		{"under 2 weeks: no growth", short, query.VerdictTight, query.ConfidenceMedium, 720.0 / 620, false, query.ProjectionNoHistory, query.DrainReplayed, "needs 2 weeks of history"},
	} {
		t.Run(c.name, func(t *testing.T) {
			g := query.CapacityOf(c.p)
			if g.Verdict != c.verdict || g.Confidence != c.conf || g.HeadroomIsLowerBound != c.lowerBound ||
				!(math.IsNaN(c.headroom) && math.IsNaN(g.Headroom) || math.Abs(g.Headroom-c.headroom) < 1e-9) {
				t.Errorf("verdict %s, confidence %s, headroom %v (lower bound %v); want %s, %s, %v (%v)",
					g.Verdict, g.Confidence, g.Headroom, g.HeadroomIsLowerBound, c.verdict, c.conf, c.headroom, c.lowerBound)
			}
			if g.Projection.Status != c.projection || g.Drain.Status != c.drain {
				t.Errorf("projection %s, drain %s; want %s, %s", g.Projection.Status, g.Drain.Status, c.projection, c.drain)
			}
			if !strings.Contains(g.Summary, c.summaryHint) || strings.Count(g.Summary, ". ") > 0 {
				t.Errorf("summary %q: want one sentence saying %q", g.Summary, c.summaryHint)
			}
		})
	}
	// The trend's level at the peak: 400 + 20 x 1 week (the peak is a week
	// and 14 hours after the fit's centre) = ~421.7/s; 20/s per week is
	// 4.74%/week of it, against 5% of the mean.
	g := query.CapacityOf(observed)
	level := 400 + 20*(7*24+14)/float64(7*24)
	if math.Abs(g.GrowthPercent-5) > 1e-9 || math.Abs(g.PeakGrowthPercent-100*20/level) > 1e-9 {
		t.Errorf("growth %v%%/week, at the peak %v%%; want 5 and %v", g.GrowthPercent, g.PeakGrowthPercent, 100*20/level)
	}
	if want := query.ProjectPeak(620, peakAt, 720, 20/level); g.Projection != want {
		t.Errorf("projection %+v, want %+v", g.Projection, want)
	}
	// Under 2 weeks of fitted hours the growth is not a number but "not
	// enough history", whatever the fit's slope.
	sh := query.CapacityOf(short)
	if !math.IsNaN(sh.GrowthPerWeek) || !math.IsNaN(sh.GrowthPercent) || !math.IsNaN(sh.PeakGrowthPercent) ||
		!strings.HasPrefix(sh.GrowthNote, query.NotEnoughHistory) {
		t.Errorf("short history: growth %v/s, %v%%, %v%% at the peak, note %q; want NaN and %q",
			sh.GrowthPerWeek, sh.GrowthPercent, sh.PeakGrowthPercent, sh.GrowthNote, query.NotEnoughHistory)
	}
	if g.GrowthNote != "" {
		t.Errorf("4 weeks of history: note %q, want none", g.GrowthNote)
	}
	u := query.CapacityOf(unknown)
	if !u.Drain.RateIsLowerBound || math.Abs(u.Drain.Seconds-6e6/(720-380)) > 1e-6 {
		t.Errorf("unknown capacity: drain %+v, want an estimate against the lower bound", u.Drain)
	}
}

// nearestRank is the q quantile of vs by the nearest-rank method,
// computed here independently of the store.
func nearestRank(vs []float64, q float64) float64 {
	s := slices.Sorted(slices.Values(vs))
	i := int(math.Ceil(q*float64(len(s)))) - 1
	return s[max(0, min(i, len(s)-1))]
}

// weeklyTrend fits a line to the model's mean production of the weeks
// from from, and returns its slope (messages/s per week) and the mean.
func weeklyTrend(t *testing.T, m *scenario.Model, g store.GroupRef, from time.Time, weeks int) (slope, mean float64) {
	t.Helper()
	var sx, sy, sxx, sxy float64
	for k := range weeks {
		p, _, ok := m.Rates(g, from.Add(time.Duration(k)*capWeek), from.Add(time.Duration(k+1)*capWeek))
		if !ok {
			t.Fatalf("model has no rates for %v", g)
		}
		x := float64(k)
		sx, sy, sxx, sxy = sx+x, sy+p, sxx+x*x, sxy+x*p
	}
	n := float64(weeks)
	return (n*sxy - sx*sy) / (n*sxx - sx*sx), sy / n
}

func groupByName(t *testing.T, rep *query.CapacityReport, name string) query.GroupCapacity {
	t.Helper()
	for _, g := range rep.Groups {
		if g.Group.Group == name {
			return g
		}
	}
	t.Fatalf("no group %s in the report", name)
	return query.GroupCapacity{}
}

// TestCapacityReportScenario checks the report against the bundled
// capacity scenario's model: search-indexer (capacity 950/s) cannot keep
// up with its Monday peak, notifier (800/s) is never backlogged.
func TestCapacityReportScenario(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	// The report reads hourly and daily figures: 5-minute polls give
	// them a fifth of the rows the scenario's 1-minute polls would.
	h := scenariotest.GeneratePart(t, "capacity", scenariotest.Monday, scenariotest.Part{
		From: scenariotest.Monday, To: scenariotest.Monday.Add(30 * 24 * time.Hour), Every: 5 * time.Minute})
	e, _ := engineOn(t, h.URL)
	rep, err := e.CapacityReport(ctx, query.CapacityRequest{At: h.To, Window: 30 * 24 * time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	if len(rep.Groups) != 2 || !rep.From.Equal(h.From) || !rep.To.Equal(h.To) {
		t.Fatalf("got %d groups over [%v, %v), want 2 over the history", len(rep.Groups), rep.From, rep.To)
	}
	si, nt := groupByName(t, rep, "search-indexer"), groupByName(t, rep, "notifier")
	for _, g := range rep.Groups {
		t.Logf("%s", g.Summary)
		t.Logf("  p50/95/99/max %.1f/%.1f/%.1f/%.1f, growth %.2f/s/week (%.2f%%, %.2f%% at the peak), capacity %.1f (%d h on %d days, %s), consume max %.1f, headroom %.3f, peak %.1f at %v, projection %+v, drain %+v, peak lag %v at %v",
			g.ProduceP50, g.ProduceP95, g.ProduceP99, g.ProduceMax, g.GrowthPerWeek, g.GrowthPercent, g.PeakGrowthPercent,
			g.Capacity, g.BackloggedHours, g.BackloggedDays, g.Confidence, g.ConsumeMax, g.Headroom,
			g.WeeklyPeak, g.WeeklyPeakAt, g.Projection, g.Drain, deref(g.PeakLag), g.PeakLagAt)
	}

	// search-indexer: capacity observed within 5% of 950/s, with some
	// confidence; cannot keep up with the weekly peak, already.
	if si.Confidence == query.ConfidenceNone || math.Abs(si.Capacity-950)/950 > 0.05 {
		t.Errorf("search-indexer: capacity %.1f (%s confidence), want within 5%% of 950 and a confidence", si.Capacity, si.Confidence)
	}
	if si.Verdict != query.VerdictInsufficient || si.Projection.Status != query.ProjectionAlready || !strings.Contains(si.Summary, "cannot keep up") {
		t.Errorf("search-indexer: verdict %s, projection %s (%q); want insufficient, already", si.Verdict, si.Projection.Status, si.Summary)
	}
	if si.Drain.Status != query.DrainReplayed || !(si.Drain.Worst > 0) || si.PeakLag == nil || *si.PeakLag <= 0 {
		t.Errorf("search-indexer: drain %+v, peak lag %v; want a backlog that drains, and a lag", si.Drain, deref(si.PeakLag))
	}

	// Growth: the fixed-effects fit over the last 4 whole weeks against
	// the model's weekly mean production over the same weeks. Tolerance:
	// 3% of the slope, 0.1 point of the percentage.
	if si.Season != "hour of week" || si.FitHours != 4*7*24 {
		t.Errorf("search-indexer: fit %d hours by %s, want 672 by hour of week", si.FitHours, si.Season)
	}
	slope, mean := weeklyTrend(t, h.Model, si.Group, si.FitFrom, 4)
	t.Logf("model: %.3f/s per week over a mean of %.2f/s (%.3f%%/week); fit: %.3f (%.3f%%)", slope, mean, 100*slope/mean, si.GrowthPerWeek, si.GrowthPercent)
	if math.Abs(si.GrowthPerWeek-slope)/slope > 0.03 || math.Abs(si.GrowthPercent-100*slope/mean) > 0.1 {
		t.Errorf("search-indexer: growth %.3f/s per week (%.3f%%), model %.3f (%.3f%%)", si.GrowthPerWeek, si.GrowthPercent, slope, 100*slope/mean)
	}
	// notifier's topic does not grow.
	if slope, _ := weeklyTrend(t, h.Model, nt.Group, nt.FitFrom, 4); math.Abs(nt.GrowthPerWeek-slope) > 1 {
		t.Errorf("notifier: growth %.3f/s per week, model %.3f", nt.GrowthPerWeek, slope)
	}

	// notifier: never backlogged, so its capacity is unknown and only
	// bounded below: no verdict, and never "insufficient".
	if nt.Confidence != query.ConfidenceNone || !math.IsNaN(nt.Capacity) || !nt.HeadroomIsLowerBound || !(nt.ConsumeMax > 0) {
		t.Errorf("notifier: capacity %v (%s), lower bound %v (%v), want unknown with a lower bound", nt.Capacity, nt.Confidence, nt.ConsumeMax, nt.HeadroomIsLowerBound)
	}
	if nt.Verdict != query.VerdictUnknown || nt.Projection.Status != query.ProjectionUnknown || !strings.Contains(nt.Summary, "lower bound") {
		t.Errorf("notifier: verdict %s, projection %s (%q); want unknown", nt.Verdict, nt.Projection.Status, nt.Summary)
	}

	// Percentiles: the same figures computed here from the hourly rows.
	pool, err := pgxpool.New(ctx, h.URL)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(pool.Close)
	for _, g := range rep.Groups {
		rows, err := pool.Query(ctx, `
SELECT produce_rate FROM lagtrail.group_rates_hourly
WHERE consumer_group = $1 AND bucket >= $2 AND bucket < $3 AND produce_rate IS NOT NULL`, g.Group.Group, rep.From, rep.To)
		if err != nil {
			t.Fatal(err)
		}
		vs, err := pgx.CollectRows(rows, pgx.RowTo[float64])
		if err != nil {
			t.Fatal(err)
		}
		if g.Hours != len(vs) || len(vs) < 700 {
			t.Errorf("%s: %d hours, %d rows", g.Group.Group, g.Hours, len(vs))
		}
		var sum float64
		for _, v := range vs {
			sum += v
		}
		for _, c := range []struct {
			name      string
			got, want float64
		}{
			{"p50", g.ProduceP50, nearestRank(vs, 0.50)}, {"p95", g.ProduceP95, nearestRank(vs, 0.95)},
			{"p99", g.ProduceP99, nearestRank(vs, 0.99)}, {"max", g.ProduceMax, slices.Max(vs)},
		} {
			if c.got != c.want {
				t.Errorf("%s: %s %v, computed from the rows %v", g.Group.Group, c.name, c.got, c.want)
			}
		}
		if math.Abs(g.ProduceMean-sum/float64(len(vs))) > 1e-9*g.ProduceMean {
			t.Errorf("%s: mean %v, computed %v", g.Group.Group, g.ProduceMean, sum/float64(len(vs)))
		}
	}

	// One group, with detail.
	one, err := e.CapacityReport(ctx, query.CapacityRequest{Selection: query.Selection{Group: "notifier"}, At: h.To, Window: 30 * 24 * time.Hour, Detail: true})
	if err != nil {
		t.Fatal(err)
	}
	if len(one.Groups) != 1 || len(one.Groups[0].Week) != 168 || len(one.Groups[0].Hourly) != 720 {
		t.Fatalf("notifier with detail: %d groups, want 1 with 168 cells and 720 hours", len(one.Groups))
	}
	if _, err := e.CapacityReport(ctx, query.CapacityRequest{Selection: query.Selection{Group: "nope"}, At: h.To, Window: 30 * 24 * time.Hour}); !errors.Is(err, query.ErrUnknownGroup) {
		t.Errorf("unknown group: got %v, want ErrUnknownGroup", err)
	}
}

// TestCapacityReportProjection checks the projection on a group that
// grows into its capacity (testdata/capacity-growth.yaml) against the
// model's first hour above capacity after the window.
func TestCapacityReportProjection(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	to := scenariotest.Monday.Add(4 * capWeek)
	h := scenariotest.GenerateFile(t, "testdata/capacity-growth.yaml", scenariotest.Monday, 4*capWeek)
	m := h.Model
	e, _ := engineOn(t, h.URL)
	rep, err := e.CapacityReport(ctx, query.CapacityRequest{At: to, Window: 4 * capWeek})
	if err != nil {
		t.Fatal(err)
	}
	g := groupByName(t, rep, "order-sink")
	t.Logf("%s", g.Summary)
	t.Logf("p99 %.1f, capacity %.1f (%d h on %d days, %s), headroom %.3f, peak %.1f at %v, growth %.2f/s/week (%.2f%%, %.2f%% at the peak), projection %+v, drain %+v",
		g.ProduceP99, g.Capacity, g.BackloggedHours, g.BackloggedDays, g.Confidence, g.Headroom, g.WeeklyPeak, g.WeeklyPeakAt,
		g.GrowthPerWeek, g.GrowthPercent, g.PeakGrowthPercent, g.Projection, g.Drain)
	if g.Confidence == query.ConfidenceNone || math.Abs(g.Capacity-720)/720 > 0.05 {
		t.Fatalf("capacity %.1f (%s), want within 5%% of 720 and a confidence", g.Capacity, g.Confidence)
	}
	if g.Verdict == query.VerdictInsufficient || g.Verdict == query.VerdictUnknown || g.Projection.Status != query.ProjectionDate {
		t.Fatalf("verdict %s, projection %s; want it to keep up now and a date", g.Verdict, g.Projection.Status)
	}
	// The truth: the model's first hour after the window whose production
	// exceeds the capacity.
	var truth time.Time
	for at := to; at.Before(to.Add(20 * capWeek)); at = at.Add(time.Hour) {
		if p, _, _ := m.Rates(g.Group, at, at.Add(time.Hour)); p > 720 {
			truth = at
			break
		}
	}
	if truth.IsZero() {
		t.Fatal("the model never exceeds the capacity in 20 weeks")
	}
	t.Logf("projected %v, model %v", g.Projection.At, truth)
	if d := g.Projection.At.Sub(truth); d < -capWeek || d > capWeek {
		t.Errorf("projected %v, %s from the model's %v: want within a week", g.Projection.At, d, truth)
	}
}
