package store

import (
	"context"
	"os"
	"slices"
	"strings"
	"testing"

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
			{"baseline", "", baselineHourlySQL, hourlyArgsOf},
			{"baseline, work_mem 64MB", "SET LOCAL work_mem = '64MB'", baselineHourlySQL, hourlyArgsOf},
			{"current", refreshSettings, rollupHourlySQL, hourlyArgsOf},
		} {
			plan := explainRollup(ctx, b, pool, v.set, v.sql, v.args)
			b.Logf("%s:\n%s", v.name, plan)
		}
	}
}

// hourlyArgsOf are the hourly statement's arguments for the entries
// taken, as the refresh and the baseline pass them.
func hourlyArgsOf(taken []queued) []any { return batchWindow(taken).hourlyArgs() }

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
