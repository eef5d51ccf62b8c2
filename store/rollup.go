package store

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"time"

	"github.com/jackc/pgx/v5"
)

// Rollup tiers.
const (
	// Hour is the bucket width of the hourly rollups.
	Hour = time.Hour
	// Day is the bucket width of the daily rollups (UTC days).
	Day = 24 * time.Hour
	// refreshBatch is the most queued (group, hour) entries one refresh
	// transaction takes.
	refreshBatch = 2000
	// refreshSpan is the widest stretch of hours one refresh transaction
	// recomputes, so that catching up after a long outage reads the raw
	// tier a day at a time.
	refreshSpan = 24 * time.Hour
)

// ErrNotRollupAligned is returned by RollupBuckets for a query the rollups
// cannot answer exactly: edges off the hour, a topic filter or the topic
// level with group lag, or a level they do not keep.
var ErrNotRollupAligned = errors.New("query cannot be answered from rollups")

// RollupResult tells what RefreshRollups did.
type RollupResult struct {
	// Hours is how many queued (group, hour) entries it processed.
	Hours int
	// PartitionRows and GroupRows count the hourly and daily rows written.
	PartitionRows, GroupRows int64
	// Pending is how many entries are still queued: more than it could
	// take, or locked by writers.
	Pending int64
}

// RefreshRollups brings the hourly and daily rollups up to date with the
// raw tier. Every poll written queues its (group, hour); RefreshRollups
// takes queued entries in batches, recomputes the hours around them (the
// hour before too: a poll's interval starts there) from the raw samples,
// and then the days those hours fall in from the hourly rows. It is
// idempotent, catches up after any outage one day at a time, and a late
// poll re-queues its hour, so its bucket is corrected at the next refresh.
//
// Entries a writer holds are skipped and stay queued; several refreshers
// may run at once without taking the same entries.
//
// It takes only the entries queued (or queued again by a write) before it
// began, so that it returns while polls keep arriving: a write to an hour
// already refreshed queues it for the next call.
func (s *Store) RefreshRollups(ctx context.Context) (RollupResult, error) {
	var res RollupResult
	started, err := s.queueCutoff(ctx)
	if err != nil {
		return res, fmt.Errorf("refresh rollups: %w", err)
	}
	for {
		n, prows, grows, err := s.refreshBatch(ctx, started)
		if err != nil {
			return res, fmt.Errorf("refresh rollups: %w", err)
		}
		res.Hours += n
		res.PartitionRows += prows
		res.GroupRows += grows
		if n == 0 {
			break
		}
	}
	if err := s.pool.QueryRow(ctx, `SELECT count(*) FROM lagtrail.rollup_queue`).Scan(&res.Pending); err != nil {
		return res, fmt.Errorf("refresh rollups: count queue: %w", err)
	}
	if res.Hours > 0 {
		s.logger.Info("refreshed rollups", slog.Int("hours", res.Hours),
			slog.Int64("partition_rows", res.PartitionRows), slog.Int64("group_rows", res.GroupRows),
			slog.Int64("pending", res.Pending))
	}
	return res, nil
}

// refreshSettings is run at the start of every refresh transaction. The
// hourly statement sorts, windows and materialises every raw sample it
// reads several times over; with the default 4 MB of work_mem each of
// those steps spilled to temporary files (a live refresh of 100 groups
// wrote 9,000 temp pages). SET LOCAL keeps the setting to the transaction.
const refreshSettings = `SET LOCAL work_mem = '64MB'`

// queued is a rollup_queue entry.
type queued struct {
	GroupKey int32     `db:"group_key"`
	Hour     time.Time `db:"hour"`
}

// refreshBatch takes up to refreshBatch entries queued until started,
// within refreshSpan of the oldest, and recomputes them in one transaction.
func (s *Store) refreshBatch(ctx context.Context, started time.Time) (int, int64, int64, error) {
	var n int
	var prows, grows int64
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, refreshSettings); err != nil {
			return fmt.Errorf("settings: %w", err)
		}
		rows, err := tx.Query(ctx, `
DELETE FROM lagtrail.rollup_queue q
USING (
  SELECT group_key, hour FROM lagtrail.rollup_queue
  WHERE hour < (SELECT min(hour) FROM lagtrail.rollup_queue WHERE queued_at <= $3) + $1::interval
    AND queued_at <= $3
  ORDER BY hour, group_key
  LIMIT $2
  FOR UPDATE SKIP LOCKED
) t
WHERE q.group_key = t.group_key AND q.hour = t.hour
RETURNING q.group_key, q.hour`, refreshSpan, refreshBatch, started)
		if err != nil {
			return fmt.Errorf("take queue: %w", err)
		}
		taken, err := pgx.CollectRows(rows, pgx.RowToStructByName[queued])
		if err != nil {
			return fmt.Errorf("take queue: %w", err)
		}
		n = len(taken)
		if n == 0 {
			return nil
		}
		w := batchWindow(taken)
		var p, g int64
		if err := tx.QueryRow(ctx, rollupHourlySQL, append([]any{pgx.QueryExecModeExec}, w.hourlyArgs()...)...).Scan(&p, &g); err != nil {
			return fmt.Errorf("hourly rollups: %w", err)
		}
		prows, grows = prows+p, grows+g
		dayFrom, dayTo := w.from.Truncate(Day), w.to.Add(-time.Nanosecond).Truncate(Day).Add(Day)
		if err := tx.QueryRow(ctx, rollupDailySQL, pgx.QueryExecModeExec, w.groups, dayFrom, dayTo).Scan(&p, &g); err != nil {
			return fmt.Errorf("daily rollups: %w", err)
		}
		prows, grows = prows+p, grows+g
		return nil
	})
	return n, prows, grows, err
}

// RollupTier returns the tier that can answer a query with these edges
// exactly: Day when every edge is a UTC midnight, Hour when every edge is
// on the hour, 0 otherwise.
func RollupTier(edges []time.Time) time.Duration {
	tier := Day
	for _, e := range edges {
		e = e.UTC()
		if !e.Truncate(Hour).Equal(e) {
			return 0
		}
		if !e.Truncate(Day).Equal(e) {
			tier = Hour
		}
	}
	return tier
}

// RollupBuckets answers Buckets from the rollups: the daily tier when
// every edge is a UTC midnight, the hourly tier when every edge is on the
// hour. For the same buckets it returns what Buckets returns for polls
// already rolled up: message counts and rates exactly, and the lag at the
// last poll, its peak and the poll count. It does not compute the slope,
// the time lag or the events (nil and empty), nor clamped counts (0).
//
// It returns an error wrapping ErrNotRollupAligned for edges off the hour,
// LevelTopic, or a topic or partition filter at LevelGroup.
func (s *Store) RollupBuckets(ctx context.Context, q AggregateQuery) ([]BucketAggregate, error) {
	sql, args, ok, err := s.rollupBucketsQuery(ctx, q)
	if err != nil || !ok {
		return nil, wrapRead("rollup buckets", err)
	}
	rows, err := collectAnalytic[bucketRow](ctx, s, sql, args)
	if err != nil {
		return nil, fmt.Errorf("rollup buckets: %w", err)
	}
	out := make([]BucketAggregate, len(rows))
	for i, r := range rows {
		out[i] = r.aggregate()
	}
	return out, nil
}

func minTime(a, b time.Time) time.Time {
	if b.Before(a) {
		return b
	}
	return a
}

func maxTime(a, b time.Time) time.Time {
	if b.After(a) {
		return b
	}
	return a
}

// LagGrowth is how much one group's total lag grew over a range.
type LagGrowth struct {
	Group GroupRef
	// From and To are the group's lag at its first and last poll in the
	// range; Growth is To - From.
	From, To, Growth int64
}

// TopLagGrowth returns the limit groups whose total lag grew most over the
// whole hours of [from, to), largest first, ties by name, from the hourly
// rollups: the lag at the last poll minus the lag at the first.
func (s *Store) TopLagGrowth(ctx context.Context, from, to time.Time, limit int) ([]LagGrowth, error) {
	if limit < 1 || !to.After(from) {
		return nil, fmt.Errorf("top lag growth: %w: need limit >= 1 and from before to", ErrInvalidRange)
	}
	rows, err := collect[lagGrowthRow](ctx, s, `
WITH g AS (
  SELECT h.group_key,
         (array_agg(h.lag_first ORDER BY h.bucket) FILTER (WHERE h.polls > 0))[1] AS lag_from,
         (array_agg(h.lag_last ORDER BY h.bucket DESC) FILTER (WHERE h.polls > 0))[1] AS lag_to
  FROM lagtrail.group_hourly h
  WHERE h.bucket >= $1 AND h.bucket < $2
  GROUP BY h.group_key
)
SELECT n.region, n.instance_id, n.consumer_group, g.lag_from, g.lag_to, g.lag_to - g.lag_from AS growth
FROM g JOIN lagtrail.group_names n USING (group_key)
WHERE g.lag_from IS NOT NULL
ORDER BY growth DESC, n.consumer_group, n.region, n.instance_id
LIMIT $3`, []any{from.UTC().Truncate(Hour), to.UTC(), limit})
	if err != nil {
		return nil, fmt.Errorf("top lag growth: %w", err)
	}
	out := make([]LagGrowth, len(rows))
	for i, r := range rows {
		out[i] = LagGrowth{Group: GroupRef{Region: r.Region, InstanceID: r.InstanceID, Group: r.ConsumerGroup}, From: r.LagFrom, To: r.LagTo, Growth: r.Growth}
	}
	return out, nil
}

type lagGrowthRow struct {
	Region        string `db:"region"`
	InstanceID    string `db:"instance_id"`
	ConsumerGroup string `db:"consumer_group"`
	LagFrom       int64  `db:"lag_from"`
	LagTo         int64  `db:"lag_to"`
	Growth        int64  `db:"growth"`
}

// rollupBucketsQuery returns the statement and arguments RollupBuckets runs
// for q; ok is false when none of q's groups is recorded.
func (s *Store) rollupBucketsQuery(ctx context.Context, q AggregateQuery) (string, []any, bool, error) {
	if err := q.validate(); err != nil {
		return "", nil, false, err
	}
	tier := RollupTier(q.Edges)
	switch {
	case tier == 0:
		return "", nil, false, fmt.Errorf("%w: edges are not on the hour", ErrNotRollupAligned)
	case q.By == LevelTopic:
		return "", nil, false, fmt.Errorf("%w: rollups keep no lag per topic", ErrNotRollupAligned)
	case q.By == LevelGroup && (q.Topic != "" || q.Partition != nil):
		return "", nil, false, fmt.Errorf("%w: rollups keep no group lag for part of a group", ErrNotRollupAligned)
	}
	keys, err := s.groupKeys(ctx, q.Groups)
	if err != nil || len(keys) == 0 {
		return "", nil, false, err
	}
	part, group := "lagtrail.partition_hourly", "lagtrail.group_hourly"
	if tier == Day {
		part, group = "lagtrail.partition_daily", "lagtrail.group_daily"
	}
	topic, partition, edges := q.filters()
	return rollupBucketsSQL(q.By, part, group), []any{keys, edges, topic, partition}, true, nil
}

// rollupWindow is what one refresh batch rebuilds: its groups and the
// hours from the one before its first queued hour to the end of its last.
type rollupWindow struct {
	groups   []int32
	from, to time.Time
}

// batchWindow returns the window of the queued entries taken, which must
// not be empty.
func batchWindow(taken []queued) rollupWindow {
	var w rollupWindow
	first, last := taken[0].Hour, taken[0].Hour
	for _, q := range taken {
		w.groups = append(w.groups, q.GroupKey)
		first = minTime(first, q.Hour)
		last = maxTime(last, q.Hour)
	}
	slices.Sort(w.groups)
	w.groups = slices.Compact(w.groups)
	// The hour before each queued one: the first poll of an hour closes
	// an interval that started in it.
	w.from, w.to = first.UTC().Add(-Hour), last.UTC().Add(Hour)
	return w
}

// hourlyArgs are the arguments of the hourly statement for the window:
// its groups, the samples' time range with the edge slack, no topic or
// partition filter, the default break factors and the hour edges.
func (w rollupWindow) hourlyArgs() []any {
	edges := make([]time.Time, 0, int(w.to.Sub(w.from)/Hour)+1)
	for t := w.from; !t.After(w.to); t = t.Add(Hour) {
		edges = append(edges, t)
	}
	return []any{w.groups, w.from.Add(-EdgeSlack), w.to.Add(EdgeSlack), nil, nil,
		float64(DefaultGapFactor), float64(DefaultResetFactor), edges}
}
