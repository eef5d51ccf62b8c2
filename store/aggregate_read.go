package store

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
)

// Buckets aggregates the selected partition series over q's buckets in
// PostgreSQL: lag at each bucket's end and its peak, the least-squares lag
// slope, offset advances and rates, the time lag, and the kinds of breaks.
// Only the buckets where a key has samples, counted intervals or breaks are
// returned, ordered by key and bucket.
func (s *Store) Buckets(ctx context.Context, q AggregateQuery) ([]BucketAggregate, error) {
	sql, args, ok, err := s.bucketsQuery(ctx, q)
	if err != nil || !ok {
		return nil, wrapRead("aggregate buckets", err)
	}
	rows, err := collectAnalytic[bucketRow](ctx, s, sql, args)
	if err != nil {
		return nil, fmt.Errorf("aggregate buckets: %w", err)
	}
	out := make([]BucketAggregate, len(rows))
	for i, r := range rows {
		out[i] = r.aggregate()
	}
	return out, nil
}

// bucketsQuery returns the statement and arguments Buckets runs for q; ok
// is false when none of q's groups is recorded.
func (s *Store) bucketsQuery(ctx context.Context, q AggregateQuery) (string, []any, bool, error) {
	args, ok, err := s.aggregateArgs(ctx, q)
	if err != nil || !ok {
		return "", nil, ok, err
	}
	return bucketsSQL(q.By), args, true, nil
}

// Events returns the series breaks of the selected partitions whose later
// sample lies between q's first and last edge, in time order. q.By is
// ignored: breaks are grouped per topic and pair of polls.
func (s *Store) Events(ctx context.Context, q AggregateQuery) ([]Event, error) {
	args, ok, err := s.aggregateArgs(ctx, q)
	if err != nil || !ok {
		return nil, wrapRead("read events", err)
	}
	rows, err := collectAnalytic[eventRow](ctx, s, eventsSQL, args)
	if err != nil {
		return nil, fmt.Errorf("read events: %w", err)
	}
	out := make([]Event, len(rows))
	for i, r := range rows {
		out[i] = Event{
			Group:        GroupRef{Region: r.Region, InstanceID: r.InstanceID, Group: r.ConsumerGroup},
			Topic:        r.Topic,
			Kind:         r.Kind,
			From:         r.From.UTC(),
			To:           r.To.UTC(),
			Partitions:   r.Partitions,
			ConsumerFrom: r.ConsumerFrom,
			ConsumerTo:   r.ConsumerTo,
			BrokerFrom:   r.BrokerFrom,
			BrokerTo:     r.BrokerTo,
		}
	}
	return out, nil
}

// PartitionStates returns, for every selected partition and every bucket in
// which its group was polled, the window features a status evaluation
// needs, at the group's last poll in the bucket. Bucket -1 holds the state
// at the last poll read before the first edge, if any, so that a caller can
// carry it into a first bucket without polls. q.Window must be positive;
// q.By is ignored.
func (s *Store) PartitionStates(ctx context.Context, q AggregateQuery) ([]PartitionState, error) {
	if q.Window <= 0 {
		return nil, fmt.Errorf("partition states: %w: window must be positive, got %s", ErrInvalidRange, q.Window)
	}
	args, ok, err := s.aggregateArgs(ctx, q)
	if err != nil || !ok {
		return nil, wrapRead("partition states", err)
	}
	rows, err := collectAnalytic[stateRow](ctx, s, statesSQL, statesArgs(args, q.Window))
	if err != nil {
		return nil, fmt.Errorf("partition states: %w", err)
	}
	out := make([]PartitionState, len(rows))
	for i, r := range rows {
		out[i] = PartitionState{
			Key: Key{
				Group:     GroupRef{Region: r.Region, InstanceID: r.InstanceID, Group: r.ConsumerGroup},
				Topic:     r.Topic,
				Partition: r.Partition,
			},
			Bucket:            r.Bucket,
			At:                r.At.UTC(),
			BrokerOffset:      r.BrokerOffset,
			Consumer:          r.ConsumerOffset,
			Lag:               r.Lag,
			Samples:           r.Samples,
			LagMin:            r.LagMin,
			LagFirst:          r.LagFirst,
			LagDecreases:      r.LagDecreases,
			Rewound:           r.Rewound,
			UnchangedSince:    r.UnchangedSince.UTC(),
			UnchangedSamples:  r.UnchangedSamples,
			SinceIsLowerBound: r.SinceIsLowerBound,
			WindowStart:       r.WindowStart.UTC(),
			RewindFrom:        r.RewindFrom,
			SinceCaughtUp:     r.SinceCaughtUp,
			AllowedLag:        r.AllowedLag,
		}
		if r.CaughtUpAt != nil {
			out[i].CaughtUpAt = r.CaughtUpAt.UTC()
		}
	}
	return out, nil
}

// FindGroups returns the recorded groups named name, narrowed by region and
// instance when those are not empty, ordered by region and instance. An
// empty name matches every group.
func (s *Store) FindGroups(ctx context.Context, name, region, instance string) ([]GroupRef, error) {
	rows, err := collect[groupRow](ctx, s, `
SELECT r.name AS region, i.instance_id, g.name AS consumer_group
FROM lagtrail.consumer_groups g
JOIN lagtrail.instances i ON i.instance_key = g.instance_key
JOIN lagtrail.regions r ON r.region_key = i.region_key
WHERE ($1 = '' OR g.name = $1)
  AND ($2 = '' OR r.name = $2)
  AND ($3 = '' OR i.instance_id = $3)
ORDER BY r.name, i.instance_id, g.name`, []any{name, region, instance})
	if err != nil {
		return nil, fmt.Errorf("find groups: %w", err)
	}
	out := make([]GroupRef, len(rows))
	for i, row := range rows {
		out[i] = GroupRef{Region: row.Region, InstanceID: row.InstanceID, Group: row.ConsumerGroup}
	}
	return out, nil
}

// TopicExists reports whether any poll recorded a topic of this name.
func (s *Store) TopicExists(ctx context.Context, name string) (bool, error) {
	var ok bool
	if err := s.pool.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM lagtrail.topics WHERE name = $1)`, name).Scan(&ok); err != nil {
		return false, fmt.Errorf("find topic: %w", err)
	}
	return ok, nil
}

// aggregateArgs validates q and returns the parameters $1..$8 of the
// aggregate queries. ok is false when none of q's groups is known.
func (s *Store) aggregateArgs(ctx context.Context, q AggregateQuery) ([]any, bool, error) {
	if err := q.validate(); err != nil {
		return nil, false, err
	}
	keys, err := s.groupKeys(ctx, q.Groups)
	if err != nil {
		return nil, false, err
	}
	if len(keys) == 0 {
		return nil, false, nil
	}
	topic, partition, edges := q.filters()
	// Read past both ends, so that the poll intervals that straddle the
	// first and last edge are interpolated, not cut off.
	return []any{keys, edges[0].Add(-max(q.Lookback, EdgeSlack)), edges[len(edges)-1].Add(EdgeSlack), topic, partition,
		q.gapFactor(), q.resetFactor(), edges}, true, nil
}

// groupKeys returns the dictionary keys of the known groups among refs.
func (s *Store) groupKeys(ctx context.Context, refs []GroupRef) ([]int32, error) {
	regions := make([]string, len(refs))
	instances := make([]string, len(refs))
	names := make([]string, len(refs))
	for i, g := range refs {
		regions[i], instances[i], names[i] = g.Region, g.InstanceID, g.Group
	}
	rows, err := s.pool.Query(ctx, `
SELECT g.group_key
FROM unnest($1::text[], $2::text[], $3::text[]) AS x(region, instance_id, name)
JOIN lagtrail.regions r ON r.name = x.region
JOIN lagtrail.instances i ON i.region_key = r.region_key AND i.instance_id = x.instance_id
JOIN lagtrail.consumer_groups g ON g.instance_key = i.instance_key AND g.name = x.name
ORDER BY g.group_key`, regions, instances, names)
	if err != nil {
		return nil, fmt.Errorf("resolve groups: %w", err)
	}
	keys, err := pgx.CollectRows(rows, pgx.RowTo[int32])
	if err != nil {
		return nil, fmt.Errorf("resolve groups: %w", err)
	}
	return keys, nil
}

// collectAnalytic is collect for the aggregate queries: each run is
// planned for its own parameters. A cached prepared statement would switch
// to a generic plan after five runs; without the values the planner takes
// the sample CTE for a handful of rows and picks nested loops that are 7 to
// 50 times slower (BenchmarkBuckets measured it).
func collectAnalytic[T any](ctx context.Context, s *Store, q string, args []any) ([]T, error) {
	rows, err := s.pool.Query(ctx, q, append([]any{pgx.QueryExecModeExec}, args...)...)
	if err != nil {
		return nil, err
	}
	return collectByName[T](rows)
}

func wrapRead(what string, err error) error {
	if err == nil {
		return nil
	}
	return fmt.Errorf("%s: %w", what, err)
}

type (
	bucketRow struct {
		Region         string     `db:"region"`
		InstanceID     string     `db:"instance_id"`
		ConsumerGroup  string     `db:"consumer_group"`
		Topic          string     `db:"topic"`
		Partition      int32      `db:"partition"`
		Bucket         int        `db:"bucket"`
		Polls          int        `db:"polls"`
		Lag            *int64     `db:"lag"`
		LagMax         *int64     `db:"lag_max"`
		LagAt          *time.Time `db:"lag_at"`
		Clamped        int64      `db:"clamped"`
		Slope          *float64   `db:"slope"`
		Intercept      *float64   `db:"intercept"`
		Consumed       *float64   `db:"consumed"`
		ConsumeRate    *float64   `db:"c_rate"`
		ConsumeCovered float64    `db:"c_cov"`
		Produced       *float64   `db:"produced"`
		ProduceRate    *float64   `db:"p_rate"`
		ProduceCovered float64    `db:"p_cov"`
		TimeLag        *float64   `db:"tl"`
		TimeLagKind    int        `db:"tl_kind"`
		Events         []string   `db:"events"`
	}
	eventRow struct {
		Region        string    `db:"region"`
		InstanceID    string    `db:"instance_id"`
		ConsumerGroup string    `db:"consumer_group"`
		Topic         string    `db:"topic"`
		Kind          string    `db:"kind"`
		From          time.Time `db:"from_time"`
		To            time.Time `db:"to_time"`
		Partitions    []int32   `db:"partitions"`
		ConsumerFrom  int64     `db:"consumer_from"`
		ConsumerTo    int64     `db:"consumer_to"`
		BrokerFrom    int64     `db:"broker_from"`
		BrokerTo      int64     `db:"broker_to"`
	}
	stateRow struct {
		Region            string     `db:"region"`
		InstanceID        string     `db:"instance_id"`
		ConsumerGroup     string     `db:"consumer_group"`
		Topic             string     `db:"topic"`
		Partition         int32      `db:"partition"`
		Bucket            int        `db:"bucket"`
		At                time.Time  `db:"at"`
		BrokerOffset      int64      `db:"broker_offset"`
		ConsumerOffset    int64      `db:"consumer_offset"`
		Lag               int64      `db:"lag"`
		Samples           int        `db:"samples"`
		LagMin            int64      `db:"lag_min"`
		LagFirst          int64      `db:"lag_first"`
		LagDecreases      int        `db:"lag_decreases"`
		Rewound           int64      `db:"rewound"`
		UnchangedSince    time.Time  `db:"unchanged_since"`
		UnchangedSamples  int        `db:"unchanged_samples"`
		SinceIsLowerBound bool       `db:"since_is_lower_bound"`
		CaughtUpAt        *time.Time `db:"caught_up_at"`
		WindowStart       time.Time  `db:"window_start"`
		RewindFrom        int64      `db:"rewind_from"`
		SinceCaughtUp     int        `db:"since_caught_up"`
		AllowedLag        int64      `db:"allowed_lag"`
	}
)

// aggregate converts a row of bucketsSQL or rollupBucketsSQL.
func (r bucketRow) aggregate() BucketAggregate {
	return BucketAggregate{
		Key:            r.key(),
		Bucket:         r.Bucket,
		Polls:          r.Polls,
		Lag:            r.Lag,
		LagMax:         r.LagMax,
		LagAt:          utcPtr(r.LagAt),
		Clamped:        r.Clamped,
		LagSlope:       r.Slope,
		LagIntercept:   r.Intercept,
		Consumed:       r.Consumed,
		Produced:       r.Produced,
		ConsumeRate:    r.ConsumeRate,
		ProduceRate:    r.ProduceRate,
		ConsumeCovered: r.ConsumeCovered,
		ProduceCovered: r.ProduceCovered,
		TimeLag:        r.TimeLag,
		TimeLagKind:    TimeLagKind(r.TimeLagKind),
		Events:         r.Events,
	}
}

func (r bucketRow) key() Key {
	return Key{
		Group:     GroupRef{Region: r.Region, InstanceID: r.InstanceID, Group: r.ConsumerGroup},
		Topic:     r.Topic,
		Partition: r.Partition,
	}
}
