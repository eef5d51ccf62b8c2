package store

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"github.com/jackc/pgx/v5"
)

// nowBatch is the most queued groups one refresh_now call evaluates: a few
// hundred milliseconds of work for groups polled every minute.
const nowBatch = 200

// NowResult tells what RefreshNow did.
type NowResult struct {
	// Groups is how many queued groups it refreshed; Rows how many
	// partition rows it stored for them.
	Groups, Rows int
}

// RefreshNow brings the stored now-state (lagtrail.partition_now, which
// partition_status and group_status read) up to date with the polls
// written: every write queues the groups it stores successful polls of,
// and RefreshNow takes queued groups in batches and evaluates each at its
// last successful poll (lagtrail.refresh_now). It runs off the write path,
// so however often a group is polled, it costs one evaluation per refresh.
//
// A batch leaves the queue before it is evaluated, so that writers never
// wait for an evaluation; a poll written meanwhile queues its group again.
// When an evaluation fails, its groups are queued again. Several stores may
// refresh at once: each takes groups the others do not hold, and
// refresh_now serialises evaluations of one group, so the last to commit
// saw every poll committed before it.
//
// It takes only the groups queued before it started, so that it returns
// even when polls arrive faster than they can be evaluated: upkeep, which
// calls it, must go on to its other work.
func (s *Store) RefreshNow(ctx context.Context) (NowResult, error) {
	var res NowResult
	started, err := s.queueCutoff(ctx)
	if err != nil {
		return res, fmt.Errorf("refresh now-state: %w", err)
	}
	for {
		rows, err := s.pool.Query(ctx, `
DELETE FROM lagtrail.now_queue q
USING (
  SELECT group_key FROM lagtrail.now_queue
  WHERE queued_at <= $2
  ORDER BY queued_at, group_key
  LIMIT $1
  FOR UPDATE SKIP LOCKED
) t
WHERE q.group_key = t.group_key
RETURNING q.group_key`, nowBatch, started)
		if err != nil {
			return res, fmt.Errorf("refresh now-state: take queue: %w", err)
		}
		keys, err := pgx.CollectRows(rows, pgx.RowTo[int32])
		if err != nil {
			return res, fmt.Errorf("refresh now-state: take queue: %w", err)
		}
		if len(keys) == 0 {
			break
		}
		var n int
		if err := s.pool.QueryRow(ctx, `SELECT lagtrail.refresh_now($1::int[])`, keys).Scan(&n); err != nil {
			// Queue them again for the next refresh; a failure to do so
			// leaves them to their next poll.
			if _, qerr := s.pool.Exec(context.WithoutCancel(ctx), `
INSERT INTO lagtrail.now_queue (group_key) SELECT unnest($1::int[]) ORDER BY 1
ON CONFLICT (group_key) DO NOTHING`, keys); qerr != nil {
				s.logger.Warn("queue now-state again", slog.Int("groups", len(keys)), slog.Any("err", qerr))
			}
			return res, fmt.Errorf("refresh now-state: %w", err)
		}
		res.Groups += len(keys)
		res.Rows += n
	}
	if res.Groups > 0 {
		s.logger.Debug("refreshed now-state", slog.Int("groups", res.Groups), slog.Int("rows", res.Rows))
	}
	return res, nil
}

// queueCutoff is the database's now(): a refresh takes the queue entries
// written until then and leaves later ones to the next, so that it returns
// however fast polls arrive. The writers stamp entries with the same clock.
func (s *Store) queueCutoff(ctx context.Context) (time.Time, error) {
	var t time.Time
	err := s.pool.QueryRow(ctx, `SELECT now()`).Scan(&t)
	return t, err
}

// NowBehind says how far the stored now-state is behind the polls written.
type NowBehind struct {
	// Groups counts the groups with a successful poll recorded in
	// lagtrail.group_last_poll; Behind those whose stored now-state is
	// of an earlier poll, or missing.
	Groups, Behind int
	// Max is the longest time between a group's last successful poll and
	// the poll its stored now-state was evaluated at, among groups that
	// have one.
	Max time.Duration
}

// NowBehind measures how far the stored now-state is behind the polls
// written, for benchmarks and health checks: one read of two tables.
func (s *Store) NowBehind(ctx context.Context) (NowBehind, error) {
	var b NowBehind
	var maxBehind *time.Duration
	err := s.pool.QueryRow(ctx, `
SELECT count(*)::int,
       count(*) FILTER (WHERE g.evaluated_at IS NULL OR g.evaluated_at < l.last_ok_at)::int,
       max(l.last_ok_at - g.evaluated_at)
FROM lagtrail.group_last_poll l
LEFT JOIN lagtrail.group_now g ON g.group_key = l.group_key
WHERE l.last_ok_at IS NOT NULL`).Scan(&b.Groups, &b.Behind, &maxBehind)
	if err != nil {
		return b, fmt.Errorf("now-state behind: %w", err)
	}
	if maxBehind != nil {
		b.Max = max(*maxBehind, 0)
	}
	return b, nil
}
