package store_test

import (
	"math"
	"reflect"
	"testing"
	"time"

	"github.com/lagtrail/lagtrail/internal/pgtest"
	"github.com/lagtrail/lagtrail/store"
)

// baselinePoll is a poll of group at t with partition i at offsets[i] =
// {broker, consumer}.
func baselinePoll(group string, t time.Time, offsets ...[2]int64) *store.Poll {
	parts := make([]store.PartitionOffsets, len(offsets))
	for i, o := range offsets {
		parts[i] = store.PartitionOffsets{Partition: int32(i), BrokerOffset: o[0], ConsumerOffset: o[1], LastTimestampMs: -1}
	}
	return &store.Poll{
		Group: store.GroupRef{Region: "r", InstanceID: "i", Group: group}, StartedAt: t, SampledAt: t, OK: true,
		Topics: []store.TopicSample{{Topic: "t", Partitions: parts}},
	}
}

// The baseline's queries agree with figures computed by hand.
func TestBaselineQueries(t *testing.T) {
	t.Parallel()
	pool, url := pgtest.Pool(t)
	ctx := t.Context()
	from := time.Date(2025, 3, 14, 10, 0, 0, 0, time.UTC)
	to := from.Add(2 * time.Hour)
	at := func(m int) time.Time { return from.Add(time.Duration(m) * time.Minute) }

	// A leftover schema is replaced.
	old, err := store.CreateBaseline(ctx, url, from, 1)
	if err != nil {
		t.Fatalf("CreateBaseline: %v", err)
	}
	if _, err := old.CopyPolls(ctx, []*store.Poll{baselinePoll("stale", at(1), [2]int64{1, 1})}); err != nil {
		t.Fatal(err)
	}
	old.Close(ctx)
	b, err := store.CreateBaseline(ctx, url, from, 1)
	if err != nil {
		t.Fatalf("CreateBaseline again: %v", err)
	}
	defer b.Close(ctx)

	polls := []*store.Poll{
		// g1, partitions 0 and 1. Partition 1's consumer goes back at
		// 11:00 (counted as 0) and partition 0's is read ahead of its
		// broker at 11:30 (lag floored at 0).
		baselinePoll("g1", at(0), [2]int64{100, 90}, [2]int64{1000, 1000}),
		baselinePoll("g1", at(30), [2]int64{160, 150}, [2]int64{1030, 1010}),
		baselinePoll("g1", at(60), [2]int64{220, 200}, [2]int64{1060, 1000}),
		baselinePoll("g1", at(90), [2]int64{250, 255}, [2]int64{1090, 1090}),
		baselinePoll("g1", at(120), [2]int64{999, 0}), // at `to`: outside
		// g2's lag grows 100 per half hour; g3 has one poll.
		baselinePoll("g2", at(0), [2]int64{10, 10}),
		baselinePoll("g2", at(30), [2]int64{110, 10}),
		baselinePoll("g2", at(60), [2]int64{210, 10}),
		baselinePoll("g3", at(5), [2]int64{500, 0}),
		{Group: store.GroupRef{Region: "r", InstanceID: "i", Group: "g4"}, StartedAt: at(7), SampledAt: at(7), ErrorCode: "Throttling"},
	}
	n, err := b.CopyPolls(ctx, polls)
	if err != nil || n != 13 {
		t.Fatalf("CopyPolls = %d, %v; want 13 rows", n, err)
	}
	if c, err := b.Count(ctx, from, to); err != nil || c != 12 {
		t.Errorf("Count = %d, %v; want 12", c, err)
	}
	if size, err := b.Size(ctx); err != nil || size <= 0 {
		t.Errorf("Size = %d, %v; want positive", size, err)
	}
	if err := b.Vacuum(ctx); err != nil {
		t.Error(err)
	}

	for _, tc := range []struct {
		step time.Duration
		want []store.BaselineLag
	}{
		{30 * time.Minute, []store.BaselineLag{{at(0), 10}, {at(30), 30}, {at(60), 80}, {at(90), 0}}},
		{time.Hour, []store.BaselineLag{{at(0), 30}, {at(60), 0}}},
	} {
		got, err := b.GroupLag(ctx, "g1", from, to, tc.step)
		for i := range got {
			got[i].Bucket = got[i].Bucket.UTC()
		}
		if err != nil || !reflect.DeepEqual(got, tc.want) {
			t.Errorf("GroupLag step %s = %v, %v; want %v", tc.step, got, err, tc.want)
		}
	}

	// Lag at the last poll minus at the first: g2 0 -> 200, g3 one poll
	// of 500, g1 10 -> 0.
	growth, err := b.TopGrowth(ctx, from, to, 10)
	wantGrowth := []store.BaselineGrowth{{"g2", 200}, {"g3", 0}, {"g1", -10}}
	if err != nil || !reflect.DeepEqual(growth, wantGrowth) {
		t.Errorf("TopGrowth = %+v, %v; want %+v", growth, err, wantGrowth)
	}
	if top, err := b.TopGrowth(ctx, from, to, 1); err != nil || len(top) != 1 || top[0].Group != "g2" {
		t.Errorf("TopGrowth limit 1 = %+v, %v", top, err)
	}

	// Hour 10: 10:30's increases: consumed 60+10, produced 60+30.
	// Hour 11: 11:00's and 11:30's: consumed 50+0 and 55+90, produced
	// 60+30 and 30+30.
	rates, err := b.HourlyRates(ctx, "g1", from, to)
	want := []store.BaselineRate{{at(0), 70.0 / 3600, 90.0 / 3600}, {at(60), 195.0 / 3600, 150.0 / 3600}}
	if err != nil || len(rates) != 2 {
		t.Fatalf("HourlyRates = %+v, %v; want %+v", rates, err, want)
	}
	for i, r := range rates {
		if !r.Hour.Equal(want[i].Hour) || !near(r.ConsumeRate, want[i].ConsumeRate) || !near(r.ProduceRate, want[i].ProduceRate) {
			t.Errorf("HourlyRates[%d] = %+v, want %+v", i, r, want[i])
		}
	}

	if err := b.Drop(ctx); err != nil {
		t.Fatal(err)
	}
	var exists bool
	if err := pool.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM pg_namespace WHERE nspname = $1)`, store.BaselineSchema).Scan(&exists); err != nil || exists {
		t.Errorf("schema %s after Drop: exists %v, %v", store.BaselineSchema, exists, err)
	}
}

func near(a, b float64) bool { return math.Abs(a-b) <= 1e-9*math.Max(1, math.Abs(b)) }

// RawTierSize counts raw_polls' partitions and the dictionaries; SchemaSize
// is at least that; HoldsPolls turns true with the first poll.
func TestBaselineStoreSizes(t *testing.T) {
	t.Parallel()
	s, _ := newStore(t)
	ctx := t.Context()
	if held, err := s.HoldsPolls(ctx); err != nil || held {
		t.Fatalf("HoldsPolls on a fresh store = %v, %v", held, err)
	}
	before, err := s.RawTierSize(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var polls []*store.Poll
	for i := range 500 {
		p := baselinePoll("g", day0.Add(time.Duration(i)*time.Minute), [2]int64{int64(1000 + i), int64(990 + i)})
		polls = append(polls, p)
	}
	if _, err := s.WritePolls(ctx, polls); err != nil {
		t.Fatal(err)
	}
	if err := s.VacuumRawTier(ctx); err != nil {
		t.Fatal(err)
	}
	after, err := s.RawTierSize(ctx)
	if err != nil || after <= before {
		t.Errorf("RawTierSize: %d before 500 polls, %d (%v) after; want it to grow", before, after, err)
	}
	total, err := s.SchemaSize(ctx)
	if err != nil || total < after {
		t.Errorf("SchemaSize = %d, %v; want at least the raw tier's %d", total, err, after)
	}
	if held, err := s.HoldsPolls(ctx); err != nil || !held {
		t.Errorf("HoldsPolls after writes = %v, %v", held, err)
	}
}
