package main

import (
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
// incident group's rates within 2% of the model's; and that its charts are
// PNG images.
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
