package main

import (
	"context"
	"io"
	"net/http"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/lagtrail/lagtrail/internal/pgtest"
	"github.com/lagtrail/lagtrail/internal/scenariotest"
)

// TestServeOnAHotStandby runs lagtrail serve against a PostgreSQL hot
// standby, which refuses every write, and checks that a request to every
// API endpoint, in every format it serves, /metrics's lag gauges and
// /readyz answer there as they do on the primary, byte for byte: nothing on
// the read path writes, so reads can scale out to replicas. The history is
// the consistency test's (6 hours, five groups), written on the primary and
// ending an hour after now, so that no group is NODATA on either.
func TestServeOnAHotStandby(t *testing.T) {
	t.Parallel()
	start := time.Now().UTC().Truncate(time.Hour).Add(-5 * time.Hour)
	_, fill := scenariotest.FillFile(t, consistencyScenario, start, 6*time.Hour)
	primaryURL, standbyURL := pgtest.Replica(t, fill)
	primary := startServe(t, primaryURL)
	standby := startServe(t, standbyURL)

	ts := func(d time.Duration) string { return start.Add(d).Format(time.RFC3339) }
	cases := []apiCase{
		{"fleet", nil, []string{"json", "csv"}},
		{"lag", [][2]string{{"group", "stalled"}, {"from", ts(5 * time.Hour)}, {"to", ts(6 * time.Hour)}, {"step", "5m"}, {"by", "partition"}}, []string{"json", "csv"}},
		{"rates", [][2]string{{"group", "backlogged"}, {"from", ts(4 * time.Hour)}, {"to", ts(6 * time.Hour)}, {"step", "10m"}}, []string{"json", "csv"}},
		{"drain", [][2]string{{"group", "rewinder"}, {"at", ts(5*time.Hour + 50*time.Minute)}, {"window", "10m"}, {"by", "partition"}}, []string{"json", "csv"}},
		{"status", [][2]string{{"group", "stalled"}, {"from", ts(5 * time.Hour)}, {"to", ts(6 * time.Hour)}, {"step", "1m"}}, []string{"json", "csv"}},
		{"events", [][2]string{{"group", "rewinder"}, {"from", ts(5*time.Hour + 30*time.Minute)}, {"to", ts(6 * time.Hour)}}, []string{"json", "csv"}},
		{"top", [][2]string{{"by", "stall"}, {"at", ts(6 * time.Hour)}, {"window", "2h"}, {"limit", "3"}}, []string{"json", "csv"}},
		{"skew", [][2]string{{"group", "quiet"}, {"at", ts(5 * time.Hour)}, {"window", "1h"}}, []string{"json", "csv"}},
		{"capacity", [][2]string{{"group", "quiet"}, {"at", ts(6 * time.Hour)}, {"window", "24h"}}, []string{"json", "csv", "markdown"}},
		{"incident", [][2]string{{"group", "stalled"}, {"from", ts(5 * time.Hour)}, {"to", ts(6 * time.Hour)}}, []string{"json", "csv", "markdown"}},
		{"export", [][2]string{{"view", "group_lag_hourly"}, {"from", ts(0)}, {"to", ts(6 * time.Hour)}, {"group", "stalled"}}, []string{"csv", "jsonl"}},
	}
	covered := map[string]bool{}
	var paths []string
	for _, c := range cases {
		covered[c.endpoint] = true
		for _, format := range c.formats {
			paths = append(paths, c.url(format))
		}
	}
	for _, ep := range apiEndpoints {
		if !covered[ep.name] {
			t.Errorf("endpoint %s has no request here: add one", ep.name)
		}
	}
	paths = append(paths, "/readyz")
	for _, p := range paths {
		code, want := get(t, primary+p)
		if code != http.StatusOK {
			t.Errorf("primary: GET %s: %d %s", p, code, firstLine(want))
			continue
		}
		code, got := get(t, standby+p)
		if code != http.StatusOK {
			t.Errorf("standby: GET %s: %d %s", p, code, firstLine(got))
			continue
		}
		// The fleet in JSON says when it was asked.
		got, want = askedAt.ReplaceAllString(got, ""), askedAt.ReplaceAllString(want, "")
		if got != want {
			t.Errorf("GET %s: the standby answers differently from the primary:\nstandby: %s\nprimary: %s", p, firstLine(got), firstLine(want))
		}
	}

	// /metrics: the lag gauges of every group, from the standby too. The
	// process's own metrics differ between the two, so only the lag
	// gauges are compared; every group has a fresh poll, so they hold
	// the lag gauges, not only the status.
	_, want := get(t, primary+"/metrics")
	_, got := get(t, standby+"/metrics")
	if g, w := lagGauges(got), lagGauges(want); g != w || !strings.Contains(w, "kafka_consumergroup_group_sum_lag{") {
		t.Errorf("/metrics: the standby's lag gauges differ from the primary's (or there are none):\nstandby:\n%s\nprimary:\n%s", g, w)
	}
}

// askedAt matches the fleet's "at" in JSON: the time of the request.
var askedAt = regexp.MustCompile(`(?m)^  "at": "[^"]*",$`)

// startServe runs lagtrail serve on dbURL on a free loopback port until t
// ends, and returns its base URL.
func startServe(t *testing.T, dbURL string) string {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	var stderr lockedBuffer
	done := make(chan int, 1)
	go func() {
		done <- run(ctx, []string{"serve", "--listen", "127.0.0.1:0", "--database-url", dbURL}, io.Discard, &stderr, func(string) string { return "" })
	}()
	t.Cleanup(func() {
		cancel()
		if code := <-done; code != exitOK {
			t.Errorf("serve exited %d: %s", code, stderr.String())
		}
	})
	re := regexp.MustCompile(`serving on (http://127\.0\.0\.1:\d+)/`)
	// Far longer than opening the store takes on a loaded machine.
	deadline := time.Now().Add(2 * time.Minute)
	for {
		if m := re.FindStringSubmatch(stderr.String()); m != nil {
			return m[1]
		}
		select {
		case code := <-done:
			t.Fatalf("serve exited %d before serving: %s", code, stderr.String())
		case <-time.After(20 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			t.Fatalf("serve did not start in 2 minutes: %s", stderr.String())
		}
	}
}

// get fetches u and returns the status and body.
func get(t *testing.T, u string) (int, string) {
	t.Helper()
	resp, err := http.Get(u)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("GET %s: %v", u, err)
	}
	return resp.StatusCode, string(b)
}

// firstLine shortens a body for a message.
func firstLine(s string) string {
	line, _, _ := strings.Cut(s, "\n")
	if len(line) > 300 {
		line = line[:300] + "…"
	}
	return line
}

// lagGauges keeps the lines of a /metrics body that describe the groups.
func lagGauges(body string) string {
	var out []string
	for _, l := range strings.Split(body, "\n") {
		if strings.HasPrefix(l, "kafka_consumergroup_") || strings.HasPrefix(l, "lagtrail_consumergroup_") {
			out = append(out, l)
		}
	}
	return strings.Join(out, "\n")
}
