package query_test

import (
	"math"
	"testing"
	"time"

	"github.com/lagtrail/lagtrail/query"
	"github.com/lagtrail/lagtrail/store"
)

func TestDrainFrom(t *testing.T) {
	t.Parallel()
	at := t0
	w, h := 15*time.Minute, time.Hour
	f := func(v float64) *float64 { return &v }
	i := func(v int64) *int64 { return &v }
	for _, tc := range []struct {
		name    string
		agg     store.BucketAggregate
		eta     float64 // seconds; <0 for none
		backlog bool
		pred    float64 // <0 for none
		netRate float64
	}{
		{
			// Lag 9000 falling 10/s: 900 s to drain. The fit, 18000 at the
			// window's start, predicts 18000 - 10*(900+3600) -> floored 0.
			name: "draining",
			agg:  store.BucketAggregate{Lag: i(9000), LagSlope: f(-10), LagIntercept: f(18000), ConsumeRate: f(30), ProduceRate: f(20)},
			eta:  900, pred: 0, netRate: -10, backlog: true,
		},
		{
			name: "draining slowly",
			agg:  store.BucketAggregate{Lag: i(100000), LagSlope: f(-2), LagIntercept: f(101800), ConsumeRate: f(12), ProduceRate: f(10)},
			eta:  50000, pred: 101800 - 2*4500, netRate: -2, backlog: true,
		},
		{
			name: "a growing backlog has no ETA",
			agg:  store.BucketAggregate{Lag: i(5000), LagSlope: f(3), LagIntercept: f(0), ConsumeRate: f(7), ProduceRate: f(10)},
			eta:  -1, pred: 3 * 4500, netRate: 3, backlog: true,
		},
		{
			// 500 messages are 50 s of production at 10/s: in flight.
			name: "growing lag within a minute of production keeps up",
			agg:  store.BucketAggregate{Lag: i(500), LagSlope: f(3), LagIntercept: f(0), ConsumeRate: f(7), ProduceRate: f(10)},
			eta:  0, pred: 3 * 4500, netRate: 3,
		},
		{
			name: "no lag keeps up",
			agg:  store.BucketAggregate{Lag: i(0), LagSlope: f(-1), LagIntercept: f(0), ConsumeRate: f(10), ProduceRate: f(10)},
			eta:  0, pred: 0, netRate: 0,
		},
		{
			// Production counts as at least 1/s: 61 messages are a backlog.
			name: "an idle group's 61 messages are a backlog",
			agg:  store.BucketAggregate{Lag: i(61), LagSlope: f(0), LagIntercept: f(61), ConsumeRate: f(0), ProduceRate: f(0)},
			eta:  -1, pred: 61, netRate: 0, backlog: true,
		},
		{
			name: "one poll: no fit, no backlog",
			agg:  store.BucketAggregate{Lag: i(42)},
			eta:  0, pred: -1, netRate: math.NaN(),
		},
		{
			name: "one poll with a backlog: no fit, no ETA",
			agg:  store.BucketAggregate{Lag: i(4200)},
			eta:  -1, pred: -1, netRate: math.NaN(), backlog: true,
		},
	} {
		d := query.DrainFrom(tc.agg, at, w, h)
		switch {
		case d.Backlog != tc.backlog:
			t.Errorf("%s: backlog %v, want %v", tc.name, d.Backlog, tc.backlog)
		case tc.eta < 0 && d.ETA != nil:
			t.Errorf("%s: ETA %s, want none", tc.name, *d.ETA)
		case tc.eta >= 0 && (d.ETA == nil || math.Abs(d.ETA.Seconds()-tc.eta) > 1e-6):
			t.Errorf("%s: ETA %v, want %vs", tc.name, d.ETA, tc.eta)
		case tc.pred < 0 && d.PredictedLag != nil:
			t.Errorf("%s: predicted %v, want none", tc.name, *d.PredictedLag)
		case tc.pred >= 0 && (d.PredictedLag == nil || math.Abs(*d.PredictedLag-tc.pred) > 1e-6):
			t.Errorf("%s: predicted %v, want %v", tc.name, deref(d.PredictedLag), tc.pred)
		case math.IsNaN(tc.netRate) != (d.NetRate == nil):
			t.Errorf("%s: net rate %v, want %v", tc.name, deref(d.NetRate), tc.netRate)
		case d.NetRate != nil && *d.NetRate != tc.netRate:
			t.Errorf("%s: net rate %v, want %v", tc.name, *d.NetRate, tc.netRate)
		}
	}
}
