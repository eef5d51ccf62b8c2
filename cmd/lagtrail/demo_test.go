package main

import (
	"encoding/json"
	"fmt"
	"image/png"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/lagtrail/lagtrail/examples"
	"github.com/lagtrail/lagtrail/internal/pgtest"
	"github.com/lagtrail/lagtrail/query"
)

// TestDemoFindsTheScriptedIncident runs lagtrail demo on a test database
// with the bundled incident scenario's incidents moved to its first two
// days, so that two days of history hold them (--days 2, a third of the
// default week's generation), and checks that its report finds what the
// scenario scripted:
// the stall within two poll intervals of its start, the rewind, and the
// incident group's rates within 2% of the model's; that its capacity
// verdicts are those of lagtrail report capacity run as the report says;
// that its fleet's statuses and drain ETAs are those of query status,
// query drain and query fleet at each group's last poll; and that its
// charts are PNG images.
func TestDemoFindsTheScriptedIncident(t *testing.T) {
	t.Parallel()
	out := t.TempDir()
	l := lagtrail{t: t, dbURL: pgtest.URL(t), secret: e2eSecret}
	r := l.run("demo", "--database-url", l.dbURL, "--out", out, "--live", "3s", "--interval", "1s",
		"--scenario", shortIncidentScenario(t), "--days", "2")
	if r.code != 0 {
		t.Fatalf("demo exit %d\nstdout:\n%s\nstderr:\n%s", r.code, r.stdout, r.stderr)
	}
	for _, step := range []string{"[1/5] database", "[3/5] generate history", "[4/5] record the simulator live", "[5/5] report"} {
		if !strings.Contains(r.stderr, step) {
			t.Errorf("progress lacks %q:\n%s", step, r.stderr)
		}
	}
	checks := regexp.MustCompile(`(?m)^  \[(ok |OFF)\] (.*)$`).FindAllStringSubmatch(r.stdout, -1)
	if len(checks) < 4 {
		t.Fatalf("%d checks in the report, want at least 4:\n%s", len(checks), r.stdout)
	}
	want := []string{"payments-ledger stall", "warehouse-loader rewind", "payments-ledger production", "payments-ledger consumption"}
	for _, w := range want {
		found := false
		for _, c := range checks {
			if strings.HasPrefix(c[2], w) {
				found = true
				if c[1] != "ok " {
					t.Errorf("check failed: %s", c[0])
				}
			}
		}
		if !found {
			t.Errorf("no check of %q in:\n%s", w, r.stdout)
		}
	}
	for _, w := range []string{"Incident: payments-ledger", "Fleet now", "Capacity", "payments-ledger   "} {
		if !strings.Contains(r.stdout, w) {
			t.Errorf("report lacks %q:\n%s", w, r.stdout)
		}
	}
	checkDemoCapacity(t, l, r.stdout)
	checkDemoFleet(t, l.dbURL, r.stdout)
	charts, _ := filepath.Glob(filepath.Join(out, "*.png"))
	if len(charts) != 5 {
		t.Fatalf("charts %v, want 5", charts)
	}
	for _, c := range charts {
		f, err := os.Open(c)
		if err != nil {
			t.Fatal(err)
		}
		img, err := png.Decode(f)
		f.Close()
		if err != nil || img.Bounds().Dx() < 480 {
			t.Errorf("%s: not a readable PNG: %v", c, err)
		}
	}
}

// shortIncidentScenario writes the bundled incident scenario with its
// incidents moved into its first two days and returns the file's path.
func shortIncidentScenario(t *testing.T) string {
	t.Helper()
	data, err := examples.Scenario("incident")
	if err != nil {
		t.Fatal(err)
	}
	s := string(data)
	for _, at := range [][2]string{{"at: 5d2h8m,", "at: 1d2h8m,"}, {"at: 5d2h10m,", "at: 1d2h10m,"}, {"at: 3d10h,", "at: 10h,"}} {
		if strings.Count(s, at[0]) != 1 {
			t.Fatalf("the bundled incident scenario no longer has one incident %q: update the test", at[0])
		}
		s = strings.Replace(s, at[0], at[1], 1)
	}
	path := filepath.Join(t.TempDir(), "incident-short.yaml")
	if err := os.WriteFile(path, []byte(s), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// TestDemoRefusesAHistoryWithoutItsIncidents: --days too short for the
// scenario's incidents is a usage error naming the --days it needs, before
// any database is touched.
func TestDemoRefusesAHistoryWithoutItsIncidents(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"--days", "4"}, "--days 4: scenario night-incident has a stall on day 5 that ends after now; give at least --days 6"},
		{[]string{"--days", "0"}, "--days 0: want 1 to 31"},
		{[]string{"--days", "32"}, "--days 32: want 1 to 31"},
	} {
		r := runCLI(t, append([]string{"demo", "--database-url", "postgres://127.0.0.1:1/none"}, tc.args...)...)
		if r.code != exitUsage || !strings.Contains(r.stderr, tc.want) {
			t.Errorf("demo %v: exit %d, stderr %q; want %d and %q", tc.args, r.code, r.stderr, exitUsage, tc.want)
		}
	}
}

// checkDemoCapacity runs the report capacity command the demo's capacity
// section names and checks that every group has the same verdict and
// confidence there as in the demo: one definition, read by both.
func checkDemoCapacity(t *testing.T, l lagtrail, stdout string) {
	t.Helper()
	m := regexp.MustCompile(`(?m)^Capacity \(as lagtrail report capacity --window (\S+) --at (\S+) gives it\)\n((?:.*\n)+?)\n`).FindStringSubmatch(stdout)
	if m == nil {
		t.Errorf("no capacity section naming its report capacity command in:\n%s", stdout)
		return
	}
	demo := map[string]string{}
	for line := range strings.Lines(m[3]) {
		f := strings.Fields(line)
		if len(f) < 3 || f[0] == "GROUP" {
			continue
		}
		// ... verdict (confidence X)
		demo[f[0]] = strings.Join(f[len(f)-3:], " ")
	}
	r := l.run("report", "capacity", "--database-url", l.dbURL, "--window", m[1], "--at", m[2], "--format", "json")
	if r.code != 0 {
		t.Fatalf("report capacity exit %d: %s", r.code, r.stderr)
	}
	var doc struct {
		Rows []struct {
			Group      string `json:"group"`
			Verdict    string `json:"verdict"`
			Confidence string `json:"confidence"`
		} `json:"rows"`
	}
	if err := json.Unmarshal([]byte(r.stdout), &doc); err != nil {
		t.Fatal(err)
	}
	if len(doc.Rows) == 0 || len(doc.Rows) != len(demo) {
		t.Fatalf("report capacity has %d groups, the demo %d: %v", len(doc.Rows), len(demo), demo)
	}
	for _, row := range doc.Rows {
		if want := row.Verdict + " (confidence " + row.Confidence + ")"; demo[row.Group] != want {
			t.Errorf("%s: demo says %q, report capacity %q", row.Group, demo[row.Group], want)
		}
	}
}

// checkDemoFleet checks the demo's "Fleet now" table against the commands
// at each group's last poll, the last the demo saw (nothing is recorded
// after it): its status against query status over the minute holding that
// poll, its drain ETA, in words, against query drain at that poll and
// query fleet. The fleet's status column is not compared: it turns NODATA
// 3 poll intervals after the demo's last live poll, a race with the clock;
// TestEverySurfaceAgrees holds it to query status.
func checkDemoFleet(t *testing.T, dbURL, stdout string) {
	t.Helper()
	m := regexp.MustCompile(`(?m)^Fleet now\n((?:.+\n)+)`).FindStringSubmatch(stdout)
	if m == nil {
		t.Errorf("no fleet table in:\n%s", stdout)
		return
	}
	type row struct{ eta, status string }
	demo := map[string]row{}
	lines := strings.Split(strings.TrimSuffix(m[1], "\n"), "\n")
	cells := alignedCells(lines[0])
	for _, line := range lines[1:] {
		c := cells(line)
		demo[c["GROUP"]] = row{c["DRAIN_ETA"], c["STATUS"]}
	}

	// In words, as the demo says it (drainETA), from a command's figures.
	words := func(lag, eta, slope optFloat) string {
		d := query.Drain{}
		if lag.v != nil {
			l := int64(*lag.v)
			d.Lag = &l
			d.Backlog = eta.v == nil || *eta.v > 0
		}
		if eta.v != nil {
			e := time.Duration(*eta.v * float64(time.Second))
			d.ETA = &e
		}
		d.Slope = slope.v
		return drainETA(d)
	}
	fleet := jsonRows(t, cliOut(t, "query", "fleet", "--format", "json", "--database-url", dbURL))
	if len(fleet) == 0 || len(fleet) != len(demo) {
		t.Fatalf("query fleet has %d groups, the demo %d: %v", len(fleet), len(demo), demo)
	}
	for _, r := range fleet {
		name, at := fmt.Sprint(r["group"]), fmt.Sprint(r["lag_at"])
		if got, want := demo[name].eta, words(anyFloat(t, name, r["lag"]), anyFloat(t, name, r["eta_seconds"]), anyFloat(t, name, r["slope"])); got != want {
			t.Errorf("%s: the demo's drain ETA is %q, query fleet's %q", name, got, want)
		}
		drain := jsonRows(t, cliOut(t, "query", "drain", "--group", name, "--by", "group", "--at", at, "--format", "json", "--database-url", dbURL))
		if len(drain) != 1 {
			t.Fatalf("%s: query drain at %s gives %d rows, want 1", name, at, len(drain))
		}
		if got, want := demo[name].eta, words(anyFloat(t, name, drain[0]["lag"]), anyFloat(t, name, drain[0]["eta_seconds"]), anyFloat(t, name, drain[0]["slope"])); got != want {
			t.Errorf("%s: the demo's drain ETA is %q, query drain's at %s %q", name, got, at, want)
		}
		lagAt, err := time.Parse(time.RFC3339Nano, at)
		if err != nil {
			t.Fatalf("%s: query fleet's lag_at %q: %v", name, at, err)
		}
		from := lagAt.Truncate(time.Minute)
		status := jsonRows(t, cliOut(t, "query", "status", "--group", name, "--from", from.Format(time.RFC3339), "--to", from.Add(time.Minute).Format(time.RFC3339), "--step", "1m", "--format", "json", "--database-url", dbURL))
		if len(status) != 1 {
			t.Errorf("%s: query status gives %d intervals over the minute from %s, want 1", name, len(status), from.Format(time.RFC3339))
		} else if demo[name].status != status[0]["status"] {
			t.Errorf("%s: the demo's status is %s, query status's over the minute from %s %v", name, demo[name].status, from.Format(time.RFC3339), status[0]["status"])
		}
	}
}

// alignedCells returns a reader of the rows of an aligned table whose
// header line is head: each cell by its column's name. Columns start where
// their header word does, counted in runes as tabwriter counts them.
func alignedCells(head string) func(line string) map[string]string {
	type span struct {
		name       string
		start, end int
	}
	var cols []span
	h := []rune(head)
	for i := 0; i < len(h); i++ {
		if h[i] != ' ' && (i == 0 || h[i-1] == ' ') {
			if n := len(cols); n > 0 {
				cols[n-1].end = i
			}
			j := i
			for j < len(h) && h[j] != ' ' {
				j++
			}
			cols = append(cols, span{string(h[i:j]), i, -1})
		}
	}
	return func(line string) map[string]string {
		r := []rune(line)
		out := map[string]string{}
		for _, c := range cols {
			end := c.end
			if end < 0 || end > len(r) {
				end = len(r)
			}
			if c.start < end {
				out[c.name] = strings.TrimSpace(string(r[c.start:end]))
			}
		}
		return out
	}
}
