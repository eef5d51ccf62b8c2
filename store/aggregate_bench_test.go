package store_test

import (
	"context"
	"net/url"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"golang.org/x/sync/errgroup"

	"github.com/lagtrail/lagtrail/store"
)

// Shape of the day BenchmarkBuckets reads: one group, one topic of
// benchParts partitions, polled every minute.
const (
	benchParts = 12
	benchPolls = 24 * 60
	benchStep  = 15 * time.Minute
)

// BenchmarkBuckets aggregates one group's day (1440 polls of 12 partitions,
// 17280 partition samples) into 96 buckets of 15 minutes, at LevelGroup and
// LevelPartition, for a group whose API shows the last consumed timestamps
// and one that hides them (so every lagging end-of-bucket sample takes the
// time-lag estimation path). Its baseline, "raw", reads the same samples
// with ReadPartitionOffsets: what pulling the raw series into Go costs
// before any aggregation is done there. Every case checks its result once
// before timing.
//
// Each case runs on two Stores. "cached" is the Store as configured, on one
// connection, run enough times before timing that a cached prepared
// statement would have switched to PostgreSQL's generic plan; "custom" sets
// plan_cache_mode=force_custom_plan on its connections. The store runs its
// aggregates in exec mode, planned for their parameters every time, so the
// two must agree; before it did, "cached" was 7 to 57 times slower.
//
// The tables are analyzed after loading, as autovacuum does in steady state:
// without statistics the planner takes the aggregate's CTEs for one row each
// and joins the estimation path's CTEs in nested loops, as slowly as in the
// generic plan.
func BenchmarkBuckets(b *testing.B) {
	s, pool := newStore(b)
	if _, err := s.EnsurePartitions(b.Context(), day0.AddDate(0, 0, -1), 3); err != nil {
		b.Fatal(err)
	}
	modes := []struct {
		name   string
		s      *store.Store
		warmup int
	}{
		{"cached", openBenchStore(b, pool.Config().ConnString(), ""), benchPlanCacheRuns},
		{"custom", openBenchStore(b, pool.Config().ConnString(), "force_custom_plan"), 0},
	}
	e := make([]time.Time, 24*time.Hour/benchStep+1)
	for i := range e {
		e[i] = day0.Add(time.Duration(i) * benchStep)
	}
	for _, tc := range []struct {
		name     string
		hidden   bool
		wantKind store.TimeLagKind
	}{
		{"visible", false, store.TimeLagSampled},
		{"hidden", true, store.TimeLagEstimated},
	} {
		g := store.GroupRef{Region: "cn-hangzhou", InstanceID: "alikafka-bench", Group: "bench-" + tc.name}
		writeBenchDay(b, s, g, tc.hidden)
		if _, err := pool.Exec(b.Context(), "ANALYZE lagtrail.raw_polls, lagtrail.consumer_groups, lagtrail.topics, lagtrail.instances, lagtrail.regions"); err != nil {
			b.Fatal(err)
		}
		for _, m := range modes {
			b.Run(tc.name+"/"+m.name, func(b *testing.B) {
				for _, lc := range []struct {
					level store.Level
					keys  int
				}{
					{store.LevelGroup, 1},
					{store.LevelPartition, benchParts},
				} {
					b.Run(lc.level.String(), func(b *testing.B) {
						q := store.AggregateQuery{Groups: []store.GroupRef{g}, By: lc.level, Edges: e}
						rows, err := m.s.Buckets(b.Context(), q)
						if err != nil {
							b.Fatal(err)
						}
						checkBenchBuckets(b, rows, lc.keys*(len(e)-1), tc.wantKind)
						for range m.warmup {
							if _, err := m.s.Buckets(b.Context(), q); err != nil {
								b.Fatal(err)
							}
						}
						b.ReportAllocs()
						for b.Loop() {
							if _, err := m.s.Buckets(b.Context(), q); err != nil {
								b.Fatal(err)
							}
						}
						b.ReportMetric(float64(benchPolls*benchParts*b.N)/b.Elapsed().Seconds(), "samples/s")
					})
				}
				b.Run("raw", func(b *testing.B) {
					// The window Buckets reads: the edges widened by EdgeSlack.
					r := store.Range{Region: g.Region, InstanceID: g.InstanceID, Group: g.Group,
						From: e[0].Add(-store.EdgeSlack), To: e[len(e)-1].Add(store.EdgeSlack)}
					rows, err := m.s.ReadPartitionOffsets(b.Context(), r)
					if err != nil {
						b.Fatal(err)
					}
					if len(rows) != benchPolls*benchParts {
						b.Fatalf("read %d samples, want %d", len(rows), benchPolls*benchParts)
					}
					for range m.warmup {
						if _, err := m.s.ReadPartitionOffsets(b.Context(), r); err != nil {
							b.Fatal(err)
						}
					}
					b.ReportAllocs()
					for b.Loop() {
						if _, err := m.s.ReadPartitionOffsets(b.Context(), r); err != nil {
							b.Fatal(err)
						}
					}
					b.ReportMetric(float64(benchPolls*benchParts*b.N)/b.Elapsed().Seconds(), "samples/s")
				})
			})
		}
	}
}

// benchPlanCacheRuns executions of a statement on a connection, after the
// one that checks the result, take PostgreSQL past the five custom plans it
// makes before it considers a generic one.
const benchPlanCacheRuns = 5

// openBenchStore opens a Store with one connection on the database of
// connString. A planCacheMode other than "" sets plan_cache_mode on the
// connection, checked to reach the server.
func openBenchStore(b *testing.B, connString, planCacheMode string) *store.Store {
	b.Helper()
	u, err := url.Parse(connString)
	if err != nil {
		b.Fatal(err)
	}
	want := "auto"
	if planCacheMode != "" {
		v := u.Query()
		v.Set("plan_cache_mode", planCacheMode)
		u.RawQuery = v.Encode()
		want = planCacheMode
	}
	conn, err := pgx.Connect(b.Context(), u.String())
	if err != nil {
		b.Fatal(err)
	}
	defer func() { _ = conn.Close(context.WithoutCancel(b.Context())) }()
	var got string
	if err := conn.QueryRow(b.Context(), "SHOW plan_cache_mode").Scan(&got); err != nil {
		b.Fatal(err)
	}
	if got != want {
		b.Fatalf("plan_cache_mode is %q, want %q", got, want)
	}
	// One connection: every execution meets the same plan cache.
	s, err := store.Open(b.Context(), store.Config{DatabaseURL: u.String(), MaxConns: 1}, nil)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(s.Close)
	return s
}

// writeBenchDay records benchPolls polls of g, one a minute from day0, of
// one topic whose partition p produces 10(p+1)/s and consumes 8(p+1)/s from
// 10000 messages behind, so the lag grows all day. hidden hides the last
// consumed timestamps (-1), as the API does for some groups.
func writeBenchDay(b *testing.B, s *store.Store, g store.GroupRef, hidden bool) {
	b.Helper()
	var eg errgroup.Group
	eg.SetLimit(4)
	for i := range benchPolls {
		eg.Go(func() error {
			at := day0.Add(time.Duration(i) * time.Minute)
			sec := int64(i) * 60
			ts := store.TopicSample{Topic: "bench-orders"}
			for p := range int32(benchParts) {
				pr, cr := 10*int64(p+1), 8*int64(p+1)
				brk, con := 100000+pr*sec, 90000+cr*sec
				last := at.UnixMilli() - (brk-con)*1000/pr
				if hidden {
					last = -1
				}
				ts.Partitions = append(ts.Partitions, store.PartitionOffsets{Partition: p, BrokerOffset: brk, ConsumerOffset: con, LastTimestampMs: last})
			}
			return s.WritePoll(b.Context(), &store.Poll{
				Group: g, StartedAt: at.Add(-time.Millisecond), SampledAt: at, Duration: time.Millisecond,
				OK: true, LastTimestampMs: -1, Topics: []store.TopicSample{ts},
			})
		})
	}
	if err := eg.Wait(); err != nil {
		b.Fatal(err)
	}
}

// checkBenchBuckets checks that the benchmark aggregates what it claims to:
// want rows, each a full bucket of polls with consumption and the expected
// kind of time lag.
func checkBenchBuckets(b *testing.B, rows []store.BucketAggregate, want int, kind store.TimeLagKind) {
	b.Helper()
	if len(rows) != want {
		b.Fatalf("got %d bucket rows, want %d", len(rows), want)
	}
	for _, r := range rows {
		if r.Polls != int(benchStep/time.Minute) || r.Consumed == nil || r.TimeLag == nil {
			b.Fatalf("bucket %d of %v: %d polls, consumed %v, time lag %v: want a full bucket", r.Bucket, r.Key, r.Polls, r.Consumed, r.TimeLag)
		}
	}
	// The hidden series starts with the consumer behind the oldest broker
	// offset read (a lower bound) and reaches estimates within the hour.
	if last := rows[len(rows)-1]; last.TimeLagKind != kind {
		b.Fatalf("last bucket's time lag is %v, want %v", last.TimeLagKind, kind)
	}
}
