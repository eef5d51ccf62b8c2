package main

import (
	"context"
	"fmt"
	"math"
	"path/filepath"
	"time"

	"github.com/lagtrail/lagtrail/internal/chart"
	"github.com/lagtrail/lagtrail/query"
	"github.com/lagtrail/lagtrail/store"
)

// drawCharts writes the demo's charts into dir: the fleet's lag over the
// history, and the incident group's lag by partition, rates and time lag
// around the incident and over the week.
func (r *demoReport) drawCharts(ctx context.Context, e *query.Engine, dir string) error {
	save := func(name string, c chart.Chart) error {
		path := filepath.Join(dir, name)
		if err := c.Save(path); err != nil {
			return fmt.Errorf("chart %s: %w", name, err)
		}
		r.charts = append(r.charts, path)
		return nil
	}
	week := r.hourly
	if err := save("fleet-lag.png", chart.Chart{
		Title: "Lag by consumer group, hourly: last poll, shaded up to the hour's peak", YLabel: "messages behind",
		Series: lagSeriesBy(week.Rows, func(k store.Key) string { return k.Group.Group }),
	}); err != nil {
		return err
	}
	f := r.incident
	if f == nil {
		return nil
	}
	sel := query.Selection{Group: f.group.Group, Region: f.group.Region, Instance: f.group.InstanceID}
	from, until := f.from.Add(-time.Hour).Truncate(time.Minute), f.to.Add(2*time.Hour).Truncate(time.Minute)
	parts, err := e.History(ctx, query.Range{Selection: sel, From: from, To: until, Step: demoDetailStep, By: store.LevelPartition, Tier: query.TierRaw})
	if err != nil {
		return fmt.Errorf("lag by partition: %w", err)
	}
	group, err := e.History(ctx, query.Range{Selection: sel, From: from, To: until, Step: demoDetailStep, By: store.LevelGroup, Tier: query.TierRaw})
	if err != nil {
		return fmt.Errorf("group detail: %w", err)
	}
	band := []chart.Band{{From: f.from, To: f.to, Label: "STALL/STOP"}}
	var markers []chart.Marker
	if !f.recovered.IsZero() {
		markers = append(markers, chart.Marker{At: f.recovered, Label: "OK again " + f.recovered.Format("15:04")})
	}
	name := f.group.Group
	if err := save(name+"-lag-by-partition.png", chart.Chart{
		Title: name + ": lag by partition around the incident, shaded up to each minute's peak", YLabel: "messages behind", Bands: band, Markers: markers,
		Series: lagSeriesBy(parts.Rows, func(k store.Key) string { return fmt.Sprintf("%s/%d", k.Topic, k.Partition) }),
	}); err != nil {
		return err
	}
	if err := save(name+"-rates.png", chart.Chart{
		Title: name + ": production and consumption", YLabel: "messages/s", Bands: band, Markers: markers,
		Series: []chart.Series{
			series("produce", group.Rows, func(r query.Row) *float64 { return r.ProduceRate }),
			series("consume", group.Rows, func(r query.Row) *float64 { return r.ConsumeRate }),
		},
	}); err != nil {
		return err
	}
	if err := save(name+"-time-lag.png", chart.Chart{
		Title: name + ": time lag (age of the last consumed message)", YLabel: "time lag", YUnit: chart.UnitSeconds, Bands: band, Markers: markers,
		Series: []chart.Series{series("time lag", group.Rows, func(r query.Row) *float64 { return r.TimeLag })},
	}); err != nil {
		return err
	}
	var weekRates []query.Row
	for _, run := range byKey(r.hourly.Rows) {
		if run[0].Group == f.group {
			weekRates = run
		}
	}
	return save(name+"-rates-week.png", chart.Chart{
		Title: name + ": hourly production and consumption over the history", YLabel: "messages/s", Bands: band,
		Series: []chart.Series{
			series("produce", weekRates, func(r query.Row) *float64 { return r.ProduceRate }),
			series("consume", weekRates, func(r query.Row) *float64 { return r.ConsumeRate }),
		},
	})
}

// series makes one chart line of rows (one key's), a value per bucket
// end; unknown values break the line.
func series(name string, rows []query.Row, value func(query.Row) *float64) chart.Series {
	s := chart.Series{Name: name}
	for _, r := range rows {
		v := math.NaN()
		if p := value(r); p != nil {
			v = *p
		}
		s.Points = append(s.Points, chart.Point{T: r.End, V: v})
	}
	return s
}

// lagSeriesBy makes one lag line per key: each bucket's lag at its last
// poll, with the bucket's peak (LagMax) as the series' maxima, which the
// chart shades above the line, so a peak between two bucket ends is not
// hidden. A bucket of one poll has its lag as its peak: no shade.
func lagSeriesBy(rows []query.Row, name func(store.Key) string) []chart.Series {
	var out []chart.Series
	for _, run := range byKey(rows) {
		s := series(name(run[0].Key), run, func(r query.Row) *float64 { return i2f(r.Lag) })
		s.Max = make([]float64, len(run))
		for i, r := range run {
			s.Max[i] = math.NaN()
			if p := i2f(r.LagMax); p != nil {
				s.Max[i] = *p
			}
		}
		out = append(out, s)
	}
	return out
}

func i2f(p *int64) *float64 {
	if p == nil {
		return nil
	}
	v := float64(*p)
	return &v
}
