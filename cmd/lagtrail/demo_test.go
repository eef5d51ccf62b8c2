package main

import (
	"encoding/json"
	"image/png"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/lagtrail/lagtrail/internal/pgtest"
)

// TestDemoFindsTheScriptedIncident runs lagtrail demo on a test database
// and checks that its report finds what the incident scenario scripted:
// the stall within two poll intervals of its start, the rewind, and the
// incident group's rates within 2% of the model's; that its capacity
// verdicts are those of lagtrail report capacity run as the report says;
// and that its charts are PNG images.
func TestDemoFindsTheScriptedIncident(t *testing.T) {
	t.Parallel()
	out := t.TempDir()
	l := lagtrail{t: t, dbURL: pgtest.URL(t), secret: e2eSecret}
	r := l.run("demo", "--database-url", l.dbURL, "--out", out, "--live", "3s", "--interval", "1s")
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
