package store

import (
	"cmp"
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/lagtrail/lagtrail/internal/pgtest"
)

// The fleet the plan test and the benchmark rank: fleetGroups groups of
// fleetParts partitions, with hourly rollups for fleetDays days from
// fleetFirst, written straight into the rollup tables (no raw polls: at
// this size the raw tier would hold 80 million samples).
const (
	fleetGroups = 1000
	fleetParts  = 8
	fleetDays   = 7
)

// fleetFirst puts the first day in March and the other six in April, so
// that the hourly tables have two monthly partitions and a window in April
// can prune March's.
var fleetFirst = time.Date(2025, 3, 31, 0, 0, 0, 0, time.UTC)

// fillFleet writes the fleet's dictionary entries and rollups with
// generate_series and analyzes the tables. The figures vary by group and
// hour through hashint4: lags between 0 and about 100k that grow, shrink
// or hold, one group in 20 with hidden timestamps, and stalls of up to an
// hour on one partition-hour in 2,000. Rows go in hour by hour, as the rollup
// refresh writes them.
func fillFleet(ctx context.Context, tb testing.TB, s *Store, pool *pgxpool.Pool, groups, parts, days int, first time.Time) {
	tb.Helper()
	if _, err := s.EnsurePartitions(ctx, first, days); err != nil {
		tb.Fatal(err)
	}
	steps := []struct {
		name string
		sql  string
		args []any
	}{
		{"dictionaries", `
WITH r AS (
  INSERT INTO lagtrail.regions (name) VALUES ('cn-hangzhou'), ('cn-shanghai') RETURNING region_key, name
), i AS (
  INSERT INTO lagtrail.instances (region_key, instance_id)
  SELECT r.region_key, format('alikafka-fleet-%s', n)
  FROM generate_series(0, 9) n JOIN r ON r.name = CASE WHEN n < 5 THEN 'cn-hangzhou' ELSE 'cn-shanghai' END
  RETURNING instance_key, instance_id
), g AS (
  INSERT INTO lagtrail.consumer_groups (instance_key, name)
  SELECT i.instance_key, format('group-%s', lpad(n::text, 5, '0'))
  FROM generate_series(0, $1::int - 1) n JOIN i ON i.instance_id = format('alikafka-fleet-%s', n % 10)
  RETURNING 1
)
INSERT INTO lagtrail.topics (name) SELECT format('fleet-topic-%s', n) FROM generate_series(0, 49) n`, []any{groups}},
		{"hourly rollups", `
WITH tk AS (
  SELECT topic_key, row_number() OVER (ORDER BY topic_key) - 1 AS k FROM lagtrail.topics WHERE name LIKE 'fleet-topic-%'
), x AS (
  SELECT b.bucket, g.group_key, tk.topic_key, p.p, h.h, g.n,
         abs(hashint4((g.n * 7919 + h.h)::int)::bigint) AS r1,
         abs(hashint4((g.n * 104729 + h.h * 8 + p.p)::int)::bigint) AS r2,
         (g.n % 97) * 1000 + (h.h * (g.n % 13 - 6) * 7) % 3000 + 3000 AS lag_base,
         CASE WHEN abs(hashint4((g.n * 104729 + h.h * 8 + p.p)::int)::bigint) % 2000 = 0
              THEN abs(hashint4((g.n * 7919 + h.h)::int)::bigint) % 3600 ELSE 0 END AS stalled
  FROM generate_series(0, $2::int * 24 - 1) h(h)
  CROSS JOIN LATERAL (SELECT $3::timestamptz + h.h * interval '1 hour' AS bucket) b
  CROSS JOIN (SELECT group_key, row_number() OVER (ORDER BY group_key) - 1 AS n FROM lagtrail.consumer_groups) g
  JOIN tk ON tk.k = g.n % 50
  CROSS JOIN generate_series(0, $1::int - 1) p(p)
), ph AS (
  INSERT INTO lagtrail.partition_hourly (
      bucket, group_key, topic_key, partition, samples, first_at, last_at,
      first_broker_offset, first_consumer_offset, last_broker_offset, last_consumer_offset,
      lag_min, lag_max, lag_sum, time_lag_max_ms, consumed, consumed_s, produced, produced_s, stalled_s)
  SELECT x.bucket, x.group_key, x.topic_key, x.p,
         60, x.bucket + (x.n % 60) * interval '1 second', x.bucket + interval '59 minutes' + (x.n % 60) * interval '1 second',
         x.h * 360000 + x.p, x.h * 360000 + x.p - x.lag_base / $1, (x.h + 1) * 360000 + x.p, (x.h + 1) * 360000 + x.p - x.lag_base / $1,
         x.lag_base / $1 / 2, x.lag_base / $1, x.lag_base / $1 * 45,
         CASE WHEN x.n % 20 <> 0 THEN x.lag_base * 10 END,
         360000 - x.r2 % 100, 3540, 360000, 3540,
         x.stalled
  FROM x ORDER BY x.bucket, x.group_key, x.p
)
INSERT INTO lagtrail.group_hourly (
    bucket, group_key, polls, first_at, last_at, lag_first, lag_last, lag_min, lag_max, lag_sum,
    time_lag_max_ms, consumed, consumed_s, consume_rate, produced, produced_s, produce_rate, stalled_s)
SELECT x.bucket, x.group_key, 60, min(x.bucket) + min(x.n % 60) * interval '1 second',
       min(x.bucket) + interval '59 minutes' + min(x.n % 60) * interval '1 second',
       min(x.lag_base) - 500, min(x.lag_base), min(x.lag_base) / 2, min(x.lag_base) + 900, min(x.lag_base) * 60,
       CASE WHEN min(x.n) % 20 <> 0 THEN min(x.lag_base) * 10 END,
       sum(360000 - x.r2 % 100), 3540, sum(360000 - x.r2 % 100) / 3540.0, $1 * 360000, 3540, $1 * 360000 / 3540.0,
       max(x.stalled)
FROM x
GROUP BY x.bucket, x.group_key ORDER BY x.bucket, x.group_key`, []any{parts, days, first}},
		{"analyze", `ANALYZE lagtrail.group_hourly, lagtrail.partition_hourly, lagtrail.consumer_groups, lagtrail.instances, lagtrail.regions, lagtrail.topics`, nil},
	}
	for _, st := range steps {
		start := time.Now()
		if _, err := pool.Exec(ctx, st.sql, st.args...); err != nil {
			tb.Fatalf("fill fleet: %s: %v", st.name, err)
		}
		tb.Logf("fill fleet: %s in %s", st.name, time.Since(start).Round(time.Millisecond))
	}
}

// fleetTopQuery is the query the plan test and the benchmark time: the 24
// hours before the end of the fleet's history.
func fleetTopQuery(by TopBy, window time.Duration) TopQuery {
	return TopQuery{By: by, Limit: 10, At: fleetFirst.AddDate(0, 0, fleetDays), Window: window}
}

// BenchmarkTop ranks the fleet (1,000 groups x 8 partitions x 7 days of
// hourly rollups) by each figure over 24 hours and over the whole week.
// Its baseline, "naive", is the ranking by stall without Top's two
// shortcuts: it reads the partition rollups of every group (not only of
// those with a stalled hour), returns every group and ranks them in Go.
//
// BenchmarkTopRaw compares the rollups with the raw tier.
func BenchmarkTop(b *testing.B) {
	s, pool := openBench(b)
	fillFleet(b.Context(), b, s, pool, fleetGroups, fleetParts, fleetDays, fleetFirst)
	for _, window := range []time.Duration{24 * time.Hour, 7 * 24 * time.Hour} {
		for _, by := range TopBys {
			b.Run(fmt.Sprintf("%s/%s", shortWindow(window), by), func(b *testing.B) {
				q := fleetTopQuery(by, window)
				rows, err := s.Top(b.Context(), q)
				if err != nil || len(rows) != q.Limit {
					b.Fatalf("Top: %d rows, %v", len(rows), err)
				}
				for b.Loop() {
					if _, err := s.Top(b.Context(), q); err != nil {
						b.Fatal(err)
					}
				}
			})
		}
		b.Run(fmt.Sprintf("%s/naive", shortWindow(window)), func(b *testing.B) {
			q := fleetTopQuery(TopByStall, window)
			q.Limit = MaxTopLimit
			sql := naiveTopSQL(b)
			for b.Loop() {
				rows, err := collectAnalytic[topRow](b.Context(), s, sql, q.args())
				if err != nil || len(rows) != fleetGroups {
					b.Fatalf("naive top: %d rows, %v", len(rows), err)
				}
				slices.SortFunc(rows, func(x, y topRow) int { return cmp.Compare(ptrOr(y.Stall, -1), ptrOr(x.Stall, -1)) })
			}
		})
	}
}

// naiveTopSQL is the ranking by stall reading every group's partition
// rollups.
func naiveTopSQL(tb testing.TB) string {
	sql := topSQL(TopByStall)
	const shortcut = " WHERE stall_hour_max > 0"
	if strings.Count(sql, shortcut) != 1 {
		tb.Fatalf("the stall SQL no longer holds %q once: update the baseline", shortcut)
	}
	return strings.Replace(sql, shortcut, "", 1)
}

func ptrOr(p *float64, v float64) float64 {
	if p == nil {
		return v
	}
	return *p
}

// Shape of BenchmarkTopRaw's fleet: rawGroups groups of one topic of
// fleetParts partitions, polled every minute for a day.
const rawGroups = 20

// BenchmarkTopRaw ranks a small fleet (20 groups x 8 partitions, polled
// every minute for a day: 230,400 samples) by lag over the day, with Top
// from the hourly rollups, and, as the baseline "raw", by computing each
// group's lag at its last poll from the raw tier (Buckets over every
// group, one bucket spanning the day) and ranking in Go.
func BenchmarkTopRaw(b *testing.B) {
	s, pool := openBench(b)
	day := fleetFirst
	if _, err := s.EnsurePartitions(b.Context(), day, 2); err != nil {
		b.Fatal(err)
	}
	refs := make([]GroupRef, rawGroups)
	for g := range refs {
		refs[g] = GroupRef{Region: "cn-hangzhou", InstanceID: "alikafka-raw", Group: fmt.Sprintf("raw-%02d", g)}
	}
	start := time.Now()
	for i := range 24 * 60 {
		at := day.Add(time.Duration(i) * time.Minute)
		polls := make([]*Poll, len(refs))
		for g, ref := range refs {
			ts := TopicSample{Topic: fmt.Sprintf("raw-topic-%02d", g)}
			for p := range int64(fleetParts) {
				brk := 1_000_000 + int64(i)*(600+int64(g)*10+p)
				ts.Partitions = append(ts.Partitions, PartitionOffsets{Partition: int32(p), BrokerOffset: brk,
					ConsumerOffset: brk - int64(g)*100 - int64(i%60)*int64(g), LastTimestampMs: at.UnixMilli() - 1000})
			}
			polls[g] = &Poll{Group: ref, StartedAt: at.Add(-time.Millisecond), SampledAt: at, Duration: time.Millisecond,
				OK: true, LastTimestampMs: -1, Topics: []TopicSample{ts}}
		}
		if _, err := s.WritePolls(b.Context(), polls); err != nil {
			b.Fatal(err)
		}
	}
	if _, err := s.RefreshRollups(b.Context()); err != nil {
		b.Fatal(err)
	}
	if _, err := pool.Exec(b.Context(), "ANALYZE"); err != nil {
		b.Fatal(err)
	}
	b.Logf("wrote and rolled up %d samples in %s", rawGroups*fleetParts*24*60, time.Since(start).Round(time.Second))
	q := TopQuery{By: TopByLag, Limit: 10, At: day.AddDate(0, 0, 1), Window: 24 * time.Hour}
	top, err := s.Top(b.Context(), q)
	if err != nil || len(top) != 10 {
		b.Fatalf("Top: %d rows, %v", len(top), err)
	}
	raw := func() []BucketAggregate {
		rows, err := s.Buckets(b.Context(), AggregateQuery{Groups: refs, Edges: []time.Time{q.From(), q.At}})
		if err != nil || len(rows) != rawGroups {
			b.Fatalf("Buckets: %d rows, %v", len(rows), err)
		}
		slices.SortFunc(rows, func(x, y BucketAggregate) int { return cmp.Compare(*y.Lag, *x.Lag) })
		return rows
	}
	// Both rank the same groups with the same lags.
	for i, r := range raw()[:10] {
		if r.Key.Group != top[i].Group || *r.Lag != top[i].Lag {
			b.Fatalf("rank %d: raw tier has %s with lag %d, Top %s with lag %d", i+1, r.Key.Group.Group, *r.Lag, top[i].Group.Group, top[i].Lag)
		}
	}
	b.Run("rollups", func(b *testing.B) {
		for b.Loop() {
			if _, err := s.Top(b.Context(), q); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("raw", func(b *testing.B) {
		for b.Loop() {
			raw()
		}
	})
}

func shortWindow(d time.Duration) string {
	if d%(24*time.Hour) == 0 {
		return fmt.Sprintf("%dd", d/(24*time.Hour))
	}
	return d.String()
}

// openBench opens a Store on a fresh migrated database for a benchmark.
func openBench(b *testing.B) (*Store, *pgxpool.Pool) {
	b.Helper()
	pool, url := pgtest.Pool(b)
	s, err := Open(b.Context(), Config{DatabaseURL: url}, nil)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(s.Close)
	return s, pool
}
