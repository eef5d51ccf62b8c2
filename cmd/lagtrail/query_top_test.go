package main

import (
	"encoding/json"
	"math"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/lagtrail/lagtrail/internal/pgtest"
	"github.com/lagtrail/lagtrail/internal/scenariotest"
)

// topScenarioStart is the Monday the incident scenario starts on here.
var topScenarioStart = time.Date(2025, 1, 6, 0, 0, 0, 0, time.UTC)

// TestQueryTop runs query top on the incident week in each format: over
// 02:00-04:00 of day 5, payments-ledger, which stalls for 45 minutes from
// 02:10, ranks first by stall, with the figure it ranks by right after the
// group's name and the others after it.
func TestQueryTop(t *testing.T) {
	t.Parallel()
	h := scenariotest.Generate(t, "incident", topScenarioStart, 7*24*time.Hour)
	window := []string{"--at", "2025-01-11T04:00:00Z", "--window", "2h", "--database-url", h.URL}
	others := []string{"lag", "lag_growth", "time_lag_max_seconds", "eta_seconds", "stall_seconds"}
	t.Run("csv", func(t *testing.T) {
		t.Parallel()
		for _, c := range []struct{ by, col string }{
			{"lag", "lag"}, {"growth", "lag_growth"}, {"time-lag", "time_lag_max_seconds"}, {"eta", "eta_seconds"}, {"stall", "stall_seconds"},
		} {
			r := runCLI(t, join([]string{"query", "top", "--by", c.by, "--format", "csv"}, window)...)
			if r.code != exitOK || r.stderr != "" {
				t.Fatalf("--by %s: exit %d, stderr %s", c.by, r.code, r.stderr)
			}
			header := strings.SplitN(r.stdout, "\n", 2)[0]
			want := append([]string{"rank", "region", "instance", "group", c.col}, slices.DeleteFunc(slices.Clone(others), func(s string) bool { return s == c.col })...)
			want = append(want, "stalled_partitions", "stall_partition", "status", "lag_at")
			if header != strings.Join(want, ",") {
				t.Errorf("--by %s: header %s, want %s", c.by, header, strings.Join(want, ","))
			}
			rows := csvRows(t, r.stdout)
			if len(rows) != 7 {
				t.Fatalf("--by %s: %d rows, want the scenario's 7 groups", c.by, len(rows))
			}
			for i, row := range rows {
				if row["rank"] != strconv.Itoa(i+1) || row["status"] == "" {
					t.Errorf("--by %s: row %d has rank %q and status %q", c.by, i, row["rank"], row["status"])
				}
			}
			if c.by == "stall" {
				first := rows[0]
				if first["group"] != "payments-ledger" || math.Abs(num(t, first, "stall_seconds")-45*60) > 120 ||
					first["stalled_partitions"] != "8" || !strings.HasPrefix(first["stall_partition"], "payments/") {
					t.Errorf("first by stall: %v; want payments-ledger, about 2700 s on 8 partitions of payments", first)
				}
				if rows[1]["stall_seconds"] != "0" {
					t.Errorf("second by stall: %v, want no stall", rows[1])
				}
			}
			if c.by == "time-lag" {
				// audit-archiver hides its timestamps: unknown, ranked last.
				if last := rows[len(rows)-1]; last["group"] != "audit-archiver" || last["time_lag_max_seconds"] != "" {
					t.Errorf("last by time lag: %v, want audit-archiver with no time lag", last)
				}
			}
		}
	})
	t.Run("table", func(t *testing.T) {
		t.Parallel()
		r := runCLI(t, join([]string{"query", "top", "--by", "time-lag", "-n", "7"}, window)...)
		if r.code != exitOK {
			t.Fatalf("exit %d, stderr %s", r.code, r.stderr)
		}
		lines := strings.Split(strings.TrimSpace(r.stdout), "\n")
		if !strings.HasPrefix(lines[0], "RANK  REGION") || !strings.Contains(lines[0], "GROUP             TIME_LAG_MAX_SECONDS") {
			t.Errorf("header: %q", lines[0])
		}
		if last := lines[len(lines)-1]; !strings.Contains(last, "audit-archiver") || !strings.Contains(last, "hidden") {
			t.Errorf("last line %q: want audit-archiver with its time lag hidden", last)
		}
		t.Logf("query top --by time-lag:\n%s", r.stdout)
		// At 03:00 the stalled group's backlog grew over the window: it
		// never drains at the window's net rate, and ranks first by eta.
		r = runCLI(t, "query", "top", "--by", "eta", "-n", "2", "--at", "2025-01-11T03:00:00Z", "--window", "2h", "--database-url", h.URL)
		lines = strings.Split(strings.TrimSpace(r.stdout), "\n")
		if r.code != exitOK || len(lines) != 3 || !strings.Contains(lines[1], "payments-ledger") || !strings.Contains(lines[1], "never") ||
			strings.Contains(lines[2], "never") {
			t.Errorf("by eta at 03:00: exit %d, want payments-ledger first with never and no other never:\n%s%s", r.code, r.stdout, r.stderr)
		}
	})
	t.Run("json", func(t *testing.T) {
		t.Parallel()
		r := runCLI(t, join([]string{"query", "top", "--by", "growth", "-n", "2", "--format", "json", "--region", "cn-hangzhou"}, window)...)
		if r.code != exitOK {
			t.Fatalf("exit %d, stderr %s", r.code, r.stderr)
		}
		var doc struct {
			Query, By, From, At string
			Window              float64 `json:"window_seconds"`
			Columns             []string
			Rows                []map[string]any
		}
		if err := json.Unmarshal([]byte(r.stdout), &doc); err != nil {
			t.Fatal(err)
		}
		if doc.Query != "top" || doc.By != "growth" || doc.From != "2025-01-11T02:00:00Z" || doc.At != "2025-01-11T04:00:00Z" || doc.Window != 7200 {
			t.Errorf("meta: %+v", doc)
		}
		if len(doc.Rows) != 2 || doc.Columns[4] != "lag_growth" {
			t.Fatalf("%d rows, columns %v: want 2 ranked by lag_growth", len(doc.Rows), doc.Columns)
		}
		for _, row := range doc.Rows {
			if row["region"] != "cn-hangzhou" {
				t.Errorf("row of region %v with --region cn-hangzhou", row["region"])
			}
		}
		if a, b := doc.Rows[0]["lag_growth"].(float64), doc.Rows[1]["lag_growth"].(float64); a < b {
			t.Errorf("growth %v ranked before %v", a, b)
		}
	})
}

// TestQueryTopBadInput runs the binary with bad top flags: each exits 2
// with one line naming the problem, before the database is opened (the
// database here is not migrated), and prints nothing else.
func TestQueryTopBadInput(t *testing.T) {
	t.Parallel()
	l := lagtrail{t: t, dbURL: pgtest.EmptyURL(t), secret: e2eSecret}
	tests := []struct {
		args []string
		want string
	}{
		{[]string{"-n", "0"}, "-n must be between 1 and 1000, got 0"},
		{[]string{"--limit", "1001"}, "-n must be between 1 and 1000, got 1001"},
		{[]string{"--by", "nope"}, `--by must be lag, growth, time-lag, eta or stall, got "nope"`},
		{[]string{"--window", "10m"}, "--window must be at least 1h (the rollups top reads are hourly), got 10m"},
		{[]string{"--at", "yesterday"}, `--at: invalid query: bad time "yesterday"`},
		{[]string{"--format", "xml"}, `--format must be table, csv or json, got "xml"`},
		{[]string{"--group", "billing"}, "unknown flag: --group"},
		{[]string{"billing"}, `unknown command "billing"`},
	}
	for _, tt := range tests {
		r := l.run(join([]string{"query", "top"}, tt.args)...)
		if r.code != exitUsage {
			t.Errorf("top %v: exit %d, want %d; stderr %s", tt.args, r.code, exitUsage, r.stderr)
		}
		if line := oneErrorLine(t, r.stderr); !strings.Contains(line, tt.want) {
			t.Errorf("top %v: error %q, want it to say %q", tt.args, line, tt.want)
		}
		if r.stdout != "" {
			t.Errorf("top %v printed to stdout:\n%s", tt.args, r.stdout)
		}
	}
	// A region nothing is recorded in is a bad request too, found in the
	// database.
	u := pgtest.URL(t)
	writeFixture(t, u)
	if _, err := openStore(t, u).RefreshRollups(t.Context()); err != nil {
		t.Fatal(err)
	}
	l.dbURL = u
	r := l.run("query", "top", "--region", "eu-central-1")
	if r.code != exitUsage || !strings.Contains(oneErrorLine(t, r.stderr), "unknown group (any) in region eu-central-1") {
		t.Errorf("top --region eu-central-1: exit %d, stderr %s", r.code, r.stderr)
	}
	if r := l.run("query", "top", "--at", "2025-03-14T01:00:00Z", "--window", "1h", "--format", "csv"); r.code != exitOK || !strings.Contains(r.stdout, "billing") {
		t.Errorf("top over the fixture: exit %d, stdout %s, stderr %s", r.code, r.stdout, r.stderr)
	}
}
