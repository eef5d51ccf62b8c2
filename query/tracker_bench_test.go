package query_test

import (
	"testing"
	"time"

	"github.com/lagtrail/lagtrail/internal/pgtest"
	"github.com/lagtrail/lagtrail/query"
	"github.com/lagtrail/lagtrail/store"
)

// BenchmarkStatusInputs compares, in one process on one history, the two
// ways of getting the status rules' inputs for a 32-partition group over 2
// days at 1-minute polls, in 10-minute buckets with the engine's 24-hour
// lookback: store.PartitionStates (window functions in PostgreSQL), the
// baseline, and store.PartitionPoints with query.StatesFromPoints (read the
// samples, track them in memory), which Engine.Status uses.
//
//	LAGTRAIL_REQUIRE_DB=1 go test -run '^$' -bench BenchmarkStatusInputs -count 5 ./query
func BenchmarkStatusInputs(b *testing.B) {
	ctx := b.Context()
	st, err := store.Open(ctx, store.Config{DatabaseURL: pgtest.URL(b)}, nil)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(st.Close)
	g := store.GroupRef{Region: "cn-hangzhou", InstanceID: "alikafka-bench", Group: "status-bench"}
	start := time.Date(2025, 3, 10, 0, 0, 0, 0, time.UTC)
	const partitions, minutes = 32, 2 * 24 * 60
	var polls []*store.Poll
	for i := range minutes {
		at := start.Add(time.Duration(i) * time.Minute)
		ts := store.TopicSample{Topic: "t"}
		for p := range partitions {
			b := int64(1_000_000 + 100*i + p)
			c := b - int64((i*7+p*13)%500)
			if i%900 > 840 { // a stall now and then
				c = int64(1_000_000 + 100*(i-i%900+840) + p - 300)
			}
			ts.Partitions = append(ts.Partitions, store.PartitionOffsets{Partition: int32(p), BrokerOffset: b, ConsumerOffset: c, LastTimestampMs: -1})
		}
		polls = append(polls, &store.Poll{Group: g, StartedAt: at.Add(-time.Millisecond), SampledAt: at, Duration: time.Millisecond, OK: true, LastTimestampMs: -1, Topics: []store.TopicSample{ts}})
	}
	for lo := 0; lo < len(polls); lo += 500 {
		if _, err := st.WritePolls(ctx, polls[lo:min(lo+500, len(polls))]); err != nil {
			b.Fatal(err)
		}
	}
	var edges []time.Time
	for e := start; !e.After(start.Add(minutes * time.Minute)); e = e.Add(10 * time.Minute) {
		edges = append(edges, e)
	}
	q := store.AggregateQuery{Groups: []store.GroupRef{g}, By: store.LevelPartition, Edges: edges, Lookback: query.DefaultLookback, Window: query.DefaultStatusWindow}
	var n int
	b.Run("sql", func(b *testing.B) {
		for b.Loop() {
			states, err := st.PartitionStates(ctx, q)
			if err != nil {
				b.Fatal(err)
			}
			n = len(states)
		}
	})
	b.Run("points+tracker", func(b *testing.B) {
		for b.Loop() {
			points, err := st.PartitionPoints(ctx, q)
			if err != nil {
				b.Fatal(err)
			}
			states, err := query.StatesFromPoints(points, edges, q.Window)
			if err != nil {
				b.Fatal(err)
			}
			if len(states) != n {
				b.Fatalf("%d states, the SQL gave %d", len(states), n)
			}
		}
	})
	b.Logf("%d states of %d samples", n, partitions*minutes)
}
