package store

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/jackc/pgx/v5/pgconn"
)

// maxPartitionDays is the most days lagtrail.ensure_partitions accepts.
const maxPartitionDays = 366

// EnsurePartitions creates the daily partitions of the time-partitioned
// raw tier (lagtrail.raw_polls) for days UTC days starting with the UTC
// date of from, and the monthly partitions of the hourly rollups those days
// fall in, and returns how many partition tables it created: 1 per missing
// day and 2 per missing month, 0 when all exist. It is idempotent and safe to call
// concurrently (lagtrail.ensure_partitions serialises callers). days must be
// between 1 and 366.
func (s *Store) EnsurePartitions(ctx context.Context, from time.Time, days int) (created int, err error) {
	if from.IsZero() {
		return 0, errors.New("ensure partitions: from is zero")
	}
	if days < 1 || days > maxPartitionDays {
		return 0, fmt.Errorf("ensure partitions: days must be between 1 and %d, got %d", maxPartitionDays, days)
	}
	y, m, d := from.UTC().Date()
	day := time.Date(y, m, d, 0, 0, 0, 0, time.UTC)
	// The date travels as text so that no time zone can shift it.
	err = s.pool.QueryRow(ctx, `SELECT lagtrail.ensure_partitions($1::date, $2)`,
		day.Format(time.DateOnly), days).Scan(&created)
	if err != nil {
		return 0, fmt.Errorf("ensure partitions: %w", err)
	}
	if created > 0 {
		s.logger.Info("created partitions",
			slog.String("from", day.Format(time.DateOnly)),
			slog.Int("days", days),
			slog.Int("created", created))
	}
	return created, nil
}

// isMissingPartition reports whether err is PostgreSQL refusing a row of a
// partitioned table because no partition covers its key ("no partition of
// relation … found for row"). That error has SQLSTATE 23514 like a CHECK
// violation, but names no constraint.
func isMissingPartition(err error) bool {
	var pgErr *pgconn.PgError
	return errors.As(err, &pgErr) && pgErr.Code == "23514" && pgErr.ConstraintName == ""
}
