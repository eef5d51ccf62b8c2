package main

import (
	"strings"
	"testing"
	"time"

	"github.com/lagtrail/lagtrail/internal/scenariotest"
)

// TestQueryExplain prints the plans of lag and rates: hour-aligned day-long
// ranges read the rollups, others the raw polls, and the plan says which,
// with PostgreSQL's measured times.
func TestQueryExplain(t *testing.T) {
	t.Parallel()
	h := scenariotest.Generate(t, "incident", scenariotest.Monday, 7*24*time.Hour)
	for _, tc := range []struct {
		args      []string
		tier      string
		table     string
		notTables []string
	}{
		{[]string{"query", "lag", "--from", "2025-01-08T00:00:00Z", "--to", "2025-01-11T00:00:00Z", "--step", "1h", "--by", "partition"},
			"tier rollup, 72 buckets of 1h0m0s", "partition_hourly", []string{"raw_polls"}},
		{[]string{"query", "rates", "--from", "2025-01-08T00:00:00Z", "--to", "2025-01-11T00:00:00Z", "--step", "1h"},
			"tier rollup, 72 buckets", "group_hourly", []string{"raw_polls"}},
		{[]string{"query", "lag", "--group", "payments-ledger", "--from", "2025-01-11T01:00:00Z", "--to", "2025-01-11T05:00:00Z", "--step", "5m"},
			"tier raw, 48 buckets of 5m0s", "raw_polls_20250111", []string{"raw_polls_20250108", "partition_hourly"}},
	} {
		r := runCLI(t, append(tc.args, "--explain", "--database-url", h.URL)...)
		if r.code != 0 {
			t.Fatalf("%q: exit %d: %s", tc.args, r.code, r.stderr)
		}
		if !strings.Contains(r.stdout, tc.tier) || !strings.Contains(r.stdout, tc.table) || !strings.Contains(r.stdout, "Execution Time") {
			t.Errorf("%q --explain lacks %q, %q or the execution time:\n%s", tc.args, tc.tier, tc.table, r.stdout)
		}
		for _, not := range tc.notTables {
			if strings.Contains(r.stdout, not) {
				t.Errorf("%q --explain reads %s:\n%s", tc.args, not, r.stdout)
			}
		}
	}
}
