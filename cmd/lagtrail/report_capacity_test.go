package main

import (
	"encoding/csv"
	"encoding/json"
	"image/png"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/lagtrail/lagtrail/internal/scenariotest"
)

func TestReportCapacityBadInput(t *testing.T) {
	t.Parallel()
	file := filepath.Join(t.TempDir(), "a-file")
	if err := os.WriteFile(file, []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	// No database is given: every case must fail on its flags first.
	for _, c := range []struct {
		name string
		args []string
		want string
	}{
		{"zero window", []string{"--window", "0"}, "--window must be positive, got 0s"},
		{"negative window", []string{"--window", "-2d"}, "--window must be positive, got -48h0m0s"},
		{"an hour", []string{"--window", "1h"}, "--window 1h0m0s is too short: a capacity report needs at least 24h0m0s of hourly rollups"},
		{"not whole hours", []string{"--window", "36h30m"}, "--window must be whole hours"},
		{"not a duration", []string{"--window", "a month"}, "--window: \"a month\" is not a duration"},
		{"unknown format", []string{"--format", "nope"}, `--format must be table, csv, json or markdown, got "nope"`},
		{"out without markdown", []string{"--format", "csv", "--out", t.TempDir()}, "--out writes a Markdown report with charts: it needs --format markdown"},
		{"unwritable out", []string{"--format", "markdown", "--out", filepath.Join(file, "report")}, "--out " + filepath.Join(file, "report") + ": cannot create the directory"},
		{"bad at", []string{"--at", "yesterday"}, "--at: invalid query: bad time"},
	} {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			r := runCLI(t, append([]string{"report", "capacity"}, c.args...)...)
			line := oneErrorLine(t, r.stderr)
			if r.code != exitUsage || !strings.Contains(line, c.want) || r.stdout != "" {
				t.Errorf("exit %d, stdout %q, stderr %q; want exit 2 saying %q", r.code, r.stdout, line, c.want)
			}
		})
	}
}

// TestReportCapacity runs the command on the bundled capacity scenario's
// 30 days: search-indexer (capacity 950/s) cannot keep up with its Monday
// peak; notifier was never backlogged.
func TestReportCapacity(t *testing.T) {
	t.Parallel()
	// The report reads hourly and daily figures: 5-minute polls give
	// them a fifth of the rows the scenario's 1-minute polls would.
	h := scenariotest.GeneratePart(t, "capacity", scenariotest.Monday, scenariotest.Part{
		From: scenariotest.Monday, To: scenariotest.Monday.Add(30 * 24 * time.Hour), Every: 5 * time.Minute})
	base := []string{"report", "capacity", "--database-url", h.URL, "--at", h.To.Format(time.RFC3339), "--window", "30d"}
	runOK := func(t *testing.T, args ...string) string {
		t.Helper()
		r := runCLI(t, append(append([]string{}, base...), args...)...)
		if r.code != exitOK || r.stderr != "" {
			t.Fatalf("exit %d, stderr %q", r.code, r.stderr)
		}
		return r.stdout
	}

	t.Run("csv", func(t *testing.T) {
		t.Parallel()
		recs, err := csv.NewReader(strings.NewReader(runOK(t, "--format", "csv"))).ReadAll()
		if err != nil {
			t.Fatal(err)
		}
		if len(recs) != 3 {
			t.Fatalf("got %d records, want a header and 2 groups", len(recs))
		}
		rows := map[string]map[string]string{}
		for _, rec := range recs[1:] {
			m := map[string]string{}
			for i, col := range recs[0] {
				m[col] = rec[i]
			}
			rows[m["group"]] = m
		}
		si, nt := rows["search-indexer"], rows["notifier"]
		capacity, _ := strconv.ParseFloat(si["capacity"], 64)
		if math.Abs(capacity-950)/950 > 0.05 || si["confidence"] == "none" || si["verdict"] != "insufficient" || si["projection"] != "already" {
			t.Errorf("search-indexer: capacity %s (%s), verdict %s, projection %s; want ~950, insufficient, already",
				si["capacity"], si["confidence"], si["verdict"], si["projection"])
		}
		if nt["capacity"] != "" || nt["confidence"] != "none" || nt["verdict"] != "unknown" || nt["headroom_is_lower_bound"] != "true" || nt["consume_max"] == "" {
			t.Errorf("notifier: capacity %q (%s), verdict %s, lower bound %s (%s); want unknown with a lower bound",
				nt["capacity"], nt["confidence"], nt["verdict"], nt["headroom_is_lower_bound"], nt["consume_max"])
		}
	})

	t.Run("json", func(t *testing.T) {
		t.Parallel()
		var doc struct {
			Report string           `json:"report"`
			From   time.Time        `json:"from"`
			To     time.Time        `json:"to"`
			Window float64          `json:"window_seconds"`
			Rows   []map[string]any `json:"rows"`
		}
		if err := json.Unmarshal([]byte(runOK(t, "--format", "json", "--group", "search-indexer")), &doc); err != nil {
			t.Fatal(err)
		}
		if doc.Report != "capacity" || !doc.From.Equal(h.From) || !doc.To.Equal(h.To) || doc.Window != 30*86400 || len(doc.Rows) != 1 {
			t.Fatalf("got %+v, want one row over the scenario's 30 days", doc)
		}
		if r := doc.Rows[0]; r["group"] != "search-indexer" || r["verdict"] != "insufficient" || r["drain"] != "drained" {
			t.Errorf("row %v", r)
		}
	})

	t.Run("table", func(t *testing.T) {
		t.Parallel()
		out := runOK(t)
		lines := strings.Split(strings.TrimSpace(out), "\n")
		if len(lines) != 3 || !strings.HasPrefix(strings.Join(strings.Fields(lines[0]), " "), "INSTANCE GROUP VERDICT CAPACITY CONFIDENCE") {
			t.Fatalf("table:\n%s", out)
		}
		if !strings.Contains(lines[1], "notifier") || !strings.Contains(lines[1], ">=") || !strings.Contains(lines[2], "insufficient") {
			t.Errorf("table:\n%s\nwant notifier's capacity as a lower bound and search-indexer insufficient", out)
		}
	})

	t.Run("markdown to stdout", func(t *testing.T) {
		t.Parallel()
		out := runOK(t, "--format", "markdown")
		for _, want := range []string{
			"# Capacity report", "## notifier", "## search-indexer",
			"**Verdict: insufficient.** search-indexer cannot keep up", "**Verdict: unknown.** notifier was never seen",
			"| UTC hour | Mon | Tue | Wed | Thu | Fri | Sat | Sun |", "## Definitions",
		} {
			if !strings.Contains(out, want) {
				t.Errorf("markdown lacks %q", want)
			}
		}
		if strings.Contains(out, "![") || strings.Contains(out, ".png") {
			t.Errorf("markdown on stdout links charts")
		}
	})

	t.Run("markdown with charts", func(t *testing.T) {
		t.Parallel()
		dir := filepath.Join(t.TempDir(), "report")
		paths := strings.Fields(runOK(t, "--format", "markdown", "--out", dir))
		want := []string{"capacity.md", "notifier-rates.png", "notifier-week.png", "search-indexer-rates.png", "search-indexer-week.png"}
		if len(paths) != len(want) {
			t.Fatalf("printed %v, want %d paths", paths, len(want))
		}
		for i, p := range paths {
			if p != filepath.Join(dir, want[i]) {
				t.Errorf("path %d: %s, want %s", i, p, filepath.Join(dir, want[i]))
			}
		}
		for _, p := range paths[1:] {
			f, err := os.Open(p)
			if err != nil {
				t.Fatal(err)
			}
			img, err := png.Decode(f)
			f.Close()
			if err != nil {
				t.Errorf("%s: %v", p, err)
			} else if b := img.Bounds(); b.Dx() != 1000 || b.Dy() != 450 {
				t.Errorf("%s: %v, want 1000x450", p, b)
			}
		}
		md, err := os.ReadFile(paths[0])
		if err != nil {
			t.Fatal(err)
		}
		report := string(md)
		for _, want := range []string{
			"![search-indexer: hourly production and consumption](search-indexer-rates.png)",
			"![search-indexer: typical week](search-indexer-week.png)",
			"![notifier: hourly production and consumption](notifier-rates.png)",
			"![notifier: typical week](notifier-week.png)",
			"*Figure 1: hourly production and consumption over the window, with the capacity as a line.*",
			"*Figure 2: typical week",
			"| Production p50 / p95 / p99 / max |", "| Growth |", "| Observed capacity |", "| Headroom |",
			"| Weekly peak |", "| Projection |", "| Worst burst, replayed |", "| Observed peak lag |", "| Observed peak time lag |",
		} {
			if !strings.Contains(report, want) {
				t.Errorf("capacity.md lacks %q", want)
			}
		}
	})

	t.Run("under two weeks says not enough history", func(t *testing.T) {
		t.Parallel()
		for _, format := range []string{"table", "csv", "markdown"} {
			if out := runOK(t, "--window", "7d", "--format", format); !strings.Contains(out, "not enough history") {
				t.Errorf("--window 7d --format %s: no \"not enough history\" in\n%s", format, out)
			}
		}
		var doc struct {
			Rows []map[string]any `json:"rows"`
		}
		if err := json.Unmarshal([]byte(runOK(t, "--window", "7d", "--format", "json")), &doc); err != nil {
			t.Fatal(err)
		}
		if len(doc.Rows) == 0 {
			t.Fatal("no rows")
		}
		for _, r := range doc.Rows {
			note, _ := r["growth_note"].(string)
			if r["growth_pct_per_week"] != nil || r["growth_per_week"] != nil || !strings.HasPrefix(note, "not enough history") {
				t.Errorf("%v: growth %v, %v%%, note %q; want null and not enough history", r["group"], r["growth_per_week"], r["growth_pct_per_week"], note)
			}
		}
	})

	t.Run("unknown group", func(t *testing.T) {
		t.Parallel()
		r := runCLI(t, append(append([]string{}, base...), "--group", "nope")...)
		if line := oneErrorLine(t, r.stderr); r.code != exitUsage || !strings.Contains(line, `"nope": no such group is recorded`) {
			t.Errorf("exit %d, %s", r.code, line)
		}
	})

	t.Run("binary", func(t *testing.T) {
		t.Parallel()
		r := lagtrail{t: t, dbURL: h.URL, secret: e2eSecret}.run("report", "capacity", "--at", h.To.Format(time.RFC3339), "--group", "notifier", "--format", "csv")
		if r.code != exitOK || strings.Count(r.stdout, "\n") != 2 || !strings.Contains(r.stdout, ",unknown,") {
			t.Errorf("exit %d, stdout %q, stderr %q", r.code, r.stdout, r.stderr)
		}
	})
}
