package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/common/expfmt"

	"github.com/lagtrail/lagtrail/internal/benchgen"
	"github.com/lagtrail/lagtrail/internal/lagmetrics"
	"github.com/lagtrail/lagtrail/query"
	"github.com/lagtrail/lagtrail/store"
)

// webBenchRead is one read of issue 18's table, timed (median of --runs,
// nothing cached) against its baseline: the time PostgreSQL takes to read
// the partition samples the answer is built from (store.ScanSamples), in
// the same run.
type webBenchRead struct {
	Name         string  `json:"name"`
	MedianMs     float64 `json:"median_ms"`
	Rows         int     `json:"rows"`
	BaselineMs   float64 `json:"baseline_ms"`
	BaselineRows int64   `json:"baseline_samples"`
	// Ratio is MedianMs over BaselineMs: how many times reading the rows
	// the answer costs.
	Ratio float64 `json:"ratio"`
}

// webBenchReadSpec is a read and the samples its baseline scans.
type webBenchReadSpec struct {
	name string
	// run performs the read once and returns how many rows it answered.
	run func(ctx context.Context) (int, error)
	// groups (none: every group) and [from, to) select the baseline's
	// samples.
	groups   []store.GroupRef
	from, to time.Time
}

// benchReads times each read and its baseline, runs times after a warm-up.
// The fleet is every group now; the big group's reads cover [from, to),
// the range of the group view; the incident report covers the 4 hours
// around benchgen's stall of the second big group, which ends 5 hours
// before its last poll.
func benchReads(ctx context.Context, st *store.Store, eng *query.Engine, client *http.Client, base string, from, to time.Time, runs int,
	progress func(string, ...any)) ([]webBenchRead, error) {
	last, err := st.Fleet(ctx, store.FleetQuery{Instance: benchgen.Instance})
	if err != nil {
		return nil, err
	}
	if len(last) == 0 {
		return nil, fmt.Errorf("reads: no group of %s recorded", benchgen.Instance)
	}
	end := last[0].LastPollAt
	big := store.GroupRef{Region: benchgen.Region, InstanceID: benchgen.Instance, Group: webBenchGroup}
	stalled := last[min(1, len(last)-1)].Group
	api := func(path string, kv ...string) func(context.Context) (int, error) {
		q := url.Values{}
		for i := 0; i < len(kv); i += 2 {
			q.Set(kv[i], kv[i+1])
		}
		return func(ctx context.Context) (int, error) {
			rows, _, err := fetchRows(ctx, client, base+path+"?"+q.Encode())
			return rows, err
		}
	}
	group := func(g store.GroupRef, f, t time.Time, kv ...string) []string {
		return append([]string{"group", g.Group, "instance", g.InstanceID, "from", f.Format(time.RFC3339), "to", t.Format(time.RFC3339)}, kv...)
	}
	days := fmt.Sprintf("%dd", int(to.Sub(from).Hours()/24))
	incFrom, incTo := end.Add(-7*time.Hour).Truncate(time.Minute), end.Add(-3*time.Hour).Truncate(time.Minute)
	fleetFrom := end.Add(-time.Hour)
	specs := []webBenchReadSpec{
		{name: "fleet, computed (query fleet)", run: func(ctx context.Context) (int, error) {
			gs, err := eng.Fleet(ctx, query.FleetRequest{})
			return len(gs), err
		}, from: fleetFrom, to: end.Add(time.Second)},
		{name: "/metrics, cold scrape", run: func(ctx context.Context) (int, error) { return scrapeCold(st) },
			from: fleetFrom, to: end.Add(time.Second)},
		{name: "lag by group, " + days + " at 5m", run: api("/api/v1/lag", group(big, from, to, "by", "group", "step", "5m")...),
			groups: []store.GroupRef{big}, from: from, to: to},
		{name: "lag by partition, " + days + " at 5m", run: api("/api/v1/lag", group(big, from, to, "by", "partition", "step", "5m")...),
			groups: []store.GroupRef{big}, from: from, to: to},
		{name: "rates by group, " + days + " at 5m", run: api("/api/v1/rates", group(big, from, to, "by", "group", "step", "5m")...),
			groups: []store.GroupRef{big}, from: from, to: to},
		{name: "status, " + days + " at 10m", run: api("/api/v1/status", group(big, from, to, "step", "10m")...),
			groups: []store.GroupRef{big}, from: from, to: to},
		{name: "status, 24h at 1m", run: api("/api/v1/status", group(big, to.Add(-24*time.Hour), to, "step", "1m")...),
			groups: []store.GroupRef{big}, from: to.Add(-24 * time.Hour), to: to},
		{name: "report incident, 4h", run: api("/api/v1/incident", group(stalled, incFrom, incTo, "format", "json")...),
			groups: []store.GroupRef{stalled}, from: incFrom.Add(-query.DefaultBaseline), to: incTo},
		{name: "BI: group_lag_daily, " + days + ", every group", run: func(ctx context.Context) (int, error) {
			n, err := st.Export(ctx, store.ExportRequest{View: "group_lag_daily", From: from, To: to}, discardRows{})
			return int(n), err
		}, from: from, to: to},
	}
	var out []webBenchRead
	for _, s := range specs {
		r := webBenchRead{Name: s.name}
		times, err := timeRuns(runs, func() error {
			n, err := s.run(ctx)
			r.Rows = n
			return err
		})
		if err != nil {
			return nil, fmt.Errorf("%s: %w", s.name, err)
		}
		r.MedianMs = medianMs(times)
		baseline, err := timeRuns(runs, func() error {
			n, err := st.ScanSamples(ctx, s.groups, s.from, s.to)
			r.BaselineRows = n
			return err
		})
		if err != nil {
			return nil, fmt.Errorf("%s: baseline: %w", s.name, err)
		}
		r.BaselineMs = medianMs(baseline)
		if r.BaselineMs > 0 {
			r.Ratio = r.MedianMs / r.BaselineMs
		}
		progress("%s: median %.0f ms, %d rows; baseline %.0f ms for %d samples (%.3gx)", r.Name, r.MedianMs, r.Rows, r.BaselineMs, r.BaselineRows, r.Ratio)
		out = append(out, r)
	}
	return out, nil
}

// scrapeCold gathers and encodes what /metrics serves from a new collector,
// so that nothing a previous scrape read is reused, and returns how many
// series it exposed.
func scrapeCold(st *store.Store) (int, error) {
	c, err := lagmetrics.New(st, lagmetrics.Config{}, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		return 0, err
	}
	reg := prometheus.NewRegistry()
	if err := reg.Register(c); err != nil {
		return 0, err
	}
	mfs, err := reg.Gather()
	if err != nil {
		return 0, err
	}
	var buf bytes.Buffer
	enc := expfmt.NewEncoder(&buf, expfmt.NewFormat(expfmt.TypeTextPlain))
	n := 0
	for _, mf := range mfs {
		if err := enc.Encode(mf); err != nil {
			return 0, err
		}
		n += len(mf.GetMetric())
	}
	return n, nil
}

// discardRows is a store.ExportWriter that keeps nothing: Export counts
// the rows.
type discardRows struct{}

func (discardRows) Begin([]string) error { return nil }
func (discardRows) Row([]any) error      { return nil }
func (discardRows) End() error           { return nil }
