package main

import (
	"encoding/json"
	"io"
	"os"
	"strings"
	"testing"

	"github.com/spf13/pflag"
)

// TestDurationsTakeDaysAndWeeks runs each command with durations and times
// written with days, weeks and dates, and again with the same values in
// Go's units and RFC3339, against the fixture: both exit 0 and print the
// same, byte for byte.
func TestDurationsTakeDaysAndWeeks(t *testing.T) {
	t.Parallel()
	u := fixtureURL(t)
	// top and lag by the day read the hourly rollups.
	if _, err := openStore(t, u).RefreshRollups(t.Context()); err != nil {
		t.Fatal(err)
	}
	end := "2025-03-14T00:40:00Z" // after the fixture's last poll
	for _, tc := range []struct {
		name       string
		ours, gos  []string
		wantWindow float64 // window_seconds of the JSON output, when set
	}{
		{"drain --window 7d --horizon 1d",
			[]string{"query", "drain", "--at", end, "--window", "7d", "--horizon", "1d", "--format", "json"},
			[]string{"query", "drain", "--at", end, "--window", "168h", "--horizon", "24h", "--format", "json"}, 7 * 86400},
		{"status --window 1d12h",
			[]string{"query", "status", "--from", "2025-03-14", "--to", end, "--window", "1d12h", "--format", "json"},
			[]string{"query", "status", "--from", "2025-03-14T00:00:00Z", "--to", end, "--window", "36h", "--format", "json"}, 36 * 3600},
		{"top --window 2w",
			[]string{"query", "top", "--at", "2025-03-15", "--window", "2w", "--format", "json"},
			[]string{"query", "top", "--at", "2025-03-15T00:00:00Z", "--window", "336h", "--format", "json"}, 14 * 86400},
		{"skew --window 1w --stuck-min-growth 1d",
			[]string{"query", "skew", "--group", "billing", "--at", end, "--window", "1w", "--stuck-min-growth", "1d", "--format", "json"},
			[]string{"query", "skew", "--group", "billing", "--at", end, "--window", "168h", "--stuck-min-growth", "24h", "--format", "json"}, 7 * 86400},
		{"lag from a date, --step 1d",
			[]string{"query", "lag", "--from", "2025-03-13", "--to", "2025-03-15", "--step", "1d", "--format", "json"},
			[]string{"query", "lag", "--from", "2025-03-13T00:00:00Z", "--to", "2025-03-15T00:00:00Z", "--step", "24h", "--format", "json"}, 0},
		{"events to a date",
			[]string{"query", "events", "--from", "-100000d", "--to", "2025-03-15", "--format", "csv"},
			[]string{"query", "events", "--from", "-2400000h", "--to", "2025-03-15T00:00:00Z", "--format", "csv"}, 0},
		{"incident --baseline 2w from a date",
			[]string{"report", "incident", "--group", "billing", "--from", "2025-03-14", "--to", end, "--baseline", "2w", "--format", "json"},
			[]string{"report", "incident", "--group", "billing", "--from", "2025-03-14T00:00:00Z", "--to", end, "--baseline", "336h", "--format", "json"}, 0},
		{"capacity --window 2w at a date",
			[]string{"report", "capacity", "--at", "2025-03-15", "--window", "2w", "--format", "json"},
			[]string{"report", "capacity", "--at", "2025-03-15T00:00:00Z", "--window", "336h", "--format", "json"}, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			ours := runCLI(t, append(tc.ours, "--database-url", u)...)
			gos := runCLI(t, append(tc.gos, "--database-url", u)...)
			if ours.code != exitOK || gos.code != exitOK {
				t.Fatalf("exit codes %d and %d, want 0; stderr:\n%s%s", ours.code, gos.code, ours.stderr, gos.stderr)
			}
			if ours.stdout == "" || ours.stdout != gos.stdout {
				t.Errorf("%v printed\n%s\n%v printed\n%s", tc.ours, ours.stdout, tc.gos, gos.stdout)
			}
			var doc map[string]any
			if err := json.Unmarshal([]byte(ours.stdout), &doc); err != nil {
				return // CSV
			}
			if rows, ok := doc["rows"].([]any); ok && len(rows) == 0 {
				t.Errorf("no rows:\n%s", ours.stdout)
			}
			if w := doc["window_seconds"]; tc.wantWindow != 0 && w != tc.wantWindow {
				t.Errorf("window_seconds %v, want %v", w, tc.wantWindow)
			}
		})
	}
}

// TestEveryDurationFlagTakesDays walks the command tree: every flag whose
// values are durations takes "2w" and "1d12h".
func TestEveryDurationFlagTakesDays(t *testing.T) {
	t.Parallel()
	// Flags that take Go durations only, on purpose; none today.
	goOnly := map[string]bool{}
	root := newRootCmd(io.Discard, io.Discard, os.Getenv)
	n := 0
	for _, path := range commandPaths(root, nil) {
		cmd, _, err := root.Find(path)
		if err != nil {
			t.Fatal(err)
		}
		cmd.Flags().VisitAll(func(f *pflag.Flag) {
			if f.Value.Type() != "duration" {
				return
			}
			name := strings.Join(path, " ") + " --" + f.Name
			n++
			for _, v := range []string{"2w", "1d12h"} {
				err := f.Value.Set(v)
				switch {
				case goOnly[name] && err == nil:
					t.Errorf("%s takes %q: remove it from goOnly", name, v)
				case !goOnly[name] && err != nil:
					t.Errorf("%s %s: %v", name, v, err)
				}
			}
		})
	}
	if n < 10 {
		t.Errorf("found %d duration flags, want every one", n)
	}
}

// TestUnknownCommand: a word that names no subcommand exits 2 with one line
// naming it and the subcommands it is near; a command that groups others
// still prints its help alone.
func TestUnknownCommand(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		args []string
		want string // the error line; empty: exit 0 with help on stdout
	}{
		{[]string{"query", "lags"}, `lagtrail: unknown command "lags" for "lagtrail query"; did you mean "lag"?`},
		{[]string{"query", "lags", "--window", "7d", "--group", "billing"}, `lagtrail: unknown command "lags" for "lagtrail query"; did you mean "lag"?`},
		{[]string{"query", "stat"}, `lagtrail: unknown command "stat" for "lagtrail query"; did you mean "status"?`},
		{[]string{"query", "lagz"}, `lagtrail: unknown command "lagz" for "lagtrail query"; did you mean "lag"?`},
		{[]string{"query", "zzz"}, `lagtrail: unknown command "zzz" for "lagtrail query"; see lagtrail query --help`},
		{[]string{"report", "incidnt"}, `lagtrail: unknown command "incidnt" for "lagtrail report"; did you mean "incident"?`},
		{[]string{"qeury", "lag"}, `lagtrail: unknown command "qeury" for "lagtrail"; did you mean "query"?`},
		{[]string{"lags"}, `lagtrail: unknown command "lags" for "lagtrail"; see lagtrail --help`},
		{[]string{"query", "lag", "billing"}, `lagtrail: unknown command "billing" for "lagtrail query lag"`},
		{[]string{"query", "--no-such-flag"}, `lagtrail: unknown flag: --no-such-flag`},
		{[]string{"query"}, ""},
		{[]string{}, ""},
	} {
		t.Run(strings.Join(tc.args, " "), func(t *testing.T) {
			t.Parallel()
			r := runCLI(t, tc.args...)
			if tc.want == "" {
				if r.code != exitOK || !strings.Contains(r.stdout, "Usage:") || r.stderr != "" {
					t.Errorf("exit %d, stdout:\n%s\nstderr:\n%s\nwant exit 0 and the help", r.code, r.stdout, r.stderr)
				}
				return
			}
			if r.code != exitUsage {
				t.Errorf("exit code %d, want %d", r.code, exitUsage)
			}
			if line := oneErrorLine(t, r.stderr); line != tc.want {
				t.Errorf("error %q, want %q", line, tc.want)
			}
			if r.stdout != "" {
				t.Errorf("printed to stdout:\n%s", r.stdout)
			}
		})
	}
}

// TestAPITakesDaysAndDates: the API's parameters read durations and times
// as the flags do; an unknown group is 404 and names the near ones.
func TestAPITakesDaysAndDates(t *testing.T) {
	t.Parallel()
	u := fixtureURL(t)
	if _, err := openStore(t, u).RefreshRollups(t.Context()); err != nil {
		t.Fatal(err)
	}
	srv := apiTestServer(t, u, "")
	for _, tc := range []struct {
		path string
		args []string // the same request in Go's units and RFC3339
	}{
		{"/api/v1/drain?group=billing&at=2025-03-14T00:40:00Z&window=7d&horizon=1d&format=csv",
			[]string{"query", "drain", "--group", "billing", "--at", "2025-03-14T00:40:00Z", "--window", "168h", "--horizon", "24h", "--format", "csv"}},
		{"/api/v1/lag?from=2025-03-14&to=2025-03-15&step=1d&format=csv",
			[]string{"query", "lag", "--from", "2025-03-14T00:00:00Z", "--to", "2025-03-15T00:00:00Z", "--step", "24h", "--format", "csv"}},
		{"/api/v1/top?at=2025-03-15&window=2w&format=csv",
			[]string{"query", "top", "--at", "2025-03-15T00:00:00Z", "--window", "336h", "--format", "csv"}},
	} {
		resp, body := apiGet(t, srv, tc.path, "")
		r := runCLI(t, append(tc.args, "--database-url", u)...)
		if resp.StatusCode != 200 || r.code != exitOK || string(body) != r.stdout || strings.Count(r.stdout, "\n") < 2 {
			t.Errorf("GET %s: %d\n%s\n%v: exit %d\n%s%s", tc.path, resp.StatusCode, body, tc.args, r.code, r.stdout, r.stderr)
		}
	}
	for _, tc := range []struct {
		path   string
		status int
		param  string
		says   string
	}{
		{"/api/v1/lag?group=billng", 404, "group", `unknown group "billng": no such group is recorded; did you mean "billing"?`},
		{"/api/v1/drain?window=7x", 400, "window", `invalid argument "7x" for "window" flag: "7x" is not a duration`},
		{"/api/v1/lag?from=2025-13-01", 400, "from", `bad time "2025-13-01"`},
	} {
		resp, body := apiGet(t, srv, tc.path, "")
		var e apiError
		if err := json.Unmarshal(body, &e); err != nil {
			t.Fatalf("GET %s: %v: %s", tc.path, err, body)
		}
		if resp.StatusCode != tc.status || e.Parameter != tc.param || !strings.Contains(e.Error, tc.says) {
			t.Errorf("GET %s: %d %+v; want %d, parameter %q, saying %q", tc.path, resp.StatusCode, e, tc.status, tc.param, tc.says)
		}
	}
}
