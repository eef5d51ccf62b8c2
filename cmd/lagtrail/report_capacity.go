package main

import (
	"bytes"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/lagtrail/lagtrail/internal/chart"
	"github.com/lagtrail/lagtrail/internal/strictyaml"
	"github.com/lagtrail/lagtrail/query"
	"github.com/lagtrail/lagtrail/store"
)

// capacityFlags are report capacity's own flags beside the shared ones.
type capacityFlags struct {
	window string
	out    string
}

func newReportCapacityCmd(g *globals) *cobra.Command {
	f := &queryFlags{}
	cf := &capacityFlags{}
	cmd := &cobra.Command{
		Use:   "capacity",
		Short: "Can a group absorb its peaks? Production profile, observed capacity, headroom, projection",
		Long: `capacity reads the hourly rollups over --window ending at --at (truncated to
the hour) and answers, per group (--group, or every recorded group):

  production   p50, p95, p99 and max of the hourly production rate, its
               mean per UTC hour of day and weekday, and its growth trend
               (least squares, deseasonalised) in messages/s and %/week
  capacity     p90 of the hourly consumption over the hours the group was
               working off a backlog (lag above 60 s of production all
               hour, and falling), with a confidence: high, medium, low or
               none; with none only a lower bound (the highest consumption)
  headroom     capacity / p99 production: insufficient (< 1), tight
               (< 1.2), ok, or unknown (capacity never seen)
  projection   when the growth makes the weekly peak exceed the capacity:
               already, a date, or not on the current trend
  drain        the window's production replayed against the capacity: the
               worst backlog its bursts build and how long it takes to drain;
               and the real peak lag and time lag

--format table (default), csv or json print one row per group;
--format markdown prints a report, and with --out DIR writes DIR/capacity.md
with two PNG charts per group and prints the paths.`,
		Example: `  lagtrail report capacity --group search-indexer --window 30d
  lagtrail report capacity --format markdown --out ./capacity-report`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error { return runReportCapacity(cmd, g, f, cf) },
	}
	fl := cmd.Flags()
	fl.StringVar(&f.dbURL, "database-url", "", "PostgreSQL URL (default $"+envDatabaseURL+", then database_url of --config)")
	fl.StringVar(&f.configPath, "config", "", "config file, for database_url")
	fl.StringVar(&f.group, "group", "", "consumer group name (default every recorded group)")
	fl.StringVar(&f.region, "region", "", "region of the group, when its name is recorded in several")
	fl.StringVar(&f.instance, "instance", "", "instance of the group, when its name is recorded in several")
	fl.StringVar(&cf.window, "window", "30d", "length of the window, whole hours, 24h to 366d: 30d, 720h")
	fl.StringVar(&f.at, "at", "now", "end of the window: RFC3339, now, or relative (-1d); truncated to the hour")
	fl.StringVar(&f.format, "format", "table", "output format: table, csv, json or markdown")
	fl.StringVar(&cf.out, "out", "", "with --format markdown: directory to write capacity.md and its PNG charts into")
	return cmd
}

// runReportCapacity validates every flag before it opens the store, so
// that a bad flag exits 2 whatever the state of the database.
func runReportCapacity(cmd *cobra.Command, g *globals, f *queryFlags, cf *capacityFlags) error {
	now := time.Now().UTC()
	switch f.format {
	case "table", "csv", "json", "markdown":
	default:
		return usagef("--format must be table, csv, json or markdown, got %q", f.format)
	}
	window, err := strictyaml.ParseDuration(cf.window)
	if err != nil {
		return usagef("--window: %v", err)
	}
	at, err := query.ParseTime(f.at, now)
	if err != nil {
		return usagef("--at: %v", err)
	}
	req := query.CapacityRequest{
		Selection: query.Selection{Group: f.group, Region: f.region, Instance: f.instance},
		At:        at, Window: window, Detail: f.format == "markdown",
	}
	if err := req.Validate(); err != nil {
		return usageError{err}
	}
	if cf.out != "" {
		if f.format != "markdown" {
			return usagef("--out writes a Markdown report with charts: it needs --format markdown")
		}
		if err := writableDir(cf.out); err != nil {
			return usagef("--out %s: %v", cf.out, err)
		}
	}
	e, closeStore, err := f.engine(cmd.Context(), g)
	if err != nil {
		return err
	}
	defer closeStore()
	rep, err := e.CapacityReport(cmd.Context(), req)
	if err != nil {
		return queryErr(err)
	}
	switch f.format {
	case "markdown":
		if cf.out == "" {
			return writeCapacityMarkdown(g.stdout, rep, window, nil)
		}
		return writeCapacityFiles(g.stdout, rep, window, cf.out)
	case "table":
		return capacitySummaryTable(rep, window).write(g.stdout, "table")
	}
	return capacityTable(rep, window).write(g.stdout, f.format)
}

// writableDir makes dir if need be and checks that a file can be created
// in it.
func writableDir(dir string) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("cannot create the directory: %w", err)
	}
	probe, err := os.CreateTemp(dir, ".lagtrail-probe-*")
	if err != nil {
		return fmt.Errorf("cannot write there: %w", err)
	}
	probe.Close()
	return os.Remove(probe.Name())
}

// writeCapacityFiles draws each group's charts into dir, writes
// dir/capacity.md, and prints the paths.
func writeCapacityFiles(stdout io.Writer, rep *query.CapacityReport, window time.Duration, dir string) error {
	charts, err := drawCapacityCharts(rep, dir)
	if err != nil {
		return err
	}
	var buf bytes.Buffer
	if err := writeCapacityMarkdown(&buf, rep, window, charts); err != nil {
		return err
	}
	path := filepath.Join(dir, "capacity.md")
	if err := os.WriteFile(path, buf.Bytes(), 0o644); err != nil {
		return fmt.Errorf("write report: %w", err)
	}
	fmt.Fprintln(stdout, path)
	for _, g := range rep.Groups {
		for _, c := range charts[g.Group] {
			fmt.Fprintln(stdout, filepath.Join(dir, c.file))
		}
	}
	return nil
}

// capacityMeta is the JSON document's description of the report.
func capacityMeta(rep *query.CapacityReport, window time.Duration) map[string]any {
	return map[string]any{
		"report": "capacity", "from": rep.From, "to": rep.To, "window_seconds": window.Seconds(),
		"peak_from": rep.PeakFrom, "backlog_seconds": rep.BacklogSeconds,
	}
}

// capacityTable is the full report, one row per group, for csv and json.
func capacityTable(rep *query.CapacityReport, window time.Duration) *table {
	t := &table{meta: capacityMeta(rep, window), columns: []column{
		{"region", kText}, {"instance", kText}, {"group", kText}, {"hours", kInt},
		{"produce_mean", kRate}, {"produce_p50", kRate}, {"produce_p95", kRate}, {"produce_p99", kRate}, {"produce_max", kRate},
		{"growth_per_week", kRate}, {"growth_pct_per_week", kText}, {"deseasonalised_by", kText},
		{"fit_from", kTime}, {"fit_hours", kInt},
		{"capacity", kRate}, {"confidence", kText}, {"backlogged_hours", kInt}, {"backlogged_days", kInt},
		{"consume_max", kRate}, {"headroom", kText}, {"headroom_is_lower_bound", kText}, {"verdict", kText},
		{"weekly_peak", kRate}, {"weekly_peak_at", kTime}, {"peak_growth_pct_per_week", kText}, {"growth_note", kText},
		{"projection", kText}, {"exceeds_at", kTime},
		{"replay_rate", kRate}, {"replay_rate_is_lower_bound", kText}, {"worst_backlog", kCount}, {"worst_backlog_at", kTime},
		{"drain", kText}, {"drain_seconds", kSeconds}, {"drained_at", kTime},
		{"peak_lag", kCount}, {"peak_lag_at", kTime}, {"peak_time_lag_seconds", kSeconds}, {"peak_time_lag_at", kTime},
		{"summary", kText},
	}}
	for _, g := range rep.Groups {
		d := g.Drain
		var exceeds any
		if g.Projection.Status == query.ProjectionDate {
			exceeds = g.Projection.At
		}
		var drainSecs, drainedAt any
		if d.Status == query.DrainReplayed || d.Status == query.DrainEstimated {
			drainSecs = d.Seconds
		}
		if d.Status == query.DrainReplayed {
			drainedAt = d.DrainedAt
		}
		var replayRate, worst, worstAt any
		if d.Status != query.DrainUnknown {
			replayRate, worst, worstAt = d.Rate, d.Worst, timeCell(d.WorstAt)
		}
		t.add(g.Group.Region, g.Group.InstanceID, g.Group.Group, int64(g.Hours),
			capNum(g.ProduceMean), capNum(g.ProduceP50), capNum(g.ProduceP95), capNum(g.ProduceP99), capNum(g.ProduceMax),
			capNum(g.GrowthPerWeek), capNum(g.GrowthPercent), g.Season, timeCell(g.FitFrom), int64(g.FitHours),
			capNum(g.Capacity), string(g.Confidence), int64(g.BackloggedHours), int64(g.BackloggedDays),
			capNum(g.ConsumeMax), capNum(g.Headroom), g.HeadroomIsLowerBound, string(g.Verdict),
			capNum(g.WeeklyPeak), timeCell(g.WeeklyPeakAt), capNum(g.PeakGrowthPercent), g.GrowthNote,
			string(g.Projection.Status), exceeds,
			replayRate, d.RateIsLowerBound, worst, worstAt,
			string(d.Status), drainSecs, drainedAt,
			i64(g.PeakLag), timeCell(g.PeakLagAt), f64(g.PeakTimeLag), timeCell(g.PeakTimeLagAt),
			g.Summary)
	}
	return t
}

// capacitySummaryTable is the table format: the columns a person reads
// first, with lower bounds and estimates marked.
func capacitySummaryTable(rep *query.CapacityReport, window time.Duration) *table {
	t := &table{meta: capacityMeta(rep, window), columns: []column{
		{"instance", kText}, {"group", kText}, {"verdict", kText}, {"capacity", kRate}, {"confidence", kText},
		{"produce_p99", kRate}, {"headroom", kText}, {"weekly_peak", kRate}, {"growth", kText},
		{"projection", kText}, {"worst_burst_drain", kText},
	}}
	for _, g := range rep.Groups {
		capacity, headroom := capNum(g.Capacity), headroomText(g)
		if g.Confidence == query.ConfidenceNone {
			capacity = capNum(g.ConsumeMax)
		}
		t.add(g.Group.InstanceID, g.Group.Group, string(g.Verdict), capacity, string(g.Confidence),
			capNum(g.ProduceP99), headroom, capNum(g.WeeklyPeak), growthCell(g),
			projectionText(g.Projection), drainText(g.Drain))
		if g.Confidence == query.ConfidenceNone && !math.IsNaN(g.ConsumeMax) {
			t.setHuman("capacity", ">="+human(g.ConsumeMax, kRate))
		}
	}
	return t
}

// capNum is a float cell: nil for NaN.
func capNum(v float64) any {
	if math.IsNaN(v) || math.IsInf(v, 0) {
		return nil
	}
	return v
}

// timeCell is a time cell: nil for the zero time.
func timeCell(t time.Time) any {
	if t.IsZero() {
		return nil
	}
	return t.UTC()
}

func headroomText(g query.GroupCapacity) string {
	if math.IsNaN(g.Headroom) {
		return "-"
	}
	s := fmt.Sprintf("%.2fx", g.Headroom)
	if g.HeadroomIsLowerBound {
		s = ">=" + s
	}
	return s
}

// growthCell is a group's growth in percent per week, or "not enough
// history" when the history cannot support one.
func growthCell(g query.GroupCapacity) string {
	if g.GrowthNote != "" {
		return query.NotEnoughHistory
	}
	return growthText(g.GrowthPercent)
}

func growthText(pct float64) string {
	if math.IsNaN(pct) {
		return "-"
	}
	return fmt.Sprintf("%+.2f%%/week", pct)
}

func projectionText(p query.Projection) string {
	if p.Status == query.ProjectionDate {
		return p.At.UTC().Format("2006-01-02 15:04")
	}
	return string(p.Status)
}

func drainText(d query.BurstDrain) string {
	switch d.Status {
	case query.DrainReplayed:
		return humanSeconds(d.Seconds)
	case query.DrainEstimated:
		return "~" + humanSeconds(d.Seconds) + " (estimate)"
	}
	return string(d.Status)
}

// slugName makes a group name safe as part of a file name.
func slugName(s string) string {
	var b strings.Builder
	for _, r := range s {
		switch {
		case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z', r >= '0' && r <= '9', r == '-', r == '_', r == '.':
			b.WriteRune(r)
		default:
			b.WriteByte('_')
		}
	}
	if b.Len() == 0 || strings.Trim(b.String(), ".") == "" {
		return "group"
	}
	return b.String()
}

// capacityChart is one chart file of a group's report section.
type capacityChart struct {
	file, alt, caption string
}

// drawCapacityCharts draws two charts per group with hourly rows into dir:
// hourly production and consumption with the capacity over the window,
// and the typical week. It returns their file names (relative to dir) by
// group.
func drawCapacityCharts(rep *query.CapacityReport, dir string) (map[store.GroupRef][]capacityChart, error) {
	out := map[store.GroupRef][]capacityChart{}
	seen := map[string]bool{}
	for _, g := range rep.Groups {
		if len(g.Hourly) == 0 {
			continue
		}
		slug := slugName(g.Group.Group)
		if seen[slug] {
			slug = slugName(g.Group.InstanceID + "-" + g.Group.Group)
		}
		seen[slug] = true
		capName, capValue := "capacity", g.Capacity
		if g.Confidence == query.ConfidenceNone {
			capName, capValue = "capacity lower bound", g.ConsumeMax
		}
		rates := chart.Chart{
			Title:  g.Group.Group + ": hourly production and consumption, " + capacityLabel(g),
			YLabel: "messages/s",
			Series: hourlySeries(g, rep.From, rep.To),
		}
		if !math.IsNaN(capValue) {
			rates.Series = append(rates.Series, chart.Series{Name: capName, Points: []chart.Point{{T: rep.From, V: capValue}, {T: rep.To, V: capValue}}})
		}
		if (g.Drain.Status == query.DrainReplayed || g.Drain.Status == query.DrainEstimated) && !g.Drain.RateIsLowerBound {
			rates.Markers = append(rates.Markers, chart.Marker{At: g.Drain.WorstAt, Label: "worst replayed backlog"})
		}
		if !g.WeeklyPeakAt.IsZero() {
			rates.Markers = append(rates.Markers, chart.Marker{At: g.WeeklyPeakAt, Label: "weekly peak"})
		}
		ref := referenceWeek(rep.To)
		week := chart.Chart{
			Title:   g.Group.Group + ": typical week, mean per UTC hour of the week",
			YLabel:  "messages/s",
			Series:  weekSeries(g, ref),
			Markers: dayMarkers(ref),
		}
		if !math.IsNaN(capValue) {
			week.Series = append(week.Series, chart.Series{Name: capName, Points: []chart.Point{{T: ref, V: capValue}, {T: ref.Add(7 * 24 * time.Hour), V: capValue}}})
		}
		charts := []struct {
			file, alt string
			c         chart.Chart
			caption   string
		}{
			{slug + "-rates.png", g.Group.Group + ": hourly production and consumption", rates, "hourly production and consumption over the window, with the " + capName + " as a line"},
			{slug + "-week.png", g.Group.Group + ": typical week", week, fmt.Sprintf("typical week: mean production and consumption per UTC hour of the week over the window, drawn on the week of %s, with the %s as a line", ref.Format("Mon 2006-01-02"), capName)},
		}
		for _, c := range charts {
			if err := c.c.Save(filepath.Join(dir, c.file)); err != nil {
				return nil, fmt.Errorf("chart %s: %w", c.file, err)
			}
			out[g.Group] = append(out[g.Group], capacityChart{file: c.file, alt: c.alt, caption: c.caption})
		}
	}
	return out, nil
}

func capacityLabel(g query.GroupCapacity) string {
	if g.Confidence == query.ConfidenceNone {
		if math.IsNaN(g.ConsumeMax) {
			return "capacity unknown"
		}
		return "capacity unknown (>= " + query.RateText(g.ConsumeMax) + ")"
	}
	return "capacity " + query.RateText(g.Capacity)
}

// hourlySeries is production and consumption for every hour of [from, to),
// NaN where the rollups have no rate.
func hourlySeries(g query.GroupCapacity, from, to time.Time) []chart.Series {
	byHour := make(map[time.Time]store.CapacityHour, len(g.Hourly))
	for _, h := range g.Hourly {
		byHour[h.Start] = h
	}
	var prod, cons []chart.Point
	for t := from; t.Before(to); t = t.Add(time.Hour) {
		h := byHour[t]
		prod = append(prod, chart.Point{T: t, V: nanIfNil(h.ProduceRate)})
		cons = append(cons, chart.Point{T: t, V: nanIfNil(h.ConsumeRate)})
	}
	return []chart.Series{{Name: "production", Points: prod}, {Name: "consumption", Points: cons}}
}

// referenceWeek is the Monday 00:00 UTC on or before a week before to: the
// last whole week that starts on a Monday inside a window of a week or more.
func referenceWeek(to time.Time) time.Time {
	d := to.Add(-7 * 24 * time.Hour).UTC().Truncate(24 * time.Hour)
	return d.AddDate(0, 0, -((int(d.Weekday()) + 6) % 7))
}

// weekSeries draws the hour-of-week cells on the week starting at ref.
func weekSeries(g query.GroupCapacity, ref time.Time) []chart.Series {
	prod := make([]chart.Point, 168)
	cons := make([]chart.Point, 168)
	for i := range prod {
		t := ref.Add(time.Duration(i) * time.Hour)
		prod[i], cons[i] = chart.Point{T: t, V: math.NaN()}, chart.Point{T: t, V: math.NaN()}
	}
	for _, c := range g.Week {
		i := ((int(c.Weekday)+6)%7)*24 + c.Hour
		prod[i].V, cons[i].V = c.ProduceMean, nanIfNil(c.ConsumeMean)
	}
	return []chart.Series{{Name: "mean production", Points: prod}, {Name: "mean consumption", Points: cons}}
}

func dayMarkers(ref time.Time) []chart.Marker {
	var ms []chart.Marker
	for d := range 7 {
		t := ref.AddDate(0, 0, d)
		ms = append(ms, chart.Marker{At: t, Label: t.Format("Mon")})
	}
	return ms
}

func nanIfNil(p *float64) float64 {
	if p == nil {
		return math.NaN()
	}
	return *p
}

// writeCapacityMarkdown writes the report as Markdown: a summary table,
// then per group its verdict in one sentence, its figures, its
// hour-of-day by weekday profile and, when charts is not nil, its charts.
func writeCapacityMarkdown(w io.Writer, rep *query.CapacityReport, window time.Duration, charts map[store.GroupRef][]capacityChart) error {
	var b strings.Builder
	p := func(format string, args ...any) { fmt.Fprintf(&b, format, args...) }
	p("# Capacity report\n\n")
	p("Window: %s to %s (%s) of hourly rollups; weekly peak from %s. Backlog threshold: lag above %.0f s of the hour's production.\n\n",
		mdTime(rep.From), mdTime(rep.To), windowText(window), mdTime(rep.PeakFrom), rep.BacklogSeconds)
	p("| Group | Verdict | Capacity | Confidence | p99 production | Headroom | Weekly peak | Growth | Projection |\n")
	p("| --- | --- | --- | --- | --- | --- | --- | --- | --- |\n")
	for _, g := range rep.Groups {
		p("| %s | %s | %s | %s | %s | %s | %s | %s | %s |\n", mdEscape(g.Group.Group), g.Verdict, mdCapacity(g), g.Confidence,
			query.RateText(g.ProduceP99), headroomText(g), query.RateText(g.WeeklyPeak), growthCell(g), projectionText(g.Projection))
	}
	p("\n")
	for _, g := range rep.Groups {
		p("## %s\n\n", mdEscape(g.Group.Group))
		p("**Verdict: %s.** %s\n\n", g.Verdict, g.Summary)
		p("Region `%s`, instance `%s`.\n\n", g.Group.Region, g.Group.InstanceID)
		if g.Hours == 0 {
			continue
		}
		p("### Figures\n\n| Figure | Value |\n| --- | --- |\n")
		for _, row := range capacityFigures(g) {
			p("| %s | %s |\n", row[0], row[1])
		}
		p("\n")
		if len(g.Week) > 0 {
			p("### Production by hour of day and weekday\n\nMean production (messages/s) per UTC hour of day and weekday over the window; - where no hour was recorded.\n\n")
			writeWeekTable(&b, g.Week)
			p("\n")
		}
		if cs := charts[g.Group]; len(cs) > 0 {
			p("### Charts\n\n")
			for i, c := range cs {
				p("![%s](%s)\n\n*Figure %d: %s.*\n\n", mdEscape(c.alt), c.file, i+1, c.caption)
			}
		}
	}
	p("## Definitions\n\n")
	for _, d := range capacityDefinitions {
		p("- **%s**: %s\n", d[0], d[1])
	}
	_, err := io.WriteString(w, b.String())
	return err
}

// capacityDefinitions define the report's figures, in Markdown.
var capacityDefinitions = [][2]string{
	{"Production p50/p95/p99/max", "nearest-rank percentiles and maximum of the hourly production rates (messages/s) over the window."},
	{"Growth", "least-squares slope of the hourly production rate over the last whole weeks (or days) of the window, after removing each hour-of-week cell's mean from both the rates and the times (hour of day when the group spans 2 to 14 days, none below 2 days); %/week is the slope over the fitted hours' mean production."},
	{"Observed capacity", "p90 of the hourly consumption rate over the hours whose lag stayed above 60 s of that hour's production all hour (lowest lag sampled) and fell (last lag below first): the consumer was working flat out."},
	{"Confidence", "high: at least 12 such hours on at least 3 UTC days; medium: at least 4 hours on at least 2 days; low: fewer; none: no such hour, so the capacity is unknown and the highest hourly consumption is only a lower bound."},
	{"Headroom", "capacity divided by p99 production. insufficient: below 1 (a backlog builds at the weekly peak); tight: 1 to 1.2; ok: 1.2 or more; unknown: no observed capacity (headroom shown as a lower bound)."},
	{"Weekly peak", "the highest hourly production in the window's last 7 days."},
	{"Projection", "the first weekly recurrence of the peak hour whose peak exceeds the capacity, the peak growing in proportion to the trend (the slope as a percentage of the trend's level at the peak, per week); already when the peak reaches the capacity now; not on the current trend when production does not grow."},
	{"Worst burst, replayed", "the window's hourly production replayed against the capacity (the highest consumption when the capacity is unknown, which makes the backlog an upper bound): the largest backlog B = S - min(0, min S) with S the running sum of (production - capacity) x 3600, when it peaked, and how long it took to drain in the replay, or backlog / (capacity - p50 production) when it had not drained by the window's end."},
	{"Observed peak lag and time lag", "the largest total lag and time lag actually sampled in the window, and the hour they were sampled in."},
}

// capacityFigures are the rows of a group's figure table.
func capacityFigures(g query.GroupCapacity) [][2]string {
	rows := [][2]string{
		{"Hours with production", fmt.Sprintf("%d", g.Hours)},
		{"Production p50 / p95 / p99 / max", fmt.Sprintf("%s / %s / %s / %s", query.RateText(g.ProduceP50), query.RateText(g.ProduceP95), query.RateText(g.ProduceP99), query.RateText(g.ProduceMax))},
		{"Mean production", query.RateText(g.ProduceMean)},
	}
	growth := "-"
	if g.GrowthNote != "" {
		growth = g.GrowthNote
	} else if !math.IsNaN(g.GrowthPerWeek) {
		growth = fmt.Sprintf("%+.1f/s per week (%s), least squares over %d hours from %s, deseasonalised by %s",
			g.GrowthPerWeek, growthText(g.GrowthPercent), g.FitHours, mdTime(g.FitFrom), g.Season)
		if g.Season != "hour of week" {
			growth += " (under 2 weeks of hours: a weekly cycle can pass for growth)"
		}
	}
	rows = append(rows, [2]string{"Growth", growth})
	if g.Confidence == query.ConfidenceNone {
		rows = append(rows, [2]string{"Observed capacity", "unknown: never seen working off a backlog; at least " + query.RateText(g.ConsumeMax) + " (highest hourly consumption)"})
	} else {
		rows = append(rows, [2]string{"Observed capacity", fmt.Sprintf("%s: p90 of consumption over %d backlogged hours on %d days (confidence %s)",
			query.RateText(g.Capacity), g.BackloggedHours, g.BackloggedDays, g.Confidence)})
	}
	rows = append(rows,
		[2]string{"Highest hourly consumption", query.RateText(g.ConsumeMax)},
		[2]string{"Headroom", headroomText(g) + " (capacity / p99 production): " + string(g.Verdict)},
	)
	peak := "-"
	if !g.WeeklyPeakAt.IsZero() {
		peak = query.RateText(g.WeeklyPeak) + " in the hour of " + mdTime(g.WeeklyPeakAt)
	}
	rows = append(rows, [2]string{"Weekly peak", peak})
	var proj string
	switch g.Projection.Status {
	case query.ProjectionDate:
		proj = fmt.Sprintf("the weekly peak exceeds the capacity from %s (%d weeks after the observed peak; growth scaled to the peak: %s)",
			mdTime(g.Projection.At), g.Projection.Weeks, growthText(g.PeakGrowthPercent))
	case query.ProjectionAlready:
		proj = "already: the weekly peak reaches the capacity now"
	case query.ProjectionBeyond:
		proj = "not within 5 years on the current trend (" + growthText(g.PeakGrowthPercent) + " at the peak)"
	case query.ProjectionNotOnTrend:
		proj = "not on the current trend: production does not grow"
	case query.ProjectionNoHistory:
		proj = g.GrowthNote
	default:
		proj = "unknown: no observed capacity, weekly peak or growth to project"
	}
	rows = append(rows, [2]string{"Projection", proj})
	rows = append(rows, [2]string{"Worst burst, replayed", replayText(g.Drain)})
	lag, tl := "-", "-"
	if g.PeakLag != nil {
		lag = humanCount(float64(*g.PeakLag)) + " messages, in the hour of " + mdTime(g.PeakLagAt)
	}
	if g.PeakTimeLag != nil {
		tl = humanSeconds(*g.PeakTimeLag) + ", in the hour of " + mdTime(g.PeakTimeLagAt)
	}
	return append(rows, [2]string{"Observed peak lag", lag}, [2]string{"Observed peak time lag", tl})
}

func replayText(d query.BurstDrain) string {
	against := "against the capacity, " + query.RateText(d.Rate)
	if d.RateIsLowerBound {
		against = "against the highest consumption, " + query.RateText(d.Rate) + " (an upper bound)"
	}
	switch d.Status {
	case query.DrainNone:
		return "no backlog " + against
	case query.DrainReplayed:
		return fmt.Sprintf("%s messages at %s %s; drained in %s, at %s", humanCount(d.Worst), mdTime(d.WorstAt), against, humanSeconds(d.Seconds), mdTime(d.DrainedAt))
	case query.DrainEstimated:
		return fmt.Sprintf("%s messages at %s %s; not drained by the window's end: about %s at capacity minus p50 production", humanCount(d.Worst), mdTime(d.WorstAt), against, humanSeconds(d.Seconds))
	case query.DrainNever:
		return fmt.Sprintf("%s messages at %s %s; never drains: the capacity does not exceed p50 production", humanCount(d.Worst), mdTime(d.WorstAt), against)
	}
	return "unknown: no consumption to replay against"
}

// writeWeekTable writes the 24 x 7 table of mean production.
func writeWeekTable(b *strings.Builder, cells []store.CapacityCell) {
	var grid [24][7]float64
	for h := range grid {
		for d := range grid[h] {
			grid[h][d] = math.NaN()
		}
	}
	for _, c := range cells {
		grid[c.Hour][(int(c.Weekday)+6)%7] = c.ProduceMean
	}
	b.WriteString("| UTC hour | Mon | Tue | Wed | Thu | Fri | Sat | Sun |\n| --- | --- | --- | --- | --- | --- | --- | --- |\n")
	for h := range grid {
		fmt.Fprintf(b, "| %02d:00 |", h)
		for d := range grid[h] {
			if math.IsNaN(grid[h][d]) {
				b.WriteString(" - |")
			} else {
				fmt.Fprintf(b, " %s |", strings.TrimSuffix(query.RateText(grid[h][d]), "/s"))
			}
		}
		b.WriteString("\n")
	}
}

func mdCapacity(g query.GroupCapacity) string {
	if g.Confidence == query.ConfidenceNone {
		if math.IsNaN(g.ConsumeMax) {
			return "unknown"
		}
		return "unknown (>= " + query.RateText(g.ConsumeMax) + ")"
	}
	return query.RateText(g.Capacity)
}

// windowText writes a window in days when it is whole days.
func windowText(d time.Duration) string {
	if d%(24*time.Hour) == 0 {
		return fmt.Sprintf("%d days", d/(24*time.Hour))
	}
	return humanSeconds(d.Seconds())
}

func mdTime(t time.Time) string {
	if t.IsZero() {
		return "-"
	}
	return t.UTC().Format("2006-01-02 15:04 UTC")
}

// mdEscape keeps a name from breaking Markdown tables and emphasis.
func mdEscape(s string) string {
	r := strings.NewReplacer("|", `\|`, "*", `\*`, "_", `\_`, "`", "\\`", "[", `\[`, "]", `\]`, "<", "&lt;")
	return r.Replace(s)
}
