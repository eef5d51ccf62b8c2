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
// standby, which refuses every write, and checks that every API request of
// the mirror test, in every format, /metrics, /readyz and the web pages
// answer there as they do on the primary, byte for byte: nothing on the
// read path writes, so reads can scale out to replicas.
func TestServeOnAHotStandby(t *testing.T) {
	t.Parallel()
	h := scenariotest.Generate(t, "incident", scenariotest.Monday, 7*24*time.Hour)
	primaryURL, standbyURL := pgtest.Replica(t, h.URL)
	primary := startServe(t, primaryURL)
	standby := startServe(t, standbyURL)

	var paths []string
	for _, c := range apiCases {
		for _, format := range c.formats {
			paths = append(paths, c.url(format))
		}
	}
	// The pages are static; their data comes from the API requests above.
	paths = append(paths, "/readyz", "/", "/group?group=payments-ledger")
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
		if got != want {
			t.Errorf("GET %s: the standby answers differently from the primary:\nstandby: %s\nprimary: %s", p, firstLine(got), firstLine(want))
		}
	}

	// /metrics: the lag gauges of every group, from the standby too. The
	// process's own metrics differ between the two, so only the lag
	// gauges are compared.
	_, want := get(t, primary+"/metrics")
	_, got := get(t, standby+"/metrics")
	if g, w := lagGauges(got), lagGauges(want); g != w || w == "" {
		t.Errorf("/metrics: the standby's lag gauges differ from the primary's (or there are none):\nstandby:\n%s\nprimary:\n%s", g, w)
	}
}

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
