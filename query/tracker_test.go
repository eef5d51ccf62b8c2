package query_test

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"reflect"
	"testing"
	"time"

	"github.com/lagtrail/lagtrail/internal/pgtest"
	"github.com/lagtrail/lagtrail/internal/randhist"
	"github.com/lagtrail/lagtrail/query"
	"github.com/lagtrail/lagtrail/store"
)

// TestTrackerMatchesPartitionStates feeds random histories, poll by poll,
// to a Tracker per partition and checks that at every poll it gives the
// state store.PartitionStates computes from the database, field by field,
// and so the same status and reason, with the group's allowed lag from its
// status rule; over two windows. It also checks that the histories reach
// every status, and that an out-of-order poll is refused.
func TestTrackerMatchesPartitionStates(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	_, st := engineOn(t, pgtest.URL(t))
	rng := rand.New(rand.NewPCG(18, 1))
	start := time.Date(2025, 3, 14, 1, 0, 0, 0, time.UTC)
	const groups, partitions = 40, 2
	var refs []store.GroupRef
	var rules []store.StatusRule
	histories := map[store.GroupRef][]*store.Poll{}
	var all []*store.Poll
	for gi := range groups {
		kind := randhist.Kinds[gi%len(randhist.Kinds)]
		g := store.GroupRef{Region: "cn-hangzhou", InstanceID: "alikafka-tracker", Group: fmt.Sprintf("%s-%02d", kind, gi)}
		refs = append(refs, g)
		histories[g] = randhist.Polls(rng, g, kind, start.Add(time.Duration(gi)*time.Second), randhist.Config{Partitions: partitions, MaxPolls: 60, MaxGap: 20 * time.Minute})
		all = append(all, histories[g]...)
		if gi%3 == 0 {
			rules = append(rules, store.StatusRule{Region: g.Region, Instance: g.InstanceID, Group: g.Group, AllowedLag: int64(50 + 10*gi)})
		}
	}
	if _, err := st.WritePolls(ctx, all); err != nil {
		t.Fatal(err)
	}
	if err := st.SetStatusRules(ctx, rules); err != nil {
		t.Fatal(err)
	}
	allowed := map[string]int64{}
	for _, r := range rules {
		allowed[r.Group] = r.AllowedLag
	}

	seen := map[query.Status]int{}
	compared := 0
	for _, window := range []time.Duration{15 * time.Minute, 3 * time.Minute} {
		for _, g := range refs {
			polls := histories[g]
			// One bucket per poll: every poll is the last of its bucket.
			edges := make([]time.Time, 0, len(polls)+1)
			for _, p := range polls {
				edges = append(edges, p.SampledAt)
			}
			edges = append(edges, polls[len(polls)-1].SampledAt.Add(time.Microsecond))
			states, err := st.PartitionStates(ctx, store.AggregateQuery{
				Groups: []store.GroupRef{g}, By: store.LevelPartition, Edges: edges, Lookback: 24 * time.Hour, Window: window,
			})
			if err != nil {
				t.Fatal(err)
			}
			type at struct {
				part int32
				t    time.Time
			}
			want := map[at]store.PartitionState{}
			for _, s := range states {
				s.Bucket = 0
				want[at{s.Partition, s.At}] = s
			}
			for p := range partitions {
				key := store.Key{Group: g, Topic: "t", Partition: int32(p)}
				tr, err := query.NewTracker(key, window)
				if err != nil {
					t.Fatal(err)
				}
				for _, poll := range polls {
					off := poll.Topics[0].Partitions[p]
					if err := tr.Observe(poll.SampledAt, off.BrokerOffset, off.ConsumerOffset); err != nil {
						t.Fatal(err)
					}
					got := tr.State(allowed[g.Group])
					w, ok := want[at{int32(p), poll.SampledAt}]
					if !ok {
						t.Fatalf("%s/%d at %s: PartitionStates has no state", g.Group, p, poll.SampledAt.Format(time.RFC3339Nano))
					}
					compared++
					if !reflect.DeepEqual(got, w) {
						t.Errorf("window %s, %s/%d at %s:\ntracker %+v\nstore   %+v", window, g.Group, p, poll.SampledAt.Format(time.RFC3339Nano), got, w)
						continue
					}
					rules := query.Rules{Window: window}
					s, why := query.Evaluate(got, rules)
					if ws, wwhy := query.Evaluate(w, rules); s != ws || why != wwhy {
						t.Errorf("%s/%d: tracker %s (%s), store %s (%s)", g.Group, p, s, why, ws, wwhy)
					}
					seen[s]++
				}
				last := polls[len(polls)-1].SampledAt
				before := tr.State(0)
				if err := tr.Observe(last, 1, 1); !errors.Is(err, query.ErrOutOfOrder) {
					t.Errorf("%s/%d: a second poll at %s: %v, want ErrOutOfOrder", g.Group, p, last, err)
				}
				if after := tr.State(0); !reflect.DeepEqual(before, after) {
					t.Errorf("%s/%d: the refused poll changed the state:\n%+v\n%+v", g.Group, p, before, after)
				}
			}
		}
	}
	for _, s := range []query.Status{query.StatusOK, query.StatusWarn, query.StatusRewind, query.StatusStall, query.StatusStop} {
		if seen[s] == 0 {
			t.Errorf("no poll evaluated %s: the histories do not test it (%v)", s, seen)
		}
	}
	t.Logf("%d states compared; statuses %v", compared, seen)

	// StatesFromPoints over PartitionPoints is PartitionStates, bucket by
	// bucket, for ranges that start inside the histories (bucket -1) with
	// a lookback shorter than what came before (the offset may have
	// changed before everything read), and several steps and windows.
	end := start.Add(4 * time.Hour)
	for _, c := range []struct {
		from     time.Time
		step     time.Duration
		lookback time.Duration
		window   time.Duration
	}{
		{start.Add(25 * time.Minute), 7 * time.Minute, 20 * time.Minute, 15 * time.Minute},
		{start.Add(10 * time.Minute), time.Minute, 24 * time.Hour, 3 * time.Minute},
		{start, time.Hour, 24 * time.Hour, 15 * time.Minute},
		{start.Add(3 * time.Minute), 13 * time.Second, 5 * time.Minute, time.Minute},
	} {
		var edges []time.Time
		for e := c.from; !e.After(end); e = e.Add(c.step) {
			edges = append(edges, e)
		}
		q := store.AggregateQuery{Groups: refs, By: store.LevelPartition, Edges: edges, Lookback: c.lookback, Window: c.window}
		want, err := st.PartitionStates(ctx, q)
		if err != nil {
			t.Fatal(err)
		}
		points, err := st.PartitionPoints(ctx, q)
		if err != nil {
			t.Fatal(err)
		}
		got, err := query.StatesFromPoints(points, edges, c.window)
		if err != nil {
			t.Fatal(err)
		}
		name := fmt.Sprintf("from +%s, step %s, lookback %s, window %s", c.from.Sub(start), c.step, c.lookback, c.window)
		if len(got) != len(want) {
			t.Errorf("%s: %d states from the points, %d from PartitionStates", name, len(got), len(want))
		}
		lower := 0
		for i := range min(len(got), len(want)) {
			if !reflect.DeepEqual(got[i], want[i]) {
				t.Errorf("%s: state %d:\npoints %+v\nstore  %+v", name, i, got[i], want[i])
				break
			}
			if got[i].SinceIsLowerBound {
				lower++
			}
		}
		t.Logf("%s: %d states agree, %d with progress before everything read", name, len(want), lower)
	}
}
