package store

import (
	"context"
	"fmt"
	"time"
)

// FleetQuery selects the groups Fleet reports on; empty fields match any.
type FleetQuery struct {
	Region, Instance string
}

// FleetRow is one recorded consumer group as it stands now: its status and
// figures at its last successful poll, from the lagtrail.group_status view
// (the rules of `lagtrail query status` over a 15-minute window, and the
// figures of `lagtrail query drain --window 15m`), and its last poll,
// successful or not. A group never polled successfully has Status
// "NODATA" and nil figures.
type FleetRow struct {
	Group GroupRef
	// Status is NODATA, OK, WARN, REWIND, STALL or STOP: the worst of the
	// group's partitions, NODATA when its last successful poll is more
	// than 3 median poll intervals old or there is none.
	Status string
	// Partitions lists the partitions at the worst status, as
	// topic/partition separated by commas, when it is worse than OK.
	Partitions string
	// Reason says why, in words.
	Reason string
	// PartitionCount is the partitions of the last successful poll.
	PartitionCount int
	// LagAt is the time of the last successful poll, which Lag and the
	// other figures describe; nil when there is none.
	LagAt *time.Time
	// Lag is the total lag at LagAt.
	Lag *int64
	// TimeLag is the largest partition time lag at LagAt, in seconds, and
	// TimeLagKind its kind ("sampled", "estimated" or "lower_bound").
	TimeLag     *float64
	TimeLagKind string
	// ConsumeRate and ProduceRate are messages per second over the 15
	// minutes before LagAt; Slope is the least-squares slope of the lag
	// over them, messages per second.
	ConsumeRate, ProduceRate, Slope *float64
	// ETA is Lag / -Slope in seconds when the lag is draining, and nil
	// when it is not.
	ETA *float64
	// LastPollAt is the time of the group's last poll, successful or not,
	// LastPollOK whether it succeeded and LastError its error code.
	LastPollAt time.Time
	LastPollOK bool
	LastError  string
}

type fleetRow struct {
	Region         string     `db:"region"`
	Instance       string     `db:"instance_id"`
	Group          string     `db:"consumer_group"`
	Status         *string    `db:"status"`
	Partitions     *string    `db:"partitions"`
	Reason         *string    `db:"reason"`
	PartitionCount *int32     `db:"partition_count"`
	LagAt          *time.Time `db:"evaluated_at"`
	Lag            *int64     `db:"lag"`
	TimeLag        *float64   `db:"time_lag_s"`
	TimeLagKind    *string    `db:"time_lag_kind"`
	ConsumeRate    *float64   `db:"consume_rate"`
	ProduceRate    *float64   `db:"produce_rate"`
	Slope          *float64   `db:"lag_slope"`
	ETA            *float64   `db:"eta_s"`
	LastPollAt     time.Time  `db:"last_poll_at"`
	LastPollOK     bool       `db:"last_poll_ok"`
	LastError      *string    `db:"last_error"`
}

// fleetSQL reads every recorded group with a poll, its group_status row
// when it has one, and its last poll. $1 and $2 narrow by region and
// instance (” for any).
const fleetSQL = `
SELECT n.region, n.instance_id, n.consumer_group,
       s.status, s.partitions, s.reason, s.partition_count, s.evaluated_at, s.lag,
       s.time_lag_s, s.time_lag_kind, s.consume_rate, s.produce_rate, s.lag_slope, s.eta_s,
       lp.last_at AS last_poll_at, lp.last_ok AS last_poll_ok, lp.last_error AS last_error
FROM lagtrail.group_names n
JOIN lagtrail.group_last_poll lp ON lp.group_key = n.group_key
LEFT JOIN lagtrail.group_status s
       ON s.region = n.region AND s.instance_id = n.instance_id AND s.consumer_group = n.consumer_group
WHERE ($1 = '' OR n.region = $1) AND ($2 = '' OR n.instance_id = $2)
ORDER BY n.region, n.instance_id, n.consumer_group`

// Fleet returns every recorded group that q selects, ordered by region,
// instance and name, with its status and figures now: one statement over
// the group_status view and each group's last poll.
func (s *Store) Fleet(ctx context.Context, q FleetQuery) ([]FleetRow, error) {
	raw, err := collect[fleetRow](ctx, s, fleetSQL, []any{q.Region, q.Instance})
	if err != nil {
		return nil, fmt.Errorf("fleet: %w", err)
	}
	out := make([]FleetRow, len(raw))
	for i, r := range raw {
		f := FleetRow{
			Group:  GroupRef{Region: r.Region, InstanceID: r.Instance, Group: r.Group},
			Status: "NODATA", LagAt: r.LagAt, Lag: r.Lag, TimeLag: r.TimeLag,
			ConsumeRate: r.ConsumeRate, ProduceRate: r.ProduceRate, Slope: r.Slope, ETA: r.ETA,
			LastPollAt: r.LastPollAt.UTC(), LastPollOK: r.LastPollOK,
		}
		if r.Status != nil {
			f.Status = *r.Status
		}
		f.Partitions, f.Reason, f.TimeLagKind, f.LastError = deref(r.Partitions), deref(r.Reason), deref(r.TimeLagKind), deref(r.LastError)
		if r.Status == nil {
			f.Reason = "no successful poll"
		}
		if r.PartitionCount != nil {
			f.PartitionCount = int(*r.PartitionCount)
		}
		if f.LagAt != nil {
			t := f.LagAt.UTC()
			f.LagAt = &t
		}
		out[i] = f
	}
	return out, nil
}

func deref(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}

// PartitionNow is one partition of a group's last successful poll, from the
// lagtrail.partition_status view.
type PartitionNow struct {
	Group     GroupRef
	Topic     string
	Partition int32
	// At is the time of the group's last successful poll.
	At time.Time
	// Status is the partition's status there, NODATA when that poll is
	// more than 3 median poll intervals old; Severity is its number
	// (0 NODATA to 5 STOP).
	Status   string
	Severity int
	// Lag, BrokerOffset and ConsumerOffset are the poll's figures.
	Lag, BrokerOffset, ConsumerOffset int64
	// TimeLag is the partition's time lag in seconds, nil when unknown.
	TimeLag *float64
}

type partitionNowRow struct {
	Region         string    `db:"region"`
	Instance       string    `db:"instance_id"`
	Group          string    `db:"consumer_group"`
	Topic          string    `db:"topic"`
	Partition      int32     `db:"partition"`
	At             time.Time `db:"evaluated_at"`
	Status         string    `db:"status"`
	Severity       int32     `db:"severity"`
	Lag            int64     `db:"lag"`
	BrokerOffset   int64     `db:"broker_offset"`
	ConsumerOffset int64     `db:"consumer_offset"`
	TimeLag        *float64  `db:"time_lag_s"`
}

// PartitionsNow returns every partition of every group's last successful
// poll with its status, offsets, lag and time lag: one statement over the
// partition_status view, in no particular order: sorting 80,000
// partitions by name took 150 of the 330 ms the read took at 10,000
// groups, for /metrics, whose registry sorts what it serves anyway.
func (s *Store) PartitionsNow(ctx context.Context) ([]PartitionNow, error) {
	raw, err := collect[partitionNowRow](ctx, s, `
SELECT region, instance_id, consumer_group, topic, partition, evaluated_at, status, severity,
       lag, broker_offset, consumer_offset, time_lag_s
FROM lagtrail.partition_status`, nil)
	if err != nil {
		return nil, fmt.Errorf("partitions now: %w", err)
	}
	out := make([]PartitionNow, len(raw))
	for i, r := range raw {
		out[i] = PartitionNow{
			Group: GroupRef{Region: r.Region, InstanceID: r.Instance, Group: r.Group}, Topic: r.Topic, Partition: r.Partition,
			At: r.At.UTC(), Status: r.Status, Severity: int(r.Severity),
			Lag: r.Lag, BrokerOffset: r.BrokerOffset, ConsumerOffset: r.ConsumerOffset, TimeLag: r.TimeLag,
		}
	}
	return out, nil
}
