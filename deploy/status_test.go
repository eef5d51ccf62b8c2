package deploy

import (
	"fmt"
	"math"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/lagtrail/lagtrail/internal/pgtest"
	"github.com/lagtrail/lagtrail/query"
	"github.com/lagtrail/lagtrail/store"
)

// statusWindow is the window of the status views (migration 000005).
const statusWindow = query.DefaultStatusWindow

// statusCase is a group whose last polls make it end in a known state.
type statusCase struct {
	group string
	// consumer returns partition p's consumer offset at round i, given its
	// broker offset.
	consumer func(i, p int, broker int64) int64
	// broker, when set, replaces statusBroker for this group.
	broker func(i, p int) int64
	// hidden makes the API hide the last consumed message's timestamp.
	hidden bool
	// rounds is how many rounds the group is polled; 0 means all.
	rounds int
	// want is the group's status at its last poll.
	want query.Status
}

const (
	statusRounds     = 120
	statusPartitions = 3
)

// statusBroker is partition p's broker offset at round i: 100 to 120
// messages a minute.
func statusBroker(i, p int) int64 { return 1_000_000 + int64(100+10*p)*int64(i) }

var statusCases = []statusCase{
	{group: "ok", want: query.StatusOK,
		consumer: func(_, _ int, b int64) int64 { return b }},
	{group: "stop", want: query.StatusStop, // no progress for the last 29 minutes
		consumer: func(i, p int, _ int64) int64 { return statusBroker(min(i, 90), p) - 50 }},
	{group: "stall", want: query.StatusStall, // the same offset at the last 3 polls
		consumer: func(i, p int, _ int64) int64 { return statusBroker(min(i, 117), p) - 50 }},
	{group: "rewind", want: query.StatusRewind, // partition 0 goes back 5000 messages; the others WARN
		consumer: func(i, p int, b int64) int64 {
			if p == 0 && i >= 112 {
				return b - 5200
			}
			return b - 200
		}},
	{group: "warn", want: query.StatusWarn, // the lag grows 10 messages a minute
		consumer: func(i, _ int, b int64) int64 { return b - 500 - 10*int64(i) }},
	{group: "hidden", want: query.StatusWarn, hidden: true, // time lag estimated; partition 2 has none
		consumer: func(i, p int, b int64) int64 {
			if p == 2 {
				return b
			}
			return b - 500 - 10*int64(i)
		}},
	{group: "drain", want: query.StatusOK, // the lag drains 50 messages a minute
		consumer: func(i, _ int, b int64) int64 { return b - 20_000 + 50*int64(i) }},
	{group: "behind", want: query.StatusWarn, hidden: true, // behind by more than the history: a lower bound
		consumer: func(_, _ int, b int64) int64 { return b - 500_000 + 1 }},
	{group: "stall-after-caught-up", want: query.StatusStall, // caught up until 5 polls ago, then no progress
		consumer: func(i, p int, b int64) int64 { return statusBroker(min(i, statusRounds-6), p) }},
	{group: "stop-early", want: query.StatusStop, // no progress for 8 minutes, longer than the window saw it progress
		consumer: func(i, p int, _ int64) int64 { return statusBroker(min(i, statusRounds-9), p) - 50 }},
	{group: "idle", want: query.StatusOK, // caught up and idle for two hours, then one message at the last poll
		broker: func(i, _ int) int64 {
			if i == statusRounds-1 {
				return 5001
			}
			return 5000
		},
		consumer: func(_, _ int, _ int64) int64 { return 5000 }},
	{group: "gone", want: query.StatusWarn, rounds: 60, // not polled for an hour: NODATA now
		consumer: func(i, _ int, b int64) int64 { return b - 500 - 10*int64(i) }},
}

// statusRow is a row of partition_status or group_status.
type statusRow struct {
	Topic          string
	Partition      int32
	Status         string
	Severity       int
	LastStatus     string
	Partitions     *string
	Lag            int64
	TimeLag        *float64
	TimeLagKind    *string
	ConsumeRate    *float64
	ProduceRate    *float64
	LagSlope       *float64
	ETA            *float64
	EvaluatedAt    time.Time
	UnchangedSince time.Time
}

// TestStatusViews checks partition_status and group_status (migration
// 000005) against lagtrail query's own code on groups that end in every
// status: query.Evaluate on store.PartitionStates for the status,
// store.Buckets over the 15-minute window (as lagtrail query drain reads
// it) for the lag, time lag, slope, drain time and rates.
func TestStatusViews(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	pool, url := pgtest.Pool(t)
	st, err := store.Open(ctx, store.Config{DatabaseURL: url}, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(st.Close) // after the parallel subtests

	last := time.Now().UTC().Truncate(time.Minute)
	t0 := last.Add(-(statusRounds - 1) * time.Minute)
	var polls []*store.Poll
	for _, c := range statusCases {
		rounds := statusRounds
		if c.rounds > 0 {
			rounds = c.rounds
		}
		for i := range rounds {
			at := t0.Add(time.Duration(i) * time.Minute)
			ts := store.TopicSample{Topic: "t-" + c.group}
			for p := range statusPartitions {
				b := statusBroker(i, p)
				if c.broker != nil {
					b = c.broker(i, p)
				}
				co := c.consumer(i, p, b)
				lt := int64(-1)
				if !c.hidden {
					lt = at.UnixMilli() - 1500 - (b-co)*600
				}
				ts.Partitions = append(ts.Partitions, store.PartitionOffsets{Partition: int32(p), BrokerOffset: b, ConsumerOffset: co, LastTimestampMs: lt})
			}
			polls = append(polls, &store.Poll{
				Group:     store.GroupRef{Region: "cn-hangzhou", InstanceID: "alikafka-status", Group: c.group},
				StartedAt: at.Add(-time.Second), SampledAt: at, Duration: time.Second, OK: true, LastTimestampMs: -1,
				Topics: []store.TopicSample{ts},
			})
		}
	}
	if _, err := st.WritePolls(ctx, polls); err != nil {
		t.Fatal(err)
	}

	for _, c := range statusCases {
		t.Run(c.group, func(t *testing.T) {
			t.Parallel()
			g := store.GroupRef{Region: "cn-hangzhou", InstanceID: "alikafka-status", Group: c.group}
			var parts []statusRow
			var grp statusRow
			err := asReader(ctx, pool, func(tx pgx.Tx) error {
				rows, err := tx.Query(ctx, `
SELECT topic, partition, status, severity, last_status, NULL::text, lag, time_lag_s, time_lag_kind,
       consume_rate, produce_rate, lag_slope, eta_s, evaluated_at, unchanged_since
FROM lagtrail.partition_status WHERE consumer_group = $1 ORDER BY topic, partition`, c.group)
				if err != nil {
					return err
				}
				if parts, err = pgx.CollectRows(rows, pgx.RowToStructByPos[statusRow]); err != nil {
					return err
				}
				return tx.QueryRow(ctx, `
SELECT '', 0, status, severity, last_status, partitions, lag, time_lag_s, time_lag_kind,
       consume_rate, produce_rate, lag_slope, eta_s, evaluated_at, evaluated_at
FROM lagtrail.group_status WHERE consumer_group = $1`, c.group).Scan(
					&grp.Topic, &grp.Partition, &grp.Status, &grp.Severity, &grp.LastStatus, &grp.Partitions, &grp.Lag,
					&grp.TimeLag, &grp.TimeLagKind, &grp.ConsumeRate, &grp.ProduceRate, &grp.LagSlope, &grp.ETA,
					&grp.EvaluatedAt, &grp.UnchangedSince)
			})
			if err != nil {
				t.Fatalf("read the views as lagtrail_reader: %v", err)
			}
			if len(parts) != statusPartitions {
				t.Fatalf("partition_status has %d rows, want %d", len(parts), statusPartitions)
			}
			at := grp.EvaluatedAt
			rounds := statusRounds
			if c.rounds > 0 {
				rounds = c.rounds
			}
			if want := t0.Add(time.Duration(rounds-1) * time.Minute); !at.Equal(want) {
				t.Fatalf("evaluated_at %s, want the last poll %s", at, want)
			}

			// The status, by query.Evaluate on the states lagtrail query
			// status reads at that poll.
			states, err := st.PartitionStates(ctx, store.AggregateQuery{
				Groups: []store.GroupRef{g}, By: store.LevelPartition,
				Edges:    []time.Time{at.Add(-time.Hour), at.Add(time.Microsecond)},
				Lookback: query.DefaultLookback, Window: statusWindow,
			})
			if err != nil {
				t.Fatal(err)
			}
			worst := query.StatusNoData
			var worstParts []string
			for _, s := range states {
				if s.Bucket != 0 {
					continue
				}
				status, why := query.Evaluate(s, query.Rules{Window: statusWindow})
				ref := fmt.Sprintf("%s/%d", s.Topic, s.Partition)
				switch {
				case status > worst:
					worst, worstParts = status, []string{ref}
				case status == worst:
					worstParts = append(worstParts, ref)
				}
				i := slices.IndexFunc(parts, func(r statusRow) bool { return r.Topic == s.Topic && r.Partition == s.Partition })
				if i < 0 {
					t.Errorf("%s: not in partition_status", ref)
					continue
				}
				if r := parts[i]; r.LastStatus != status.String() || (!r.UnchangedSince.Equal(s.UnchangedSince) && !s.SinceIsLowerBound) {
					t.Errorf("%s: last_status %s, unchanged since %s; query.Evaluate: %s (%s), unchanged since %s",
						ref, r.LastStatus, r.UnchangedSince, status, why, s.UnchangedSince)
				}
			}
			if worst != c.want {
				t.Fatalf("query.Evaluate gives %s, the case wants %s: the test data is wrong", worst, c.want)
			}
			wantPartitions := ""
			if worst > query.StatusOK {
				wantPartitions = strings.Join(worstParts, ",")
			}
			gotPartitions := ""
			if grp.Partitions != nil {
				gotPartitions = *grp.Partitions
			}
			if grp.LastStatus != worst.String() || gotPartitions != wantPartitions {
				t.Errorf("group_status: last_status %s, partitions %q; want %s, %q", grp.LastStatus, gotPartitions, worst, wantPartitions)
			}
			// NODATA is decided against now(): the group polled until the
			// end is current, the other not.
			wantStatus, wantSeverity := worst.String(), int(worst)
			if c.rounds > 0 {
				wantStatus, wantSeverity = query.StatusNoData.String(), int(query.StatusNoData)
			}
			if grp.Status != wantStatus || grp.Severity != wantSeverity {
				t.Errorf("group_status: status %s, severity %d; want %s, %d", grp.Status, grp.Severity, wantStatus, wantSeverity)
			}

			// Lag, time lag, slope, drain time and rates, as lagtrail query
			// drain reads them over the window ending at the last poll.
			window := []time.Time{at.Add(-statusWindow), at.Add(time.Microsecond)}
			for _, level := range []store.Level{store.LevelPartition, store.LevelGroup} {
				aggs, err := st.Buckets(ctx, store.AggregateQuery{
					Groups: []store.GroupRef{g}, By: level, Edges: window, Lookback: query.DefaultLookback,
				})
				if err != nil {
					t.Fatal(err)
				}
				for _, a := range aggs {
					r := grp
					name := "group"
					if level == store.LevelPartition {
						i := slices.IndexFunc(parts, func(r statusRow) bool { return r.Topic == a.Topic && r.Partition == a.Partition })
						if i < 0 {
							t.Errorf("%s/%d: not in partition_status", a.Topic, a.Partition)
							continue
						}
						r, name = parts[i], fmt.Sprintf("%s/%d", a.Topic, a.Partition)
					}
					compareDrain(t, name, r, a)
				}
			}
		})
	}
}

// compareDrain compares a view row with what store.Buckets gives over the
// window: exactly, to rounding, for the test's polls a minute apart.
func compareDrain(t *testing.T, name string, r statusRow, a store.BucketAggregate) {
	t.Helper()
	if a.Lag == nil || r.Lag != *a.Lag {
		t.Errorf("%s: lag %d, store %v", name, r.Lag, a.Lag)
	}
	kind := a.TimeLagKind.String()
	if r.TimeLagKind == nil || *r.TimeLagKind != kind {
		t.Errorf("%s: time lag kind %v, store %s", name, r.TimeLagKind, kind)
	} else if kind != store.TimeLagLowerBound.String() && !near(r.TimeLag, a.TimeLag) {
		// A lower bound depends on how far back each reads.
		t.Errorf("%s: time lag %v, store %v", name, deref(r.TimeLag), deref(a.TimeLag))
	}
	if !near(r.LagSlope, a.LagSlope) {
		t.Errorf("%s: lag slope %v, store %v", name, deref(r.LagSlope), deref(a.LagSlope))
	}
	// The ETA of lagtrail query drain, with its backlog rule: 0 when the
	// lag is no backlog.
	var eta *float64
	if d := query.DrainFrom(a, r.EvaluatedAt, statusWindow, 0); d.ETA != nil {
		s := d.ETA.Seconds()
		eta = &s
	}
	if !near(r.ETA, eta) {
		t.Errorf("%s: drain ETA %v s, query drain %v s", name, deref(r.ETA), deref(eta))
	}
	if !near(r.ConsumeRate, a.ConsumeRate) || !near(r.ProduceRate, a.ProduceRate) {
		t.Errorf("%s: rates %v consumed/s, %v produced/s; store %v, %v", name,
			deref(r.ConsumeRate), deref(r.ProduceRate), deref(a.ConsumeRate), deref(a.ProduceRate))
	}
}

// near reports whether a and b are both nil, or equal to a relative 1e-6
// (DrainETA rounds to nanoseconds).
func near(a, b *float64) bool {
	if a == nil || b == nil {
		return a == nil && b == nil
	}
	return math.Abs(*a-*b) <= 1e-6*max(1, math.Abs(*b))
}

// deref shows a *float64 in messages.
func deref(p *float64) any {
	if p == nil {
		return "NULL"
	}
	return *p
}
