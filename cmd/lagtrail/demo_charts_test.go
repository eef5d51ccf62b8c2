package main

import (
	"math"
	"testing"
	"time"

	"github.com/lagtrail/lagtrail/query"
	"github.com/lagtrail/lagtrail/store"
)

// TestLagSeriesByMax checks that the demo's lag charts carry each bucket's
// peak (LagMax) as the series' maxima, beside its last poll's lag, and NaN
// where a bucket has no sample.
func TestLagSeriesByMax(t *testing.T) {
	t.Parallel()
	t0 := time.Date(2026, 12, 5, 0, 0, 0, 0, time.UTC)
	i64 := func(v int64) *int64 { return &v }
	k := store.Key{Topic: "orders", Partition: 3}
	rows := []query.Row{
		{Key: k, End: t0.Add(time.Hour), Lag: i64(100), LagMax: i64(120)},
		{Key: k, End: t0.Add(2 * time.Hour), Lag: i64(13500), LagMax: i64(22000)},
		{Key: k, End: t0.Add(3 * time.Hour)},
	}
	got := lagSeriesBy(rows, func(store.Key) string { return "orders/3" })
	if len(got) != 1 || got[0].Name != "orders/3" {
		t.Fatalf("series %+v", got)
	}
	s := got[0]
	if len(s.Max) != len(s.Points) || len(s.Points) != 3 {
		t.Fatalf("%d points, %d maxima", len(s.Points), len(s.Max))
	}
	if s.Points[1].V != 13500 || s.Max[1] != 22000 || s.Max[0] != 120 {
		t.Errorf("the stall's bucket: line %g max %g; want the last poll 13500 and the peak 22000", s.Points[1].V, s.Max[1])
	}
	if !math.IsNaN(s.Points[2].V) || !math.IsNaN(s.Max[2]) {
		t.Errorf("a bucket without samples: line %g max %g, want NaN for both", s.Points[2].V, s.Max[2])
	}
}
