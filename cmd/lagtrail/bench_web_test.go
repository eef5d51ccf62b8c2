package main

import (
	"encoding/json"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/lagtrail/lagtrail/internal/pgtest"
)

// TestBenchWeb runs bench web at a small scale, in Chromium when it is
// installed, and checks its report: every request answered with the rows
// the generated history must give, the downsampled load against the
// 1-minute baseline, and the plans of both.
func TestBenchWeb(t *testing.T) {
	t.Parallel()
	browser := "off"
	if _, err := os.Stat(chromiumPath); err == nil {
		browser = "on"
	}
	dbURL := pgtest.URL(t)
	args := []string{"bench", "web", "--database-url", dbURL, "--groups", "30", "--partitions", "2", "--big-partitions", "4",
		"--days", "1", "--runs", "1", "--browser", browser, "--format", "json"}
	r := runCLI(t, args...)
	if r.code != 0 {
		t.Fatalf("bench web: exit %d: %s", r.code, r.stderr)
	}
	var rep webBenchReport
	if err := json.Unmarshal([]byte(r.stdout), &rep); err != nil {
		t.Fatalf("report: %v\n%s", err, r.stdout)
	}
	// 3 groups x 4 partitions x 1 day, and 30 x 2 x 60 rounds.
	if rep.Samples != 3*4*1440+30*2*60 || rep.FleetGroups != 33 || rep.FleetComputeMs <= 0 {
		t.Errorf("samples %d, fleet %d groups in %v ms; want 20,880 samples and 33 groups", rep.Samples, rep.FleetGroups, rep.FleetComputeMs)
	}
	rows := map[string]int{}
	for _, q := range rep.Requests {
		rows[q.Name] = q.Rows
		if q.MedianMs <= 0 || q.Bytes <= 0 {
			t.Errorf("%s: %v ms, %d bytes", q.Name, q.MedianMs, q.Bytes)
		}
	}
	// The range is a day of whole hours from the hour after now: 24
	// buckets of 1h, or 1,440 of 1m.
	for name, want := range map[string]int{
		"fleet: fleet (cached)":               33,
		"group view: lag by partition":        4 * 24,
		"group view: lag by group (time lag)": 24,
		"group view: rates by group":          24,
		"baseline: lag by partition":          4 * 1440,
		"baseline: rates by group":            1440,
		"baseline: lag by group (time lag)":   1440,
	} {
		if rows[name] != want {
			t.Errorf("%s: %d rows, want %d", name, rows[name], want)
		}
	}
	// The reads: each timed, with the rows its answer must have, against
	// a baseline that read samples. The big group's range is 25 whole
	// hours (the hour after now included), 4 partitions at 1 minute, of
	// which the history holds the last day.
	reads := map[string]webBenchRead{}
	for _, r := range rep.Reads {
		reads[r.Name] = r
		if r.MedianMs <= 0 || r.BaselineMs <= 0 || r.BaselineRows <= 0 || r.Ratio <= 0 || r.Rows <= 0 {
			t.Errorf("read %+v: want times, rows, samples and a ratio", r)
		}
	}
	for name, want := range map[string]int{
		"fleet, computed (query fleet)": 33,
		"lag by group, 1d at 5m":        24 * 12,
		"lag by partition, 1d at 5m":    4 * 24 * 12,
		"rates by group, 1d at 5m":      24 * 12,
	} {
		if r, ok := reads[name]; !ok || r.Rows != want {
			t.Errorf("read %s: %+v, want %d rows", name, r, want)
		}
	}
	for _, name := range []string{"/metrics, cold scrape", "status, 1d at 10m", "status, 24h at 1m", "report incident, 4h", "BI: group_lag_daily, 1d, every group"} {
		if _, ok := reads[name]; !ok {
			t.Errorf("no read %s in %+v", name, rep.Reads)
		}
	}
	if r := reads["lag by partition, 1d at 5m"]; r.BaselineRows < 4*1440-4*60 || r.BaselineRows > 4*1440 {
		t.Errorf("lag by partition: baseline read %d samples, want the day of 4 partitions at 1 minute", r.BaselineRows)
	}
	if rep.GroupViewMs <= 0 || rep.BaselineMs <= 0 || rep.Ratio <= 0 {
		t.Errorf("group view %v ms, baseline %v ms, ratio %v", rep.GroupViewMs, rep.BaselineMs, rep.Ratio)
	}
	if !strings.Contains(rep.PlanDownsampled, "tier rollup") || !strings.Contains(rep.PlanDownsampled, "partition_hourly") ||
		!strings.Contains(rep.PlanBaseline, "tier raw") || !strings.Contains(rep.PlanBaseline, "raw_polls") {
		t.Errorf("plans:\n%s\n%s", rep.PlanDownsampled, rep.PlanBaseline)
	}
	if browser == "on" {
		if len(rep.Browser) != 4 {
			t.Fatalf("browser figures: %+v", rep.Browser)
		}
		for _, b := range rep.Browser {
			if b.MedianMs <= 0 || (strings.Contains(b.Name, "everything") && b.Rows == 0) {
				t.Errorf("browser: %+v", b)
			}
		}
	}
	// A second run on the same database reuses the history. Which history
	// a run writes does not depend on the browser, so this one leaves it
	// out: the first run measured it already.
	again := slices.Clone(args)
	again[slices.Index(again, "--browser")+1] = "off"
	if r := runCLI(t, again...); r.code != 0 || !strings.Contains(r.stderr, "reusing the history") {
		t.Errorf("second run: exit %d: %s", r.code, r.stderr)
	}
}

// TestWebStatusStep checks the bench's copy of the group page's status step
// on the ranges of the page's presets.
func TestWebStatusStep(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		span, chart time.Duration
		want        string
	}{
		{time.Hour, time.Minute, "1m"},
		{24 * time.Hour, 2 * time.Minute, "1m"},
		{7 * 24 * time.Hour, time.Hour, "10m"},
		{30 * 24 * time.Hour, time.Hour, "30m"},
		{90 * 24 * time.Hour, 3 * time.Hour, "2h"},
		{3 * 365 * 24 * time.Hour, 24 * time.Hour, "24h"},
	} {
		if got := webStatusStep(c.span, c.chart); got != c.want {
			t.Errorf("webStatusStep(%s, %s) = %s, want %s", c.span, c.chart, got, c.want)
		}
	}
}
