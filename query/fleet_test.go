package query_test

import (
	"testing"

	"github.com/lagtrail/lagtrail/query"
	"github.com/lagtrail/lagtrail/store"
)

func TestJudgeBacklog(t *testing.T) {
	t.Parallel()
	i := func(v int64) *int64 { return &v }
	f := func(v float64) *float64 { return &v }
	for _, tt := range []struct {
		name        string
		lag         *int64
		produce     *float64
		eta         *float64
		wantBacklog bool
		wantETA     *float64
	}{
		{"no lag figure", nil, f(100), f(5), false, nil},
		{"no lag", i(0), f(100), nil, false, f(0)},
		{"a minute of production is in flight", i(6000), f(100), f(1200), false, f(0)},
		{"just over a minute is a backlog", i(6001), f(100), f(1200), true, f(1200)},
		{"a backlog not draining has no ETA", i(10000), f(100), nil, true, nil},
		{"an idle group counts 1/s: 60 messages are in flight", i(60), f(0), nil, false, f(0)},
		{"an idle group with more is a backlog", i(61), nil, f(30), true, f(30)},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			g := query.JudgeBacklog(store.FleetRow{Lag: tt.lag, ProduceRate: tt.produce, ETA: tt.eta})
			if g.Backlog != tt.wantBacklog {
				t.Errorf("backlog %v, want %v", g.Backlog, tt.wantBacklog)
			}
			switch {
			case (g.ETA == nil) != (tt.wantETA == nil):
				t.Errorf("ETA %v, want %v", g.ETA, tt.wantETA)
			case g.ETA != nil && *g.ETA != *tt.wantETA:
				t.Errorf("ETA %v, want %v", *g.ETA, *tt.wantETA)
			}
		})
	}
}
