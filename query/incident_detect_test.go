package query_test

import (
	"slices"
	"testing"
	"time"

	"github.com/lagtrail/lagtrail/query"
)

// series makes one point a minute from lags, every interval producing
// 10 messages/s.
func series(lags ...int64) []query.LagPoint {
	t0 := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	out := make([]query.LagPoint, len(lags))
	rate := 10.0
	for i, l := range lags {
		out[i] = query.LagPoint{At: t0.Add(time.Duration(i) * time.Minute), Lag: l, ProduceRate: &rate}
	}
	return out
}

func TestEpisodes(t *testing.T) {
	t.Parallel()
	// With 10 messages/s, lag above 600 (60s of production) is elevated
	// and lag at or below 50 (5s) is normal again, unless the normal lag
	// says more.
	normal := query.Normal{LagP95: 10, ProduceRate: 10}
	for _, tc := range []struct {
		name   string
		lags   []int64
		normal query.Normal
		want   []query.Episode
	}{
		{"nothing", []int64{5, 8, 3, 10, 7, 4}, normal, nil},
		{"one blip is not sustained", []int64{5, 5, 900, 5, 5, 5}, normal, nil},
		{"rise, peak, drain", []int64{5, 5, 300, 700, 1200, 1500, 800, 40, 5},
			normal, []query.Episode{{Start: 1, Detected: 3, Peak: 5, End: 7}}},
		{"a jump (rewind) drains", []int64{5, 5, 5000, 4000, 3000, 2000, 1000, 30},
			normal, []query.Episode{{Start: 1, Detected: 2, Peak: 2, End: 7}}},
		{"not recovered by the end", []int64{5, 5, 700, 900, 1100},
			normal, []query.Episode{{Start: 1, Detected: 2, Peak: 4, End: -1}}},
		{"elevated at the last two polls", []int64{5, 5, 5, 5, 700, 800},
			normal, []query.Episode{{Start: 3, Detected: 4, Peak: 5, End: -1}}},
		{"elevated only at the last poll", []int64{5, 5, 5, 5, 5, 700},
			normal, []query.Episode{{Start: 4, Detected: 5, Peak: 5, End: -1}}},
		{"already abnormal", []int64{900, 1000, 800, 20, 5},
			normal, []query.Episode{{Start: 0, StartedBefore: true, Detected: 0, Peak: 1, End: 3}}},
		{"two incidents far apart", []int64{5, 700, 800, 10, 5, 5, 5, 5, 5, 5, 5, 900, 950, 5},
			normal, []query.Episode{{Start: 0, Detected: 1, Peak: 2, End: 3}, {Start: 10, Detected: 11, Peak: 12, End: 13}}},
		{"a brief dip merges", []int64{5, 700, 800, 10, 900, 950, 5},
			normal, []query.Episode{{Start: 0, Detected: 1, Peak: 5, End: 6}}},
		{"a high normal lag raises both thresholds", []int64{900, 1000, 1100, 950, 3000, 3500, 1300, 900},
			query.Normal{LagP95: 1200, ProduceRate: 10}, []query.Episode{{Start: 3, Detected: 4, Peak: 5, End: 6}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			got := query.Episodes(series(tc.lags...), tc.normal, query.DetectConfig{})
			if !slices.Equal(got, tc.want) {
				t.Errorf("Episodes(%v) =\n %+v\nwant\n %+v", tc.lags, got, tc.want)
			}
		})
	}
}

func TestNormalFrom(t *testing.T) {
	t.Parallel()
	before := series(1, 2, 3, 4, 5, 6, 7, 8, 9, 100)
	if n := query.NormalFrom(before, nil); n.LagP95 != 100 || n.ProduceRate != 10 || n.FromRange || n.Points != 10 {
		t.Errorf("from the polls before: %+v", n)
	}
	// Too few polls before: the range's lower quartile, which an
	// incident in the other three quarters does not move.
	inRange := series(4, 3, 2, 1, 5000, 6000, 7000, 8000, 9000, 9999, 9999, 9999)
	if n := query.NormalFrom(before[:2], inRange); n.LagP95 != 3 || !n.FromRange {
		t.Errorf("from the range: %+v", n)
	}
	if n := query.NormalFrom(nil, nil); n.Points != 0 || n.LagP95 != 0 {
		t.Errorf("from nothing: %+v", n)
	}
}

func TestShortPartitions(t *testing.T) {
	t.Parallel()
	p := func(topic string, n ...int32) []query.PartitionRef {
		var out []query.PartitionRef
		for _, x := range n {
			out = append(out, query.PartitionRef{Topic: topic, Partition: x})
		}
		return out
	}
	for _, tc := range []struct {
		in   []query.PartitionRef
		want string
	}{
		{nil, ""},
		{p("a", 3), "a/3"},
		{p("a", 7, 6, 5, 4, 3, 2, 1, 0), "a/0-7"},
		{p("a", 0, 1, 3, 5, 6, 7, 9), "a/0,1,3,5-7,9"},
		{append(p("b", 2), p("a", 1, 3)...), "a/1,3 b/2"},
	} {
		if got := query.ShortPartitions(tc.in); got != tc.want {
			t.Errorf("ShortPartitions(%v) = %q, want %q", tc.in, got, tc.want)
		}
	}
}
