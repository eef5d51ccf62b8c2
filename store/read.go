package store

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
)

// Range selects what a read returns. Empty strings and a nil Partition match
// anything. Times select the half-open interval [From, To); a zero From has
// no lower bound and a zero To no upper bound. Name filters are exact
// matches.
type Range struct {
	// Region, InstanceID, Group and Topic select by name; empty matches any.
	Region     string
	InstanceID string
	Group      string
	Topic      string
	// Partition selects one partition; nil matches any.
	Partition *int32
	// From and To bound the time, half-open: [From, To). A zero To has no
	// upper bound.
	From time.Time
	To   time.Time
}

// validate returns an error wrapping ErrInvalidRange for a range the reads
// refuse.
func (r Range) validate() error {
	if !r.To.IsZero() && r.From.After(r.To) {
		return fmt.Errorf("%w: from %s is after to %s", ErrInvalidRange,
			r.From.UTC().Format(time.RFC3339Nano), r.To.UTC().Format(time.RFC3339Nano))
	}
	if r.Partition != nil && *r.Partition < 0 {
		return fmt.Errorf("%w: negative partition %d", ErrInvalidRange, *r.Partition)
	}
	return nil
}

// PartitionSample is one row of lagtrail.partition_offsets: what one poll saw
// of one partition.
type PartitionSample struct {
	// SampledAt is the poll's SampledAt, in UTC.
	SampledAt time.Time
	Group     GroupRef
	Topic     string
	Partition int32
	// BrokerOffset is the log end offset of the partition.
	BrokerOffset int64
	// ConsumerOffset is the group's committed offset.
	ConsumerOffset int64
	// Lag is BrokerOffset - ConsumerOffset, floored at 0.
	Lag int64
	// LastConsumedAt is the produce time of the last consumed message, nil
	// when the API hid it.
	LastConsumedAt *time.Time
}

// PollRecord is one row of lagtrail.polls: one GetConsumerProgress attempt.
type PollRecord struct {
	// StartedAt is when the request was sent, in UTC.
	StartedAt time.Time
	Group     GroupRef
	OK        bool
	// ErrorCode and ErrorMessage describe a failed attempt; empty when OK.
	ErrorCode    string
	ErrorMessage string
	DurationMs   int64
	// RequestID is the API's request id, empty when none was returned.
	RequestID string
	// SampledAt identifies the poll (with Group), in UTC.
	SampledAt time.Time
	// TotalDiff is the group's total lag as the API reported it; nil for a
	// failed attempt.
	TotalDiff *int64
	// LastConsumedAt is the group-level last consumed time; nil for a failed
	// attempt or when the API hid it.
	LastConsumedAt *time.Time
	// PartitionCount is how many partition samples the poll stored.
	PartitionCount int
}

// RebalanceRecord is one row of lagtrail.rebalances: one rebalance
// generation of a group.
type RebalanceRecord struct {
	Group      GroupRef
	Generation int64
	// RebalancedAt is when the rebalance happened, in UTC; nil when the API
	// gave no time.
	RebalancedAt *time.Time
	DurationMs   int64
	Success      bool
	Reason       string
	// ReportedGroup is the GroupId the API put in the entry.
	ReportedGroup string
	// FirstSeenAt is the SampledAt of the first poll that reported the
	// rebalance, in UTC.
	FirstSeenAt time.Time
}

// ReadPartitionOffsets returns the partition samples in r, ordered by group
// (region, instance, group name), topic, partition and sampled_at. The time
// bounds apply to sampled_at.
func (s *Store) ReadPartitionOffsets(ctx context.Context, r Range) ([]PartitionSample, error) {
	if err := r.validate(); err != nil {
		return nil, fmt.Errorf("read partition offsets: %w", err)
	}
	q, args := partitionOffsetsQuery(r)
	rows, err := collect[partitionRow](ctx, s, q, args)
	if err != nil {
		return nil, fmt.Errorf("read partition offsets: %w", err)
	}
	out := make([]PartitionSample, len(rows))
	for i, row := range rows {
		out[i] = PartitionSample{
			SampledAt:      row.SampledAt.UTC(),
			Group:          GroupRef{Region: row.Region, InstanceID: row.InstanceID, Group: row.ConsumerGroup},
			Topic:          row.Topic,
			Partition:      row.Partition,
			BrokerOffset:   row.BrokerOffset,
			ConsumerOffset: row.ConsumerOffset,
			Lag:            row.Lag,
			LastConsumedAt: utcPtr(row.LastConsumedAt),
		}
	}
	return out, nil
}

// ReadPolls returns the poll attempts in r, ordered by group and sampled_at.
// The time bounds apply to sampled_at; Topic and Partition do not apply to
// polls and are ignored.
func (s *Store) ReadPolls(ctx context.Context, r Range) ([]PollRecord, error) {
	if err := r.validate(); err != nil {
		return nil, fmt.Errorf("read polls: %w", err)
	}
	q, args := pollsQuery(r)
	rows, err := collect[pollRecordRow](ctx, s, q, args)
	if err != nil {
		return nil, fmt.Errorf("read polls: %w", err)
	}
	out := make([]PollRecord, len(rows))
	for i, row := range rows {
		out[i] = PollRecord{
			StartedAt:      row.StartedAt.UTC(),
			Group:          GroupRef{Region: row.Region, InstanceID: row.InstanceID, Group: row.ConsumerGroup},
			OK:             row.OK,
			ErrorCode:      row.ErrorCode,
			ErrorMessage:   row.ErrorMessage,
			DurationMs:     row.DurationMs,
			RequestID:      row.RequestID,
			SampledAt:      row.SampledAt.UTC(),
			TotalDiff:      row.TotalDiff,
			LastConsumedAt: utcPtr(row.LastConsumedAt),
			PartitionCount: row.PartitionCount,
		}
	}
	return out, nil
}

// ReadRebalances returns the rebalances in r, ordered by group and
// generation. The time bounds apply to first_seen_at (the recorder's clock,
// always set, unlike the API's rebalance time); Topic and Partition do not
// apply to rebalances and are ignored.
func (s *Store) ReadRebalances(ctx context.Context, r Range) ([]RebalanceRecord, error) {
	if err := r.validate(); err != nil {
		return nil, fmt.Errorf("read rebalances: %w", err)
	}
	q, args := rebalancesQuery(r)
	rows, err := collect[rebalanceRow](ctx, s, q, args)
	if err != nil {
		return nil, fmt.Errorf("read rebalances: %w", err)
	}
	out := make([]RebalanceRecord, len(rows))
	for i, row := range rows {
		out[i] = RebalanceRecord{
			Group:         GroupRef{Region: row.Region, InstanceID: row.InstanceID, Group: row.ConsumerGroup},
			Generation:    row.Generation,
			RebalancedAt:  utcPtr(row.RebalancedAt),
			DurationMs:    row.DurationMs,
			Success:       row.Success,
			Reason:        row.Reason,
			ReportedGroup: row.ReportedGroup,
			FirstSeenAt:   row.FirstSeenAt.UTC(),
		}
	}
	return out, nil
}

// Groups returns every consumer group in the dictionary, ordered by region,
// instance and name, whether or not it has polls.
func (s *Store) Groups(ctx context.Context) ([]GroupRef, error) {
	rows, err := collect[groupRow](ctx, s, `
SELECT r.name AS region, i.instance_id, g.name AS consumer_group
FROM lagtrail.consumer_groups g
JOIN lagtrail.instances i ON i.instance_key = g.instance_key
JOIN lagtrail.regions r ON r.region_key = i.region_key
ORDER BY r.name, i.instance_id, g.name`, nil)
	if err != nil {
		return nil, fmt.Errorf("read groups: %w", err)
	}
	out := make([]GroupRef, len(rows))
	for i, row := range rows {
		out[i] = GroupRef{Region: row.Region, InstanceID: row.InstanceID, Group: row.ConsumerGroup}
	}
	return out, nil
}

// partitionOffsetsQuery returns the SQL and arguments of ReadPartitionOffsets.
func partitionOffsetsQuery(r Range) (string, []any) {
	var f filter
	f.groupFilters(r)
	f.eq("topic", r.Topic)
	if r.Partition != nil {
		f.add("partition = $%d", *r.Partition)
	}
	f.timeFilters("sampled_at", r)
	q := `
SELECT sampled_at, region, instance_id, consumer_group, topic, partition,
       broker_offset, consumer_offset, lag, last_consumed_at
FROM lagtrail.partition_offsets` + f.where() + `
ORDER BY region, instance_id, consumer_group, topic, partition, sampled_at`
	return q, f.args
}

// pollsQuery returns the SQL and arguments of ReadPolls.
func pollsQuery(r Range) (string, []any) {
	var f filter
	f.groupFilters(r)
	f.timeFilters("sampled_at", r)
	q := `
SELECT started_at, region, instance_id, consumer_group, ok,
       coalesce(error_code, '') AS error_code,
       coalesce(error_message, '') AS error_message,
       duration_ms, coalesce(request_id, '') AS request_id, sampled_at,
       total_diff, last_consumed_at, partition_count
FROM lagtrail.polls` + f.where() + `
ORDER BY region, instance_id, consumer_group, sampled_at`
	return q, f.args
}

// rebalancesQuery returns the SQL and arguments of ReadRebalances.
func rebalancesQuery(r Range) (string, []any) {
	var f filter
	f.groupFilters(r)
	f.timeFilters("first_seen_at", r)
	q := `
SELECT region, instance_id, consumer_group, generation, rebalanced_at,
       coalesce(duration_ms, 0) AS duration_ms,
       coalesce(success, false) AS success,
       coalesce(reason, '') AS reason,
       coalesce(reported_group, '') AS reported_group,
       first_seen_at
FROM lagtrail.rebalances` + f.where() + `
ORDER BY region, instance_id, consumer_group, generation`
	return q, f.args
}

// Row types scanned with pgx.RowToStructByName; their db tags are the view
// columns.
type (
	groupRow struct {
		Region        string `db:"region"`
		InstanceID    string `db:"instance_id"`
		ConsumerGroup string `db:"consumer_group"`
	}
	partitionRow struct {
		SampledAt      time.Time  `db:"sampled_at"`
		Region         string     `db:"region"`
		InstanceID     string     `db:"instance_id"`
		ConsumerGroup  string     `db:"consumer_group"`
		Topic          string     `db:"topic"`
		Partition      int32      `db:"partition"`
		BrokerOffset   int64      `db:"broker_offset"`
		ConsumerOffset int64      `db:"consumer_offset"`
		Lag            int64      `db:"lag"`
		LastConsumedAt *time.Time `db:"last_consumed_at"`
	}
	pollRecordRow struct {
		StartedAt      time.Time  `db:"started_at"`
		Region         string     `db:"region"`
		InstanceID     string     `db:"instance_id"`
		ConsumerGroup  string     `db:"consumer_group"`
		OK             bool       `db:"ok"`
		ErrorCode      string     `db:"error_code"`
		ErrorMessage   string     `db:"error_message"`
		DurationMs     int64      `db:"duration_ms"`
		RequestID      string     `db:"request_id"`
		SampledAt      time.Time  `db:"sampled_at"`
		TotalDiff      *int64     `db:"total_diff"`
		LastConsumedAt *time.Time `db:"last_consumed_at"`
		PartitionCount int        `db:"partition_count"`
	}
	rebalanceRow struct {
		Region        string     `db:"region"`
		InstanceID    string     `db:"instance_id"`
		ConsumerGroup string     `db:"consumer_group"`
		Generation    int64      `db:"generation"`
		RebalancedAt  *time.Time `db:"rebalanced_at"`
		DurationMs    int64      `db:"duration_ms"`
		Success       bool       `db:"success"`
		Reason        string     `db:"reason"`
		ReportedGroup string     `db:"reported_group"`
		FirstSeenAt   time.Time  `db:"first_seen_at"`
	}
)

// collect runs a query and scans every row into a T by column name.
func collect[T any](ctx context.Context, s *Store, q string, args []any) ([]T, error) {
	rows, err := s.pool.Query(ctx, q, args...)
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, pgx.RowToStructByName[T])
}

// filter builds a parameterised WHERE clause from the filters that are set,
// so the planner sees plain equalities and ranges it can push into the views
// and match to indexes and partitions. Column names are constants of this
// file; values always travel as parameters.
type filter struct {
	conds []string
	args  []any
}

// add appends a condition whose %d is the placeholder number of v.
func (f *filter) add(cond string, v any) {
	f.args = append(f.args, v)
	f.conds = append(f.conds, fmt.Sprintf(cond, len(f.args)))
}

// eq adds col = v unless v is empty.
func (f *filter) eq(col, v string) {
	if v != "" {
		f.add(col+" = $%d", v)
	}
}

func (f *filter) groupFilters(r Range) {
	f.eq("region", r.Region)
	f.eq("instance_id", r.InstanceID)
	f.eq("consumer_group", r.Group)
}

func (f *filter) timeFilters(col string, r Range) {
	if !r.From.IsZero() {
		f.add(col+" >= $%d", r.From)
	}
	if !r.To.IsZero() {
		f.add(col+" < $%d", r.To)
	}
}

func (f *filter) where() string {
	if len(f.conds) == 0 {
		return ""
	}
	return "\nWHERE " + strings.Join(f.conds, "\n  AND ")
}

func utcPtr(t *time.Time) *time.Time {
	if t == nil {
		return nil
	}
	u := t.UTC()
	return &u
}
