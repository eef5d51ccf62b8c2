package deploy

import (
	"fmt"
	"math"
	"math/rand/v2"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/lagtrail/lagtrail/internal/pgtest"
	"github.com/lagtrail/lagtrail/internal/randhist"
	"github.com/lagtrail/lagtrail/query"
	"github.com/lagtrail/lagtrail/store"
)

// TestStatusViewMatchesEvaluateOnRandomHistories writes random histories
// (idle partitions that get a message now and then, steady consumers,
// stalls, rewinds, resets, broker offsets going back, gaps, consumers
// catching up or falling behind) of under an hour, so that the view's hour read holds all of
// them, and checks that partition_status's last_status is what
// query.Evaluate says at each group's last poll, partition by partition.
// It also checks that the histories reach every status, so that the
// agreement is not over OK alone. A third of the groups have an allowed lag
// from a status rule, which both must apply. And it checks the eta_s of
// partition_status and group_status against store.DefaultBacklog, the
// backlog rule of query drain and query fleet, over the views' own lag,
// production rate and slope.
func TestStatusViewMatchesEvaluateOnRandomHistories(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	pool, url := pgtest.Pool(t)
	st, err := store.Open(ctx, store.Config{DatabaseURL: url}, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(st.Close)

	rng := rand.New(rand.NewPCG(17, 5))
	first := time.Now().UTC().Truncate(time.Minute).Add(-2 * time.Hour)
	const groups, partitions = 60, 3
	var polls []*store.Poll
	for gi := range groups {
		g := store.GroupRef{Region: "cn-hangzhou", InstanceID: "alikafka-random", Group: fmt.Sprintf("random-%02d", gi)}
		// How the group behaves: idle, steady, troubled, falling behind.
		polls = append(polls, randhist.Polls(rng, g, randhist.Kinds[gi%4], first.Add(time.Duration(gi)*time.Second), randhist.Config{Partitions: partitions, MaxPolls: 55, MaxGap: 3 * time.Minute})...)
	}
	// Four more groups are polled every second, as a recorder with a 1 s
	// interval does, and their consumers commit every 5 s, Kafka's default
	// auto-commit interval. Those of the first two never stop: they must
	// not be STALL between commits. Those of the last two stop committing
	// for their last 18 polls: they must be STALL.
	const bunched = 4
	bunchedWant := map[string]query.Status{}
	for gi := groups; gi < groups+bunched; gi++ {
		g := store.GroupRef{Region: "cn-hangzhou", InstanceID: "alikafka-random", Group: fmt.Sprintf("random-%02d", gi)}
		stops := gi >= groups+2
		bunchedWant[g.Group] = query.StatusOK
		if stops {
			bunchedWant[g.Group] = query.StatusStall
		}
		b, c := int64(50_000), int64(49_990)
		at := time.Now().UTC().Add(-30 * time.Minute).Add(time.Duration(gi) * time.Second)
		for i := range 88 { // the last poll is 3 s after a commit
			at = at.Add(time.Second + time.Duration(rng.IntN(100)-50)*time.Millisecond)
			b += int64(8 + rng.IntN(5))
			if i%5 == 4 && !(stops && i >= 70) {
				c = b - 3
			}
			ts := store.TopicSample{Topic: "t"}
			for p := range partitions {
				ts.Partitions = append(ts.Partitions, store.PartitionOffsets{Partition: int32(p), BrokerOffset: b + int64(p), ConsumerOffset: c, LastTimestampMs: -1})
			}
			polls = append(polls, &store.Poll{Group: g, StartedAt: at.Add(-100 * time.Millisecond), SampledAt: at, Duration: 100 * time.Millisecond, OK: true, LastTimestampMs: -1, Topics: []store.TopicSample{ts}})
		}
	}
	if _, err := st.WritePolls(ctx, polls); err != nil {
		t.Fatal(err)
	}
	var rules []store.StatusRule
	for gi := 0; gi < groups; gi += 3 {
		rules = append(rules, store.StatusRule{Region: "cn-hangzhou", Instance: "alikafka-random", Group: fmt.Sprintf("random-%02d", gi), AllowedLag: int64(100 + 20*gi)})
	}
	if err := st.SetStatusRules(ctx, rules); err != nil {
		t.Fatal(err)
	}

	type key struct {
		group string
		part  int32
	}
	view := map[key]string{}
	evaluatedAt := map[string]time.Time{}
	withinAllowed := 0
	etas := 0
	err = asReader(ctx, pool, func(tx pgx.Tx) error {
		rows, err := tx.Query(ctx, `SELECT consumer_group, partition, last_status, evaluated_at, reason, lag, produce_rate, lag_slope, eta_s FROM lagtrail.partition_status WHERE instance_id = 'alikafka-random'
UNION ALL SELECT consumer_group, -1, last_status, evaluated_at, reason, lag, produce_rate, lag_slope, eta_s FROM lagtrail.group_status WHERE instance_id = 'alikafka-random'`)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			var g, s, reason string // reason says "no poll since" on this old history
			var p int32
			var at time.Time
			var lag int64
			var produce, slope, eta *float64
			if err := rows.Scan(&g, &p, &s, &at, &reason, &lag, &produce, &slope, &eta); err != nil {
				return err
			}
			if want := backlogETA(lag, produce, slope); !sameSeconds(eta, want) {
				t.Errorf("%s/%d: eta_s %v, want %v by the backlog rule (lag %d, produce %v/s, slope %v/s)", g, p, show(eta), show(want), lag, show(produce), show(slope))
			}
			if eta != nil && *eta > 0 {
				etas++
			}
			if p < 0 {
				continue
			}
			view[key{g, p}], evaluatedAt[g] = s, at
		}
		return rows.Err()
	})
	if err != nil {
		t.Fatal(err)
	}
	if etas == 0 {
		t.Error("no row has a positive ETA: the histories do not test the drain ETA")
	}
	if len(view) != (groups+bunched)*partitions {
		t.Fatalf("partition_status has %d rows, want %d", len(view), (groups+bunched)*partitions)
	}
	seen := map[query.Status]int{}
	for gi := range groups + bunched {
		name := fmt.Sprintf("random-%02d", gi)
		at := evaluatedAt[name]
		states, err := st.PartitionStates(ctx, store.AggregateQuery{
			Groups: []store.GroupRef{{Region: "cn-hangzhou", InstanceID: "alikafka-random", Group: name}}, By: store.LevelPartition,
			Edges: []time.Time{at.Add(-time.Minute), at.Add(time.Microsecond)}, Lookback: time.Hour, Window: statusWindow,
		})
		if err != nil {
			t.Fatal(err)
		}
		for _, s := range states {
			if s.Bucket != 0 {
				continue
			}
			status, why := query.Evaluate(s, query.Rules{Window: statusWindow})
			seen[status]++
			if strings.Contains(why, "within the allowed") {
				withinAllowed++
			}
			if got := view[key{name, s.Partition}]; got != status.String() {
				t.Errorf("%s/%d at %s: view %s, query.Evaluate %s (%s)", name, s.Partition, at.Format(time.TimeOnly), got, status, why)
			}
			if want, ok := bunchedWant[name]; ok && status != want {
				t.Errorf("%s/%d, polled every second, committing every 5 s: %s (%s), want %s", name, s.Partition, status, why, want)
			}
		}
	}
	for _, s := range []query.Status{query.StatusOK, query.StatusWarn, query.StatusRewind, query.StatusStall, query.StatusStop} {
		if seen[s] == 0 {
			t.Errorf("no partition ended %s: the histories do not test it (%v)", s, seen)
		}
	}
	if withinAllowed == 0 {
		t.Error("no partition is OK by its allowed lag: the histories do not test the status rules")
	}
	t.Logf("statuses compared: %v; %d rows within the allowed lag, %d with a positive ETA", seen, withinAllowed, etas)
}

// backlogETA is the drain ETA by store.DefaultBacklog: 0 when the lag is no
// backlog at the production rate, lag / -slope when a backlog drains, nil
// when it does not.
func backlogETA(lag int64, produce, slope *float64) *float64 {
	p := 0.0
	if produce != nil {
		p = *produce
	}
	switch {
	case !store.DefaultBacklog.Exceeds(float64(lag), p):
		zero := 0.0
		return &zero
	case slope != nil && *slope < 0:
		v := float64(lag) / -*slope
		return &v
	}
	return nil
}

// sameSeconds reports whether two ETAs agree: both nil, or within a
// millionth.
func sameSeconds(a, b *float64) bool {
	if a == nil || b == nil {
		return a == nil && b == nil
	}
	return math.Abs(*a-*b) <= 1e-6*math.Max(1, math.Abs(*b))
}

// show prints a float pointer as its value or "none".
func show(v *float64) string {
	if v == nil {
		return "none"
	}
	return fmt.Sprintf("%.3f", *v)
}
