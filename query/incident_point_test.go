package query

import (
	"testing"
	"time"

	"github.com/lagtrail/lagtrail/store"
)

// TestPointFromKeepsTheBucketPeak checks that a series point standing for
// several polls carries their peak (LagMax) besides the last poll's lag,
// and that a point of one poll has LagMax equal to its lag.
func TestPointFromKeepsTheBucketPeak(t *testing.T) {
	t.Parallel()
	t0 := time.Date(2025, 6, 1, 0, 0, 0, 0, time.UTC)
	edges := []time.Time{t0, t0.Add(time.Minute)}
	i := func(v int64) *int64 { return &v }
	for _, c := range []struct {
		name      string
		a         store.BucketAggregate
		lag, peak int64
	}{
		{"several polls", store.BucketAggregate{Lag: i(10), LagMax: i(50)}, 10, 50},
		{"one poll", store.BucketAggregate{Lag: i(10), LagMax: i(10)}, 10, 10},
		{"no max read", store.BucketAggregate{Lag: i(10)}, 10, 10},
	} {
		p := pointFrom(c.a, edges)
		if p.Lag != c.lag || p.LagMax != c.peak {
			t.Errorf("%s: lag %d, lag_max %d; want %d, %d", c.name, p.Lag, p.LagMax, c.lag, c.peak)
		}
	}
}
