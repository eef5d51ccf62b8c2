package store

import (
	"context"
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/lagtrail/lagtrail/internal/pgtest"
)

// rollupBenchStart is the first poll of the benchmark histories: not on
// an hour, so the first and last hours are partial.
var rollupBenchStart = time.Date(2025, 3, 10, 0, 17, 0, 0, time.UTC)

// rollupBenchShape is one history BenchmarkRefreshRollups rolls up.
type rollupBenchShape struct {
	name          string
	groups, parts int
	hours         int
	// live queues only each group's last hour, as the recorder's periodic
	// refresh finds it; otherwise every hour is queued and the rollup
	// tables start empty, as after a cold history fill.
	live bool
}

// rollupBenchHistory returns polls of groups groups, each of one topic of
// parts partitions, about every minute (jittered by up to 3 s) for hours
// hours from rollupBenchStart. Partitions produce at their own rates;
// consumers keep up with jitter, one group in five stalls for 20 minutes
// every 3 hours, one in seven hides its timestamps, and one in eleven
// misses 12 minutes of polls every 5 hours (a gap).
func rollupBenchHistory(groups, parts, hours int) []*Poll {
	rng := rand.New(rand.NewPCG(1, 2))
	var polls []*Poll
	for gi := range groups {
		g := GroupRef{Region: "cn-hangzhou", InstanceID: fmt.Sprintf("alikafka-%d", gi%3), Group: fmt.Sprintf("bench-%04d", gi)}
		topic := fmt.Sprintf("topic-%03d", gi%40)
		var stalledAt []int64
		for m := range hours * 60 {
			if gi%11 == 3 && m%300 >= 100 && m%300 < 112 {
				continue
			}
			at := rollupBenchStart.Add(time.Duration(m)*time.Minute + time.Duration(rng.IntN(6000)-3000)*time.Millisecond)
			secs := at.Sub(rollupBenchStart).Seconds()
			stalled := gi%5 == 1 && m%180 >= 60 && m%180 < 80
			ts := TopicSample{Topic: topic}
			if stalledAt == nil {
				stalledAt = make([]int64, parts)
			}
			for p := range parts {
				rate := float64(3 + (gi+p)%17)
				broker := int64(500_000 + rate*secs)
				consumer := broker - int64(rng.IntN(200))
				if stalled {
					consumer = stalledAt[p]
				} else {
					stalledAt[p] = consumer
				}
				last := at.UnixMilli() - int64(500+rng.IntN(4000))
				if gi%7 == 2 {
					last = -1
				}
				ts.Partitions = append(ts.Partitions, PartitionOffsets{Partition: int32(p), BrokerOffset: broker, ConsumerOffset: consumer, LastTimestampMs: last})
			}
			polls = append(polls, &Poll{Group: g, StartedAt: at.Add(-100 * time.Millisecond), SampledAt: at,
				Duration: 100 * time.Millisecond, OK: true, LastTimestampMs: -1, Topics: []TopicSample{ts}})
		}
	}
	return polls
}

// openRollupBench opens a Store on a fresh migrated database.
func openRollupBench(b *testing.B) (*Store, *pgxpool.Pool) {
	b.Helper()
	pool, url := pgtest.Pool(b)
	s, err := Open(b.Context(), Config{DatabaseURL: url}, nil)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(s.Close)
	return s, pool
}

// BenchmarkRefreshRollups rolls up histories with the baseline refresh
// (rollup_baseline_test.go) and with RefreshRollups, alternately on the
// same data in each of b.N rounds, and reports the median of each in ms
// (old-ms, new-ms) and their ratio. Every round checks that both wrote the
// same rows. Run it with -benchtime Nx: one round is one refresh of each.
//
//	fleet  300 groups x 8 partitions x 6 hours, every hour queued, the
//	       rollup tables empty: a cold fill of a fleet;
//	week   3 groups x 8 partitions x 7 days: a cold fill of a long history;
//	live   the fleet's last hour queued over full rollup tables: what the
//	       recorder's periodic refresh does.
func BenchmarkRefreshRollups(b *testing.B) {
	for _, sh := range []rollupBenchShape{
		{name: "fleet", groups: 300, parts: 8, hours: 6},
		{name: "week", groups: 3, parts: 8, hours: 7 * 24},
		{name: "live", groups: 300, parts: 8, hours: 6, live: true},
	} {
		b.Run(sh.name, func(b *testing.B) {
			s, pool := openRollupBench(b)
			ctx := b.Context()
			polls := rollupBenchHistory(sh.groups, sh.parts, sh.hours)
			for c := range slices.Chunk(polls, 500) {
				if _, err := s.WritePolls(ctx, c); err != nil {
					b.Fatal(err)
				}
			}
			// Statistics as autovacuum keeps them in steady state.
			if _, err := pool.Exec(ctx, "ANALYZE lagtrail.raw_polls"); err != nil {
				b.Fatal(err)
			}
			if sh.live {
				if _, err := s.RefreshRollups(ctx); err != nil {
					b.Fatal(err)
				}
				if _, err := pool.Exec(ctx, "ANALYZE lagtrail.partition_hourly, lagtrail.group_hourly, lagtrail.partition_daily, lagtrail.group_daily"); err != nil {
					b.Fatal(err)
				}
			}
			variants := []struct {
				name string
				run  func(context.Context) (RollupResult, error)
			}{
				{"old", s.refreshRollupsBaseline},
				{"new", s.RefreshRollups},
			}
			times := make([][]time.Duration, len(variants))
			b.ResetTimer()
			for range b.N {
				var digest [2]string
				for vi, v := range variants {
					b.StopTimer()
					queueRollupBench(b, pool, sh.live)
					b.StartTimer()
					t0 := time.Now()
					res, err := v.run(ctx)
					times[vi] = append(times[vi], time.Since(t0))
					if err != nil {
						b.Fatal(err)
					}
					if res.Hours == 0 || res.Pending != 0 {
						b.Fatalf("%s: %+v, want hours done and none pending", v.name, res)
					}
					b.StopTimer()
					digest[vi] = rollupDigest(b, pool)
					b.StartTimer()
				}
				if digest[0] != digest[1] {
					b.Fatalf("the refreshes wrote different rollups: %s, %s", digest[0], digest[1])
				}
			}
			for vi, v := range variants {
				b.ReportMetric(float64(median(times[vi]).Microseconds())/1000, v.name+"-ms")
			}
			b.ReportMetric(float64(median(times[0]))/float64(median(times[1])), "speedup")
		})
	}
}

// queueRollupBench queues the hours of the benchmark's history: every hour
// over empty rollup tables, or with live each group's last hour only.
func queueRollupBench(b *testing.B, pool *pgxpool.Pool, live bool) {
	b.Helper()
	sql := `
TRUNCATE lagtrail.partition_hourly, lagtrail.group_hourly, lagtrail.partition_daily, lagtrail.group_daily;
INSERT INTO lagtrail.rollup_queue (group_key, hour)
SELECT DISTINCT group_key, date_trunc('hour', sampled_at, 'UTC') FROM lagtrail.raw_polls WHERE ok
ON CONFLICT DO NOTHING`
	if live {
		sql = `
INSERT INTO lagtrail.rollup_queue (group_key, hour)
SELECT group_key, date_trunc('hour', max(sampled_at), 'UTC') FROM lagtrail.raw_polls WHERE ok GROUP BY 1
ON CONFLICT DO NOTHING`
	}
	if _, err := pool.Exec(b.Context(), sql); err != nil {
		b.Fatal(err)
	}
}

// rollupDigest returns a digest of every row of the four rollup tables.
func rollupDigest(b *testing.B, pool *pgxpool.Pool) string {
	b.Helper()
	var d string
	err := pool.QueryRow(b.Context(), `
SELECT md5(concat_ws('/',
  (SELECT string_agg(x::text, '|' ORDER BY x.group_key, x.bucket, x.topic_key, x.partition) FROM lagtrail.partition_hourly x),
  (SELECT string_agg(x::text, '|' ORDER BY x.group_key, x.bucket) FROM lagtrail.group_hourly x),
  (SELECT string_agg(x::text, '|' ORDER BY x.group_key, x.bucket, x.topic_key, x.partition) FROM lagtrail.partition_daily x),
  (SELECT string_agg(x::text, '|' ORDER BY x.group_key, x.bucket) FROM lagtrail.group_daily x)))`).Scan(&d)
	if err != nil {
		b.Fatal(err)
	}
	return d
}

func median(ds []time.Duration) time.Duration {
	s := slices.Clone(ds)
	slices.Sort(s)
	return s[len(s)/2]
}
