package store

import (
	"cmp"
	"context"
	"fmt"
	"log/slog"
	"math"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgtype"
)

// WritePoll stores one poll: its lagtrail.raw_polls row, which holds the
// poll's outcome and all its partition samples, and the rebalances it
// reported that are not stored yet. It is WritePolls with one poll.
func (s *Store) WritePoll(ctx context.Context, p *Poll) error {
	_, err := s.WritePolls(ctx, []*Poll{p})
	return err
}

// WritePolls stores polls in one transaction with one INSERT, and returns
// how many of them were not stored before.
//
// A poll is identified by (Group, SampledAt truncated to microseconds, the
// precision of PostgreSQL timestamps); StartedAt is truncated likewise.
// Writing a poll that is already stored changes nothing, also when two
// writers race: the second waits for the first's row and then skips it.
// Polls are inserted in (group, SampledAt) order, so concurrent batches lock
// rows in the same order.
//
// A failed poll (OK false) is stored with its error code and message and no
// samples; TotalDiff and LastTimestampMs are stored for successful polls
// only, and ErrorCode and ErrorMessage for failed ones only. A rebalance is
// stored once per (group, generation), with the SampledAt of the first poll
// that reported it as its first_seen_at.
//
// If any poll fails validation, nothing is written and the error wraps
// ErrInvalidPoll. When no partition exists for a poll's UTC day, WritePolls
// creates the missing days and retries the transaction once.
func (s *Store) WritePolls(ctx context.Context, polls []*Poll) (int, error) {
	if len(polls) == 0 {
		return 0, nil
	}
	for _, p := range polls {
		if err := validatePoll(p); err != nil {
			return 0, err
		}
	}
	n, err := s.writePollsTx(ctx, polls)
	if err != nil && isMissingPartition(err) {
		days := make(map[time.Time]bool)
		for _, p := range polls {
			days[truncateMicro(p.SampledAt).UTC().Truncate(24*time.Hour)] = true
		}
		for day := range days {
			s.logger.Info("no partition for polls, creating it",
				slog.String("day", day.Format(time.DateOnly)), slog.Int("polls", len(polls)))
			if _, perr := s.EnsurePartitions(ctx, day, 1); perr != nil {
				return 0, fmt.Errorf("write polls: %w", perr)
			}
		}
		n, err = s.writePollsTx(ctx, polls)
	}
	if err != nil {
		return 0, fmt.Errorf("write polls: %w", err)
	}
	return n, nil
}

// rawPollBatch holds the INSERT's parameters: one element per poll in the
// per-poll arrays, and each poll's arrays concatenated with 1-based
// inclusive bounds (lo > hi for none).
type rawPollBatch struct {
	sampledAt, startedAt          []time.Time
	totalDiff, lastMs, brokerBase []*int64
	groupKey, durationMs          []int32
	ok                            []bool
	requestUUID                   []pgtype.UUID
	requestID, errCode, errMsg    []*string

	topicKeys, topicEnds, partitions, samples flatInt4
	broker, consumer, lastMsFlat              []int64
	wideLo, wideHi                            []int32
}

// flatInt4 is one integer array column of the batch, concatenated.
type flatInt4 struct {
	values []int32
	lo, hi []int32
}

func (f *flatInt4) add(v []int32) {
	f.lo = append(f.lo, int32(len(f.values)+1))
	f.values = append(f.values, v...)
	f.hi = append(f.hi, int32(len(f.values)))
}

// writePollsTx runs the write once. When every name is cached and no poll
// reports rebalances, as in steady recording, the write is one statement
// and one round trip: no transaction block, no lookup of stored polls
// (which only keeps a rewritten poll from creating dictionary rows).
func (s *Store) writePollsTx(ctx context.Context, polls []*Poll) (int, error) {
	if groups, keys, ok := s.dict.cachedKeys(polls); ok && !slices.ContainsFunc(polls, func(p *Poll) bool { return len(p.Rebalances) > 0 }) {
		rows := make([]keyed, len(polls))
		for i, p := range polls {
			rows[i] = keyed{p: p, g: groups[i], at: truncateMicro(p.SampledAt)}
		}
		sortKeyed(rows)
		var b rawPollBatch
		for _, r := range rows {
			b.add(r.p, r.g, r.at, keys)
		}
		inserted, err := b.insert(ctx, s.pool)
		if err != nil {
			return 0, err
		}
		if len(inserted) < len(polls) {
			s.logger.Debug("polls already stored", slog.Int("polls", len(polls)), slog.Int("new", len(inserted)))
		}
		return len(inserted), nil
	}
	return s.writePollsSlow(ctx, polls)
}

// sortKeyed orders polls by group key and time, the order rows are locked.
func sortKeyed(rows []keyed) {
	slices.SortStableFunc(rows, func(a, b keyed) int {
		if c := cmp.Compare(a.g, b.g); c != 0 {
			return c
		}
		return a.at.Compare(b.at)
	})
}

// writePollsSlow writes polls in a transaction that also resolves and
// creates dictionary keys and stores rebalances.
func (s *Store) writePollsSlow(ctx context.Context, polls []*Poll) (int, error) {
	tx, err := s.pool.Begin(ctx)
	if err != nil {
		return 0, fmt.Errorf("begin: %w", err)
	}
	// A no-op after Commit; otherwise the transaction's error is the one
	// worth returning.
	defer func() { _ = tx.Rollback(context.WithoutCancel(ctx)) }()
	dict := s.dict.begin(tx)

	// Groups are looked up, and new ones created, in one order for every
	// writer, as topics are: two writers creating the same new groups in
	// different orders each waited for the other's insert (a deadlock).
	refs := make([]GroupRef, len(polls))
	for i, p := range polls {
		refs[i] = p.Group
	}
	slices.SortFunc(refs, compareGroupRefs)
	groupKeys := make(map[GroupRef]int32, len(refs))
	for _, g := range slices.Compact(refs) {
		k, err := dict.groupKey(ctx, g)
		if err != nil {
			return 0, err
		}
		groupKeys[g] = k
	}
	rows := make([]keyed, len(polls))
	var names []string
	for i, p := range polls {
		rows[i] = keyed{p: p, g: groupKeys[p.Group], at: truncateMicro(p.SampledAt)}
		for _, t := range p.Topics {
			names = append(names, t.Topic)
		}
	}
	// Polls already stored are skipped before their topics are looked up,
	// so that writing a poll again creates nothing. A concurrent writer
	// may still store one meanwhile: the INSERT skips it then.
	stored, err := storedPolls(ctx, tx, rows)
	if err != nil {
		return 0, err
	}
	if len(stored) > 0 {
		names = names[:0]
		rows = slices.DeleteFunc(rows, func(r keyed) bool { return stored[pollKey{r.g, r.at.UnixMicro()}] })
		for _, r := range rows {
			for _, t := range r.p.Topics {
				names = append(names, t.Topic)
			}
		}
	}
	keys := map[string]int32{}
	if len(names) > 0 {
		slices.Sort(names)
		if keys, err = dict.topicKeys(ctx, slices.Compact(names)); err != nil {
			return 0, err
		}
	}
	sortKeyed(rows)

	if len(rows) == 0 {
		if err = tx.Commit(ctx); err != nil {
			return 0, fmt.Errorf("commit: %w", err)
		}
		s.dict.merge(dict)
		s.logger.Debug("polls already stored", slog.Int("polls", len(polls)))
		return 0, nil
	}
	var b rawPollBatch
	for _, r := range rows {
		b.add(r.p, r.g, r.at, keys)
	}
	inserted, err := b.insert(ctx, tx)
	if err != nil {
		return 0, err
	}
	for _, r := range rows {
		if len(r.p.Rebalances) > 0 && inserted[pollKey{r.g, r.at.UnixMicro()}] {
			if err = insertRebalances(ctx, tx, r.g, r.at, r.p.Rebalances); err != nil {
				return 0, err
			}
		}
	}
	if err = tx.Commit(ctx); err != nil {
		return 0, fmt.Errorf("commit: %w", err)
	}
	s.dict.merge(dict)
	if len(inserted) < len(polls) {
		s.logger.Debug("polls already stored", slog.Int("polls", len(polls)), slog.Int("new", len(inserted)))
	}
	return len(inserted), nil
}

// querier runs a query: a transaction or the pool.
type querier interface {
	Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error)
}

// keyed is a poll with its group key and stored sampled_at.
type keyed struct {
	p  *Poll
	g  int32
	at time.Time
}

// storedPolls returns which of the polls are stored already.
func storedPolls(ctx context.Context, tx pgx.Tx, polls []keyed) (map[pollKey]bool, error) {
	groups := make([]int32, len(polls))
	at := make([]time.Time, len(polls))
	for i, r := range polls {
		groups[i], at[i] = r.g, r.at
	}
	rows, err := tx.Query(ctx, `
SELECT rp.group_key, rp.sampled_at
FROM unnest($1::int[], $2::timestamptz[]) AS u(group_key, sampled_at)
JOIN lagtrail.raw_polls rp ON rp.group_key = u.group_key AND rp.sampled_at = u.sampled_at`, groups, at)
	if err != nil {
		return nil, fmt.Errorf("find stored polls: %w", err)
	}
	got, err := pgx.CollectRows(rows, pgx.RowToStructByName[storedPoll])
	if err != nil {
		return nil, fmt.Errorf("find stored polls: %w", err)
	}
	out := make(map[pollKey]bool, len(got))
	for _, r := range got {
		out[pollKey{r.GroupKey, r.SampledAt.UnixMicro()}] = true
	}
	return out, nil
}

// storedPoll is the identity of a raw_polls row.
type storedPoll struct {
	GroupKey  int32     `db:"group_key"`
	SampledAt time.Time `db:"sampled_at"`
}

// pollKey identifies a stored poll: group key and sampled_at in µs.
type pollKey struct {
	group int32
	micro int64
}

// add appends one poll to the batch.
func (b *rawPollBatch) add(p *Poll, groupKey int32, sampledAt time.Time, keys map[string]int32) {
	b.sampledAt = append(b.sampledAt, sampledAt)
	b.startedAt = append(b.startedAt, truncateMicro(p.StartedAt))
	b.groupKey = append(b.groupKey, groupKey)
	b.durationMs = append(b.durationMs, durationMs(p.Duration))
	b.ok = append(b.ok, p.OK)
	u, isUUID := requestUUID(p.RequestID)
	b.requestUUID = append(b.requestUUID, u)
	if isUUID {
		b.requestID = append(b.requestID, nil)
	} else {
		b.requestID = append(b.requestID, nullIfEmpty(p.RequestID))
	}
	if p.OK {
		b.totalDiff = append(b.totalDiff, &p.TotalDiff)
		b.lastMs = append(b.lastMs, &p.LastTimestampMs)
		b.errCode = append(b.errCode, nil)
		b.errMsg = append(b.errMsg, nil)
	} else {
		b.totalDiff = append(b.totalDiff, nil)
		b.lastMs = append(b.lastMs, nil)
		b.errCode = append(b.errCode, nullIfEmpty(p.ErrorCode))
		b.errMsg = append(b.errMsg, nullIfEmpty(p.ErrorMessage))
	}
	ps := packSamples(sampledAt, p.Topics, keys)
	b.brokerBase = append(b.brokerBase, ps.brokerBase)
	b.topicKeys.add(ps.topicKeys)
	b.topicEnds.add(ps.topicEnds)
	b.partitions.add(ps.partitions)
	b.samples.add(ps.samples)
	b.wideLo = append(b.wideLo, int32(len(b.broker)+1))
	b.broker = append(b.broker, ps.broker...)
	b.consumer = append(b.consumer, ps.consumer...)
	b.lastMsFlat = append(b.lastMsFlat, ps.lastMs...)
	b.wideHi = append(b.wideHi, int32(len(b.broker)))
}

// insert writes the batch and returns the polls it inserted. Empty slices
// of the concatenated arrays are stored as NULL. The same statement queues
// the hours of the successful polls it inserted for RefreshRollups (the
// upsert locks the queue entry, so a refresh either waits for this
// transaction or skips the entry and leaves it queued) and their groups
// for RefreshNow, and records each group's latest poll and latest
// successful poll (the fleet reads the first, the status views judge
// NODATA from the second).
func (b *rawPollBatch) insert(ctx context.Context, q querier) (map[pollKey]bool, error) {
	rows, err := q.Query(ctx, `
WITH ins AS (
INSERT INTO lagtrail.raw_polls (
    sampled_at, started_at, total_diff, last_timestamp_ms, broker_base, group_key,
    duration_ms, ok, request_uuid, request_id, error_code, error_message,
    topic_keys, topic_ends, partitions, samples,
    broker_offsets, consumer_offsets, last_timestamps_ms)
SELECT u.sampled_at, u.started_at, u.total_diff, u.last_ms, u.broker_base, u.group_key,
       u.duration_ms, u.ok, u.request_uuid, u.request_id, u.error_code, u.error_message,
       NULLIF(($13::int[])[u.tk_lo:u.tk_hi], '{}'),
       NULLIF(($14::int[])[u.te_lo:u.te_hi], '{}'),
       NULLIF(($15::int[])[u.pa_lo:u.pa_hi], '{}'),
       NULLIF(($16::int[])[u.sa_lo:u.sa_hi], '{}'),
       NULLIF(($17::bigint[])[u.w_lo:u.w_hi], '{}'),
       NULLIF(($18::bigint[])[u.w_lo:u.w_hi], '{}'),
       NULLIF(($19::bigint[])[u.w_lo:u.w_hi], '{}')
FROM unnest($1::timestamptz[], $2::timestamptz[], $3::bigint[], $4::bigint[], $5::bigint[], $6::int[],
            $7::int[], $8::boolean[], $9::uuid[], $10::text[], $11::text[], $12::text[],
            $20::int[], $21::int[], $22::int[], $23::int[], $24::int[], $25::int[],
            $26::int[], $27::int[], $28::int[], $29::int[])
     AS u(sampled_at, started_at, total_diff, last_ms, broker_base, group_key,
          duration_ms, ok, request_uuid, request_id, error_code, error_message,
          tk_lo, tk_hi, te_lo, te_hi, pa_lo, pa_hi, sa_lo, sa_hi, w_lo, w_hi)
ON CONFLICT (group_key, sampled_at) DO NOTHING
RETURNING group_key, sampled_at, ok, error_code
),
queue AS (
  INSERT INTO lagtrail.rollup_queue (group_key, hour)
  SELECT DISTINCT ins.group_key, date_trunc('hour', ins.sampled_at, 'UTC') FROM ins WHERE ins.ok
  ORDER BY 1, 2
  ON CONFLICT (group_key, hour) DO UPDATE SET queued_at = excluded.queued_at
),
now AS (
  INSERT INTO lagtrail.now_queue (group_key)
  SELECT DISTINCT ins.group_key FROM ins WHERE ins.ok
  ORDER BY 1
  ON CONFLICT (group_key) DO NOTHING
),
last AS (
  INSERT INTO lagtrail.group_last_poll AS l (group_key, last_at, last_ok, last_error, last_ok_at)
  SELECT DISTINCT ON (ins.group_key) ins.group_key, ins.sampled_at, ins.ok, ins.error_code,
         max(ins.sampled_at) FILTER (WHERE ins.ok) OVER (PARTITION BY ins.group_key)
  FROM ins
  ORDER BY ins.group_key, ins.sampled_at DESC
  ON CONFLICT (group_key) DO UPDATE SET
    last_at = greatest(l.last_at, excluded.last_at),
    last_ok = CASE WHEN excluded.last_at > l.last_at THEN excluded.last_ok ELSE l.last_ok END,
    last_error = CASE WHEN excluded.last_at > l.last_at THEN excluded.last_error ELSE l.last_error END,
    last_ok_at = greatest(l.last_ok_at, excluded.last_ok_at)
  WHERE excluded.last_at > l.last_at OR excluded.last_ok_at > l.last_ok_at
     OR (l.last_ok_at IS NULL AND excluded.last_ok_at IS NOT NULL)
)
SELECT group_key, sampled_at FROM ins`,
		b.sampledAt, b.startedAt, b.totalDiff, b.lastMs, b.brokerBase, b.groupKey,
		b.durationMs, b.ok, b.requestUUID, b.requestID, b.errCode, b.errMsg,
		b.topicKeys.values, b.topicEnds.values, b.partitions.values, b.samples.values,
		b.broker, b.consumer, b.lastMsFlat,
		b.topicKeys.lo, b.topicKeys.hi, b.topicEnds.lo, b.topicEnds.hi,
		b.partitions.lo, b.partitions.hi, b.samples.lo, b.samples.hi, b.wideLo, b.wideHi)
	if err != nil {
		return nil, fmt.Errorf("insert polls: %w", err)
	}
	got, err := pgx.CollectRows(rows, pgx.RowToStructByName[storedPoll])
	if err != nil {
		return nil, fmt.Errorf("insert polls: %w", err)
	}
	out := make(map[pollKey]bool, len(got))
	for _, r := range got {
		out[pollKey{r.GroupKey, r.SampledAt.UnixMicro()}] = true
	}
	return out, nil
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
