package store

import (
	"context"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
)

// Defaults of UpkeepConfig's zero fields.
const (
	DefaultDaysAhead           = 3
	DefaultRawRetentionDays    = 14
	DefaultHourlyRetentionDays = 400
)

// UpkeepConfig says how far ahead partitions are made and how long raw
// samples are kept. Zero fields take the defaults.
type UpkeepConfig struct {
	// DaysAhead is how many days after today get their partitions ahead of
	// time. Default 3; at most 365.
	DaysAhead int
	// RawRetentionDays is how many UTC days of raw polls and samples are
	// kept, today included; older daily partitions are dropped. Default 14.
	RawRetentionDays int
	// HourlyRetentionDays is how many days of hourly rollups are kept, at
	// least: they are dropped a whole month at a time, once the month's
	// last day is older than this. Default 400. Daily rollups are kept
	// for ever.
	HourlyRetentionDays int
}

func (c UpkeepConfig) withDefaults() UpkeepConfig {
	if c.DaysAhead == 0 {
		c.DaysAhead = DefaultDaysAhead
	}
	if c.RawRetentionDays == 0 {
		c.RawRetentionDays = DefaultRawRetentionDays
	}
	if c.HourlyRetentionDays == 0 {
		c.HourlyRetentionDays = DefaultHourlyRetentionDays
	}
	return c
}

// Validate returns an error wrapping ErrInvalidConfig for settings Upkeep
// refuses.
func (c UpkeepConfig) Validate() error {
	c = c.withDefaults()
	switch {
	case c.DaysAhead < 0 || c.DaysAhead > maxPartitionDays-1:
		return fmt.Errorf("%w: days ahead must be between 0 and %d, got %d", ErrInvalidConfig, maxPartitionDays-1, c.DaysAhead)
	case c.RawRetentionDays < 1:
		return fmt.Errorf("%w: raw retention must be at least 1 day, got %d", ErrInvalidConfig, c.RawRetentionDays)
	case c.HourlyRetentionDays < c.RawRetentionDays:
		return fmt.Errorf("%w: hourly rollup retention (%d days) must be at least the raw retention (%d days): rollups are computed from raw polls",
			ErrInvalidConfig, c.HourlyRetentionDays, c.RawRetentionDays)
	}
	return nil
}

// UpkeepResult says what Upkeep did.
type UpkeepResult struct {
	// Leader is false when another store holds the upkeep lock: nothing
	// was done.
	Leader bool
	// Created is the number of partition tables made.
	Created int
	// Dropped names the partition tables dropped for retention.
	Dropped []string
	// Now is what the now-state refresh did.
	Now NowResult
	// Rollups is what the rollup refresh did.
	Rollups RollupResult
}

// Upkeep makes the daily partitions for today (per now) and DaysAhead days
// after (and the monthly partitions of the hourly rollups they fall in),
// brings the now-state and the rollups up to date, and then drops whole
// partitions older than their tier's retention: detached, then dropped,
// never emptied by DELETE.
// Rollups are refreshed before raw days are dropped, so no poll leaves the
// raw tier before it is rolled up.
//
// Exactly one store per database does upkeep: the first to call Upkeep
// takes a session advisory lock on a connection it keeps until Close (or
// until that connection breaks), and every other store's Upkeep returns
// Leader false until then.
func (s *Store) Upkeep(ctx context.Context, cfg UpkeepConfig, now time.Time) (UpkeepResult, error) {
	if err := cfg.Validate(); err != nil {
		return UpkeepResult{}, fmt.Errorf("upkeep: %w", err)
	}
	cfg = cfg.withDefaults()
	leader, err := s.lead(ctx)
	if err != nil || !leader {
		return UpkeepResult{}, err
	}
	res := UpkeepResult{Leader: true}
	if res.Created, err = s.EnsurePartitions(ctx, now, cfg.DaysAhead+1); err != nil {
		return res, fmt.Errorf("upkeep: %w", err)
	}
	if res.Now, err = s.RefreshNow(ctx); err != nil {
		return res, fmt.Errorf("upkeep: %w", err)
	}
	if res.Rollups, err = s.RefreshRollups(ctx); err != nil {
		return res, fmt.Errorf("upkeep: %w", err)
	}
	y, m, d := now.UTC().Date()
	today := time.Date(y, m, d, 0, 0, 0, 0, time.UTC)
	rawFrom := today.AddDate(0, 0, -(cfg.RawRetentionDays - 1))
	res.Dropped, err = s.dropExpired(ctx, map[string]time.Time{
		"raw_polls":        rawFrom,
		"partition_hourly": today.AddDate(0, 0, -(cfg.HourlyRetentionDays - 1)),
		"group_hourly":     today.AddDate(0, 0, -(cfg.HourlyRetentionDays - 1)),
	})
	if err != nil {
		return res, fmt.Errorf("upkeep: %w", err)
	}
	if err := s.dropExpiredNow(ctx, rawFrom); err != nil {
		return res, fmt.Errorf("upkeep: %w", err)
	}
	return res, nil
}

// dropExpiredNow removes the now-state of the groups whose last
// successful poll left the raw tier, and the last poll of those with no
// poll left there: the status views and the fleet showed no row for them
// when they read raw_polls on every read, and show none now.
func (s *Store) dropExpiredNow(ctx context.Context, rawFrom time.Time) error {
	_, err := s.pool.Exec(ctx, `
WITH p AS (DELETE FROM lagtrail.partition_now WHERE evaluated_at < $1),
     g AS (DELETE FROM lagtrail.group_now WHERE evaluated_at < $1),
     o AS (UPDATE lagtrail.group_last_poll SET last_ok_at = NULL WHERE last_ok_at < $1 AND last_at >= $1)
DELETE FROM lagtrail.group_last_poll WHERE last_at < $1`, rawFrom)
	if err != nil {
		return fmt.Errorf("drop expired now-state: %w", err)
	}
	return nil
}

// lead reports whether this store holds the upkeep lock, taking it if it is
// free.
func (s *Store) lead(ctx context.Context) (bool, error) {
	s.leaderMu.Lock()
	defer s.leaderMu.Unlock()
	if s.leader != nil {
		if _, err := s.leader.Exec(ctx, "SELECT 1"); err == nil {
			return true, nil
		}
		// The connection broke, and the lock went with it.
		s.leader.Release()
		s.leader = nil
		s.logger.Warn("upkeep lock lost with its connection")
	}
	conn, err := s.pool.Acquire(ctx)
	if err != nil {
		return false, fmt.Errorf("upkeep lock: %w", err)
	}
	var got bool
	if err := conn.QueryRow(ctx, `SELECT pg_try_advisory_lock(hashtext('lagtrail.upkeep'))`).Scan(&got); err != nil {
		conn.Release()
		return false, fmt.Errorf("upkeep lock: %w", err)
	}
	if !got {
		conn.Release()
		return false, nil
	}
	s.leader = conn
	s.logger.Info("took the upkeep lock: this process makes and drops partitions")
	return true, nil
}

// releaseLeadership gives the upkeep lock back with its connection.
func (s *Store) releaseLeadership() {
	s.leaderMu.Lock()
	defer s.leaderMu.Unlock()
	if s.leader != nil {
		// Unlocking explicitly lets another store take over at once even
		// if the pool keeps the connection.
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		_, _ = s.leader.Exec(ctx, `SELECT pg_advisory_unlock(hashtext('lagtrail.upkeep'))`)
		cancel()
		s.leader.Release()
		s.leader = nil
	}
}

// monthlyPartitioned are the tables partitioned by month; their
// partitions are named after the month's first day.
var monthlyPartitioned = map[string]bool{"partition_hourly": true, "group_hourly": true}

// dropExpired detaches and drops the partitions of each table in keepFrom
// that hold only data from before the table's keepFrom.
func (s *Store) dropExpired(ctx context.Context, keepFrom map[string]time.Time) ([]string, error) {
	parents := make([]string, 0, len(keepFrom))
	for p := range keepFrom {
		parents = append(parents, p)
	}
	rows, err := s.pool.Query(ctx, `
SELECT p.relname AS parent, c.relname AS child
FROM pg_inherits i
JOIN pg_class c ON c.oid = i.inhrelid
JOIN pg_class p ON p.oid = i.inhparent
JOIN pg_namespace n ON n.oid = p.relnamespace
WHERE n.nspname = 'lagtrail' AND p.relname = ANY($1)
ORDER BY c.relname`, parents)
	if err != nil {
		return nil, fmt.Errorf("list partitions: %w", err)
	}
	parts, err := pgx.CollectRows(rows, pgx.RowToStructByName[childPartition])
	if err != nil {
		return nil, fmt.Errorf("list partitions: %w", err)
	}
	var dropped []string
	for _, p := range parts {
		day, err := time.Parse("20060102", strings.TrimPrefix(p.Child, p.Parent+"_"))
		if err != nil {
			continue // not a partition lagtrail made
		}
		end := day.AddDate(0, 0, 1)
		if monthlyPartitioned[p.Parent] {
			end = day.AddDate(0, 1, 0)
		}
		if end.After(keepFrom[p.Parent]) {
			continue // holds days still kept
		}
		parent := pgx.Identifier{"lagtrail", p.Parent}.Sanitize()
		child := pgx.Identifier{"lagtrail", p.Child}.Sanitize()
		err = pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
			if _, err := tx.Exec(ctx, "ALTER TABLE "+parent+" DETACH PARTITION "+child); err != nil {
				return err
			}
			_, err := tx.Exec(ctx, "DROP TABLE "+child)
			return err
		})
		if err != nil {
			return dropped, fmt.Errorf("drop partition %s: %w", p.Child, err)
		}
		dropped = append(dropped, p.Child)
		s.logger.Info("dropped expired partition", slog.String("partition", p.Child), slog.String("day", day.Format(time.DateOnly)))
	}
	return dropped, nil
}

// childPartition is a partition of a time-partitioned table.
type childPartition struct {
	Parent string `db:"parent"`
	Child  string `db:"child"`
}
