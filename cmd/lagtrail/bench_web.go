package main

import (
	"compress/gzip"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/spf13/cobra"

	"github.com/lagtrail/lagtrail/internal/benchgen"
	"github.com/lagtrail/lagtrail/query"
	"github.com/lagtrail/lagtrail/store"
)

// webBenchFlags are the flags of bench web.
type webBenchFlags struct {
	dbURL, format     string
	groups, parts     int
	bigParts, days    int
	runs              int
	browser, chromium string
}

// The groups bench web writes: a fleet instance, and an instance with three
// groups of --big-partitions, of which benchgen's second stalls for an hour
// six hours before the end.
const (
	webBenchFleetInstance = "alikafka_bench-cn-fleet"
	webBenchGroup         = "bench-group-001"
)

func newBenchWebCmd(g *globals) *cobra.Command {
	f := &webBenchFlags{}
	cmd := &cobra.Command{
		Use:   "web [--database-url URL] [--groups 2000 --partitions 8] [--big-partitions 32 --days 7] [--runs 5]",
		Short: "Measure the web pages' API requests, and their load in Chromium, on a large generated fleet",
		Long: `web writes a generated history into a scratch database: --groups groups of
--partitions partitions polled every minute for the last hour (the fleet), and
three groups of --big-partitions partitions polled every minute for the last
--days days, one of which stalls for an hour six hours ago. It then serves the
API in this process and measures, median of --runs after a warm-up:

  fleet       GET /api/v1/fleet: every group now, as the fleet page loads it
  group view  the four requests the group page makes on its first load of
              the big stalled group over --days (lag by partition, lag and
              rates by group, status), sent together as a browser does:
              downsampled on the server to whole hours (the status to the
              page's finer step, 10m over 7 days), against a baseline
              of the same requests at 1-minute steps from the raw samples
              (every recorded point, downsampled in the client)

It prints each request's median time, rows and bytes, the ratio of the
baseline to the downsampled load, and PostgreSQL's plan (EXPLAIN ANALYZE) of
the lag-by-partition request in both forms.

It also times, with nothing cached, the reads that must stay interactive at
scale (the fleet computed, a cold /metrics scrape, lag and rates over the
range at 5m, status at 10m and over 24h at 1m, an incident report over the
4 hours around the stall, and the BI view group_lag_daily), each against the
time PostgreSQL takes to read the partition samples its answer is built
from, with the ratio. With Chromium (--browser auto
finds /usr/bin/chromium; "off" skips it) it also loads the fleet page and the
group page headless and reports the time from navigation to charts drawn.

Run it on a scratch database (createdb, then lagtrail migrate up). A later run
on the same database reuses the history it wrote if it is less than an hour
old, and refuses a database holding other polls.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error { return runBenchWeb(cmd, g, f) },
	}
	fl := cmd.Flags()
	fl.StringVar(&f.dbURL, "database-url", "", "PostgreSQL URL of a scratch database (default $"+envDatabaseURL+")")
	fl.IntVar(&f.groups, "groups", 2000, "groups of the fleet")
	fl.IntVar(&f.parts, "partitions", 8, "partitions of each fleet group")
	fl.IntVar(&f.bigParts, "big-partitions", 32, "partitions of the two groups with long history")
	fl.IntVar(&f.days, "days", 7, "days of history of the two big groups, at 1-minute polls")
	fl.IntVar(&f.runs, "runs", 5, "timed runs of each measurement, after one warm-up")
	fl.StringVar(&f.browser, "browser", "auto", "measure the pages in headless Chromium: auto, on or off")
	fl.StringVar(&f.chromium, "chromium", "/usr/bin/chromium", "Chromium executable for --browser")
	fl.StringVar(&f.format, "format", "table", "output: table or json")
	return cmd
}

func (f *webBenchFlags) validate() error {
	switch {
	case f.groups < 1 || f.groups > 100_000:
		return usagef("--groups must be between 1 and 100000, got %d", f.groups)
	case f.parts < 1 || f.parts > 1000:
		return usagef("--partitions must be between 1 and 1000, got %d", f.parts)
	case f.bigParts < 1 || f.bigParts > 1000:
		return usagef("--big-partitions must be between 1 and 1000, got %d", f.bigParts)
	case f.days < 1 || f.days > 31:
		return usagef("--days must be between 1 and 31, got %d", f.days)
	case f.runs < 1 || f.runs > 100:
		return usagef("--runs must be between 1 and 100, got %d", f.runs)
	case f.browser != "auto" && f.browser != "on" && f.browser != "off":
		return usagef("--browser must be auto, on or off, got %q", f.browser)
	case f.format != "table" && f.format != "json":
		return usagef("--format must be table or json, got %q", f.format)
	}
	return nil
}

// webBenchReport is bench web's output.
type webBenchReport struct {
	Groups          int               `json:"fleet_groups"`
	Partitions      int               `json:"fleet_partitions"`
	BigPartitions   int               `json:"big_partitions"`
	Days            int               `json:"days"`
	Samples         int64             `json:"samples_written"`
	Runs            int               `json:"runs"`
	Requests        []webBenchRequest `json:"requests"`
	Reads           []webBenchRead    `json:"reads"`
	FleetComputeMs  float64           `json:"fleet_compute_median_ms"`
	FleetGroups     int               `json:"fleet_rows"`
	GroupViewMs     float64           `json:"group_view_median_ms"`
	BaselineMs      float64           `json:"baseline_median_ms"`
	Ratio           float64           `json:"baseline_over_group_view"`
	PlanDownsampled string            `json:"plan_downsampled"`
	PlanBaseline    string            `json:"plan_baseline"`
	Browser         []webBenchRequest `json:"browser,omitempty"`
	BrowserNote     string            `json:"browser_note,omitempty"`
}

// webBenchRequest is one timed request or page.
type webBenchRequest struct {
	Name     string  `json:"name"`
	Path     string  `json:"path"`
	MedianMs float64 `json:"median_ms"`
	MinMs    float64 `json:"min_ms"`
	MaxMs    float64 `json:"max_ms"`
	Rows     int     `json:"rows,omitempty"`
	Bytes    int64   `json:"bytes_gzip,omitempty"`
}

func runBenchWeb(cmd *cobra.Command, g *globals, f *webBenchFlags) error {
	if err := f.validate(); err != nil {
		return err
	}
	u, err := databaseURL(f.dbURL, g.getenv, nil)
	if err != nil {
		return err
	}
	ctx := cmd.Context()
	progress := func(format string, args ...any) { fmt.Fprintf(g.stderr, "bench: "+format+"\n", args...) }
	st, err := store.Open(ctx, store.Config{DatabaseURL: u}, nil)
	if err != nil {
		return fmt.Errorf("open store: %w", err)
	}
	defer st.Close()

	rep := &webBenchReport{Groups: f.groups, Partitions: f.parts, BigPartitions: f.bigParts, Days: f.days, Runs: f.runs}
	if err := webBenchHistory(ctx, st, f, rep, progress); err != nil {
		return err
	}

	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	h, err := newHTTPHandler(httpConfig{st: st, log: log, reg: prometheus.NewRegistry(), timeout: 10 * time.Minute,
		getenv: g.getenv, ready: func(context.Context) string { return "" }})
	if err != nil {
		return err
	}
	stop, addr, err := serveHTTP(ctx, "127.0.0.1:0", h, log)
	if err != nil {
		return err
	}
	defer stop()
	base := "http://" + addr
	client := &http.Client{Transport: &http.Transport{MaxConnsPerHost: 6, DisableCompression: false}}

	// The group page's first load over the last --days: whole-hour
	// buckets from the hour before the range to the hour after now.
	to := time.Now().UTC().Truncate(time.Hour).Add(time.Hour)
	from := to.Add(-time.Duration(f.days) * 24 * time.Hour)
	sel := url.Values{"group": {webBenchGroup}, "instance": {benchgen.Instance}, "from": {from.Format(time.RFC3339)}, "to": {to.Format(time.RFC3339)}}
	page := func(step, tier, statusStep string) []webBenchRequest {
		with := func(kv ...string) string {
			q := url.Values{}
			for k, v := range sel {
				q[k] = v
			}
			for i := 0; i < len(kv); i += 2 {
				q.Set(kv[i], kv[i+1])
			}
			return q.Encode()
		}
		t := []string{}
		if tier != "" {
			t = []string{"tier", tier}
		}
		return []webBenchRequest{
			{Name: "lag by partition", Path: "/api/v1/lag?" + with(append([]string{"by", "partition", "step", step}, t...)...)},
			{Name: "lag by group (time lag)", Path: "/api/v1/lag?" + with(append([]string{"by", "group", "step", step}, t...)...)},
			{Name: "rates by group", Path: "/api/v1/rates?" + with(append([]string{"by", "group", "step", step}, t...)...)},
			{Name: "status", Path: "/api/v1/status?" + with("step", statusStep)},
		}
	}
	fleet := []webBenchRequest{{Name: "fleet (cached)", Path: "/api/v1/fleet"}}
	down, baseline := page("1h", "", webStatusStep(to.Sub(from), time.Hour)), page("1m", "raw", "1m")
	for _, set := range []struct {
		label string
		reqs  []webBenchRequest
		total *float64
	}{{"fleet", fleet, nil}, {"group view", down, &rep.GroupViewMs}, {"baseline", baseline, &rep.BaselineMs}} {
		total, err := timeRequests(ctx, client, base, set.reqs, f.runs)
		if err != nil {
			return fmt.Errorf("%s: %w", set.label, err)
		}
		if set.total != nil {
			*set.total = total
		}
		for _, r := range set.reqs {
			r.Name = set.label + ": " + r.Name
			rep.Requests = append(rep.Requests, r)
			progress("%s: median %.0f ms, %d rows, %s bytes gzipped", r.Name, r.MedianMs, r.Rows, thousands(r.Bytes))
		}
		progress("%s: all requests together, median %.0f ms", set.label, total)
	}
	if rep.GroupViewMs > 0 {
		rep.Ratio = rep.BaselineMs / rep.GroupViewMs
	}

	eng, err := query.New(st, query.Config{}, nil)
	if err != nil {
		return err
	}
	// The fleet endpoint serves a computation for 15 s: the reads time
	// the computation itself, first.
	if rep.Reads, err = benchReads(ctx, st, eng, client, base, from, to, f.runs, progress); err != nil {
		return err
	}
	rep.FleetComputeMs, rep.FleetGroups = rep.Reads[0].MedianMs, rep.Reads[0].Rows
	for _, p := range []struct {
		step time.Duration
		tier query.Tier
		out  *string
	}{{time.Hour, query.TierAuto, &rep.PlanDownsampled}, {time.Minute, query.TierRaw, &rep.PlanBaseline}} {
		hist, err := eng.History(ctx, query.Range{Selection: query.Selection{Group: webBenchGroup, Instance: benchgen.Instance}, From: from, To: to, Step: p.step,
			By: store.LevelPartition, Tier: p.tier, Explain: true})
		if err != nil {
			return fmt.Errorf("explain: %w", err)
		}
		*p.out = fmt.Sprintf("tier %s, %d buckets of %s\n%s", hist.Tier, int(to.Sub(from)/p.step), p.step, hist.Plan)
	}

	if err := benchPages(ctx, f, base, sel, rep, progress); err != nil {
		return err
	}
	if f.format == "json" {
		enc := json.NewEncoder(g.stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(rep)
	}
	return writeWebBench(g.stdout, rep)
}

// webBenchHistory writes the bench's history, or finds it written by an
// earlier run less than an hour ago.
func webBenchHistory(ctx context.Context, st *store.Store, f *webBenchFlags, rep *webBenchReport, progress func(string, ...any)) error {
	now := time.Now().UTC().Truncate(time.Minute)
	held, err := st.HoldsPolls(ctx)
	if err != nil {
		return err
	}
	if held {
		groups, err := st.FindGroups(ctx, webBenchGroup, benchgen.Region, benchgen.Instance)
		if err != nil {
			return err
		}
		last, err := st.Fleet(ctx, store.FleetQuery{Instance: benchgen.Instance})
		if err != nil {
			return err
		}
		if len(groups) == 0 || len(last) == 0 {
			return errors.New("this database's lagtrail schema holds polls other than bench web's: run bench web against a scratch database (createdb, then lagtrail migrate up --database-url URL)")
		}
		if age := time.Since(last[0].LastPollAt); age > time.Hour {
			return fmt.Errorf("bench web's history in this database ends %s ago; drop the database and run again on a fresh one", age.Round(time.Minute))
		}
		progress("reusing the history of an earlier run, up to %s", last[0].LastPollAt.Format(time.RFC3339))
		return nil
	}
	// Three groups: benchgen stalls its second only when there are three.
	big, err := benchgen.New(benchgen.Config{Groups: 3, Partitions: f.bigParts, Rounds: f.days * 1440, Interval: time.Minute,
		Start: now.Add(-time.Duration(f.days) * 24 * time.Hour), Seed: 7})
	if err != nil {
		return usagef("%v", err)
	}
	fleet, err := benchgen.New(benchgen.Config{Groups: f.groups, Partitions: f.parts, Rounds: 60, Interval: time.Minute,
		Start: now.Add(-time.Hour), Seed: 11})
	if err != nil {
		return usagef("%v", err)
	}
	if _, err := st.EnsurePartitions(ctx, big.Config().Start, f.days+2); err != nil {
		return err
	}
	rep.Samples = big.Samples() + fleet.Samples()
	progress("writing %s samples: 3 groups x %d partitions x %d days, and %d groups x %d partitions x 1 hour, all at 1 minute",
		thousands(rep.Samples), f.bigParts, f.days, f.groups, f.parts)
	began := time.Now()
	// An hour of the big groups, and 5 minutes of the fleet, per write.
	var batch []*store.Poll
	for i := range big.Config().Rounds {
		batch = append(batch, big.Round(i)...)
		if (i+1)%60 == 0 || i == big.Config().Rounds-1 {
			if _, err := st.WritePolls(ctx, batch); err != nil {
				return err
			}
			batch = batch[:0]
		}
	}
	for i := range fleet.Config().Rounds {
		for _, p := range fleet.Round(i) {
			p.Group.InstanceID = webBenchFleetInstance
			batch = append(batch, p)
		}
		if (i+1)%5 == 0 || i == fleet.Config().Rounds-1 {
			if _, err := st.WritePolls(ctx, batch); err != nil {
				return err
			}
			batch = batch[:0]
		}
	}
	progress("wrote the history in %s; storing the now-state", time.Since(began).Round(time.Second))
	t0 := time.Now()
	fresh, err := st.RefreshNow(ctx)
	if err != nil {
		return err
	}
	progress("stored the now-state of %d groups in %s (%.1f ms a group); rolling up",
		fresh.Groups, time.Since(t0).Round(time.Millisecond), float64(time.Since(t0).Microseconds())/1000/float64(max(fresh.Groups, 1)))
	if _, err := st.RefreshRollups(ctx); err != nil {
		return err
	}
	return nil
}

// timeRequests sends reqs together, runs+1 times, and fills each one's
// median, min and max (the first round is a warm-up), rows and bytes. It
// returns the median time of the rounds, all requests together.
func timeRequests(ctx context.Context, client *http.Client, base string, reqs []webBenchRequest, runs int) (float64, error) {
	times := make([][]float64, len(reqs))
	var rounds []float64
	for round := range runs + 1 {
		var wg sync.WaitGroup
		errs := make([]error, len(reqs))
		began := time.Now()
		for i := range reqs {
			wg.Add(1)
			go func() {
				defer wg.Done()
				t0 := time.Now()
				rows, n, err := fetchRows(ctx, client, base+reqs[i].Path)
				if err != nil {
					errs[i] = fmt.Errorf("%s: %w", reqs[i].Path, err)
					return
				}
				times[i] = append(times[i], msSince(t0))
				reqs[i].Rows, reqs[i].Bytes = rows, n
			}()
		}
		wg.Wait()
		if err := errors.Join(errs...); err != nil {
			return 0, err
		}
		if round == 0 {
			for i := range times {
				times[i] = nil
			}
			continue
		}
		rounds = append(rounds, msSince(began))
	}
	for i := range reqs {
		reqs[i].MedianMs, reqs[i].MinMs, reqs[i].MaxMs = medianMs(times[i]), slices.Min(times[i]), slices.Max(times[i])
	}
	return medianMs(rounds), nil
}

// gunzipIf decompresses r when the response says it is gzipped.
func gunzipIf(encoding string, r io.Reader) (io.Reader, error) {
	if encoding != "gzip" {
		return r, nil
	}
	return gzip.NewReader(r)
}

// countingReader counts the bytes read through it.
type countingReader struct {
	r io.Reader
	n int64
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += int64(n)
	return n, err
}

// fetchRows GETs a JSON table (or incident report) with gzip and returns
// its rows (or points) and the bytes on the wire.
func fetchRows(ctx context.Context, client *http.Client, u string) (int, int64, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return 0, 0, err
	}
	// Asked for explicitly, the response is not decompressed by the
	// transport: count its bytes on the wire, then decompress here.
	req.Header.Set("Accept-Encoding", "gzip")
	resp, err := client.Do(req)
	if err != nil {
		return 0, 0, err
	}
	defer resp.Body.Close()
	wire := &countingReader{r: resp.Body}
	body, err := gunzipIf(resp.Header.Get("Content-Encoding"), wire)
	if err != nil {
		return 0, 0, err
	}
	if resp.StatusCode != http.StatusOK {
		b, _ := io.ReadAll(body)
		return 0, 0, fmt.Errorf("status %d: %s", resp.StatusCode, b)
	}
	// A table has rows; an incident report, its series of points.
	var doc struct {
		Rows   []json.RawMessage `json:"rows"`
		Series []json.RawMessage `json:"series"`
	}
	if err := json.NewDecoder(body).Decode(&doc); err != nil {
		return 0, 0, err
	}
	return len(doc.Rows) + len(doc.Series), wire.n, nil
}

func msSince(t time.Time) float64 { return float64(time.Since(t)) / float64(time.Millisecond) }

// timeRuns calls fn runs+1 times and returns how long each call but the
// first, a warm-up, took, in ms. It stops at fn's first error.
func timeRuns(runs int, fn func() error) ([]float64, error) {
	var times []float64
	for i := range runs + 1 {
		t0 := time.Now()
		if err := fn(); err != nil {
			return nil, err
		}
		if i > 0 {
			times = append(times, msSince(t0))
		}
	}
	return times, nil
}

// medianMs is the median of xs (the mean of the middle two for an even
// count).
func medianMs(xs []float64) float64 {
	if len(xs) == 0 {
		return 0
	}
	s := slices.Clone(xs)
	slices.Sort(s)
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}

// writeWebBench prints the report as text.
func writeWebBench(w io.Writer, rep *webBenchReport) error {
	var b strings.Builder
	fmt.Fprintf(&b, "fleet: %d groups x %d partitions (1 hour at 1m); group %s and 2 more: %d partitions, %d days at 1m; %d runs after a warm-up\n\n",
		rep.Groups, rep.Partitions, webBenchGroup, rep.BigPartitions, rep.Days, rep.Runs)
	t := &table{columns: []column{{"request", kText}, {"median_ms", kInt}, {"min_ms", kInt}, {"max_ms", kInt}, {"rows", kInt}, {"bytes_gzip", kInt}}}
	for _, r := range append(slices.Clone(rep.Requests), rep.Browser...) {
		t.add(r.Name, int64(r.MedianMs+0.5), int64(r.MinMs+0.5), int64(r.MaxMs+0.5), int64(r.Rows), r.Bytes)
	}
	if err := t.writeTable(&b); err != nil {
		return err
	}
	fmt.Fprintf(&b, "\nreads, nothing cached, against a baseline: reading the partition samples each answer is built from\n\n")
	rt := &table{columns: []column{{"read", kText}, {"median_ms", kInt}, {"rows", kInt}, {"baseline_ms", kInt}, {"baseline_samples", kInt}, {"ratio", kText}}}
	for _, r := range rep.Reads {
		rt.add(r.Name, int64(r.MedianMs+0.5), int64(r.Rows), int64(r.BaselineMs+0.5), r.BaselineRows, fmt.Sprintf("%.3gx", r.Ratio))
	}
	if err := rt.writeTable(&b); err != nil {
		return err
	}
	fmt.Fprintf(&b, "\nfleet computed (query fleet, uncached): median %.0f ms for %d groups\n", rep.FleetComputeMs, rep.FleetGroups)
	fmt.Fprintf(&b, "group view's four requests together: median %.0f ms; at 1-minute raw points: %.0f ms (%.1fx)\n", rep.GroupViewMs, rep.BaselineMs, rep.Ratio)
	if rep.BrowserNote != "" {
		fmt.Fprintf(&b, "browser: %s\n", rep.BrowserNote)
	}
	fmt.Fprintf(&b, "\nplan of lag by partition, downsampled: %s\n\nplan of lag by partition, 1-minute raw points: %s\n", rep.PlanDownsampled, rep.PlanBaseline)
	_, err := io.WriteString(w, b.String())
	return err
}

// webStatusSteps and webStatusPoints mirror the group page's choice of the
// status step (chooseStep in common.js, without the rollups' whole hours,
// and STATUS_POINTS in group.js).
var webStatusSteps = []time.Duration{time.Minute, 2 * time.Minute, 5 * time.Minute, 10 * time.Minute, 15 * time.Minute,
	30 * time.Minute, time.Hour, 2 * time.Hour, 3 * time.Hour, 6 * time.Hour, 12 * time.Hour, 24 * time.Hour}

const webStatusPoints = 1500

// webStatusStep is the step of the group page's status request over span
// when its charts use chartStep: the smallest that cuts span into at most
// webStatusPoints buckets, and no coarser than chartStep.
func webStatusStep(span, chartStep time.Duration) string {
	step := webStatusSteps[len(webStatusSteps)-1]
	for _, s := range webStatusSteps {
		if span/s <= webStatusPoints {
			step = s
			break
		}
	}
	return fmtAPIStep(min(step, chartStep))
}

// fmtAPIStep writes a step as the page does: 10m, 1h.
func fmtAPIStep(d time.Duration) string {
	if d%time.Hour == 0 {
		return fmt.Sprintf("%dh", d/time.Hour)
	}
	return fmt.Sprintf("%dm", d/time.Minute)
}
