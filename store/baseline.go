package store

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"time"

	"github.com/jackc/pgx/v5"
)

// BaselineSchema is the schema the Baseline lives in. Nothing else of
// lagtrail uses it.
const BaselineSchema = "lagtrail_bench"

// Baseline is the comparison store of `lagtrail bench storage`: the plain
// layout a team would write first, one row per partition sample in
// lagtrail_bench.samples, range-partitioned by UTC day, with PRIMARY KEY
// (group_id, sampled_at, topic, partition) and names stored as text. It
// holds only the samples of successful polls. It uses one connection and is
// not safe for concurrent use.
type Baseline struct {
	conn *pgx.Conn
}

// BaselineLag is one bucket of Baseline.GroupLag.
type BaselineLag struct {
	// Bucket is the bucket's start.
	Bucket time.Time
	// Lag is the group's lag (sum over partitions, each floored at 0) at
	// its last poll in the bucket.
	Lag int64
}

// BaselineGrowth is one row of Baseline.TopGrowth.
type BaselineGrowth struct {
	Group string
	// Growth is the group's lag at its last poll minus its lag at its
	// first, in messages.
	Growth int64
}

// BaselineRate is one hour of Baseline.HourlyRates.
type BaselineRate struct {
	// Hour is the hour's start.
	Hour time.Time
	// ConsumeRate and ProduceRate are the consumer and broker offset
	// increases between consecutive samples of each partition, summed over
	// the samples that end in the hour and over partitions, divided by
	// 3600: messages per second. Decreases count as 0.
	ConsumeRate float64
	ProduceRate float64
}

// CreateBaseline connects to the database at databaseURL, drops the schema
// lagtrail_bench if it exists and creates it afresh, with a daily partition
// for each of the days UTC days from the day of from.
func CreateBaseline(ctx context.Context, databaseURL string, from time.Time, days int) (*Baseline, error) {
	if days < 1 || days > maxPartitionDays {
		return nil, fmt.Errorf("create baseline: days must be between 1 and %d, got %d", maxPartitionDays, days)
	}
	b, err := connectBaseline(ctx, databaseURL)
	if err != nil {
		return nil, err
	}
	if err := b.create(ctx, from, days); err != nil {
		b.conn.Close(ctx)
		return nil, fmt.Errorf("create baseline: %w", err)
	}
	return b, nil
}

// OpenBaseline connects to the database at databaseURL and returns the
// Baseline already created there by CreateBaseline.
func OpenBaseline(ctx context.Context, databaseURL string) (*Baseline, error) {
	b, err := connectBaseline(ctx, databaseURL)
	if err != nil {
		return nil, err
	}
	var ok bool
	if err := b.conn.QueryRow(ctx, `SELECT to_regclass('lagtrail_bench.samples') IS NOT NULL`).Scan(&ok); err != nil || !ok {
		b.conn.Close(ctx)
		if err == nil {
			err = errors.New("no table lagtrail_bench.samples")
		}
		return nil, fmt.Errorf("open baseline: %w", err)
	}
	return b, nil
}

// connectBaseline opens the baseline's connection. Its errors never quote
// the URL.
func connectBaseline(ctx context.Context, databaseURL string) (*Baseline, error) {
	u, err := url.Parse(databaseURL)
	if err != nil || (u.Scheme != "postgres" && u.Scheme != "postgresql") {
		return nil, fmt.Errorf("%w: database url must be a postgres:// or postgresql:// URL (value not shown)", ErrInvalidConfig)
	}
	cfg, err := pgx.ParseConfig(databaseURL)
	if err != nil {
		return nil, fmt.Errorf("%w: cannot parse database url (value not shown)", ErrInvalidConfig)
	}
	conn, err := pgx.ConnectConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("baseline: connect: %w", err)
	}
	return &Baseline{conn: conn}, nil
}

func (b *Baseline) create(ctx context.Context, from time.Time, days int) error {
	if _, err := b.conn.Exec(ctx, `DROP SCHEMA IF EXISTS lagtrail_bench CASCADE`); err != nil {
		return err
	}
	if _, err := b.conn.Exec(ctx, `
CREATE SCHEMA lagtrail_bench;
CREATE TABLE lagtrail_bench.samples (
    sampled_at        timestamptz NOT NULL,
    broker_offset     bigint NOT NULL,
    consumer_offset   bigint NOT NULL,
    last_timestamp_ms bigint NOT NULL,
    partition         integer NOT NULL,
    group_id          text NOT NULL,
    topic             text NOT NULL,
    PRIMARY KEY (group_id, sampled_at, topic, partition)
) PARTITION BY RANGE (sampled_at)`); err != nil {
		return err
	}
	y, m, d := from.UTC().Date()
	day := time.Date(y, m, d, 0, 0, 0, 0, time.UTC)
	for range days {
		next := day.AddDate(0, 0, 1)
		// Identifiers cannot be parameters; the name is built from a date
		// and the bounds are dates too.
		sql := fmt.Sprintf(`CREATE TABLE lagtrail_bench.samples_%s PARTITION OF lagtrail_bench.samples FOR VALUES FROM ('%s') TO ('%s')`,
			day.Format("20060102"), day.Format(time.RFC3339), next.Format(time.RFC3339))
		if _, err := b.conn.Exec(ctx, sql); err != nil {
			return err
		}
		day = next
	}
	return nil
}

// Close closes the baseline's connection; the schema stays.
func (b *Baseline) Close(ctx context.Context) error {
	return b.conn.Close(ctx)
}

// Drop drops the schema lagtrail_bench and everything in it.
func (b *Baseline) Drop(ctx context.Context) error {
	if _, err := b.conn.Exec(ctx, `DROP SCHEMA IF EXISTS lagtrail_bench CASCADE`); err != nil {
		return fmt.Errorf("drop baseline: %w", err)
	}
	return nil
}

// ServerVersion returns the PostgreSQL server's version, as SHOW
// server_version gives it.
func (b *Baseline) ServerVersion(ctx context.Context) (string, error) {
	var v string
	if err := b.conn.QueryRow(ctx, `SHOW server_version`).Scan(&v); err != nil {
		return "", fmt.Errorf("server version: %w", err)
	}
	return v, nil
}

// CopyPolls stores the partition samples of polls with one COPY and returns
// how many rows it wrote. Failed polls have no samples and add nothing.
func (b *Baseline) CopyPolls(ctx context.Context, polls []*Poll) (int64, error) {
	var rows [][]any
	for _, p := range polls {
		if p == nil || !p.OK {
			continue
		}
		at := truncateMicro(p.SampledAt).UTC()
		for _, t := range p.Topics {
			for _, po := range t.Partitions {
				rows = append(rows, []any{at, po.BrokerOffset, po.ConsumerOffset, po.LastTimestampMs, po.Partition, p.Group.Group, t.Topic})
			}
		}
	}
	if len(rows) == 0 {
		return 0, nil
	}
	n, err := b.conn.CopyFrom(ctx, pgx.Identifier{BaselineSchema, "samples"},
		[]string{"sampled_at", "broker_offset", "consumer_offset", "last_timestamp_ms", "partition", "group_id", "topic"},
		pgx.CopyFromRows(rows))
	if err != nil {
		return 0, fmt.Errorf("baseline copy: %w", err)
	}
	return n, nil
}

// Count returns the number of samples in [from, to).
func (b *Baseline) Count(ctx context.Context, from, to time.Time) (int64, error) {
	var n int64
	err := b.conn.QueryRow(ctx, `
SELECT count(*) FROM lagtrail_bench.samples WHERE sampled_at >= $1 AND sampled_at < $2`, from, to).Scan(&n)
	if err != nil {
		return 0, fmt.Errorf("baseline count: %w", err)
	}
	return n, nil
}

// Size returns the bytes on disk of lagtrail_bench.samples: every partition
// with its indexes, TOAST and free-space and visibility maps.
func (b *Baseline) Size(ctx context.Context) (int64, error) {
	var n int64
	err := b.conn.QueryRow(ctx, `
SELECT coalesce(sum(pg_total_relation_size(relid)), 0)::bigint
FROM pg_partition_tree('lagtrail_bench.samples')`).Scan(&n)
	if err != nil {
		return 0, fmt.Errorf("baseline size: %w", err)
	}
	return n, nil
}

// Vacuum runs VACUUM (ANALYZE) on the samples, as autovacuum would after a
// load: it sets hint bits and the visibility map and gathers statistics.
func (b *Baseline) Vacuum(ctx context.Context) error {
	if _, err := b.conn.Exec(ctx, `VACUUM (ANALYZE) lagtrail_bench.samples`); err != nil {
		return fmt.Errorf("baseline vacuum: %w", err)
	}
	return nil
}

// GroupLag returns, for each step-wide bucket of [from, to) in which group
// was polled, the group's total lag at its last poll in the bucket. Buckets
// start at from.
func (b *Baseline) GroupLag(ctx context.Context, group string, from, to time.Time, step time.Duration) ([]BaselineLag, error) {
	if step < time.Second {
		return nil, errors.New("baseline group lag: step must be at least 1s")
	}
	rows, err := b.conn.Query(ctx, `
WITH polls AS (
    SELECT sampled_at, sum(greatest(broker_offset - consumer_offset, 0))::bigint AS lag
    FROM lagtrail_bench.samples
    WHERE group_id = $1 AND sampled_at >= $2 AND sampled_at < $3
    GROUP BY sampled_at
), binned AS (
    SELECT $2::timestamptz + make_interval(secs => floor(extract(epoch FROM sampled_at - $2::timestamptz)::float8 / $4) * $4) AS bucket,
           sampled_at, lag
    FROM polls
)
SELECT DISTINCT ON (bucket) bucket, lag
FROM binned
ORDER BY bucket, sampled_at DESC`, group, from, to, step.Seconds())
	if err != nil {
		return nil, fmt.Errorf("baseline group lag: %w", err)
	}
	out, err := pgx.CollectRows(rows, pgx.RowToStructByPos[BaselineLag])
	if err != nil {
		return nil, fmt.Errorf("baseline group lag: %w", err)
	}
	return out, nil
}

// TopGrowth returns the limit groups whose total lag grew most over
// [from, to): the lag at each group's last poll minus the lag at its first,
// largest first, ties by name.
func (b *Baseline) TopGrowth(ctx context.Context, from, to time.Time, limit int) ([]BaselineGrowth, error) {
	rows, err := b.conn.Query(ctx, `
WITH polls AS (
    SELECT group_id, sampled_at, sum(greatest(broker_offset - consumer_offset, 0)) AS lag
    FROM lagtrail_bench.samples
    WHERE sampled_at >= $1 AND sampled_at < $2
    GROUP BY group_id, sampled_at
)
SELECT group_id, (array_agg(lag ORDER BY sampled_at DESC))[1] - (array_agg(lag ORDER BY sampled_at))[1] AS growth
FROM polls
GROUP BY group_id
ORDER BY growth DESC, group_id
LIMIT $3`, from, to, limit)
	if err != nil {
		return nil, fmt.Errorf("baseline top growth: %w", err)
	}
	out, err := pgx.CollectRows(rows, pgx.RowToStructByPos[BaselineGrowth])
	if err != nil {
		return nil, fmt.Errorf("baseline top growth: %w", err)
	}
	return out, nil
}

// HourlyRates returns group's consumption and production rates for each
// hour of [from, to) (hours start at from) that holds a sample with a
// predecessor: see BaselineRate. Each increase is computed with the window
// function lag() over the partition's samples in [from, to), and counted in
// the hour of its later sample.
func (b *Baseline) HourlyRates(ctx context.Context, group string, from, to time.Time) ([]BaselineRate, error) {
	rows, err := b.conn.Query(ctx, `
WITH d AS (
    SELECT sampled_at,
           consumer_offset - lag(consumer_offset) OVER w AS consumed,
           broker_offset - lag(broker_offset) OVER w AS produced
    FROM lagtrail_bench.samples
    WHERE group_id = $1 AND sampled_at >= $2 AND sampled_at < $3
    WINDOW w AS (PARTITION BY topic, partition ORDER BY sampled_at)
)
SELECT $2::timestamptz + make_interval(hours => floor(extract(epoch FROM sampled_at - $2::timestamptz)::float8 / 3600)::integer) AS hour,
       sum(greatest(consumed, 0))::float8 / 3600 AS consume_rate,
       sum(greatest(produced, 0))::float8 / 3600 AS produce_rate
FROM d
WHERE consumed IS NOT NULL
GROUP BY 1
ORDER BY 1`, group, from, to)
	if err != nil {
		return nil, fmt.Errorf("baseline hourly rates: %w", err)
	}
	out, err := pgx.CollectRows(rows, pgx.RowToStructByPos[BaselineRate])
	if err != nil {
		return nil, fmt.Errorf("baseline hourly rates: %w", err)
	}
	return out, nil
}
