package store

import (
	"fmt"
	"math/rand/v2"
	"reflect"
	"testing"
	"time"
)

// classifiedStatesSQL is what statesSQL computes, written over seriesCTE's
// full classification of the pairs (cls, with gaps and resets) instead of
// statesSQL's own shortcut, and at every sample, not only those near the
// ends of buckets; $9 is the window. It is the oracle of
// TestStatesMatchSeriesClassification: should seriesCTE's idea of a rewind
// or of a first sample change, the two stop agreeing.
const classifiedStatesSQL = seriesCTE + `,
f AS (
  SELECT k.*, greatest(k.b - k.c, 0) AS lag,
         count(*) OVER ww AS samples_w,
         min(greatest(k.b - k.c, 0)) OVER ww AS lag_min_w,
         first_value(greatest(k.b - k.c, 0)) OVER ww AS lag_first_w,
         sum(CASE WHEN k.cls <> 'first' AND greatest(k.b - k.c, 0) < greatest(k.b0 - k.c0, 0) THEN 1 ELSE 0 END) OVER ww AS lag_decreases_w,
         (sum(CASE WHEN k.cls = 'rewind' THEN k.c0 - k.c ELSE 0 END) OVER ww)::bigint AS rewound_w,
         coalesce(max(CASE WHEN k.cls = 'rewind' THEN k.c0 END) OVER ww, 0) AS rewind_from_w,
         first_value(k.t) OVER ww AS window_start_w,
         max(CASE WHEN k.b <= k.c THEN k.t END) OVER wa AS caught_up_at,
         max(CASE WHEN k.b <= k.c THEN k.rn END) OVER wa AS caught_up_rn,
         max(CASE WHEN k.cls <> 'first' AND k.c <> k.c0 THEN k.t END) OVER wa AS changed_at,
         max(CASE WHEN k.cls <> 'first' AND k.c <> k.c0 THEN k.rn END) OVER wa AS changed_rn,
         first_value(k.t) OVER wa AS first_t
  FROM k
  WINDOW ww AS (PARTITION BY k.g, k.tp, k.p ORDER BY k.t RANGE BETWEEN $9::interval PRECEDING AND CURRENT ROW),
         wa AS (PARTITION BY k.g, k.tp, k.p ORDER BY k.t ROWS UNBOUNDED PRECEDING)
),
` + endtCTE + `,
fe AS (
  SELECT f.*, endt.bucket FROM f JOIN endt ON endt.g = f.g AND endt.t = f.t
)` + statesSelect

// TestStatesMatchSeriesClassification writes random histories full of what
// seriesCTE classifies (rewinds, broker offsets going back, resets to the
// latest offset, gaps, stalls, partitions that appear late, idle ones) and
// checks that statesSQL returns exactly what classifiedStatesSQL returns,
// over several bucketings, windows, lookbacks and filters. It also checks
// that the rows compared hold rewinds, lag decreases, and stretches with and
// without a consumer change, so that the agreement is not over zeros.
func TestStatesMatchSeriesClassification(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	s, _ := openInternal(t)
	first := time.Date(2025, 5, 20, 22, 0, 0, 0, time.UTC)
	if _, err := s.EnsurePartitions(ctx, first, 2); err != nil {
		t.Fatal(err)
	}
	refs := writeRandomHistory(t, s, first, 300)
	last := first.Add(300 * time.Minute)

	edges := func(from time.Time, step time.Duration, n int) []time.Time {
		out := make([]time.Time, n+1)
		for i := range out {
			out[i] = from.Add(time.Duration(i) * step)
		}
		return out
	}
	var totals struct{ rows, rewound, decreases, lowerBound, changed int }
	cases := []struct {
		name string
		q    AggregateQuery
	}{
		{"whole range hourly", AggregateQuery{Groups: refs, Edges: edges(first, time.Hour, 5), Window: 15 * time.Minute}},
		{"15m buckets, lookback", AggregateQuery{Groups: refs, Edges: edges(first.Add(90*time.Minute), 15*time.Minute, 8), Lookback: time.Hour, Window: 10 * time.Minute}},
		{"1m buckets, long window", AggregateQuery{Groups: refs[:1], Edges: edges(first.Add(2*time.Hour), time.Minute, 60), Window: time.Hour}},
		{"one bucket", AggregateQuery{Groups: refs, Edges: []time.Time{first.Add(time.Hour), last}, Window: 5 * time.Minute}},
		{"one topic", AggregateQuery{Groups: refs, Topic: "payments", Edges: edges(first, 30*time.Minute, 10), Window: 20 * time.Minute}},
		{"one partition", AggregateQuery{Groups: refs, Partition: new(int32(2)), Edges: edges(first, 20*time.Minute, 15), Window: 15 * time.Minute}},
		{"past the end", AggregateQuery{Groups: refs, Edges: edges(last.Add(-time.Hour), time.Hour, 3), Window: 15 * time.Minute}},
	}
	for _, c := range cases {
		args, ok, err := s.aggregateArgs(ctx, c.q)
		if err != nil || !ok {
			t.Fatalf("%s: aggregateArgs: ok %v, %v", c.name, ok, err)
		}
		want, err := collectAnalytic[stateRow](ctx, s, classifiedStatesSQL, append(args, c.q.Window))
		if err != nil {
			t.Fatalf("%s: oracle: %v", c.name, err)
		}
		got, err := collectAnalytic[stateRow](ctx, s, statesSQL, statesArgs(args, c.q.Window))
		if err != nil {
			t.Fatalf("%s: statesSQL: %v", c.name, err)
		}
		if len(want) == 0 {
			t.Fatalf("%s: the oracle returned no rows", c.name)
		}
		if len(got) != len(want) {
			t.Errorf("%s: %d rows, the oracle %d", c.name, len(got), len(want))
			continue
		}
		for i := range want {
			if !reflect.DeepEqual(got[i], want[i]) {
				t.Errorf("%s: row %d is\n%+v\nthe oracle's\n%+v", c.name, i, got[i], want[i])
				break
			}
		}
		for _, r := range want {
			totals.rows++
			if r.Rewound > 0 {
				totals.rewound++
			}
			if r.LagDecreases > 0 {
				totals.decreases++
			}
			if r.SinceIsLowerBound {
				totals.lowerBound++
			} else {
				totals.changed++
			}
		}
	}
	t.Logf("compared %d rows: %d with a rewind in the window, %d with lag decreases, %d unchanged since the first sample, %d changed",
		totals.rows, totals.rewound, totals.decreases, totals.lowerBound, totals.changed)
	if totals.rewound == 0 || totals.decreases == 0 || totals.lowerBound == 0 || totals.changed == 0 {
		t.Errorf("the rows compared lack a kind of feature: %+v", totals)
	}
}

// writeRandomHistory writes polls of three groups for polls minutes from
// first, with a fixed seed: two topics of four partitions, random production
// and consumption, and now and then a rewind, a broker offset going back, a
// reset to the latest offset, a stall, a skipped poll (a gap) or a partition
// that appears late. It returns the groups.
func writeRandomHistory(t *testing.T, s *Store, first time.Time, polls int) []GroupRef {
	t.Helper()
	rng := rand.New(rand.NewPCG(7, 11))
	topics := []string{"orders", "payments"}
	refs := make([]GroupRef, 3)
	for gi := range refs {
		refs[gi] = GroupRef{Region: "cn-shanghai", InstanceID: "alikafka-oracle", Group: fmt.Sprintf("oracle-%d", gi)}
		type part struct {
			b, c    int64
			stalled int
		}
		parts := make([][]part, len(topics))
		for ti := range parts {
			parts[ti] = make([]part, 4)
			for pi := range parts[ti] {
				parts[ti][pi] = part{b: int64(1000 * pi), c: int64(900 * pi)}
			}
		}
		at := first.Add(time.Duration(gi) * 7 * time.Second)
		for i := range polls {
			at = at.Add(time.Minute + time.Duration(rng.IntN(5000)-2500)*time.Millisecond)
			if rng.IntN(40) == 0 {
				// A skipped poll or several: a gap.
				at = at.Add(time.Duration(2+rng.IntN(6)) * time.Minute)
			}
			p := &Poll{Group: refs[gi], StartedAt: at.Add(-time.Second), SampledAt: at, Duration: time.Second, OK: true, LastTimestampMs: -1}
			for ti, topic := range topics {
				ts := TopicSample{Topic: topic}
				for pi := range parts[ti] {
					if ti == 1 && pi == 3 && i < 80 {
						continue // appears late
					}
					pt := &parts[ti][pi]
					if gi == 2 && ti == 0 && pi == 0 {
						// Idle: never produced to or consumed.
					} else {
						pt.b += int64(rng.IntN(60))
						switch r := rng.IntN(100); {
						case pt.stalled > 0:
							pt.stalled--
						case r < 3:
							pt.stalled = 5 + rng.IntN(25)
						case r < 5 && pt.c > 50:
							pt.c -= int64(1 + rng.IntN(int(min(pt.c, 400))))
						case r < 6:
							pt.c = pt.b // reset to latest
						case r < 7 && pt.b > 200:
							pt.b -= int64(100 + rng.IntN(100)) // broker offset back
							pt.c = min(pt.c, pt.b)
						default:
							pt.c = min(pt.b, pt.c+int64(rng.IntN(70)))
						}
					}
					ts.Partitions = append(ts.Partitions, PartitionOffsets{Partition: int32(pi), BrokerOffset: pt.b, ConsumerOffset: pt.c, LastTimestampMs: -1})
				}
				p.Topics = append(p.Topics, ts)
			}
			if err := s.WritePoll(t.Context(), p); err != nil {
				t.Fatalf("write poll %d of %s: %v", i, refs[gi].Group, err)
			}
		}
	}
	return refs
}
