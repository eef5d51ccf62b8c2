package store_test

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"
	"time"

	"github.com/lagtrail/lagtrail/internal/randhist"
	"github.com/lagtrail/lagtrail/store"
)

// rollupHistory returns polls of two groups, two topics of three partitions
// each, about every minute (jittered) from start for minutes minutes: steady
// production and consumption at per-partition rates, with a rewind on one
// partition, a 10-minute gap of one group and some hidden timestamps.
func rollupHistory(start time.Time, minutes int) []*store.Poll {
	rng := rand.New(rand.NewPCG(7, 11))
	groups := []store.GroupRef{
		{Region: "cn-hangzhou", InstanceID: "alikafka-1", Group: "orders-svc"},
		{Region: "cn-hangzhou", InstanceID: "alikafka-1", Group: "billing"},
	}
	var polls []*store.Poll
	for gi, g := range groups {
		for m := range minutes {
			if gi == 1 && m >= 300 && m < 310 {
				continue // a gap
			}
			at := start.Add(time.Duration(m)*time.Minute + time.Duration(rng.IntN(6000)-3000)*time.Millisecond)
			p := &store.Poll{Group: g, StartedAt: at.Add(-80 * time.Millisecond), SampledAt: at, Duration: 80 * time.Millisecond,
				OK: true, RequestID: fmt.Sprintf("%08X-0000-4000-8000-%012X", gi, m), LastTimestampMs: at.UnixMilli() - 2000}
			secs := at.Sub(start).Seconds()
			for ti, topic := range []string{"orders", "payments"} {
				ts := store.TopicSample{Topic: topic}
				for pi := range int32(3) {
					rate := float64(5 + 3*gi + 2*ti + int(pi))
					broker := int64(1_000_000 + rate*secs)
					consumer := broker - int64(40+20*pi) - int64(rng.IntN(30))
					if gi == 0 && ti == 0 && pi == 1 && m >= 700 {
						consumer -= 5000 // rewound at minute 700
					}
					last := at.UnixMilli() - int64(1000+rng.IntN(5000))
					if ti == 1 {
						last = -1
					}
					ts.Partitions = append(ts.Partitions, store.PartitionOffsets{Partition: pi, BrokerOffset: broker, ConsumerOffset: consumer, LastTimestampMs: last})
				}
				p.Topics = append(p.Topics, ts)
			}
			polls = append(polls, p)
		}
	}
	return polls
}

// hourEdges returns hourly edges from from to to.
func hourEdges(from, to time.Time, step time.Duration) []time.Time {
	var e []time.Time
	for t := from; !t.After(to); t = t.Add(step) {
		e = append(e, t)
	}
	return e
}

// sameAggregates compares raw and rollup answers: counts, rates and
// covered time exactly, and the lag at the last poll, its peak, its time
// and the poll count exactly.
func sameAggregates(t *testing.T, what string, raw, rolled []store.BucketAggregate) {
	t.Helper()
	if len(raw) != len(rolled) {
		t.Errorf("%s: %d raw rows, %d rollup rows", what, len(raw), len(rolled))
	}
	eqf := func(a, b *float64) bool { return (a == nil) == (b == nil) && (a == nil || *a == *b) }
	eqi := func(a, b *int64) bool { return (a == nil) == (b == nil) && (a == nil || *a == *b) }
	eqt := func(a, b *time.Time) bool { return (a == nil) == (b == nil) && (a == nil || a.Equal(*b)) }
	str := func(f *float64) string {
		if f == nil {
			return "nil"
		}
		return fmt.Sprintf("%.17g", *f)
	}
	bad := 0
	for i := range min(len(raw), len(rolled)) {
		r, u := raw[i], rolled[i]
		if r.Key != u.Key || r.Bucket != u.Bucket {
			t.Fatalf("%s row %d: raw key %+v bucket %d, rollup %+v bucket %d", what, i, r.Key, r.Bucket, u.Key, u.Bucket)
		}
		if !eqf(r.Consumed, u.Consumed) || !eqf(r.Produced, u.Produced) || !eqf(r.ConsumeRate, u.ConsumeRate) ||
			!eqf(r.ProduceRate, u.ProduceRate) || r.ConsumeCovered != u.ConsumeCovered || r.ProduceCovered != u.ProduceCovered ||
			r.Polls != u.Polls || !eqi(r.Lag, u.Lag) || !eqi(r.LagMax, u.LagMax) || !eqt(r.LagAt, u.LagAt) {
			bad++
			if bad <= 5 {
				t.Errorf("%s %+v bucket %d:\n raw    consumed %s produced %s rates %s %s covered %v %v polls %d lag %v max %v at %v\n rollup consumed %s produced %s rates %s %s covered %v %v polls %d lag %v max %v at %v",
					what, r.Key, r.Bucket,
					str(r.Consumed), str(r.Produced), str(r.ConsumeRate), str(r.ProduceRate), r.ConsumeCovered, r.ProduceCovered, r.Polls, deref(r.Lag), deref(r.LagMax), deref(r.LagAt),
					str(u.Consumed), str(u.Produced), str(u.ConsumeRate), str(u.ProduceRate), u.ConsumeCovered, u.ProduceCovered, u.Polls, deref(u.Lag), deref(u.LagMax), deref(u.LagAt))
			}
		}
	}
	if bad > 0 {
		t.Errorf("%s: %d of %d rows differ", what, bad, len(raw))
	}
}

// TestRollupsAgreeWithRaw writes 26 hours of polls across a day boundary
// in two parts, refreshes the rollups after each, then writes a late poll
// into an hour already rolled up, and checks every time that the hourly
// and daily rollups answer exactly what the raw tier answers for the same
// buckets, per group and per partition.
func TestRollupsAgreeWithRaw(t *testing.T) {
	t.Parallel()
	s, pool := newStore(t)
	ctx := t.Context()
	start := day0.Add(-2 * time.Hour)
	polls := rollupHistory(start, 26*60)
	refs := []store.GroupRef{polls[0].Group, polls[len(polls)-1].Group}

	// Written out of order, in batches, with a refresh half-way: the
	// second part re-queues hours the first refresh computed.
	rng := rand.New(rand.NewPCG(3, 5))
	rng.Shuffle(len(polls), func(i, j int) { polls[i], polls[j] = polls[j], polls[i] })
	half := len(polls) / 2
	for part, batch := range [][]*store.Poll{polls[:half], polls[half:]} {
		for b := range slices.Chunk(batch, 200) {
			if _, err := s.WritePolls(ctx, b); err != nil {
				t.Fatalf("WritePolls: %v", err)
			}
		}
		res, err := s.RefreshRollups(ctx)
		if err != nil {
			t.Fatalf("RefreshRollups after part %d: %v", part, err)
		}
		if res.Hours == 0 || res.Pending != 0 {
			t.Fatalf("RefreshRollups after part %d = %+v, want hours processed and none pending", part, res)
		}
	}

	check := func(step string) {
		t.Helper()
		for _, c := range []struct {
			name  string
			edges []time.Time
		}{
			{"hourly", hourEdges(start.Add(-time.Hour), start.Add(27*time.Hour), time.Hour)},
			{"3-hourly", hourEdges(start, start.Add(24*time.Hour), 3*time.Hour)},
			{"daily", hourEdges(day0.AddDate(0, 0, -1), day0.AddDate(0, 0, 2), 24*time.Hour)},
		} {
			for _, by := range []store.Level{store.LevelGroup, store.LevelPartition} {
				q := store.AggregateQuery{Groups: refs, By: by, Edges: c.edges}
				raw, err := s.Buckets(ctx, q)
				if err != nil {
					t.Fatalf("Buckets: %v", err)
				}
				rolled, err := s.RollupBuckets(ctx, q)
				if err != nil {
					t.Fatalf("RollupBuckets: %v", err)
				}
				if len(raw) == 0 {
					t.Fatalf("%s %s %s: no rows", step, c.name, by)
				}
				sameAggregates(t, fmt.Sprintf("%s %s by %s", step, c.name, by), raw, rolled)
			}
		}
	}
	check("after catching up")

	// A late poll lands in the middle of an hour already rolled up and
	// changes its lag peak and counts.
	late := rollupHistory(start, 26*60)[600] // group 0, minute 600
	late.SampledAt = late.SampledAt.Add(20 * time.Second)
	for ti := range late.Topics {
		for pi := range late.Topics[ti].Partitions {
			late.Topics[ti].Partitions[pi].ConsumerOffset -= 700
		}
	}
	before, err := s.RollupBuckets(ctx, store.AggregateQuery{Groups: refs[:1], Edges: hourEdges(start, start.Add(24*time.Hour), time.Hour)})
	if err != nil {
		t.Fatal(err)
	}
	if n, err := s.WritePolls(ctx, []*store.Poll{late}); err != nil || n != 1 {
		t.Fatalf("late WritePolls = %d, %v", n, err)
	}
	res, err := s.RefreshRollups(ctx)
	if err != nil || res.Hours != 1 {
		t.Fatalf("RefreshRollups after the late poll = %+v, %v; want 1 hour", res, err)
	}
	after, err := s.RollupBuckets(ctx, store.AggregateQuery{Groups: refs[:1], Edges: hourEdges(start, start.Add(24*time.Hour), time.Hour)})
	if err != nil {
		t.Fatal(err)
	}
	lateBucket := int(late.SampledAt.Sub(start) / time.Hour)
	if *after[lateBucket].LagMax <= *before[lateBucket].LagMax || after[lateBucket].Polls != before[lateBucket].Polls+1 {
		t.Errorf("late poll's hour: lag max %d -> %d, polls %d -> %d; want a larger peak and one more poll",
			*before[lateBucket].LagMax, *after[lateBucket].LagMax, before[lateBucket].Polls, after[lateBucket].Polls)
	}
	check("after a late poll")

	// Refreshing again does nothing; rewriting a stored poll queues
	// nothing.
	if _, err := s.WritePolls(ctx, []*store.Poll{late}); err != nil {
		t.Fatal(err)
	}
	if res, err := s.RefreshRollups(ctx); err != nil || res.Hours != 0 || res.Pending != 0 {
		t.Errorf("RefreshRollups with nothing new = %+v, %v; want nothing done", res, err)
	}

	// The BI views show the same numbers.
	var viewConsumed, rollupConsumed float64
	if err := pool.QueryRow(ctx, `SELECT sum(consumed) FROM lagtrail.group_rates_daily WHERE consumer_group = 'orders-svc'`).Scan(&viewConsumed); err != nil {
		t.Fatal(err)
	}
	daily, err := s.RollupBuckets(ctx, store.AggregateQuery{Groups: refs[:1], Edges: hourEdges(day0.AddDate(0, 0, -1), day0.AddDate(0, 0, 2), 24*time.Hour)})
	if err != nil {
		t.Fatal(err)
	}
	for _, d := range daily {
		if d.Consumed != nil {
			rollupConsumed += *d.Consumed
		}
	}
	if viewConsumed != rollupConsumed || viewConsumed <= 0 {
		t.Errorf("group_rates_daily consumed %v, rollups %v; want equal and positive", viewConsumed, rollupConsumed)
	}
}

// TestRollupBucketsRefuses checks the queries the rollups cannot answer
// exactly.
func TestRollupBucketsRefuses(t *testing.T) {
	t.Parallel()
	s, _ := newStore(t)
	g := []store.GroupRef{testGroup}
	p := int32(1)
	for _, q := range []store.AggregateQuery{
		{Groups: g, Edges: []time.Time{day0.Add(time.Minute), day0.Add(time.Hour)}},
		{Groups: g, By: store.LevelTopic, Edges: []time.Time{day0, day0.Add(time.Hour)}},
		{Groups: g, Topic: "orders", Edges: []time.Time{day0, day0.Add(time.Hour)}},
		{Groups: g, Partition: &p, Edges: []time.Time{day0, day0.Add(time.Hour)}},
	} {
		if _, err := s.RollupBuckets(t.Context(), q); err == nil {
			t.Errorf("RollupBuckets(%+v) succeeded, want ErrNotRollupAligned", q)
		}
	}
}

// TestTopLagGrowth checks TopLagGrowth against the lag at each group's
// first and last poll, computed from the raw samples.
func TestTopLagGrowth(t *testing.T) {
	t.Parallel()
	s, _ := newStore(t)
	ctx := t.Context()
	start := day0.Add(time.Hour)
	if _, err := s.WritePolls(ctx, rollupHistory(start, 6*60)); err != nil {
		t.Fatal(err)
	}
	if _, err := s.RefreshRollups(ctx); err != nil {
		t.Fatal(err)
	}
	from, to := start.Add(time.Hour), start.Add(5*time.Hour)
	samples, err := s.ReadPartitionOffsets(ctx, store.Range{From: from.Add(-time.Minute), To: to})
	if err != nil {
		t.Fatal(err)
	}
	type key struct {
		g  string
		at time.Time
	}
	lag := map[key]int64{}
	first, last := map[string]time.Time{}, map[string]time.Time{}
	for _, smp := range samples {
		if smp.SampledAt.Before(from) {
			continue
		}
		g := smp.Group.Group
		lag[key{g, smp.SampledAt}] += smp.Lag
		if f, ok := first[g]; !ok || smp.SampledAt.Before(f) {
			first[g] = smp.SampledAt
		}
		if l, ok := last[g]; !ok || smp.SampledAt.After(l) {
			last[g] = smp.SampledAt
		}
	}
	got, err := s.TopLagGrowth(ctx, from, to, 10)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 2 || got[0].Growth < got[1].Growth {
		t.Fatalf("TopLagGrowth = %+v, want both groups, largest growth first", got)
	}
	for _, g := range got {
		want := lag[key{g.Group.Group, last[g.Group.Group]}] - lag[key{g.Group.Group, first[g.Group.Group]}]
		if g.Growth != want || g.Growth != g.To-g.From {
			t.Errorf("%s grew %d (%d -> %d), want %d from the raw samples", g.Group.Group, g.Growth, g.From, g.To, want)
		}
	}
	if top, err := s.TopLagGrowth(ctx, from, to, 1); err != nil || len(top) != 1 || top[0] != got[0] {
		t.Errorf("TopLagGrowth limit 1 = %+v, %v", top, err)
	}
}

// TestRefreshRollupsTakesOnlyWhatWasQueued checks the same of the rollups:
// an hour queued again by a write after RefreshRollups began waits for the
// next call, and RefreshRollups says it is pending.
func TestRefreshRollupsTakesOnlyWhatWasQueued(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	st, pool := newStore(t)
	rng := rand.New(rand.NewPCG(18, 13))
	g := store.GroupRef{Region: "cn-hangzhou", InstanceID: "alikafka-queue", Group: "hours"}
	// Two hours of polls.
	polls := randhist.Polls(rng, g, randhist.Steady, time.Date(2025, 5, 5, 10, 30, 0, 0, time.UTC), randhist.Config{Partitions: 2})
	if _, err := st.WritePolls(ctx, polls); err != nil {
		t.Fatal(err)
	}
	var hours int
	if err := pool.QueryRow(ctx, `SELECT count(*) FROM lagtrail.rollup_queue`).Scan(&hours); err != nil || hours < 2 {
		t.Fatalf("%d hours queued, %v; want at least 2", hours, err)
	}
	if _, err := pool.Exec(ctx, `UPDATE lagtrail.rollup_queue SET queued_at = now() + interval '1 hour'
		WHERE hour = (SELECT max(hour) FROM lagtrail.rollup_queue)`); err != nil {
		t.Fatal(err)
	}
	res, err := st.RefreshRollups(ctx)
	if err != nil || res.Hours != hours-1 || res.Pending != 1 {
		t.Fatalf("RefreshRollups = %+v, %v; want %d hours refreshed and 1 pending", res, err, hours-1)
	}
}
