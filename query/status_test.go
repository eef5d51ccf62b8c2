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
		UnchangedSince: at, UnchangedSamples: 1, WindowStart: at.Add(-14 * time.Minute),
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
		name    string
		mod     func(*store.PartitionState)
		allowed int64
		want    query.Status
		reason  string
	}{
		{name: "draining", want: query.StatusOK, reason: "lag going down"},
		{name: "no lag", mod: func(s *store.PartitionState) { s.Lag, s.LagMin = 0, 0 }, want: query.StatusOK, reason: "no lag"},
		{name: "no lag and idle is not a stall", mod: func(s *store.PartitionState) {
			s.Lag, s.LagMin, s.UnchangedSamples, s.UnchangedSince = 0, 0, 30, s.At.Add(-time.Hour)
		}, want: query.StatusOK, reason: "no lag"},
		{name: "idle and caught up, then one message, is not stopped", mod: func(s *store.PartitionState) {
			s.Lag, s.LagMin, s.LagDecreases = 1, 0, 0
			s.UnchangedSamples, s.UnchangedSince, s.SinceIsLowerBound = 120, s.At.Add(-2*time.Hour), true
			s.CaughtUpAt, s.SinceCaughtUp = s.At.Add(-time.Minute), 1
		}, want: query.StatusOK, reason: "lag was zero in the window"},
		{name: "three polls with lag after catching up is a stall", mod: func(s *store.PartitionState) {
			s.Lag, s.LagMin, s.LagDecreases = 3, 0, 0
			s.UnchangedSamples, s.UnchangedSince, s.SinceIsLowerBound = 120, s.At.Add(-2*time.Hour), true
			s.CaughtUpAt, s.SinceCaughtUp = s.At.Add(-3*time.Minute), 3
		}, want: query.StatusStall, reason: "unchanged with lag for 3 polls since 2025-03-14T02:17:00Z"},
		{name: "caught up before the window and stuck since is stopped", mod: func(s *store.PartitionState) {
			s.LagMin, s.LagDecreases = 100, 0
			s.UnchangedSamples, s.UnchangedSince, s.SinceIsLowerBound = 120, s.At.Add(-2*time.Hour), true
			s.CaughtUpAt, s.SinceCaughtUp = s.At.Add(-20*time.Minute), 20
		}, want: query.StatusStop, reason: "since 2025-03-14T02:00:00Z (20m0s)"},
		{name: "rewind short of where it was", mod: func(s *store.PartitionState) { s.Rewound, s.RewindFrom = 5000, 4000 }, want: query.StatusRewind, reason: "went back 5000 messages in the last 15m0s and is 3000 short"},
		{name: "rewind caught up is forgiven", mod: func(s *store.PartitionState) { s.Rewound, s.RewindFrom = 5000, 900 }, want: query.StatusOK, reason: "lag going down"},
		{name: "rewind with no lag is OK", mod: func(s *store.PartitionState) { s.Rewound, s.RewindFrom, s.Lag, s.LagMin = 7, 2000, 0, 0 }, want: query.StatusOK, reason: "no lag"},
		{name: "stall after 3 polls", mod: func(s *store.PartitionState) {
			s.UnchangedSamples, s.UnchangedSince = 3, s.At.Add(-2*time.Minute)
		}, want: query.StatusStall, reason: "unchanged with lag for 3 polls"},
		{name: "a stop timed from catching up is not timed from the window", mod: func(s *store.PartitionState) {
			s.UnchangedSamples, s.UnchangedSince, s.LagMin = 9, s.At.Add(-8*time.Minute), 0
			s.CaughtUpAt, s.SinceCaughtUp = s.At.Add(-7*time.Minute), 7
		}, want: query.StatusStall, reason: "unchanged with lag for 7 polls"},
		{name: "2 polls is not yet a stall", mod: func(s *store.PartitionState) {
			s.UnchangedSamples, s.UnchangedSince = 2, s.At.Add(-time.Minute)
		}, want: query.StatusOK, reason: "lag going down"},
		{name: "3 polls within 10 s is not yet a stall", mod: func(s *store.PartitionState) {
			s.UnchangedSamples, s.UnchangedSince = 4, s.At.Add(-3*time.Second)
		}, want: query.StatusOK, reason: "lag going down"},
		{name: "3 polls over 10 s is a stall", mod: func(s *store.PartitionState) {
			s.UnchangedSamples, s.UnchangedSince = 3, s.At.Add(-10*time.Second)
		}, want: query.StatusStall, reason: "unchanged with lag for 3 polls"},
		{name: "stop after the window", mod: func(s *store.PartitionState) {
			s.UnchangedSamples, s.UnchangedSince = 16, s.At.Add(-16*time.Minute)
		}, want: query.StatusStop, reason: "no consumer progress since 2025-03-14T02:04:00Z (16m0s)"},
		{name: "stop when stuck longer than the window progressed", mod: func(s *store.PartitionState) {
			s.UnchangedSamples, s.UnchangedSince = 9, s.At.Add(-8*time.Minute)
		}, want: query.StatusStop, reason: "(8m0s)"},
		{name: "stuck as long as the window progressed is a stall", mod: func(s *store.PartitionState) {
			s.UnchangedSamples, s.UnchangedSince = 8, s.At.Add(-7*time.Minute)
		}, want: query.StatusStall, reason: "unchanged with lag for 8 polls"},
		{name: "progress just before the window and none since is STOP", mod: func(s *store.PartitionState) {
			s.UnchangedSamples, s.UnchangedSince = 16, s.At.Add(-15*time.Minute)
		}, want: query.StatusStop, reason: "(15m0s)"},
		{name: "no progress seen, within the window, is a stall", mod: func(s *store.PartitionState) {
			s.UnchangedSamples, s.UnchangedSince, s.SinceIsLowerBound = 11, s.At.Add(-10*time.Minute), true
		}, want: query.StatusStall, reason: "since before 2025-03-14T02:10:00Z"},
		{name: "stop with unknown start says before", mod: func(s *store.PartitionState) {
			s.UnchangedSamples, s.UnchangedSince, s.SinceIsLowerBound = 100, s.At.Add(-2*time.Hour), true
		}, want: query.StatusStop, reason: "since before"},
		{name: "lag was zero in the window", mod: func(s *store.PartitionState) { s.LagMin, s.LagDecreases = 0, 0 }, want: query.StatusOK, reason: "zero in the window"},
		{name: "lag never went down", mod: func(s *store.PartitionState) { s.LagDecreases, s.LagFirst = 0, 50 }, want: query.StatusWarn, reason: "50 to 100"},
		{name: "too few polls for any verdict", mod: func(s *store.PartitionState) {
			s.Samples, s.UnchangedSamples, s.UnchangedSince = 2, 100, s.At.Add(-2*time.Hour)
		}, want: query.StatusOK, reason: "only 2 polls in the last 15m0s"},
		{name: "lag within the allowed", mod: func(s *store.PartitionState) { s.UnchangedSamples, s.UnchangedSince = 16, s.At.Add(-16*time.Minute) }, allowed: 100, want: query.StatusOK, reason: "lag 100 within the allowed 100"},
		{name: "lag within the allowed in the window", mod: func(s *store.PartitionState) {
			s.LagMin, s.UnchangedSamples, s.UnchangedSince = 60, 2, s.At.Add(-time.Minute)
		}, allowed: 99, want: query.StatusOK, reason: "within the allowed 99 in the window"},
	} {
		got, why := query.Evaluate(state(20, tc.mod), query.Rules{Window: w, AllowedLag: &tc.allowed})
		if got != tc.want || !strings.Contains(why, tc.reason) {
			t.Errorf("%s: %s %q, want %s containing %q", tc.name, got, why, tc.want, tc.reason)
		}
	}
}

// TestEvaluateGroupAllowedLag checks where the allowed lag comes from: the
// group's own (the recorder's config, in the state) unless the rules set
// one for every group, which wins either way.
func TestEvaluateGroupAllowedLag(t *testing.T) {
	t.Parallel()
	stuck := func(groupAllowed int64) store.PartitionState {
		return state(20, func(s *store.PartitionState) {
			s.UnchangedSamples, s.UnchangedSince, s.AllowedLag = 16, s.At.Add(-16*time.Minute), groupAllowed
		})
	}
	zero, big := int64(0), int64(500)
	for _, tc := range []struct {
		name   string
		st     store.PartitionState
		rule   *int64
		want   query.Status
		reason string
	}{
		{"no allowed lag anywhere", stuck(0), nil, query.StatusStop, "no consumer progress"},
		{"the group's own allowed lag", stuck(100), nil, query.StatusOK, "lag 100 within the allowed 100"},
		{"the group's own is too small", stuck(99), nil, query.StatusStop, "no consumer progress"},
		{"a rule for every group overrides the group's", stuck(100), &zero, query.StatusStop, "no consumer progress"},
		{"a larger rule for every group", stuck(0), &big, query.StatusOK, "lag 100 within the allowed 500"},
	} {
		got, why := query.Evaluate(tc.st, query.Rules{Window: 15 * time.Minute, AllowedLag: tc.rule})
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
	got := query.Timeline([]store.GroupRef{g1, g2}, states, edges, query.Rules{Window: w})
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

// TestTimelineReasonCoversTheInterval checks that a merged interval's
// reason holds over all of it: when progress stopped (from the first
// evaluation, not the last), how many partitions, and the lag at both ends.
func TestTimelineReasonCoversTheInterval(t *testing.T) {
	t.Parallel()
	edges := make([]time.Time, 5)
	for i := range edges {
		edges[i] = t0.Add(time.Duration(3+i) * time.Minute)
	}
	var states []store.PartitionState
	for b := range 4 {
		for p := range int32(2) {
			st := state(3+b, func(s *store.PartitionState) {
				s.Lag, s.LagMin, s.LagDecreases = int64(100*(b+1)), 50, 0
				s.UnchangedSince, s.UnchangedSamples = t0, 4+b
			})
			st.Partition, st.Bucket = p, b
			states = append(states, st)
		}
	}
	got := query.Timeline([]store.GroupRef{g1}, states, edges, query.Rules{Window: 15 * time.Minute})
	if len(got) != 1 || got[0].Status != query.StatusStall {
		t.Fatalf("timeline %+v, want one STALL interval", got)
	}
	want := "no consumer progress since 2025-03-14T02:00:00Z: 2 partitions, lag 200 → 800"
	if got[0].Reason != want {
		t.Errorf("reason %q, want %q", got[0].Reason, want)
	}
}
