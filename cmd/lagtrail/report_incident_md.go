package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/lagtrail/lagtrail/internal/chart"
	"github.com/lagtrail/lagtrail/query"
)

// writeJSONDoc writes v as one indented JSON document.
func writeJSONDoc(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

// incidentChart is one chart of an incident report.
type incidentChart struct {
	file, title string
}

// maxChartPartitions is how many partitions the lag chart draws one line
// each; the rest are summed into one line.
const maxChartPartitions = 12

// incidentCharts draws the report's charts into dir: lag by partition,
// production and consumption, and time lag, with the incidents marked.
func incidentCharts(rep *query.IncidentReport, dir, format string) ([]incidentChart, error) {
	if len(rep.Series) == 0 {
		return nil, nil
	}
	name := rep.Group.Group
	var markers []chart.Marker
	var bands []chart.Band
	for i, inc := range rep.Incidents {
		label := ""
		if len(rep.Incidents) > 1 {
			label = fmt.Sprintf("#%d ", i+1)
		}
		markers = append(markers, chart.Marker{At: inc.Start, Label: label + "lag rising " + hhmm(inc.Start)})
		markers = append(markers, chart.Marker{At: inc.Peak, Label: label + "peak " + hhmm(inc.Peak)})
		if inc.Recovered != nil {
			markers = append(markers, chart.Marker{At: *inc.Recovered, Label: label + "recovered " + hhmm(*inc.Recovered)})
		}
	}
	for _, iv := range rep.Statuses {
		if iv.Status > query.StatusOK {
			if n := len(bands); n > 0 && bands[n-1].To.Equal(iv.From) && bands[n-1].Label == iv.Status.String() {
				bands[n-1].To = iv.To
				continue
			}
			bands = append(bands, chart.Band{From: iv.From, To: iv.To, Label: iv.Status.String()})
		}
	}
	var out []incidentChart
	save := func(file, title string, c chart.Chart) error {
		file = file + "." + format
		c.Title, c.Markers, c.Bands = title, markers, bands
		if err := c.Save(filepath.Join(dir, file)); err != nil {
			return fmt.Errorf("chart %s: %w", file, err)
		}
		out = append(out, incidentChart{file: file, title: title})
		return nil
	}
	if err := save(name+"-lag-by-partition", name+": lag by partition", chart.Chart{
		YLabel: "messages behind", Series: partitionLagSeries(rep),
	}); err != nil {
		return nil, err
	}
	var produce, consume, timeLag []chart.Point
	for _, p := range rep.Series {
		produce = append(produce, chart.Point{T: p.At, V: orNaN(p.ProduceRate)})
		consume = append(consume, chart.Point{T: p.At, V: orNaN(p.ConsumeRate)})
		timeLag = append(timeLag, chart.Point{T: p.At, V: orNaN(p.TimeLag)})
	}
	if err := save(name+"-rates", name+": production and consumption", chart.Chart{
		YLabel: "messages per second", Series: []chart.Series{{Name: "produced/s", Points: produce}, {Name: "consumed/s", Points: consume}},
	}); err != nil {
		return nil, err
	}
	if err := save(name+"-time-lag", name+": time lag (largest partition)", chart.Chart{
		YLabel: "time lag", YUnit: chart.UnitSeconds, Series: []chart.Series{{Name: "time lag", Points: timeLag}},
	}); err != nil {
		return nil, err
	}
	return out, nil
}

// partitionLagSeries returns a line per partition, the affected ones first
// (by peak lag), and the partitions past maxChartPartitions summed.
func partitionLagSeries(rep *query.IncidentReport) []chart.Series {
	type ranked struct {
		ps   query.PartitionSeries
		peak int64
	}
	rs := make([]ranked, len(rep.Partitions))
	for i, ps := range rep.Partitions {
		rs[i].ps = ps
		for _, p := range ps.Points {
			rs[i].peak = max(rs[i].peak, p.LagMax)
		}
	}
	slices.SortStableFunc(rs, func(a, b ranked) int { return int(min(max(b.peak-a.peak, -1), 1)) })
	var out []chart.Series
	var rest map[time.Time]float64
	var restTimes []time.Time
	for i, r := range rs {
		if i < maxChartPartitions || len(rs) == maxChartPartitions+1 {
			s := chart.Series{Name: r.ps.PartitionRef.String()}
			for _, p := range r.ps.Points {
				s.Points = append(s.Points, chart.Point{T: p.At, V: float64(p.Lag)})
				if rep.PollsPerPoint > 1 {
					// Each point is the last of several polls: shade up
					// to their peak.
					s.Max = append(s.Max, float64(p.LagMax))
				}
			}
			out = append(out, s)
			continue
		}
		if rest == nil {
			rest = map[time.Time]float64{}
		}
		for _, p := range r.ps.Points {
			if _, ok := rest[p.At]; !ok {
				restTimes = append(restTimes, p.At)
			}
			rest[p.At] += float64(p.Lag)
		}
	}
	if rest != nil {
		slices.SortFunc(restTimes, func(a, b time.Time) int { return a.Compare(b) })
		s := chart.Series{Name: fmt.Sprintf("%d others, summed", len(rs)-maxChartPartitions)}
		for _, t := range restTimes {
			s.Points = append(s.Points, chart.Point{T: t, V: rest[t]})
		}
		out = append(out, s)
	}
	return out
}

func hhmm(t time.Time) string { return t.UTC().Format("15:04") }

// stamp writes a time for the report: the date only when the range spans
// several days.
func stamp(rep *query.IncidentReport, t time.Time) string {
	if rep.From.UTC().Format(time.DateOnly) == rep.To.Add(-time.Nanosecond).UTC().Format(time.DateOnly) {
		return t.UTC().Format(time.TimeOnly)
	}
	return t.UTC().Format("2006-01-02 15:04:05")
}

// incidentMarkdown writes the report as a post-incident summary; charts,
// when given, are linked at the end.
func incidentMarkdown(rep *query.IncidentReport, charts []incidentChart) []byte {
	var b bytes.Buffer
	w := func(format string, args ...any) { fmt.Fprintf(&b, format, args...) }
	g := rep.Group
	w("# Incident report: %s\n\n", g.Group)
	scope := ""
	if rep.Topic != "" {
		scope = ", topic " + rep.Topic
	}
	w("Group `%s` of instance `%s` (%s)%s, from %s to %s UTC.", g.Group, g.InstanceID, g.Region, scope,
		rep.From.UTC().Format("2006-01-02 15:04"), rep.To.UTC().Format("2006-01-02 15:04"))
	if rep.PollInterval > 0 {
		w(" Polled every %s;", rep.PollInterval.Round(time.Second))
	}
	if rep.Normal.FromRange {
		w(" normal lag up to %s (the range's lower quartile: no polls in the %s before it).\n\n", thousands(int64(rep.Normal.LagP95)), rep.Baseline)
	} else {
		w(" normal lag up to %s (95th percentile over the %s before).\n\n", thousands(int64(rep.Normal.LagP95)), rep.Baseline)
	}
	if len(rep.Series) == 0 {
		w("**No successful poll of this group in the range.**\n\n")
	}
	w("## Summary\n\n")
	switch len(rep.Incidents) {
	case 0:
		if len(rep.Series) > 0 {
			w("No incident: the lag never stayed above the elevated threshold (a minute of production, and twice the normal lag) for 2 polls in a row.\n\n")
		}
	case 1:
		w("%s\n\n", summaryLine(rep, rep.Incidents[0]))
	default:
		w("%d incidents:\n\n", len(rep.Incidents))
		for i, inc := range rep.Incidents {
			w("%d. %s\n", i+1, summaryLine(rep, inc))
		}
		w("\n")
	}
	if f := rep.Failures; f.Failed > 0 {
		codes := make([]string, len(f.ByCode))
		for i, c := range f.ByCode {
			codes[i] = fmt.Sprintf("%s ×%d", c.Code, c.Count)
		}
		w("%d of %d polls in the range failed (%s); %d gaps without a successful poll.\n\n", f.Failed, f.Attempts, strings.Join(codes, ", "), len(f.Gaps))
	} else if f.Attempts > 0 {
		w("All %d polls in the range succeeded.\n\n", f.Attempts)
	}
	for i, inc := range rep.Incidents {
		title := "The incident"
		if len(rep.Incidents) > 1 {
			title = fmt.Sprintf("Incident %d", i+1)
		}
		w("## %s\n\n### Timeline (UTC)\n\n| time | what |\n|---|---|\n", title)
		for _, en := range inc.Timeline {
			w("| %s | %s |\n", stamp(rep, en.At), mdCell(en.Text))
		}
		w("\n### Partitions\n\n")
		w("%d of %d partitions affected.\n\n", len(inc.Affected), len(inc.Affected)+len(inc.Unaffected))
		if len(inc.Affected) > 0 {
			w("| partition | peak lag | at | why |\n|---|---:|---|---|\n")
			for _, a := range inc.Affected {
				w("| %s | %s | %s | %s |\n", a.PartitionRef, thousands(a.PeakLag), stamp(rep, a.PeakAt), a.Why)
			}
			w("\n")
		}
		if len(inc.Unaffected) > 0 {
			w("Unaffected: %s.\n\n", query.ShortPartitions(inc.Unaffected))
		}
		c := inc.Cause
		w("### Production and consumption around the start\n\n%s.\n\n", upperFirst(c.Text))
		if c.ProduceBefore != nil || c.ProduceAfter != nil {
			w("| messages/s | before the start | after it |\n|---|---:|---:|\n")
			w("| produced | %s | %s |\n", rateCell(c.ProduceBefore), rateCell(c.ProduceAfter))
			w("| consumed | %s | %s |\n\n", rateCell(c.ConsumeBefore), rateCell(c.ConsumeAfter))
		}
	}
	if len(rep.Failures.Gaps) > 0 {
		w("## Gaps in the polls\n\n| from | to | failed polls | errors |\n|---|---|---:|---|\n")
		for _, gp := range rep.Failures.Gaps {
			w("| %s | %s | %d | %s |\n", stamp(rep, gp.From), stamp(rep, gp.To), gp.Failed, strings.Join(gp.Codes, ", "))
		}
		w("\n")
	}
	var bad []query.Interval
	for _, iv := range rep.Statuses {
		if iv.Status > query.StatusOK {
			bad = append(bad, iv)
		}
	}
	if len(bad) > 0 {
		w("## Status changes\n\n| from | to | status | partitions | why |\n|---|---|---|---|---|\n")
		for _, iv := range bad {
			w("| %s | %s | %s | %s | %s |\n", stamp(rep, iv.From), stamp(rep, iv.To), iv.Status, query.ShortPartitions(iv.Partitions), mdCell(iv.Reason))
		}
		w("\n")
	}
	if len(charts) > 0 {
		w("## Charts\n\n")
		for _, c := range charts {
			w("![%s](%s)\n\n", c.title, c.file)
		}
	} else if len(rep.Series) > 0 {
		w("Charts: run with --out DIR to draw lag by partition, rates and time lag.\n\n")
	}
	w("---\nMade by `lagtrail report incident`. An incident is a run of 2 or more polls whose lag is above a minute of production and twice the normal lag; it begins at the last poll before at normal lag (at most 5 seconds of production, or 1.5 times the normal lag) and recovers at the first poll after back at normal.\n")
	return b.Bytes()
}

// summaryLine says what happened in one sentence or two.
func summaryLine(rep *query.IncidentReport, inc query.Incident) string {
	var b strings.Builder
	if inc.StartedBefore {
		fmt.Fprintf(&b, "`%s` was already behind at %s, the first poll read", rep.Group.Group, stamp(rep, inc.Start))
	} else {
		fmt.Fprintf(&b, "`%s` fell behind after %s UTC", rep.Group.Group, stamp(rep, inc.Start))
	}
	fmt.Fprintf(&b, ": %s. Lag peaked at %s at %s", inc.Cause.Text, thousands(inc.PeakLag), stamp(rep, inc.Peak))
	if inc.PeakTimeLag != nil {
		fmt.Fprintf(&b, " (time lag up to %s at %s)", humanSeconds(*inc.PeakTimeLag), stamp(rep, *inc.PeakTimeLagAt))
	}
	if inc.Recovered != nil {
		fmt.Fprintf(&b, ", and was back to normal at %s: %s after it began, %s after the peak.",
			stamp(rep, *inc.Recovered), humanSeconds(inc.RecoveryTime.Seconds()), humanSeconds(inc.DrainTime.Seconds()))
	} else {
		b.WriteString("; it had not recovered by the end of the range.")
	}
	fmt.Fprintf(&b, " %d of %d partitions affected.", len(inc.Affected), len(inc.Affected)+len(inc.Unaffected))
	return b.String()
}

func rateCell(p *float64) string {
	if p == nil {
		return "–"
	}
	return fmt.Sprintf("%.1f", *p)
}

func mdCell(s string) string { return strings.ReplaceAll(s, "|", `\|`) }

func upperFirst(s string) string {
	if s == "" {
		return s
	}
	return strings.ToUpper(s[:1]) + s[1:]
}
