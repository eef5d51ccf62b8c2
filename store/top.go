package store

import (
	"context"
	"fmt"
	"time"
)

// TopBy is the figure Top ranks groups by.
type TopBy string

// The figures Top ranks by. Each is computed over the window's hourly
// rollups; see TopRow for their exact definitions.
const (
	// TopByLag ranks by TopRow.Lag, largest first.
	TopByLag TopBy = "lag"
	// TopByGrowth ranks by TopRow.Growth, largest first.
	TopByGrowth TopBy = "growth"
	// TopByTimeLag ranks by TopRow.TimeLagMax, largest first, unknown
	// (hidden timestamps) last.
	TopByTimeLag TopBy = "time-lag"
	// TopByETA ranks by TopRow.ETA: groups with lag that is not draining
	// first (largest lag first among them), then the longest time to
	// drain, then groups without lag.
	TopByETA TopBy = "eta"
	// TopByStall ranks by TopRow.Stall, largest first, unknown last.
	TopByStall TopBy = "stall"
)

// TopBys lists the valid TopBy values in the order help texts name them.
var TopBys = []TopBy{TopByLag, TopByGrowth, TopByTimeLag, TopByETA, TopByStall}

// MaxTopLimit is the most groups one Top returns.
const MaxTopLimit = 1000

// TopQuery asks Top for the groups first by one figure over a window.
type TopQuery struct {
	// By is the figure to rank by.
	By TopBy
	// Limit is how many groups to return, 1 to MaxTopLimit.
	Limit int
	// At is the end of the window and Window its length. The rollups are
	// hourly, so the window read is [From(), At): see From.
	At     time.Time
	Window time.Duration
	// Region and Instance narrow the groups ranked; empty matches any.
	Region, Instance string
	// Backlog tells a backlog from messages in flight for the ETA; zero
	// means DefaultBacklog.
	Backlog Backlog
}

// From returns the start of the window Top reads: At - Window, truncated
// to the UTC hour, since the first hour is read whole. At the other end
// the hours that start before At are read; an hour not over by At only if
// it holds no sample at or after At (the current hour, with At now), so
// nothing sampled at or after At is ever read.
func (q TopQuery) From() time.Time {
	return q.At.UTC().Add(-q.Window).Truncate(Hour)
}

func (q TopQuery) validate() error {
	if _, ok := topOrder[q.By]; !ok {
		return fmt.Errorf("%w: unknown ranking %q", ErrInvalidRange, q.By)
	}
	switch {
	case q.Limit < 1 || q.Limit > MaxTopLimit:
		return fmt.Errorf("%w: limit must be 1 to %d, got %d", ErrInvalidRange, MaxTopLimit, q.Limit)
	case q.At.IsZero():
		return fmt.Errorf("%w: no end of the window", ErrInvalidRange)
	case q.Window <= 0:
		return fmt.Errorf("%w: window must be positive, got %s", ErrInvalidRange, q.Window)
	}
	return nil
}

// TopRow is one ranked group and its figures over the window. The counts
// are those of the rollups: rewinds, resets to latest, broker offset
// decreases and gaps are not counted.
type TopRow struct {
	// Rank is the group's place, from 1.
	Rank  int
	Group GroupRef
	// Polls counts the group's polls in the window; FirstAt and LagAt are
	// the first and the last.
	Polls          int
	FirstAt, LagAt time.Time
	// Lag is the group's total lag (the sum over its partitions, each
	// floored at 0) at its last poll in the window: lag_last of its last
	// hourly rollup with polls. LagFirst is the same at its first poll.
	Lag, LagFirst int64
	// Growth is Lag - LagFirst, in messages: negative when the lag went
	// down over the window.
	Growth int64
	// TimeLagMax is the largest time lag of any partition at any poll in
	// the window, in seconds (time_lag_max_ms of the hourly rollups: the
	// poll time minus the produce time of the last consumed message, 0
	// without lag). It is nil when, in some hour of the window, the group
	// had lag and every lagging sample hid its timestamp: the API hides
	// LastTimestamp for that group (HideLastTimestamp, Serverless
	// instances, local-storage topics), so its largest time lag is
	// unknown.
	TimeLagMax *float64
	// Consumed and Produced are the messages counted in the window;
	// ConsumeRate and ProduceRate are sum(consumed)/sum(consumed_s) and
	// sum(produced)/sum(produced_s) over the window's group rollups, in
	// messages per second (nil when nothing was counted).
	Consumed, Produced       *float64
	ConsumeRate, ProduceRate *float64
	// ETA is the seconds to drain Lag at the window's net rate: Lag /
	// (ConsumeRate - ProduceRate). It is 0 when Lag is no backlog (at most
	// 60 seconds of production, the messages in flight of a group that
	// keeps up), and nil when there is a backlog that is not draining (the
	// net rate is not positive or unknown): it is never drained at that
	// rate.
	ETA *float64
	// Stall is the longest any one partition of the group spent, in the
	// window, with lag and no consumer progress, in seconds: per
	// partition, the sum of the rollups' stalled_s over the window's
	// hours (the seconds of consecutive sample pairs whose consumer offset
	// is unchanged while the earlier one has lag), then the largest over
	// the group's partitions. StallTopic and StallPartition name that
	// partition (empty and -1 when none stalled). StalledPartitions counts
	// the partitions with any stalled time. Stall is nil when the window's
	// hours were rolled up before the stall rollups existed and their raw
	// polls are gone.
	Stall             *float64
	StalledPartitions int
	StallTopic        string
	StallPartition    int32
}

// Top ranks every group with a poll in the window by q.By and returns the
// first q.Limit, with all their figures, ties broken by region, instance
// and name. It reads the hourly rollups only (see TopQuery.From for the
// window read), so it answers for polls up to the last rollup refresh. The
// ranking runs in the database; the rows are read for the groups returned
// only, except the stall of every group when ranking by stall.
func (s *Store) Top(ctx context.Context, q TopQuery) ([]TopRow, error) {
	if err := q.validate(); err != nil {
		return nil, fmt.Errorf("top: %w", err)
	}
	rows, err := collectAnalytic[topRow](ctx, s, topSQL(q.By), q.args())
	if err != nil {
		return nil, fmt.Errorf("top: %w", err)
	}
	out := make([]TopRow, len(rows))
	for i, r := range rows {
		out[i] = r.row()
	}
	return out, nil
}

// args returns the parameters of topSQL.
func (q TopQuery) args() []any {
	b := q.Backlog.orDefault()
	return []any{q.From(), q.At.UTC(), q.Region, q.Instance, q.Limit, b.Seconds, b.MinRate}
}

type topRow struct {
	Rank              int       `db:"rank"`
	Region            string    `db:"region"`
	InstanceID        string    `db:"instance_id"`
	ConsumerGroup     string    `db:"consumer_group"`
	Polls             int       `db:"polls"`
	FirstAt           time.Time `db:"first_at"`
	LagAt             time.Time `db:"lag_at"`
	LagFirst          int64     `db:"lag_first"`
	Lag               int64     `db:"lag"`
	Growth            int64     `db:"growth"`
	TimeLag           *float64  `db:"time_lag"`
	Consumed          *float64  `db:"consumed"`
	Produced          *float64  `db:"produced"`
	ConsumeRate       *float64  `db:"c_rate"`
	ProduceRate       *float64  `db:"p_rate"`
	ETA               *float64  `db:"eta"`
	Stall             *float64  `db:"stall"`
	StalledPartitions int       `db:"stalled_partitions"`
	StallTopic        *string   `db:"stall_topic"`
	StallPartition    *int32    `db:"stall_partition"`
}

func (r topRow) row() TopRow {
	out := TopRow{
		Rank:  r.Rank,
		Group: GroupRef{Region: r.Region, InstanceID: r.InstanceID, Group: r.ConsumerGroup},
		Polls: r.Polls, FirstAt: r.FirstAt.UTC(), LagAt: r.LagAt.UTC(),
		Lag: r.Lag, LagFirst: r.LagFirst, Growth: r.Growth,
		TimeLagMax: r.TimeLag, Consumed: r.Consumed, Produced: r.Produced,
		ConsumeRate: r.ConsumeRate, ProduceRate: r.ProduceRate, ETA: r.ETA,
		Stall: r.Stall, StalledPartitions: r.StalledPartitions, StallPartition: -1,
	}
	if r.StallTopic != nil && r.StallPartition != nil {
		out.StallTopic, out.StallPartition = *r.StallTopic, *r.StallPartition
	}
	return out
}
