package main

import (
	"encoding/json"
	"image/png"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/lagtrail/lagtrail/internal/scenariotest"
	"github.com/lagtrail/lagtrail/query"
)

// TestReportIncident runs report incident on the incident scenario's
// stall and checks the files it writes: a Markdown summary naming what
// happened, a JSON document that decodes into the report, and three PNG
// charts that decode.
func TestReportIncident(t *testing.T) {
	t.Parallel()
	h := scenariotest.Generate(t, "incident", scenariotest.Monday, 7*24*time.Hour)
	l := lagtrail{t: t, dbURL: h.URL, secret: e2eSecret}
	dir := t.TempDir()
	from, to := "2025-01-11T01:00:00Z", "2025-01-11T05:00:00Z"
	r := l.run("report", "incident", "--group", "payments-ledger", "--from", from, "--to", to, "--out", dir)
	if r.code != 0 {
		t.Fatalf("exit %d: %s", r.code, r.stderr)
	}
	paths := strings.Fields(r.stdout)
	if len(paths) != 5 {
		t.Fatalf("printed %d paths, want 5 (md, json, 3 charts): %q", len(paths), r.stdout)
	}
	md, err := os.ReadFile(filepath.Join(dir, "incident.md"))
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{
		"# Incident report: payments-ledger",
		"fell behind after 02:09:04 UTC: consumption dropped while production held",
		"Lag peaked at 175,002 at 02:55:04",
		"8 of 8 partitions affected",
		"rebalance, generation",
		"status STOP on payments/0-7",
		"lag back to normal",
		"![payments-ledger: lag by partition](payments-ledger-lag-by-partition.png)",
	} {
		if !strings.Contains(string(md), want) {
			t.Errorf("incident.md lacks %q:\n%s", want, md)
		}
	}
	data, err := os.ReadFile(filepath.Join(dir, "incident.json"))
	if err != nil {
		t.Fatal(err)
	}
	var rep query.IncidentReport
	if err := json.Unmarshal(data, &rep); err != nil {
		t.Fatalf("incident.json: %v", err)
	}
	if len(rep.Incidents) != 1 || rep.Incidents[0].PeakLag != 175002 || rep.Incidents[0].RecoverySeconds <= 0 {
		t.Errorf("incident.json holds %+v", rep.Incidents)
	}
	if !strings.Contains(string(data), `"status": "STOP"`) {
		t.Error(`incident.json writes no status as "STOP"`)
	}
	if rep.Normal.Points == 0 || rep.Normal.LagP95 <= 0 {
		t.Errorf("incident.json's normal is %+v", rep.Normal)
	}
	var generic any
	if err := json.Unmarshal(data, &generic); err != nil {
		t.Fatal(err)
	}
	for _, k := range slices.Compact(slices.Sorted(slices.Values(badJSONKeys(generic, "")))) {
		t.Errorf("incident.json key %s is not snake_case", k)
	}
	for _, p := range paths[2:] {
		f, err := os.Open(p)
		if err != nil {
			t.Fatal(err)
		}
		img, err := png.Decode(f)
		f.Close()
		if err != nil {
			t.Errorf("%s: %v", p, err)
		} else if b := img.Bounds(); b.Dx() < 480 || b.Dy() < 240 {
			t.Errorf("%s is %v", p, b)
		}
	}

	// Markdown on stdout without --out, and a quiet range.
	r = l.run("report", "incident", "--group", "order-fulfilment", "--from", from, "--to", to)
	if r.code != 0 || !strings.Contains(r.stdout, "No incident") {
		t.Errorf("quiet group: exit %d, stdout:\n%s\nstderr: %s", r.code, r.stdout, r.stderr)
	}
	r = l.run("report", "incident", "--group", "payments-ledger", "--from", from, "--to", to, "--format", "json")
	if r.code != 0 || json.Unmarshal([]byte(r.stdout), &rep) != nil || len(rep.Incidents) != 1 {
		t.Errorf("--format json: exit %d, %d incidents, stderr %s", r.code, len(rep.Incidents), r.stderr)
	}
	r = l.run("report", "incident", "--group", "payments-ledger", "--from", from, "--to", to, "--out", dir, "--chart-format", "svg")
	if r.code != 0 {
		t.Fatalf("svg: exit %d: %s", r.code, r.stderr)
	}
	svg, err := os.ReadFile(filepath.Join(dir, "payments-ledger-rates.svg"))
	if err != nil || !strings.Contains(string(svg), "<svg") {
		t.Errorf("svg chart: %v, %.60q", err, svg)
	}
}

func TestReportIncidentBadInput(t *testing.T) {
	t.Parallel()
	h := scenariotest.Generate(t, "incident", scenariotest.Monday, 7*24*time.Hour)
	l := lagtrail{t: t, dbURL: h.URL, secret: e2eSecret}
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"--from", "-2h"}, "--group is required"},
		{[]string{"--group", "payments-ledger", "--from", "2025-01-11T05:00:00Z", "--to", "2025-01-11T01:00:00Z"}, "must be before --to"},
		{[]string{"--group", "payments-ledger", "--from", "2025-01-01T00:00:00Z", "--to", "2025-02-01T00:00:00Z"}, "covers at most"},
		{[]string{"--group", "payments-ledger", "--format", "table"}, "--format must be markdown, json or csv"},
		{[]string{"--group", "payments-ledger", "--chart-format", "gif"}, "--chart-format must be png or svg"},
		{[]string{"--group", "payments-ledger", "--baseline", "0s"}, "--baseline must be positive"},
		{[]string{"--group", "payments-ledger", "--min-time-lag", "-1m"}, "--min-time-lag"},
		{[]string{"--group", "payments-ledger", "--from", "yesterday"}, "--from"},
		{[]string{"--group", "no-such-group", "--from", "2025-01-11T01:00:00Z", "--to", "2025-01-11T05:00:00Z"}, "unknown group"},
	} {
		r := l.run(append([]string{"report", "incident"}, tc.args...)...)
		if r.code != 2 || !strings.Contains(r.stderr, tc.want) || strings.Count(strings.TrimSpace(r.stderr), "\n") > 1 {
			t.Errorf("%v: exit %d, stderr %q; want exit 2 and one line with %q", tc.args, r.code, r.stderr, tc.want)
		}
	}
}

// badJSONKeys returns the path of every object key in v, decoded JSON, that
// is not lower snake_case, as reports' JSON keys are.
func badJSONKeys(v any, path string) []string {
	var bad []string
	switch v := v.(type) {
	case map[string]any:
		for k, x := range v {
			if !snakeKey.MatchString(k) {
				bad = append(bad, path+"."+k)
			}
			bad = append(bad, badJSONKeys(x, path+"."+k)...)
		}
	case []any:
		for _, x := range v {
			bad = append(bad, badJSONKeys(x, path+"[]")...)
		}
	}
	return bad
}

var snakeKey = regexp.MustCompile(`^[a-z][a-z0-9_]*$`)
