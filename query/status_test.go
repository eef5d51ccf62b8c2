package query_test

import (
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/lagtrail/lagtrail/query"
	"github.com/lagtrail/lagtrail/store"
)

var t0 = time.Date(2025, 3, 14, 2, 0, 0, 0, time.UTC)

// state is a partition state at t0+minute with sensible defaults: lag 100,
// consumer moving every poll, lag going down, a full window of 15 polls.
func state(minute int, mod func(*store.PartitionState)) store.PartitionState {
	at := t0.Add(time.Duration(minute) * time.Minute)
	st := store.PartitionState{
		Key: store.Key{Group: g1, Topic: "orders", Partition: 0}, At: at,
		BrokerOffset: 1100, Consumer: 1000, Lag: 100, Samples: 15,
		LagMin: 100, LagFirst: 400, LagDecreases: 10,
		UnchangedSince: at, UnchangedSamples: 1,
	}
	if mod != nil {
		mod(&st)
	}
	return st
}

var g1 = store.GroupRef{Region: "cn-hangzhou", InstanceID: "alikafka-a", Group: "billing"}

func TestEvaluate(t *testing.T) {
	t.Parallel()
	w := 15 * time.Minute
	for _, tc := range []struct {
		name   string
		mod    func(*store.PartitionState)
		want   query.Status
		reason string
	}{
		{"draining", nil, query.StatusOK, "lag going down"},
		{"no lag", func(s *store.PartitionState) { s.Lag, s.LagMin = 0, 0 }, query.StatusOK, "no lag"},
		{"no lag and idle is not a stall", func(s *store.PartitionState) {
			s.Lag, s.LagMin, s.UnchangedSamples, s.UnchangedSince = 0, 0, 30, s.At.Add(-time.Hour)
		}, query.StatusOK, "no lag"},
		{"rewind beats everything", func(s *store.PartitionState) { s.Rewound, s.UnchangedSamples = 5000, 20 }, query.StatusRewind, "went back 5000"},
		{"rewind with no lag", func(s *store.PartitionState) { s.Rewound, s.Lag = 7, 0 }, query.StatusRewind, "went back 7"},
		{"stall after 3 polls", func(s *store.PartitionState) {
			s.UnchangedSamples, s.UnchangedSince = 3, s.At.Add(-2*time.Minute)
		}, query.StatusStall, "unchanged for 3 polls"},
		{"2 polls is not yet a stall", func(s *store.PartitionState) {
			s.UnchangedSamples, s.UnchangedSince = 2, s.At.Add(-time.Minute)
		}, query.StatusOK, "lag going down"},
		{"stop after the window", func(s *store.PartitionState) {
			s.UnchangedSamples, s.UnchangedSince = 16, s.At.Add(-16*time.Minute)
		}, query.StatusStop, "no consumer progress since 2025-03-14T02:04:00Z (16m0s)"},
		{"exactly the window is still a stall", func(s *store.PartitionState) {
			s.UnchangedSamples, s.UnchangedSince = 16, s.At.Add(-15*time.Minute)
		}, query.StatusStall, "unchanged"},
		{"stop with unknown start says before", func(s *store.PartitionState) {
			s.UnchangedSamples, s.UnchangedSince, s.SinceIsLowerBound = 100, s.At.Add(-2*time.Hour), true
		}, query.StatusStop, "since before"},
		{"lag was zero in the window", func(s *store.PartitionState) { s.LagMin, s.LagDecreases = 0, 0 }, query.StatusOK, "zero in the window"},
		{"lag never went down", func(s *store.PartitionState) { s.LagDecreases, s.LagFirst = 0, 50 }, query.StatusWarn, "50 to 100"},
		{"too few polls to warn", func(s *store.PartitionState) { s.LagDecreases, s.Samples = 0, 2 }, query.StatusOK, "lag going down"},
	} {
		got, why := query.Evaluate(state(20, tc.mod), w)
		if got != tc.want || !strings.Contains(why, tc.reason) {
			t.Errorf("%s: %s %q, want %s containing %q", tc.name, got, why, tc.want, tc.reason)
		}
	}
}

func TestTimeline(t *testing.T) {
	t.Parallel()
	w := 15 * time.Minute
	edges := make([]time.Time, 11)
	for i := range edges {
		edges[i] = t0.Add(time.Duration(i) * time.Minute)
	}
	g2 := store.GroupRef{Region: "cn-hangzhou", InstanceID: "alikafka-a", Group: "empty"}
	part := func(p int32, bucket, minute int, mod func(*store.PartitionState)) store.PartitionState {
		st := state(minute, mod)
		st.Partition, st.Bucket = p, bucket
		return st
	}
	stall := func(s *store.PartitionState) { s.UnchangedSamples, s.UnchangedSince = 4, s.At.Add(-3*time.Minute) }
	// Polls every minute except minutes 5 and 7..9; partition 1 stalls in
	// buckets 2 and 3 and partition 0 joins it in bucket 3.
	var states []store.PartitionState
	for _, b := range []int{-1, 0, 1, 2, 3, 4, 6} {
		m := b
		states = append(states, part(0, b, m, map[bool]func(*store.PartitionState){true: stall}[b == 3]))
		states = append(states, part(1, b, m, map[bool]func(*store.PartitionState){true: stall}[b == 2 || b == 3]))
	}
	got := query.Timeline([]store.GroupRef{g1, g2}, states, edges, w)
	type iv struct {
		group    string
		from, to int
		status   string
		parts    string
	}
	var g []iv
	for _, x := range got {
		g = append(g, iv{x.Group.Group, int(x.From.Sub(t0) / time.Minute), int(x.To.Sub(t0) / time.Minute), x.Status.String(), query.JoinPartitions(x.Partitions)})
		if x.Reason == "" {
			t.Errorf("interval %+v has no reason", x)
		}
	}
	want := []iv{
		{"billing", 0, 2, "OK", ""},
		{"billing", 2, 3, "STALL", "orders/1"},
		{"billing", 3, 4, "STALL", "orders/0,orders/1"},
		// Minute 5 has no poll: the poll at 4 is recent enough to carry.
		{"billing", 4, 7, "OK", ""},
		// The poll at 6 carries into bucket 7 (ends at 8, within 3
		// minutes) and bucket 8 (ends at 9); not bucket 9.
		{"billing", 7, 9, "OK", ""},
		{"billing", 9, 10, "NODATA", ""},
		{"empty", 0, 10, "NODATA", ""},
	}
	// Buckets 4..8 are all OK: they merge.
	want = slices.Delete(want, 4, 5)
	want[3].to = 9
	if !slices.Equal(g, want) {
		t.Errorf("timeline\n got %+v\nwant %+v", g, want)
	}
}
