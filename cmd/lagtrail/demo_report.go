package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"math"
	"os"
	"strings"
	"time"

	"github.com/lagtrail/lagtrail/internal/scenario"
	"github.com/lagtrail/lagtrail/query"
	"github.com/lagtrail/lagtrail/store"
)

// The demo report's resolutions.
const (
	demoStatusStep = 5 * time.Minute
	demoDetailStep = time.Minute
)

// demoReport is what lagtrail demo prints: built from the database by the
// query package alone, then checked against the scenario.
type demoReport struct {
	title    string
	from, to time.Time
	fleet    *table
	incident *incidentFindings
	capacity *table
	// capacityNote says where the capacity lines come from, or why there
	// are none.
	capacityNote string
	hourly       *query.History // every group, by the hour, over the history
	checks       []demoCheck
	charts       []string
}

// incidentFindings is the worst group's incident as the data shows it.
type incidentFindings struct {
	group               store.GroupRef
	timeline            *table
	from, to            time.Time // first STALL or STOP interval
	recovered           time.Time // start of the next OK interval; zero if none
	normal              time.Time // the incident report's recovery: first poll back at normal lag
	peakLag             int64
	peakAt              time.Time
	peakTimeLag         float64
	now                 *query.Drain
	produceDay, consDay float64 // rates over the incident's UTC day
	day                 time.Time
}

// demoCheck is one finding set against the scenario.
type demoCheck struct {
	what, found, scripted string
	ok                    bool
}

// badStatus tells whether a status means the consumer stopped.
func badStatus(s query.Status) bool { return s == query.StatusStall || s == query.StatusStop }

// buildDemoReport queries the recorded history and writes the charts.
func buildDemoReport(ctx context.Context, st *store.Store, log *slog.Logger, m *scenario.Model, histEnd, now time.Time, out string) (*demoReport, error) {
	e, err := query.New(st, query.Config{}, log)
	if err != nil {
		return nil, err
	}
	rep := &demoReport{title: m.Scenario().Name + ": " + m.Scenario().Description, from: m.Start(), to: now}
	statusTo := histEnd.Truncate(demoStatusStep)
	var timeline []query.Interval
	if err := os.MkdirAll(out, 0o755); err != nil {
		return nil, fmt.Errorf("charts folder: %w", err)
	}
	for _, part := range []struct {
		name string
		run  func() error
	}{
		{"status timeline", func() (err error) {
			timeline, err = e.Status(ctx, query.StatusRequest{Range: query.Range{From: m.Start(), To: statusTo, Step: demoStatusStep}})
			return err
		}},
		{"fleet now", func() error { return rep.fleetNow(ctx, e, m, now) }},
		{"incident", func() error { return rep.findIncident(ctx, e, timeline, now) }},
		{"capacity", func() error { return rep.capacityLines(ctx, e) }},
		{"checks", func() error { return rep.check(ctx, e, m) }},
		{"charts", func() error { return rep.drawCharts(ctx, e, out) }},
	} {
		began := time.Now()
		if err := part.run(); err != nil {
			return nil, fmt.Errorf("%s: %w", part.name, err)
		}
		log.Debug("demo report", slog.String("part", part.name), slog.Duration("took", time.Since(began)))
	}
	return rep, nil
}

// fleetNow fills the fleet overview: every group's lag, time lag, rates,
// drain ETA and status now, and its worst lag over the history.
func (r *demoReport) fleetNow(ctx context.Context, e *query.Engine, m *scenario.Model, now time.Time) error {
	drains, err := e.Drain(ctx, query.DrainRequest{By: store.LevelGroup, At: now})
	if err != nil {
		return fmt.Errorf("drain: %w", err)
	}
	status, err := e.Status(ctx, query.StatusRequest{Range: query.Range{From: now.Add(-15 * time.Minute), To: now, Step: time.Minute}})
	if err != nil {
		return fmt.Errorf("status now: %w", err)
	}
	last := map[store.GroupRef]query.Interval{}
	for _, iv := range status {
		last[iv.Group] = iv
	}
	hourly, err := e.History(ctx, query.Range{From: m.Start(), To: now.Truncate(time.Hour), Step: time.Hour, By: store.LevelGroup})
	if err != nil {
		return fmt.Errorf("hourly lag: %w", err)
	}
	r.hourly = hourly
	type worst struct {
		lag int64
		at  time.Time
	}
	worstOf := map[store.GroupRef]worst{}
	for _, row := range hourly.Rows {
		if row.LagMax != nil && *row.LagMax > worstOf[row.Group].lag {
			worstOf[row.Group] = worst{*row.LagMax, row.Start}
		}
	}
	t := &table{columns: []column{
		{"group", kText}, {"region", kText}, {"lag", kCount}, {"time_lag", kSeconds}, {"produce", kRate}, {"consume", kRate},
		{"drain_eta", kText}, {"status", kText}, {"worst_lag_7d", kCount}, {"worst_hour", kText},
	}}
	for _, d := range drains {
		eta := drainETA(d)
		st := last[d.Group]
		w := worstOf[d.Group]
		var lag, tl any
		if d.Lag != nil {
			lag = *d.Lag
		}
		if d.TimeLag != nil {
			tl = *d.TimeLag
		}
		t.add(d.Group.Group, d.Group.Region, lag, tl, f64(d.ProduceRate), f64(d.ConsumeRate), eta, st.Status.String(), w.lag, w.at.Format("Mon 15:04"))
		if d.TimeLagKind == store.TimeLagEstimated && d.TimeLag != nil {
			t.setHuman("time_lag", "~"+humanSeconds(*d.TimeLag))
		}
	}
	r.fleet = t
	return nil
}

// findIncident picks the group that spent longest in STALL or STOP and
// describes its first such interval.
func (r *demoReport) findIncident(ctx context.Context, e *query.Engine, timeline []query.Interval, now time.Time) error {
	bad := map[store.GroupRef]time.Duration{}
	var worst store.GroupRef
	for _, iv := range timeline {
		if badStatus(iv.Status) {
			bad[iv.Group] += iv.To.Sub(iv.From)
			if bad[iv.Group] > bad[worst] {
				worst = iv.Group
			}
		}
	}
	if bad[worst] == 0 {
		return nil
	}
	f := &incidentFindings{group: worst, timeline: &table{columns: []column{{"from", kText}, {"to", kText}, {"status", kText}, {"partitions", kText}, {"reason", kText}}}}
	for _, iv := range timeline {
		if iv.Group != worst || iv.Status == query.StatusOK {
			continue
		}
		if badStatus(iv.Status) && f.from.IsZero() {
			f.from, f.to = iv.From, iv.To
		}
		f.timeline.add(iv.From.Format("Mon 15:04"), iv.To.Format("Mon 15:04"), iv.Status.String(), summarizePartitions(iv.Partitions), iv.Reason)
	}
	// Bad intervals that follow one another are one incident.
	for _, iv := range timeline {
		if iv.Group == worst && iv.Status != query.StatusOK && iv.From.Equal(f.to) {
			f.to = iv.To
		}
	}
	for _, iv := range timeline {
		if iv.Group == worst && iv.Status == query.StatusOK && !iv.From.Before(f.to) {
			f.recovered = iv.From
			break
		}
	}
	sel := query.Selection{Group: worst.Group, Region: worst.Region, Instance: worst.InstanceID}
	// The peak and the recovery are those of the incident report
	// (Engine.Incident), which holds every STALL and STOP.
	until := f.to.Add(4 * time.Hour)
	if until.After(now) {
		until = now
	}
	rep, err := e.Incident(ctx, query.IncidentRequest{Selection: sel, From: f.from.Add(-time.Hour), To: until})
	if err != nil {
		return fmt.Errorf("incident report: %w", err)
	}
	for _, inc := range rep.Incidents {
		if inc.Start.After(f.to) || (inc.Recovered != nil && inc.Recovered.Before(f.from)) {
			continue
		}
		f.peakLag, f.peakAt = inc.PeakLag, inc.Peak
		if inc.PeakTimeLag != nil {
			f.peakTimeLag = *inc.PeakTimeLag
		}
		if inc.Recovered != nil {
			f.normal = *inc.Recovered
		}
		break
	}
	f.day = f.from.Truncate(24 * time.Hour)
	day, err := e.History(ctx, query.Range{Selection: sel, From: f.day, To: f.day.Add(24 * time.Hour), Step: 24 * time.Hour, By: store.LevelGroup})
	if err != nil {
		return fmt.Errorf("incident day: %w", err)
	}
	if len(day.Rows) == 1 && day.Rows[0].ProduceRate != nil && day.Rows[0].ConsumeRate != nil {
		f.produceDay, f.consDay = *day.Rows[0].ProduceRate, *day.Rows[0].ConsumeRate
	}
	ds, err := e.Drain(ctx, query.DrainRequest{Selection: sel, By: store.LevelGroup, At: now})
	if err != nil {
		return fmt.Errorf("incident drain: %w", err)
	}
	if len(ds) == 1 {
		f.now = &ds[0]
	}
	r.incident = f
	return nil
}

// drainETA words a Drain's time to drain. A lag under a minute of
// production is the consumer keeping up, not a backlog to drain.
func drainETA(d query.Drain) string {
	switch {
	case d.Lag == nil:
		return "no data"
	case !d.Backlog:
		return "keeping up"
	case d.ETA != nil:
		return humanSeconds(d.ETA.Seconds())
	case d.Slope != nil && *d.Slope > 0:
		return "growing"
	}
	return "not draining"
}

// summarizePartitions lists up to four partitions.
func summarizePartitions(ps []query.PartitionRef) string {
	if len(ps) <= 4 {
		return query.JoinPartitions(ps)
	}
	return fmt.Sprintf("%s and %d more", query.JoinPartitions(ps[:3]), len(ps)-3)
}

// capacityLines gives one capacity line per group from the capacity
// report over the history's whole hours: the figures and the verdict of
// lagtrail report capacity, read from Engine.CapacityReport.
func (r *demoReport) capacityLines(ctx context.Context, e *query.Engine) error {
	t := &table{columns: []column{{"group", kText}, {"produce_p50", kRate}, {"produce_p99", kRate}, {"produce_max", kRate}, {"capacity", kRate}, {"headroom", kText}, {"verdict", kText}}}
	r.capacity = t
	to := r.to.UTC().Truncate(time.Hour)
	window := to.Sub(r.from.UTC().Truncate(time.Hour))
	if window < query.MinCapacityWindow {
		r.capacityNote = fmt.Sprintf("not enough history: a capacity report needs %s of hourly rollups, the history holds %s", query.MinCapacityWindow, window)
		return nil
	}
	rep, err := e.CapacityReport(ctx, query.CapacityRequest{At: to, Window: min(window, query.MaxCapacityWindow)})
	if err != nil {
		return err
	}
	for _, g := range rep.Groups {
		headroom := "-"
		if !math.IsNaN(g.Headroom) {
			headroom = fmt.Sprintf("%.2fx", g.Headroom)
			if g.HeadroomIsLowerBound {
				headroom = "≥ " + headroom
			}
		}
		verdict := fmt.Sprintf("%s (confidence %s)", g.Verdict, g.Confidence)
		t.add(g.Group.Group, nanNil(g.ProduceP50), nanNil(g.ProduceP99), nanNil(g.ProduceMax), nanNil(g.Capacity), headroom, verdict)
	}
	r.capacityNote = fmt.Sprintf("as lagtrail report capacity --window %dh --at %s gives it", int(rep.To.Sub(rep.From).Hours()), rep.To.Format(time.RFC3339))
	return nil
}

// nanNil returns v, or nil (an unknown cell) when v is NaN.
func nanNil(v float64) any {
	if math.IsNaN(v) {
		return nil
	}
	return v
}

// byKey splits rows, ordered by key, into runs of one key.
func byKey(rows []query.Row) [][]query.Row {
	var out [][]query.Row
	for i := 0; i < len(rows); {
		j := i
		for j < len(rows) && rows[j].Key == rows[i].Key {
			j++
		}
		out = append(out, rows[i:j])
		i = j
	}
	return out
}

// check sets the findings against the scenario: each scripted stall,
// rewind and reset is looked for in the data, and the incident group's
// rates are compared with the model's.
func (r *demoReport) check(ctx context.Context, e *query.Engine, m *scenario.Model) error {
	for _, ev := range m.Events() {
		if ev.From.After(r.to) {
			continue
		}
		switch ev.Kind {
		case scenario.KindStall:
			c := demoCheck{what: ev.Group.Group + " stall", scripted: ev.From.Format("Mon 15:04") + "–" + ev.To.Format("15:04")}
			if f := r.incident; f != nil && f.group == ev.Group {
				d := f.from.Sub(ev.From)
				c.found = fmt.Sprintf("STALL/STOP from %s (%+.0fm), lag back to normal %s", f.from.Format("Mon 15:04"), d.Minutes(), fmtTime(f.normal, "15:04"))
				c.ok = d >= 0 && d <= 2*demoStatusStep
			} else {
				c.found = "not found"
			}
			r.checks = append(r.checks, c)
		case scenario.KindRewind, scenario.KindResetToLatest:
			c := demoCheck{what: ev.Group.Group + " " + ev.Kind, scripted: ev.From.Format("Mon 15:04")}
			evs, err := e.Events(ctx, query.Range{Selection: query.Selection{Group: ev.Group.Group, Region: ev.Group.Region, Instance: ev.Group.InstanceID},
				From: ev.From.Add(-time.Hour), To: ev.From.Add(time.Hour), By: store.LevelGroup})
			if err != nil {
				return fmt.Errorf("events: %w", err)
			}
			c.found = "not found"
			for _, x := range evs {
				if x.Kind == ev.Kind {
					c.found = fmt.Sprintf("%s: consumer offset moved %s messages between %s and %s", x.Kind, humanCount(float64(x.ConsumerTo-x.ConsumerFrom)), x.From.Format("Mon 15:04:05"), x.To.Format("15:04:05"))
					c.ok = !ev.From.Before(x.From) && !ev.From.After(x.To)
					break
				}
			}
			r.checks = append(r.checks, c)
		}
	}
	if f := r.incident; f != nil {
		p, q, _ := m.Rates(f.group, f.day, f.day.Add(24*time.Hour))
		r.checks = append(r.checks,
			rateCheck(f.group.Group+" production on "+f.day.Format("Mon 2 Jan"), f.produceDay, p),
			rateCheck(f.group.Group+" consumption on "+f.day.Format("Mon 2 Jan"), f.consDay, q))
	}
	return nil
}

// rateCheck compares a measured rate with the scenario's; within 2% is ok.
func rateCheck(what string, measured, scripted float64) demoCheck {
	diff := math.Inf(1)
	if scripted != 0 {
		diff = (measured - scripted) / scripted
	}
	return demoCheck{
		what:     what,
		found:    fmt.Sprintf("%.2f/s measured (%+.2f%%)", measured, 100*diff),
		scripted: fmt.Sprintf("%.2f/s", scripted),
		ok:       math.Abs(diff) <= 0.02,
	}
}

func fmtTime(t time.Time, layout string) string {
	if t.IsZero() {
		return "not yet"
	}
	return t.Format(layout)
}

// write prints the report.
func (r *demoReport) write(w io.Writer) error {
	p := func(format string, a ...any) { fmt.Fprintf(w, format, a...) }
	p("\n== lagtrail demo report: %s\n", r.title)
	p("History %s – %s (UTC)\n\n", r.from.Format("Mon 2 Jan 15:04"), r.to.Format("Mon 2 Jan 15:04"))
	p("Fleet now\n")
	if err := r.fleet.writeTable(w); err != nil {
		return err
	}
	if f := r.incident; f != nil {
		p("\nIncident: %s (%s, %s)\n", f.group.Group, f.group.Region, f.group.InstanceID)
		p("  stalled from %s to %s; status OK again %s; lag back to normal %s", f.from.Format("Mon 15:04"), f.to.Format("15:04"), fmtTime(f.recovered, "15:04"), fmtTime(f.normal, "15:04"))
		if !f.normal.IsZero() {
			p(", %s after it began", f.normal.Sub(f.from).Round(time.Second))
		}
		p("\n  peak lag %s messages at %s; peak time lag %s\n", thousands(f.peakLag), f.peakAt.Format("15:04"), humanSeconds(f.peakTimeLag))
		p("  that day: produced %s/s, consumed %s/s on average\n", humanCount(f.produceDay), humanCount(f.consDay))
		if d := f.now; d != nil && d.Lag != nil {
			p("  now: lag %s, produce %s/s, consume %s/s, drain ETA: %s\n", thousands(*d.Lag), humanCount(orNaN(d.ProduceRate)), humanCount(orNaN(d.ConsumeRate)), drainETA(*d))
		}
		p("  status timeline (%s buckets, everything not OK):\n", demoStatusStep)
		var b strings.Builder
		if err := f.timeline.writeTable(&b); err != nil {
			return err
		}
		for line := range strings.Lines(b.String()) {
			p("    %s", line)
		}
	} else {
		p("\nNo group stalled in the history.\n")
	}
	p("\nCapacity (%s)\n", r.capacityNote)
	if err := r.capacity.writeTable(w); err != nil {
		return err
	}
	p("\nChecked against the scenario\n")
	for _, c := range r.checks {
		mark := "ok "
		if !c.ok {
			mark = "OFF"
		}
		p("  [%s] %s: scripted %s; found %s\n", mark, c.what, c.scripted, c.found)
	}
	p("\nCharts:\n")
	for _, c := range r.charts {
		p("  %s\n", c)
	}
	return nil
}

func orNaN(p *float64) float64 {
	if p == nil {
		return math.NaN()
	}
	return *p
}
