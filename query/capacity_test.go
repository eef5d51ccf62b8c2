package query_test

import (
	"testing"

	"github.com/lagtrail/lagtrail/query"
)

func TestCapacityFrom(t *testing.T) {
	t.Parallel()
	f := func(v float64) *float64 { return &v }
	i := func(v int64) *int64 { return &v }
	row := func(lag int64, produce, consume float64) query.Row {
		return query.Row{Lag: i(lag), ProduceRate: f(produce), ConsumeRate: f(consume)}
	}
	cases := []struct {
		name string
		rows []query.Row
		want query.Capacity
	}{
		{"empty", nil, query.Capacity{}},
		{
			name: "keeping up: only a lower bound",
			rows: []query.Row{row(10, 100, 100), row(10, 200, 200), row(10, 50, 50)},
			want: query.Capacity{Buckets: 3, ProduceP50: 100, ProduceP99: 200, ProduceMax: 200, ConsumeMax: 200, Headroom: 1, LowerBound: true},
		},
		{
			name: "draining a backlog shows the capacity",
			rows: []query.Row{
				row(10, 100, 100),
				row(60_010, 100, 0),   // stalled: lag grows
				row(30_000, 100, 400), // drains from 60,010, above 60 s × 100/s
				row(100, 100, 399),    // drains from 30,000
				row(100, 100, 100),    // lag flat: not counted
			},
			want: query.Capacity{Buckets: 5, ProduceP50: 100, ProduceP99: 100, ProduceMax: 100, Observed: 400, BackloggedBuckets: 2, ConsumeMax: 400, Headroom: 4},
		},
		{
			name: "a small lag is no backlog",
			rows: []query.Row{row(5_000, 100, 100), row(4_000, 100, 150)},
			want: query.Capacity{Buckets: 2, ProduceP50: 100, ProduceP99: 100, ProduceMax: 100, ConsumeMax: 150, Headroom: 1.5, LowerBound: true},
		},
		{
			name: "rows without rates are skipped but carry their lag",
			rows: []query.Row{{Lag: i(100_000)}, row(10, 100, 500)},
			want: query.Capacity{Buckets: 1, ProduceP50: 100, ProduceP99: 100, ProduceMax: 100, Observed: 500, BackloggedBuckets: 1, ConsumeMax: 500, Headroom: 5},
		},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			if got := query.CapacityFrom(c.rows); got != c.want {
				t.Errorf("got  %+v\nwant %+v", got, c.want)
			}
		})
	}
}
