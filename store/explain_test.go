package store

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

// TestReadPlans checks with EXPLAIN that the SQL the range reads build lets
// PostgreSQL prune daily partitions and use the primary key of raw_polls for a
// group + time filter. Sequential scans are disabled so
// that the answer does not depend on the planner's view of a tiny table: the
// test asserts that the index can be used, which fails if a filter stops
// reaching the index (for instance a cast on sampled_at).
func TestReadPlans(t *testing.T) {
	t.Parallel()
	s, pool := openInternal(t)
	day := time.Date(2025, 3, 15, 0, 0, 0, 0, time.UTC)
	g := GroupRef{Region: "r", InstanceID: "i", Group: "g"}
	for d := -1; d <= 1; d++ {
		for h := range 24 {
			at := day.AddDate(0, 0, d).Add(time.Duration(h) * time.Hour)
			p := &Poll{Group: g, StartedAt: at, SampledAt: at, OK: true, Topics: []TopicSample{
				{Topic: "t", Partitions: []PartitionOffsets{{Partition: 0, BrokerOffset: 2, ConsumerOffset: 1}}},
			}}
			if err := s.WritePoll(t.Context(), p); err != nil {
				t.Fatal(err)
			}
		}
	}
	if _, err := pool.Exec(t.Context(), "ANALYZE"); err != nil {
		t.Fatal(err)
	}
	r := Range{Group: "g", From: day.Add(6 * time.Hour), To: day.Add(12 * time.Hour)}
	tests := []struct {
		name  string
		query func(Range) (string, []any)
		table string
	}{
		{"partition offsets", partitionOffsetsQuery, "raw_polls"},
		{"polls", pollsQuery, "raw_polls"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			q, args := tt.query(r)
			plan := explain(t.Context(), t, pool, q, args)
			kept := fmt.Sprintf("%s_20250315", tt.table)
			if !strings.Contains(plan, kept+"_pkey") {
				t.Errorf("plan does not use the primary key of %s:\n%s", kept, plan)
			}
			for _, pruned := range []string{"_20250314", "_20250316"} {
				if strings.Contains(plan, tt.table+pruned) {
					t.Errorf("plan scans %s%s, want it pruned:\n%s", tt.table, pruned, plan)
				}
			}
		})
	}
}

func explain(ctx context.Context, t *testing.T, pool interface {
	Begin(context.Context) (pgx.Tx, error)
}, q string, args []any) string {
	t.Helper()
	tx, err := pool.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = tx.Rollback(context.WithoutCancel(ctx)) }()
	if _, err := tx.Exec(ctx, "SET LOCAL enable_seqscan = off"); err != nil {
		t.Fatal(err)
	}
	rows, err := tx.Query(ctx, "EXPLAIN (COSTS OFF) "+q, args...)
	if err != nil {
		t.Fatal(err)
	}
	lines, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		t.Fatal(err)
	}
	return strings.Join(lines, "\n")
}
