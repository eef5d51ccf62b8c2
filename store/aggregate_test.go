package store_test

import (
	"math"
	"slices"
	"testing"
	"time"

	"github.com/lagtrail/lagtrail/query"
	"github.com/lagtrail/lagtrail/store"
)

// offsets is what a scripted partition reports at one poll.
type offsets struct{ broker, consumer, lastTsMs int64 }

// script returns the offsets of partition p at poll i (time at); ok false
// leaves the partition out of that poll.
type script func(p int32, i int, at time.Time) offsets

// writeSeries writes polls of testGroup, topic "orders", every step from
// start, skipping the poll indexes in skip.
func writeSeries(t *testing.T, s *store.Store, start time.Time, step time.Duration, polls int, parts int32, f script, skip ...int) []time.Time {
	t.Helper()
	var times []time.Time
	for i := range polls {
		if slices.Contains(skip, i) {
			continue
		}
		at := start.Add(time.Duration(i) * step)
		ts := store.TopicSample{Topic: "orders"}
		for p := range parts {
			o := f(p, i, at)
			ts.Partitions = append(ts.Partitions, store.PartitionOffsets{Partition: p, BrokerOffset: o.broker, ConsumerOffset: o.consumer, LastTimestampMs: o.lastTsMs})
		}
		poll := &store.Poll{Group: testGroup, StartedAt: at.Add(-time.Millisecond), SampledAt: at, Duration: time.Millisecond, OK: true, LastTimestampMs: -1, Topics: []store.TopicSample{ts}}
		if err := s.WritePoll(t.Context(), poll); err != nil {
			t.Fatalf("WritePoll %d: %v", i, err)
		}
		times = append(times, at)
	}
	return times
}

// edges returns n+1 edges step apart from start.
func edges(start time.Time, step time.Duration, n int) []time.Time {
	e := make([]time.Time, n+1)
	for i := range e {
		e[i] = start.Add(time.Duration(i) * step)
	}
	return e
}

// steady: partition p produces 10(p+1)/s and consumes 8(p+1)/s, with visible
// timestamps: the last consumed message was produced lag/produceRate ago.
func steady(p int32, i int, at time.Time) offsets {
	s := int64(i) * 60
	pr, cr := 10*int64(p+1), 8*int64(p+1)
	b, c := 100000+pr*s, 90000+cr*s
	return offsets{b, c, at.UnixMilli() - (b-c)*1000/pr}
}

func TestBucketsSteady(t *testing.T) {
	t.Parallel()
	s, _ := newStore(t)
	start := day0.Add(time.Hour)
	writeSeries(t, s, start, time.Minute, 121, 2, steady)
	q := store.AggregateQuery{Groups: []store.GroupRef{testGroup}, By: store.LevelGroup, Edges: edges(start, 10*time.Minute, 12)}
	rows, err := s.Buckets(t.Context(), q)
	if err != nil {
		t.Fatalf("Buckets: %v", err)
	}
	if len(rows) != 12 {
		t.Fatalf("got %d rows, want 12", len(rows))
	}
	for _, r := range rows {
		// Both partitions together produce 30/s and consume 24/s.
		if r.ProduceRate == nil || math.Abs(*r.ProduceRate-30) > 1e-9 {
			t.Errorf("bucket %d: produce rate %v, want 30", r.Bucket, deref(r.ProduceRate))
		}
		if r.ConsumeRate == nil || math.Abs(*r.ConsumeRate-24) > 1e-9 {
			t.Errorf("bucket %d: consume rate %v, want 24", r.Bucket, deref(r.ConsumeRate))
		}
		if r.LagSlope == nil || math.Abs(*r.LagSlope-6) > 1e-9 {
			t.Errorf("bucket %d: slope %v, want 6", r.Bucket, deref(r.LagSlope))
		}
		if len(r.Events) != 0 {
			t.Errorf("bucket %d: events %v on a clean series", r.Bucket, r.Events)
		}
		if r.TimeLagKind != store.TimeLagSampled || r.TimeLag == nil {
			t.Errorf("bucket %d: time lag %v kind %v, want sampled", r.Bucket, deref(r.TimeLag), r.TimeLagKind)
		}
	}
	t.Logf("first row: %+v", rows[0])
}

func deref[T any](p *T) any {
	if p == nil {
		return nil
	}
	return *p
}

// Buckets must agree with query.Increase on the same points, bucket by
// bucket, with decreases and gaps in the series, at bucket widths that do
// and do not divide the poll interval.
func TestBucketsMatchIncrease(t *testing.T) {
	t.Parallel()
	s, _ := newStore(t)
	start := day0.Add(2 * time.Hour)
	f := func(p int32, i int, at time.Time) offsets {
		s := int64(i) * 60
		b := 5000 + 7*s + int64(p)*13
		c := 4000 + 5*s + int64(i%7)*3
		if i >= 50 && p == 1 {
			c -= 3000 // a rewind on partition 1
		}
		if i >= 90 {
			b -= 4000 // the broker offset drops on every partition
			c = b - 100
		}
		return offsets{b, c, -1}
	}
	times := writeSeries(t, s, start, time.Minute, 120, 3, f, 70, 71, 72, 73, 74)
	for _, step := range []time.Duration{time.Minute, 7 * time.Minute, 25 * time.Second} {
		n := int(119 * time.Minute / step)
		e := edges(start.Add(-30*time.Second), step, n)
		rows, err := s.Buckets(t.Context(), store.AggregateQuery{Groups: []store.GroupRef{testGroup}, By: store.LevelPartition, Edges: e})
		if err != nil {
			t.Fatalf("Buckets: %v", err)
		}
		got := map[[2]int]store.BucketAggregate{}
		for _, r := range rows {
			got[[2]int{int(r.Partition), r.Bucket}] = r
		}
		for p := range int32(3) {
			var cons, brok []query.Point
			for _, at := range times {
				i := int(at.Sub(start) / time.Minute)
				o := f(p, i, at)
				cons = append(cons, query.Point{T: at, V: o.consumer})
				brok = append(brok, query.Point{T: at, V: o.broker})
			}
			// A broker decrease voids the consumer's interval too: count
			// the consumer series as two, split there.
			cut := slices.IndexFunc(times, func(at time.Time) bool { return at.Sub(start) >= 90*time.Minute })
			want, _, err := query.Increase(cons[:cut], e, time.Minute*3)
			if err != nil {
				t.Fatal(err)
			}
			after, _, _ := query.Increase(cons[cut:], e, time.Minute*3)
			for b := range want {
				want[b].Count += after[b].Count
				want[b].Covered += after[b].Covered
			}
			for b, w := range want {
				r := got[[2]int{int(p), b}]
				var gotCount float64
				if r.Consumed != nil {
					gotCount = *r.Consumed
				}
				if math.Abs(gotCount-w.Count) > 1e-6 || math.Abs(r.ConsumeCovered-w.Covered.Seconds()) > 1e-6 {
					t.Errorf("step %s partition %d bucket %d: consumed %v covering %vs, Increase says %v covering %s", step, p, b, gotCount, r.ConsumeCovered, w.Count, w.Covered)
				}
			}
			wantB, _, _ := query.Increase(brok, e, 0)
			for b, w := range wantB {
				r := got[[2]int{int(p), b}]
				var gotCount float64
				if r.Produced != nil {
					gotCount = *r.Produced
				}
				if math.Abs(gotCount-w.Count) > 1e-6 {
					t.Errorf("step %s partition %d bucket %d: produced %v, Increase says %v", step, p, b, gotCount, w.Count)
				}
			}
		}
	}
}

// With LastTimestamp hidden, the time lag is when the broker offset passed
// the consumer offset, interpolated between recorded polls; before the
// recorded history it is only a lower bound, never an extrapolation.
func TestBucketsTimeLagEstimated(t *testing.T) {
	t.Parallel()
	s, _ := newStore(t)
	start := day0.Add(3 * time.Hour)
	// Partition 0 produces 10/s and its consumer is 450 messages (45 s)
	// behind, timestamps hidden. Partition 1 shows its timestamps: 20 s.
	f := func(p int32, i int, at time.Time) offsets {
		b := 100000 + int64(i)*600
		if p == 1 {
			return offsets{b, b - 200, at.UnixMilli() - 20000}
		}
		return offsets{b, b - 450, -1}
	}
	writeSeries(t, s, start, time.Minute, 30, 2, f)
	for _, tc := range []struct {
		by        store.Level
		partition int32
		wantFirst float64
		kindFirst store.TimeLagKind
		wantLater float64
		kindLater store.TimeLagKind
	}{
		// The first poll has no earlier broker sample below the consumer
		// offset: its time lag is at least 0 s (the poll itself).
		{store.LevelPartition, 0, 0, store.TimeLagLowerBound, 45, store.TimeLagEstimated},
		{store.LevelPartition, 1, 20, store.TimeLagSampled, 20, store.TimeLagSampled},
		{store.LevelGroup, -1, 20, store.TimeLagLowerBound, 45, store.TimeLagEstimated},
	} {
		rows, err := s.Buckets(t.Context(), store.AggregateQuery{Groups: []store.GroupRef{testGroup}, By: tc.by, Edges: edges(start, time.Minute, 30)})
		if err != nil {
			t.Fatalf("Buckets: %v", err)
		}
		for _, r := range rows {
			if r.Partition != tc.partition {
				continue
			}
			want, kind := tc.wantLater, tc.kindLater
			if r.Bucket == 0 {
				want, kind = tc.wantFirst, tc.kindFirst
			}
			if r.TimeLag == nil || math.Abs(*r.TimeLag-want) > 1e-6 || r.TimeLagKind != kind {
				t.Errorf("by %s partition %d bucket %d: time lag %v (%s), want %v (%s)", tc.by, r.Partition, r.Bucket, deref(r.TimeLag), r.TimeLagKind, want, kind)
			}
		}
	}
}

// Events lists each break once per topic and pair of polls, with the
// partitions that broke and their offsets.
func TestEvents(t *testing.T) {
	t.Parallel()
	s, _ := newStore(t)
	start := day0.Add(4 * time.Hour)
	f := func(p int32, i int, at time.Time) offsets {
		s := int64(i) * 60
		b := 100000 + 10*s
		c := 50000 + 9*s
		switch {
		case i >= 45:
			// Reset to latest on partition 1 from poll 45.
			if p == 1 {
				c = b - 5
			}
		case i >= 20 && p == 0:
			c -= 700 // rewind on partition 0
		}
		if i >= 60 {
			b, c = 10*(s-3600), 9*(s-3600) // topic recreated
		}
		return offsets{b, c, -1}
	}
	writeSeries(t, s, start, time.Minute, 80, 2, f, 30, 31, 32, 33, 34, 35, 36, 37, 38, 39)
	ev, err := s.Events(t.Context(), store.AggregateQuery{Groups: []store.GroupRef{testGroup}, Edges: edges(start, time.Hour, 2)})
	if err != nil {
		t.Fatalf("Events: %v", err)
	}
	type got struct {
		kind  string
		from  int
		parts []int32
	}
	var g []got
	for _, e := range ev {
		g = append(g, got{e.Kind, int(e.From.Sub(start) / time.Minute), e.Partitions})
	}
	want := []got{
		{store.EventRewind, 19, []int32{0}},
		{store.EventGap, 29, []int32{0, 1}},
		{store.EventResetToLatest, 44, []int32{1}},
		{store.EventBrokerDecrease, 59, []int32{0, 1}},
	}
	if len(g) != len(want) {
		t.Fatalf("events %+v, want %+v", g, want)
	}
	for i := range want {
		if g[i].kind != want[i].kind || g[i].from != want[i].from || !slices.Equal(g[i].parts, want[i].parts) {
			t.Errorf("event %d: %+v, want %+v", i, g[i], want[i])
		}
	}
}
