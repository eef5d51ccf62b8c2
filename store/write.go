package store

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgtype"
)

// WritePoll stores one poll in one transaction: its poll_log row, one
// topic_samples row per topic (loaded with COPY) and the rebalances it
// reported that are not stored yet.
//
// A poll is identified by (Group, SampledAt truncated to microseconds, the
// precision of PostgreSQL timestamps); StartedAt is truncated likewise.
// Writing a poll that is already stored commits nothing and returns nil, also
// when two writers race: the second waits on the first's poll_log row and
// then does nothing.
//
// A failed poll (OK false) is stored as a poll_log row with its error code
// and message and no samples; TotalDiff and LastTimestampMs are stored for
// successful polls only, and ErrorCode and ErrorMessage for failed ones only.
// A rebalance is stored once per (group, generation), with the SampledAt of
// the first poll that reported it as its first_seen_at.
//
// A poll that fails validation is refused before the database is touched
// with an error wrapping ErrInvalidPoll. When no partition exists for the
// poll's UTC day, WritePoll creates it and retries the transaction once.
func (s *Store) WritePoll(ctx context.Context, p *Poll) error {
	if err := validatePoll(p); err != nil {
		return err
	}
	row := newPollRow(p)
	err := s.writePollTx(ctx, p, row)
	if err != nil && isMissingPartition(err) {
		s.logger.Info("no partition for poll, creating it",
			slog.String("region", p.Group.Region),
			slog.String("instance_id", p.Group.InstanceID),
			slog.String("group", p.Group.Group),
			slog.Time("sampled_at", row.sampledAt),
			slog.String("day", row.sampledAt.UTC().Format(time.DateOnly)))
		if _, perr := s.EnsurePartitions(ctx, row.sampledAt, 1); perr != nil {
			return fmt.Errorf("write poll: %w", perr)
		}
		err = s.writePollTx(ctx, p, row)
	}
	if err != nil {
		return fmt.Errorf("write poll: %w", err)
	}
	return nil
}

// pollRow holds the poll_log values derived from a Poll.
type pollRow struct {
	sampledAt       time.Time
	startedAt       time.Time
	durationMs      int32
	errorCode       *string
	errorMessage    *string
	requestID       *string
	totalDiff       *int64
	lastTimestampMs *int64
	partitionCount  int32
}

func newPollRow(p *Poll) pollRow {
	r := pollRow{
		sampledAt:      truncateMicro(p.SampledAt),
		startedAt:      truncateMicro(p.StartedAt),
		durationMs:     durationMs(p.Duration),
		requestID:      nullIfEmpty(p.RequestID),
		partitionCount: int32(min(p.PartitionCount(), math.MaxInt32)),
	}
	if p.OK {
		r.totalDiff = &p.TotalDiff
		r.lastTimestampMs = &p.LastTimestampMs
	} else {
		r.errorCode = nullIfEmpty(p.ErrorCode)
		r.errorMessage = nullIfEmpty(p.ErrorMessage)
	}
	return r
}

// writePollTx runs the write transaction once.
func (s *Store) writePollTx(ctx context.Context, p *Poll, row pollRow) error {
	tx, err := s.pool.Begin(ctx)
	if err != nil {
		return fmt.Errorf("begin: %w", err)
	}
	// A no-op after Commit; otherwise the transaction's error is the one
	// worth returning.
	defer func() { _ = tx.Rollback(context.WithoutCancel(ctx)) }()
	dict := s.dict.begin(tx)
	groupKey, err := dict.groupKey(ctx, p.Group)
	if err != nil {
		return err
	}

	var inserted bool
	err = tx.QueryRow(ctx, `
INSERT INTO lagtrail.poll_log (
    group_key, sampled_at, started_at, ok, error_code, error_message,
    duration_ms, request_id, total_diff, last_timestamp_ms, partition_count)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)
ON CONFLICT (group_key, sampled_at) DO NOTHING
RETURNING true`,
		groupKey, row.sampledAt, row.startedAt, p.OK, row.errorCode, row.errorMessage,
		row.durationMs, row.requestID, row.totalDiff, row.lastTimestampMs, row.partitionCount,
	).Scan(&inserted)
	switch {
	case errors.Is(err, pgx.ErrNoRows):
		// Already stored: the dictionary keys read are committed ones.
		if err = tx.Commit(ctx); err != nil {
			return fmt.Errorf("commit: %w", err)
		}
		s.dict.merge(dict)
		s.logger.Debug("poll already stored",
			slog.String("group", p.Group.Group),
			slog.Time("sampled_at", row.sampledAt))
		return nil
	case err != nil:
		return fmt.Errorf("insert poll: %w", err)
	}

	if len(p.Topics) > 0 {
		if err = insertSamples(ctx, tx, dict, groupKey, row.sampledAt, p.Topics); err != nil {
			return err
		}
	}
	if len(p.Rebalances) > 0 {
		if err = insertRebalances(ctx, tx, groupKey, row.sampledAt, p.Rebalances); err != nil {
			return err
		}
	}
	if err = tx.Commit(ctx); err != nil {
		return fmt.Errorf("commit: %w", err)
	}
	s.dict.merge(dict)
	return nil
}

// topicSampleColumns are the columns COPY fills, in row order.
var topicSampleColumns = []string{
	"group_key", "sampled_at", "topic_key",
	"partitions", "broker_offsets", "consumer_offsets", "last_timestamps_ms",
}

// insertSamples loads one topic_samples row per topic with COPY.
func insertSamples(ctx context.Context, tx pgx.Tx, dict *dictTx, groupKey int32, sampledAt time.Time, topics []TopicSample) error {
	names := make([]string, len(topics))
	for i, t := range topics {
		names[i] = t.Topic
	}
	keys, err := dict.topicKeys(ctx, names)
	if err != nil {
		return err
	}
	n, err := tx.CopyFrom(ctx,
		pgx.Identifier{"lagtrail", "topic_samples"},
		topicSampleColumns,
		pgx.CopyFromSlice(len(topics), func(i int) ([]any, error) {
			t := topics[i]
			parts := make([]int32, len(t.Partitions))
			broker := make([]int64, len(t.Partitions))
			consumer := make([]int64, len(t.Partitions))
			last := make([]int64, len(t.Partitions))
			for j, po := range t.Partitions {
				parts[j] = po.Partition
				broker[j] = po.BrokerOffset
				consumer[j] = po.ConsumerOffset
				last[j] = po.LastTimestampMs
			}
			return []any{groupKey, sampledAt, keys[t.Topic], parts, broker, consumer, last}, nil
		}))
	if err != nil {
		return fmt.Errorf("copy topic samples: %w", err)
	}
	if n != int64(len(topics)) {
		return fmt.Errorf("copy topic samples: copied %d rows, want %d", n, len(topics))
	}
	return nil
}

// insertRebalances stores the rebalances not stored yet. Rows go in
// generation order so that concurrent writers lock them in the same order.
func insertRebalances(ctx context.Context, tx pgx.Tx, groupKey int32, sampledAt time.Time, rebalances []Rebalance) error {
	seen := make(map[int64]bool, len(rebalances))
	var (
		generations []int64
		at          []pgtype.Timestamptz
		durations   []int64
		successes   []bool
		reasons     []string
		reported    []string
	)
	for _, r := range rebalances {
		if seen[r.Generation] {
			continue // the first entry of a generation wins
		}
		seen[r.Generation] = true
		generations = append(generations, r.Generation)
		at = append(at, pgtype.Timestamptz{Time: truncateMicro(r.RebalancedAt), Valid: !r.RebalancedAt.IsZero()})
		durations = append(durations, r.DurationMs)
		successes = append(successes, r.Success)
		reasons = append(reasons, r.Reason)
		reported = append(reported, r.ReportedGroup)
	}
	_, err := tx.Exec(ctx, `
INSERT INTO lagtrail.rebalance_log (
    group_key, generation, rebalanced_at, duration_ms, success, reason,
    reported_group, first_seen_at)
SELECT $1, u.generation, u.rebalanced_at, u.duration_ms, u.success, u.reason,
       u.reported_group, $2
FROM unnest($3::bigint[], $4::timestamptz[], $5::bigint[], $6::boolean[], $7::text[], $8::text[])
     AS u(generation, rebalanced_at, duration_ms, success, reason, reported_group)
ORDER BY u.generation
ON CONFLICT (group_key, generation) DO NOTHING`,
		groupKey, sampledAt, generations, at, durations, successes, reasons, reported)
	if err != nil {
		return fmt.Errorf("insert rebalances: %w", err)
	}
	return nil
}

// validatePoll returns an error wrapping ErrInvalidPoll for a poll the store
// refuses.
func validatePoll(p *Poll) error {
	if p == nil {
		return invalidPoll("nil poll")
	}
	for _, f := range []struct{ name, value string }{
		{"region", p.Group.Region},
		{"instance id", p.Group.InstanceID},
		{"group", p.Group.Group},
	} {
		if err := checkName(f.name, f.value); err != nil {
			return err
		}
	}
	if p.SampledAt.IsZero() {
		return invalidPoll("zero sampled at (group %q)", p.Group.Group)
	}
	if p.StartedAt.IsZero() {
		return invalidPoll("zero started at (group %q)", p.Group.Group)
	}
	if !p.OK {
		if len(p.Topics) > 0 {
			return invalidPoll("failed poll carries %d topic(s) (group %q)", len(p.Topics), p.Group.Group)
		}
		if len(p.Rebalances) > 0 {
			return invalidPoll("failed poll carries %d rebalance(s) (group %q)", len(p.Rebalances), p.Group.Group)
		}
		return nil
	}
	topics := make(map[string]bool, len(p.Topics))
	for i, t := range p.Topics {
		if err := checkName(fmt.Sprintf("topic name (index %d)", i), t.Topic); err != nil {
			return err
		}
		if topics[t.Topic] {
			return invalidPoll("duplicate topic %q", t.Topic)
		}
		topics[t.Topic] = true
		parts := make(map[int32]bool, len(t.Partitions))
		for _, po := range t.Partitions {
			if po.Partition < 0 {
				return invalidPoll("negative partition %d in topic %q", po.Partition, t.Topic)
			}
			if parts[po.Partition] {
				return invalidPoll("duplicate partition %d in topic %q", po.Partition, t.Topic)
			}
			parts[po.Partition] = true
		}
	}
	return nil
}

// checkName refuses names PostgreSQL text cannot hold or the store does not
// accept: empty, NUL bytes, invalid UTF-8.
func checkName(what, v string) error {
	switch {
	case v == "":
		return invalidPoll("empty %s", what)
	case !utf8.ValidString(v):
		return invalidPoll("%s %q is not valid UTF-8", what, v)
	case strings.IndexByte(v, 0) >= 0:
		return invalidPoll("%s %q contains a NUL byte", what, v)
	}
	return nil
}

// truncateMicro drops what PostgreSQL cannot store of t (below the
// microsecond) and its monotonic clock reading.
func truncateMicro(t time.Time) time.Time {
	return t.Truncate(time.Microsecond)
}

// durationMs rounds d to milliseconds, clamped to [0, MaxInt32].
func durationMs(d time.Duration) int32 {
	ms := d.Round(time.Millisecond).Milliseconds()
	return int32(max(0, min(ms, math.MaxInt32)))
}

func nullIfEmpty(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}
