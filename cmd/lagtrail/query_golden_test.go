package main

import (
	"encoding/csv"
	"encoding/json"
	"flag"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

var update = flag.Bool("update", false, "rewrite the golden files under testdata/")

// The explicit ranges of the golden queries, so that their output does not
// depend on the clock.
var (
	goldenRange = []string{"--from", "2025-03-14T00:00:00Z", "--to", "2025-03-14T00:40:00Z"}
	goldenDrain = []string{"--at", "2025-03-14T00:39:00Z", "--window", "15m", "--horizon", "1h"}
)

// goldenCase is one query whose output is compared with
// testdata/query/<name>.golden.
type goldenCase struct {
	name string
	args []string
}

func goldenCases() []goldenCase {
	sel := []string{"--group", "billing"}
	var cases []goldenCase
	add := func(name string, args ...string) {
		cases = append(cases, goldenCase{name, args})
	}
	for _, format := range []string{"csv", "json"} {
		for _, by := range []string{"group", "partition"} {
			for _, cmd := range []string{"lag", "rates"} {
				add(cmd+"_by_"+by+"."+format, join([]string{"query", cmd}, sel, goldenRange, []string{"--step", "5m", "--by", by, "--format", format})...)
			}
			add("drain_by_"+by+"."+format, join([]string{"query", "drain"}, sel, goldenDrain, []string{"--by", by, "--format", format})...)
		}
		add("status."+format, join([]string{"query", "status"}, sel, goldenRange, []string{"--step", "1m", "--window", "10m", "--format", format})...)
		add("events."+format, join([]string{"query", "events"}, sel, goldenRange, []string{"--format", format})...)
	}
	add("lag_by_partition.table", join([]string{"query", "lag"}, sel, goldenRange, []string{"--step", "5m", "--by", "partition", "--format", "table"})...)
	add("rates_by_group.table", join([]string{"query", "rates"}, sel, goldenRange, []string{"--step", "5m", "--format", "table"})...)
	add("drain_by_partition.table", join([]string{"query", "drain"}, sel, goldenDrain, []string{"--by", "partition"})...)
	add("status.table", join([]string{"query", "status"}, sel, goldenRange, []string{"--step", "1m", "--window", "10m"})...)
	add("events.table", join([]string{"query", "events"}, sel, goldenRange)...)
	return cases
}

func join(parts ...[]string) []string {
	var out []string
	for _, p := range parts {
		out = append(out, p...)
	}
	return out
}

// TestQueryGolden runs every query command in-process against the fixture
// history and compares its output with the golden files. Run with -update
// to rewrite them, and read the diff.
func TestQueryGolden(t *testing.T) {
	t.Parallel()
	dbURL := fixtureURL(t)
	for _, tc := range goldenCases() {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			r := runCLI(t, append(tc.args, "--database-url", dbURL)...)
			if r.code != exitOK || r.stderr != "" {
				t.Fatalf("exit code %d, stderr:\n%s", r.code, r.stderr)
			}
			switch filepath.Ext(tc.name) {
			case ".json":
				var doc map[string]any
				if err := json.Unmarshal([]byte(r.stdout), &doc); err != nil {
					t.Errorf("output is not one JSON document: %v", err)
				}
				if _, ok := doc["rows"].([]any); !ok {
					t.Errorf("JSON document has no rows array")
				}
			case ".csv":
				recs, err := csv.NewReader(strings.NewReader(r.stdout)).ReadAll()
				if err != nil {
					t.Errorf("output is not CSV: %v", err)
				} else if len(recs) < 2 {
					t.Errorf("CSV has %d records, want a header and rows", len(recs))
				}
			}
			compareGolden(t, filepath.Join("testdata", "query", tc.name+".golden"), r.stdout)
		})
	}
}

func compareGolden(t *testing.T, path, got string) {
	t.Helper()
	if *update {
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test -update to create it)", err)
	}
	if got != string(want) {
		t.Errorf("output differs from %s (run go test -update and review the diff):\n%s", path, lineDiff(string(want), got))
	}
}

// lineDiff lists the lines that differ between want and got, by line
// number: enough to see what changed in a golden file.
func lineDiff(want, got string) string {
	w, g := strings.Split(want, "\n"), strings.Split(got, "\n")
	var b strings.Builder
	shown := 0
	for i := 0; i < max(len(w), len(g)) && shown < 20; i++ {
		var wl, gl string
		if i < len(w) {
			wl = w[i]
		}
		if i < len(g) {
			gl = g[i]
		}
		if wl != gl {
			shown++
			b.WriteString("line " + strconv.Itoa(i+1) + ":\n  want: " + wl + "\n  got:  " + gl + "\n")
		}
	}
	return b.String()
}

// csvRows parses CSV output into one map per row, by column name.
func csvRows(t *testing.T, out string) []map[string]string {
	t.Helper()
	recs, err := csv.NewReader(strings.NewReader(out)).ReadAll()
	if err != nil || len(recs) == 0 {
		t.Fatalf("output is not CSV with a header (%v):\n%s", err, out)
	}
	rows := make([]map[string]string, 0, len(recs)-1)
	for _, rec := range recs[1:] {
		m := make(map[string]string, len(rec))
		for i, v := range rec {
			m[recs[0][i]] = v
		}
		rows = append(rows, m)
	}
	return rows
}

// num reads a numeric CSV cell; empty cells fail the test.
func num(t *testing.T, row map[string]string, col string) float64 {
	t.Helper()
	v, err := strconv.ParseFloat(row[col], 64)
	if err != nil {
		t.Fatalf("column %s of row %v: %v", col, row, err)
	}
	return v
}

func near(a, b float64) bool { return math.Abs(a-b) < 1e-6 }

// queryOK runs a query against dbURL and fails the test unless it exits 0.
func queryOK(t *testing.T, dbURL string, args ...string) string {
	t.Helper()
	r := runCLI(t, append(append([]string{"query"}, args...), "--database-url", dbURL)...)
	if r.code != exitOK || r.stderr != "" {
		t.Fatalf("query %v: exit code %d, stderr:\n%s", args, r.code, r.stderr)
	}
	return r.stdout
}

// TestQueryFacts checks the numbers of the golden queries against what the
// fixture wrote, independently of the golden files: lag is broker minus
// consumer, rates are the offsets' advance per second, clamped samples,
// time lag kinds and the rewind show where they happened.
func TestQueryFacts(t *testing.T) {
	t.Parallel()
	dbURL := fixtureURL(t)
	const step = 5 // minutes, so every poll interval lies in one bucket
	bucketArgs := join([]string{"--group", "billing"}, goldenRange, []string{"--step", "5m", "--format", "csv"})

	t.Run("lag by partition", func(t *testing.T) {
		t.Parallel()
		rows := csvRows(t, queryOK(t, dbURL, append([]string{"lag", "--by", "partition"}, bucketArgs...)...))
		if len(rows) != 2*fixturePolls/step {
			t.Fatalf("%d rows, want %d", len(rows), 2*fixturePolls/step)
		}
		for _, r := range rows {
			p := int32(num(t, r, "partition"))
			start, err := time.Parse(time.RFC3339, r["time"])
			if err != nil {
				t.Fatal(err)
			}
			first := int(start.Sub(fixtureStart) / time.Minute)
			var lag, lagMax, clamped int64
			for i := first; i < first+step; i++ {
				b, c, _ := fixtureOffsets(p, i)
				lag = max(b-c, 0)
				lagMax = max(lagMax, lag)
				if b < c {
					clamped++
				}
			}
			if num(t, r, "lag") != float64(lag) || num(t, r, "lag_max") != float64(lagMax) || num(t, r, "clamped") != float64(clamped) {
				t.Errorf("partition %d at %s: lag %s max %s clamped %s, want %d %d %d", p, r["time"], r["lag"], r["lag_max"], r["clamped"], lag, lagMax, clamped)
			}
			// Partition 0 shows timestamps: 10 messages a second behind.
			// Partition 1 hides them; its broker offset grows 5/s, so the
			// estimate is lag/5 s.
			wantTL, wantKind := float64(lag)/10, "sampled"
			if p == 1 {
				wantTL = float64(lag) / 5
				if lag > 0 {
					wantKind = "estimated"
				}
			}
			if !near(num(t, r, "time_lag_seconds"), wantTL) || r["time_lag_kind"] != wantKind {
				t.Errorf("partition %d at %s: time lag %s %s, want %v %s", p, r["time"], r["time_lag_seconds"], r["time_lag_kind"], wantTL, wantKind)
			}
			wantEvents := ""
			if p == 1 && first <= rewindPoll && rewindPoll < first+step {
				wantEvents = "rewind"
			}
			if r["events"] != wantEvents {
				t.Errorf("partition %d at %s: events %q, want %q", p, r["time"], r["events"], wantEvents)
			}
		}
	})

	t.Run("lag by group", func(t *testing.T) {
		t.Parallel()
		rows := csvRows(t, queryOK(t, dbURL, append([]string{"lag"}, bucketArgs...)...))
		if len(rows) != fixturePolls/step {
			t.Fatalf("%d rows, want %d", len(rows), fixturePolls/step)
		}
		for k, r := range rows {
			last := k*step + step - 1
			b0, c0, _ := fixtureOffsets(0, last)
			b1, c1, _ := fixtureOffsets(1, last)
			if want := max(b0-c0, 0) + max(b1-c1, 0); num(t, r, "lag") != float64(want) {
				t.Errorf("bucket %d: lag %s, want %d", k, r["lag"], want)
			}
			// The group's time lag is the largest partition's, with that
			// partition's kind: 0 shows timestamps (lag/10 s), 1 hides
			// them (lag/5 s, estimated).
			tl0, tl1 := float64(max(b0-c0, 0))/10, float64(max(b1-c1, 0))/5
			wantKind := "sampled"
			if tl1 > tl0 {
				wantKind = "estimated"
			}
			if num(t, r, "time_lag_seconds") != max(tl0, tl1) {
				t.Errorf("bucket %d: time_lag_seconds %s, want %v", k, r["time_lag_seconds"], max(tl0, tl1))
			}
			if tl0 != tl1 && r["time_lag_kind"] != wantKind {
				t.Errorf("bucket %d: time_lag_kind %s, want %s", k, r["time_lag_kind"], wantKind)
			}
		}
		if rows[clampPoll/step]["clamped"] != "1" || rows[rewindPoll/step]["events"] != "rewind" {
			t.Errorf("clamped sample or rewind not where they happened: %v, %v", rows[clampPoll/step], rows[rewindPoll/step])
		}
	})

	t.Run("rates by partition", func(t *testing.T) {
		t.Parallel()
		rows := csvRows(t, queryOK(t, dbURL, append([]string{"rates", "--by", "partition"}, bucketArgs...)...))
		if len(rows) != 2*fixturePolls/step {
			t.Fatalf("%d rows, want %d", len(rows), 2*fixturePolls/step)
		}
		for _, r := range rows {
			p := int32(num(t, r, "partition"))
			start, _ := time.Parse(time.RFC3339, r["time"])
			first := int(start.Sub(fixtureStart) / time.Minute)
			// Every poll interval [i, i+1] of the bucket lies inside it; a
			// consumer offset decrease is not counted.
			var consumed, produced, counted, brokerIntervals float64
			for i := first; i < first+step && i+1 < fixturePolls; i++ {
				b, c, _ := fixtureOffsets(p, i)
				b2, c2, _ := fixtureOffsets(p, i+1)
				produced += float64(b2 - b)
				brokerIntervals++
				if c2 >= c {
					consumed += float64(c2 - c)
					counted++
				}
			}
			got := []float64{num(t, r, "consumed"), num(t, r, "produced"), num(t, r, "consume_rate"), num(t, r, "produce_rate"), num(t, r, "covered_seconds")}
			want := []float64{consumed, produced, consumed / (60 * counted), produced / (60 * brokerIntervals), 60 * counted}
			for i := range got {
				if !near(got[i], want[i]) {
					t.Errorf("partition %d at %s: consumed, produced, rates, covered = %v, want %v", p, r["time"], got, want)
					break
				}
			}
			if !near(num(t, r, "net_rate"), want[3]-want[2]) {
				t.Errorf("partition %d at %s: net_rate %s, want produce minus consume %v", p, r["time"], r["net_rate"], want[3]-want[2])
			}
		}
		// The steady stretches, in plain words: partition 0 consumes
		// 10/s, partition 1 5/s, then 4/s.
		for _, c := range []struct {
			row  int
			rate string
		}{{0, "10"}, {8, "5"}, {8 + 3, "4"}} {
			if rows[c.row]["consume_rate"] != c.rate {
				t.Errorf("row %d: consume_rate %s, want %s", c.row, rows[c.row]["consume_rate"], c.rate)
			}
		}
	})

	t.Run("rates by group", func(t *testing.T) {
		t.Parallel()
		rows := csvRows(t, queryOK(t, dbURL, append([]string{"rates"}, bucketArgs...)...))
		for k, r := range rows {
			if r["produce_rate"] != "15" {
				t.Errorf("bucket %d: produce_rate %s, want 15 (10/s + 5/s)", k, r["produce_rate"])
			}
		}
		if rows[0]["consumed"] != "4500" || rows[0]["consume_rate"] != "15" {
			t.Errorf("first bucket: consumed %s at %s/s, want 4500 at 15/s", rows[0]["consumed"], rows[0]["consume_rate"])
		}
	})

	t.Run("events", func(t *testing.T) {
		t.Parallel()
		rows := csvRows(t, queryOK(t, dbURL, append([]string{"events"}, join([]string{"--group", "billing"}, goldenRange, []string{"--format", "csv"})...)...))
		_, cFrom, _ := fixtureOffsets(1, rewindPoll-1)
		_, cTo, _ := fixtureOffsets(1, rewindPoll)
		if len(rows) != 1 {
			t.Fatalf("%d events, want the one rewind: %v", len(rows), rows)
		}
		r := rows[0]
		if r["kind"] != "rewind" || r["partitions"] != "1" || r["topic"] != fixtureTopic ||
			r["consumer_from"] != strconv.FormatInt(cFrom, 10) || r["consumer_to"] != strconv.FormatInt(cTo, 10) ||
			r["to"] != fixtureStart.Add(rewindPoll*time.Minute).Format(time.RFC3339) {
			t.Errorf("event %v, want a rewind of orders/1 from %d to %d at poll %d", r, cFrom, cTo, rewindPoll)
		}
	})

	t.Run("drain by partition", func(t *testing.T) {
		t.Parallel()
		rows := csvRows(t, queryOK(t, dbURL, append([]string{"drain", "--group", "billing", "--by", "partition", "--format", "csv"}, goldenDrain...)...))
		if len(rows) != 2 {
			t.Fatalf("%d rows, want 2", len(rows))
		}
		// The window is [00:24, 00:39]: poll intervals 24..38.
		for p, r := range rows {
			var consumed, counted float64
			for i := 24; i < 39; i++ {
				_, c, _ := fixtureOffsets(int32(p), i)
				_, c2, _ := fixtureOffsets(int32(p), i+1)
				if c2 >= c {
					consumed += float64(c2 - c)
					counted++
				}
			}
			b, c, _ := fixtureOffsets(int32(p), 39)
			if !near(num(t, r, "consume_rate"), consumed/(60*counted)) || num(t, r, "produce_rate") != float64(10/(p+1)) || num(t, r, "lag") != float64(b-c) {
				t.Errorf("partition %d: %v, want consume_rate %v, produce_rate %d, lag %d", p, r, consumed/(60*counted), 10/(p+1), b-c)
			}
		}
		// Partition 0's lag went down over the window, so it has an ETA;
		// partition 1's grows, so it has none.
		if rows[0]["eta_seconds"] == "" || rows[1]["eta_seconds"] != "" {
			t.Errorf("eta_seconds %q and %q, want a value for partition 0 only", rows[0]["eta_seconds"], rows[1]["eta_seconds"])
		}
	})

	t.Run("status", func(t *testing.T) {
		t.Parallel()
		rows := csvRows(t, queryOK(t, dbURL, append([]string{"status"}, join([]string{"--group", "billing"}, goldenRange, []string{"--step", "1m", "--window", "10m", "--format", "csv"})...)...))
		seen := map[string]string{}
		for _, r := range rows {
			seen[r["status"]] = r["partitions"]
		}
		if seen["STALL"] != "orders/0" || seen["REWIND"] != "orders/1" {
			t.Errorf("statuses %v, want STALL of orders/0 and REWIND of orders/1", seen)
		}
		if first, last := rows[0]["from"], rows[len(rows)-1]["to"]; first != goldenRange[1] || last != goldenRange[3] {
			t.Errorf("timeline covers [%s, %s), want the whole range", first, last)
		}
	})

	t.Run("status with an allowed lag", func(t *testing.T) {
		t.Parallel()
		// billing's lag stays below 5,000 messages per partition, so with
		// that allowed nothing is worse than OK; the STALL comes back
		// below its lag of 3,600.
		status := func(allowed string) map[string]bool {
			rows := csvRows(t, queryOK(t, dbURL, append([]string{"status"}, join([]string{"--group", "billing"}, goldenRange, []string{"--step", "1m", "--window", "10m", "--allowed-lag", allowed, "--format", "csv"})...)...))
			seen := map[string]bool{}
			for _, r := range rows {
				seen[r["status"]] = true
			}
			return seen
		}
		if got := status("5000"); len(got) != 1 || !got["OK"] {
			t.Errorf("--allowed-lag 5000: statuses %v, want only OK", got)
		}
		if got := status("1000"); !got["STALL"] {
			t.Errorf("--allowed-lag 1000: statuses %v, want the STALL still", got)
		}
	})

	t.Run("json", func(t *testing.T) {
		t.Parallel()
		var doc struct {
			Query       string           `json:"query"`
			StepSeconds float64          `json:"step_seconds"`
			Columns     []string         `json:"columns"`
			Rows        []map[string]any `json:"rows"`
			Events      []map[string]any `json:"events"`
		}
		out := queryOK(t, dbURL, "lag", "--group", "billing", "--from", goldenRange[1], "--to", goldenRange[3], "--step", "5m", "--format", "json")
		if err := json.Unmarshal([]byte(out), &doc); err != nil {
			t.Fatalf("not one JSON document: %v\n%s", err, out)
		}
		if doc.Query != "lag" || doc.StepSeconds != 300 || len(doc.Rows) != fixturePolls/step || len(doc.Events) != 1 {
			t.Fatalf("query %q step %v, %d rows, %d events; want lag, 300, %d, 1", doc.Query, doc.StepSeconds, len(doc.Rows), len(doc.Events), fixturePolls/step)
		}
		for _, c := range doc.Columns {
			if _, ok := doc.Rows[0][c]; !ok {
				t.Errorf("column %s missing from the rows", c)
			}
		}
		if r := doc.Rows[clampPoll/step]; r["clamped"] != 1.0 || r["time_lag_kind"] != "sampled" || r["time_lag_seconds"] != 60.0 {
			t.Errorf("bucket of the clamped sample: %v", r)
		}
		if doc.Events[0]["kind"] != "rewind" || doc.Rows[rewindPoll/step]["events"] != "rewind" {
			t.Errorf("rewind missing: events %v, row %v", doc.Events, doc.Rows[rewindPoll/step])
		}
		// Buckets after the history: unknown values are null, counts zero.
		out = queryOK(t, dbURL, "lag", "--group", "billing", "--from", "2025-03-14T00:35:00Z", "--to", "2025-03-14T00:45:00Z", "--step", "5m", "--format", "json")
		if err := json.Unmarshal([]byte(out), &doc); err != nil {
			t.Fatalf("not one JSON document: %v\n%s", err, out)
		}
		if len(doc.Rows) != 2 {
			t.Fatalf("%d rows, want 2", len(doc.Rows))
		}
		if r := doc.Rows[1]; r["lag"] != nil || r["time_lag_seconds"] != nil || r["time_lag_kind"] != nil || r["polls"] != 0.0 {
			t.Errorf("bucket without polls: %v, want null lag and time lag, 0 polls", r)
		}
	})
}
