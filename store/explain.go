package store

import (
	"context"
	"fmt"
	"strings"

	"github.com/jackc/pgx/v5"
)

// ExplainBuckets runs the statement Buckets runs for q (RollupBuckets with
// rollup) under EXPLAIN (ANALYZE, BUFFERS) and returns PostgreSQL's plan
// with its measured times. It executes the statement, so it takes as long
// as the query itself.
func (s *Store) ExplainBuckets(ctx context.Context, q AggregateQuery, rollup bool) (string, error) {
	query := s.bucketsQuery
	if rollup {
		query = s.rollupBucketsQuery
	}
	sql, args, ok, err := query(ctx, q)
	if err != nil {
		return "", fmt.Errorf("explain buckets: %w", err)
	}
	if !ok {
		return "", fmt.Errorf("explain buckets: none of the groups is recorded")
	}
	rows, err := s.pool.Query(ctx, "EXPLAIN (ANALYZE, BUFFERS) "+sql, append([]any{pgx.QueryExecModeExec}, args...)...)
	if err != nil {
		return "", fmt.Errorf("explain buckets: %w", err)
	}
	lines, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return "", fmt.Errorf("explain buckets: %w", err)
	}
	return strings.Join(lines, "\n"), nil
}
