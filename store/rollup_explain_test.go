package store

import (
	"context"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
)

// BenchmarkRefreshRollupsExplain prints EXPLAIN (ANALYZE, BUFFERS) of the
// baseline and the current hourly rollup statement for the first batch a
// refresh takes of a live queue (each group's last hour) of 100 groups x 8
// partitions x 4 hours. It is a tool to see where the refresh spends its
// time, not a measurement: run it with -benchtime 1x -v.
// LAGTRAIL_EXPLAIN_COLD=1 queues every hour instead.
func BenchmarkRefreshRollupsExplain(b *testing.B) {
	s, pool := openRollupBench(b)
	ctx := b.Context()
	for c := range slices.Chunk(rollupBenchHistory(100, 8, 4), 500) {
		if _, err := s.WritePolls(ctx, c); err != nil {
			b.Fatal(err)
		}
	}
	if _, err := pool.Exec(ctx, "ANALYZE lagtrail.raw_polls"); err != nil {
		b.Fatal(err)
	}
	cold := os.Getenv("LAGTRAIL_EXPLAIN_COLD") != ""
	if !cold {
		if _, err := s.RefreshRollups(ctx); err != nil {
			b.Fatal(err)
		}
	}
	queueRollupBench(b, pool, !cold)
	for range b.N {
		for _, v := range []struct {
			name, set string
			sql       string
			args      func([]queued) []any
		}{
			{"baseline", "", baselineHourlySQL, baselineHourlyArgs},
			{"baseline, work_mem 64MB", "SET LOCAL work_mem = '64MB'", baselineHourlySQL, baselineHourlyArgs},
			{"current", refreshSettings, rollupHourlySQL, baselineHourlyArgs},
		} {
			plan := explainRollup(ctx, b, pool, v.set, v.sql, v.args)
			b.Logf("%s:\n%s", v.name, plan)
		}
	}
}

// baselineHourlyArgs are the arguments the baseline passes the hourly
// statement for the entries taken.
func baselineHourlyArgs(taken []queued) []any {
	var groups []int32
	first, last := taken[0].Hour, taken[0].Hour
	for _, q := range taken {
		groups = append(groups, q.GroupKey)
		first = minTime(first, q.Hour)
		last = maxTime(last, q.Hour)
	}
	slices.Sort(groups)
	groups = slices.Compact(groups)
	from, to := first.UTC().Add(-Hour), last.UTC().Add(Hour)
	var edges []time.Time
	for t := from; !t.After(to); t = t.Add(Hour) {
		edges = append(edges, t)
	}
	return []any{groups, from.Add(-EdgeSlack), to.Add(EdgeSlack), nil, nil,
		float64(DefaultGapFactor), float64(DefaultResetFactor), edges}
}

// explainRollup runs sql under EXPLAIN (ANALYZE, BUFFERS) with the
// arguments args makes of the first batch the baseline would take, in a
// transaction it rolls back.
func explainRollup(ctx context.Context, b *testing.B, pool *pgxpool.Pool, set, sql string, args func([]queued) []any) string {
	b.Helper()
	tx, err := pool.Begin(ctx)
	if err != nil {
		b.Fatal(err)
	}
	defer func() { _ = tx.Rollback(context.WithoutCancel(ctx)) }()
	if set != "" {
		if _, err := tx.Exec(ctx, set); err != nil {
			b.Fatal(err)
		}
	}
	rows, err := tx.Query(ctx, `
SELECT group_key, hour FROM lagtrail.rollup_queue
WHERE hour < (SELECT min(hour) FROM lagtrail.rollup_queue) + $1::interval
ORDER BY hour, group_key LIMIT $2`, baselineSpan, baselineBatch)
	if err != nil {
		b.Fatal(err)
	}
	taken, err := pgx.CollectRows(rows, pgx.RowToStructByName[queued])
	if err != nil || len(taken) == 0 {
		b.Fatalf("queue: %d entries, %v", len(taken), err)
	}
	rows, err = tx.Query(ctx, "EXPLAIN (ANALYZE, BUFFERS) "+sql, append([]any{pgx.QueryExecModeExec}, args(taken)...)...)
	if err != nil {
		b.Fatal(err)
	}
	lines, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		b.Fatal(err)
	}
	return strings.Join(lines, "\n")
}
