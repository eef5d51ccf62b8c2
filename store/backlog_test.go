package store

import (
	"testing"
)

// TestBacklogSQLMatchesExceeds evaluates backlogExpr in PostgreSQL over a
// grid of lags, production rates (NULL among them) and rules, and checks
// that it agrees with Backlog.Exceeds everywhere, on both sides of every
// threshold.
func TestBacklogSQLMatchesExceeds(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	_, pool := openInternal(t)
	q := `SELECT ` + backlogExpr("$1::bigint", "$2::float8", 3, 4)
	rules := []Backlog{DefaultBacklog, {Seconds: 30, MinRate: 0}, {Seconds: 120, MinRate: 5}}
	lags := []int64{0, 1, 29, 30, 31, 59, 60, 61, 119, 600, 601, 1_000_000}
	produce := []*float64{nil, new(0.0), new(0.5), new(1.0), new(5.0), new(10.0), new(10.01)}
	exceeded, kept := 0, 0
	for _, b := range rules {
		for _, lag := range lags {
			for _, p := range produce {
				var got bool
				if err := pool.QueryRow(ctx, q, lag, p, b.Seconds, b.MinRate).Scan(&got); err != nil {
					t.Fatal(err)
				}
				pv := 0.0
				if p != nil {
					pv = *p
				}
				want := b.Exceeds(float64(lag), pv)
				if got != want {
					t.Errorf("rule %+v, lag %d, produce %v: SQL %v, Exceeds %v", b, lag, pv, got, want)
				}
				if want {
					exceeded++
				} else {
					kept++
				}
			}
		}
	}
	if exceeded == 0 || kept == 0 {
		t.Fatalf("the grid never crosses the threshold: %d backlogs, %d not", exceeded, kept)
	}
}
