package main

import (
	"bytes"
	"encoding/json"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/lagtrail/lagtrail/internal/benchgen"
	"github.com/lagtrail/lagtrail/internal/pgtest"
	"github.com/lagtrail/lagtrail/store"
)

// tinyBench is a scale the benchmark runs in seconds: 3 groups x 4
// partitions x 144 rounds = 1,728 samples.
var tinyBench = []string{"bench", "storage", "--groups", "3", "--partitions", "4", "--days", "1", "--interval", "10m", "--single-polls", "7", "--runs", "1"}

const tinySamples = 3 * 4 * 144

// noJIT turns PostgreSQL's JIT off for the URL's connections (pgx sends
// unknown URL parameters as run-time settings): the aggregate queries' cost
// estimates make the server JIT-compile them for seconds, which only slows
// these tests down.
func noJIT(url string) string {
	if strings.Contains(url, "?") {
		return url + "&jit=off"
	}
	return url + "?jit=off"
}

func runBench(t *testing.T, args ...string) (int, string, string) {
	t.Helper()
	var out, errb bytes.Buffer
	code := run(t.Context(), append(append([]string{}, tinyBench...), args...), &out, &errb, func(string) string { return "" })
	return code, out.String(), errb.String()
}

// bench storage reports both stores, loads the same samples into each, and
// refuses a database that already holds polls.
func TestBenchStorage(t *testing.T) {
	t.Parallel()
	_, dbURL := pgtest.Pool(t)
	code, out, stderr := runBench(t, "--database-url", noJIT(dbURL), "--keep-baseline")
	if code != 0 {
		t.Fatalf("bench storage: exit %d, stderr:\n%s", code, stderr)
	}
	t.Logf("output:\n%s", out)
	var sawBytes bool
	for line := range strings.SplitSeq(out, "\n") {
		f := strings.Fields(line)
		switch {
		case strings.HasPrefix(line, "samples stored"):
			if want := "1,728"; f[len(f)-2] != want || f[len(f)-1] != want {
				t.Errorf("samples line %q: want %s for both stores", line, want)
			}
		case strings.HasPrefix(line, "bytes/sample (lagtrail: raw tier)"):
			sawBytes = true
			for _, v := range f[len(f)-3 : len(f)-1] {
				if x, err := strconv.ParseFloat(v, 64); err != nil || x <= 0 {
					t.Errorf("bytes/sample line %q: %q is not a positive number", line, v)
				}
			}
		}
	}
	if !sawBytes || !strings.Contains(out, "Q3 group hourly rates") || !strings.Contains(out, "WritePoll per poll (7 polls)") {
		t.Errorf("output lacks figures:\n%s", out)
	}
	if !strings.Contains(stderr, "bench: load baseline: round 144/144") {
		t.Errorf("stderr lacks progress:\n%s", stderr)
	}

	// Both stores hold the history's samples, counted by each store.
	from := benchgen.DefaultStart
	to := from.Add(24 * time.Hour)
	st, err := store.Open(t.Context(), store.Config{DatabaseURL: dbURL}, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	samples, err := st.ReadPartitionOffsets(t.Context(), store.Range{From: from, To: to})
	if err != nil || len(samples) != tinySamples {
		t.Errorf("lagtrail store: %d samples in the history (%v), want %d", len(samples), err, tinySamples)
	}
	base, err := store.OpenBaseline(t.Context(), dbURL)
	if err != nil {
		t.Fatal(err)
	}
	defer base.Close(t.Context())
	if n, err := base.Count(t.Context(), from, to); err != nil || n != tinySamples {
		t.Errorf("baseline: %d samples (%v), want %d", n, err, tinySamples)
	}

	// The database now holds polls: a second run refuses it.
	code, out, stderr = runBench(t, "--database-url", dbURL)
	if code != exitFailure || out != "" || !strings.Contains(stderr, "already holds polls") || !strings.Contains(stderr, "scratch database") {
		t.Errorf("second run: exit %d, stdout %q, stderr %q; want a refusal naming a scratch database", code, out, stderr)
	}
}

// --format json carries the same figures, and the baseline is dropped at
// the end by default.
func TestBenchStorageJSON(t *testing.T) {
	t.Parallel()
	pool, dbURL := pgtest.Pool(t)
	code, out, stderr := runBench(t, "--database-url", noJIT(dbURL), "--format", "json")
	if code != 0 {
		t.Fatalf("bench storage --format json: exit %d, stderr:\n%s", code, stderr)
	}
	var rep benchReport
	if err := json.Unmarshal([]byte(out), &rep); err != nil {
		t.Fatalf("output is not the report: %v\n%s", err, out)
	}
	for name, f := range map[string]*benchFigures{"lagtrail": rep.Lagtrail, "baseline": rep.Baseline} {
		if f == nil || f.Samples != tinySamples || f.BytesPerSample <= 0 || f.IngestPerSec <= 0 || len(f.QueryMedianMs) != 3 {
			t.Errorf("%s figures: %+v", name, f)
		}
	}
	if rep.Q1Buckets == 0 || rep.Q1Agree != rep.Q1Buckets {
		t.Errorf("Q1 lag equal in %d of %d buckets; want all, and some", rep.Q1Agree, rep.Q1Buckets)
	}
	var exists bool
	if err := pool.QueryRow(t.Context(), `SELECT to_regclass('lagtrail_bench.samples') IS NOT NULL`).Scan(&exists); err != nil || exists {
		t.Errorf("lagtrail_bench.samples after the run: exists %v, %v; want dropped", exists, err)
	}
}

func TestBenchStorageUsage(t *testing.T) {
	t.Parallel()
	for _, args := range [][]string{
		{"--scale", "huge", "--database-url", "postgres://x@127.0.0.1:1/x"},
		{"--interval", "1ms", "--database-url", "postgres://x@127.0.0.1:1/x"},
		{"--format", "xml", "--database-url", "postgres://x@127.0.0.1:1/x"},
	} {
		if code, _, stderr := runBench(t, args...); code != exitUsage {
			t.Errorf("%v: exit %d (%s), want %d", args, code, stderr, exitUsage)
		}
	}
}
