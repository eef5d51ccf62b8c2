package deploy

import (
	"testing"
	"time"

	"github.com/lagtrail/lagtrail/internal/pgtest"
)

// benchFleet is a week of polls a minute apart: the history the dashboards
// must stay fast on.
var benchFleet = fleet{groups: 20, partitions: 12, days: 7, interval: time.Minute}

// BenchmarkDashboardQueries times every dashboard query, as Grafana sends
// it, on a week of 1-minute polls of 20 groups of 12 partitions (2.4
// million partition samples, about a minute to load):
//
//	go test -run '^$' -bench DashboardQueries -benchtime 3x ./deploy/
func BenchmarkDashboardQueries(b *testing.B) {
	pool, url := pgtest.Pool(b)
	writeFleet(b, url, benchFleet)
	queries, err := expandDashboards(b.Context(), pool, time.Now().UTC())
	if err != nil {
		b.Fatal(err)
	}
	for _, q := range queries {
		b.Run(q.name, func(b *testing.B) {
			for b.Loop() {
				if _, err := readerQuery(b.Context(), pool, q.sql); err != nil {
					b.Fatalf("%v\n%s", err, q.sql)
				}
			}
		})
	}
}
