package query_test

import (
	"errors"
	"math"
	"testing"
	"time"

	"github.com/lagtrail/lagtrail/query"
)

func TestParseTime(t *testing.T) {
	t.Parallel()
	now := time.Date(2025, 3, 14, 12, 30, 0, 0, time.UTC)
	for _, tc := range []struct {
		in   string
		want time.Time
		bad  bool
	}{
		{in: "now", want: now},
		{in: "-24h", want: now.Add(-24 * time.Hour)},
		{in: "-90m", want: now.Add(-90 * time.Minute)},
		{in: "+15m", want: now.Add(15 * time.Minute)},
		{in: "-7d", want: now.AddDate(0, 0, -7)},
		{in: " -1h30m ", want: now.Add(-90 * time.Minute)},
		{in: "2025-03-14T02:00:00Z", want: time.Date(2025, 3, 14, 2, 0, 0, 0, time.UTC)},
		{in: "2025-03-14T10:00:00+08:00", want: time.Date(2025, 3, 14, 2, 0, 0, 0, time.UTC)},
		{in: "2025-03-14T02:00:00.5Z", want: time.Date(2025, 3, 14, 2, 0, 0, 5e8, time.UTC)},
		{in: "-2w", want: now.Add(-14 * 24 * time.Hour)},
		{in: "-1d12h", want: now.Add(-36 * time.Hour)},
		{in: "+1w", want: now.Add(7 * 24 * time.Hour)},
		{in: "2025-03-14", want: time.Date(2025, 3, 14, 0, 0, 0, 0, time.UTC)},
		{in: " 2026-12-05 ", want: time.Date(2026, 12, 5, 0, 0, 0, 0, time.UTC)},
		{in: "", bad: true},
		{in: "yesterday", bad: true},
		{in: "-7days", bad: true},
		{in: "-xd", bad: true},
		{in: "2025-02-30", bad: true},
		{in: "2025-3-14", bad: true},
		{in: "2025-03-14 02:00", bad: true},
		{in: "-2x", bad: true},
		{in: "-3d1w", bad: true},
		{in: "-1.5d", bad: true},
		{in: "-24", bad: true},
	} {
		got, err := query.ParseTime(tc.in, now)
		if tc.bad {
			if !errors.Is(err, query.ErrInvalidRequest) {
				t.Errorf("ParseTime(%q) = %v, %v; want ErrInvalidRequest", tc.in, got, err)
			}
			continue
		}
		if err != nil || !got.Equal(tc.want) {
			t.Errorf("ParseTime(%q) = %v, %v; want %v", tc.in, got, err, tc.want)
		}
	}
}

func TestDefaultStep(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		span, want time.Duration
	}{
		{time.Minute, time.Minute},
		{time.Hour, time.Minute},
		{2 * time.Hour, time.Minute},
		{2*time.Hour + time.Second, 2 * time.Minute},
		{6 * time.Hour, 5 * time.Minute},
		{24 * time.Hour, 15 * time.Minute},
		{7 * 24 * time.Hour, 2 * time.Hour},
		{30 * 24 * time.Hour, 6 * time.Hour},
		{365 * 24 * time.Hour, 4 * 24 * time.Hour},
		{120 * 24 * time.Hour, 24 * time.Hour},
		{120*24*time.Hour + 1, 2 * 24 * time.Hour},
		{2560000 * time.Hour, 889 * 24 * time.Hour},
		{math.MaxInt64, 890 * 24 * time.Hour},
	} {
		if got := query.DefaultStep(tc.span); got != tc.want {
			t.Errorf("DefaultStep(%s) = %s, want %s", tc.span, got, tc.want)
		}
		if n := tc.span / query.DefaultStep(tc.span); n > query.TargetBuckets {
			t.Errorf("DefaultStep(%s) gives %d buckets", tc.span, n)
		}
	}
}

func TestEdges(t *testing.T) {
	t.Parallel()
	d := func(s string) time.Time {
		v, err := time.Parse(time.RFC3339, s)
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
	for _, tc := range []struct {
		name     string
		from, to string
		step     time.Duration
		max      int
		want     []string
		bad      bool
	}{
		{name: "aligned", from: "2025-03-14T00:00:00Z", to: "2025-03-14T00:30:00Z", step: 10 * time.Minute, max: 10,
			want: []string{"2025-03-14T00:00:00Z", "2025-03-14T00:10:00Z", "2025-03-14T00:20:00Z", "2025-03-14T00:30:00Z"}},
		{name: "unaligned ends are short buckets", from: "2025-03-14T00:05:00Z", to: "2025-03-14T00:25:00Z", step: 10 * time.Minute, max: 10,
			want: []string{"2025-03-14T00:05:00Z", "2025-03-14T00:10:00Z", "2025-03-14T00:20:00Z", "2025-03-14T00:25:00Z"}},
		{name: "step larger than range", from: "2025-03-14T00:05:00Z", to: "2025-03-14T00:25:00Z", step: time.Hour, max: 10,
			want: []string{"2025-03-14T00:05:00Z", "2025-03-14T00:25:00Z"}},
		{name: "exactly the limit", from: "2025-03-14T00:00:00Z", to: "2025-03-14T00:03:00Z", step: time.Minute, max: 3,
			want: []string{"2025-03-14T00:00:00Z", "2025-03-14T00:01:00Z", "2025-03-14T00:02:00Z", "2025-03-14T00:03:00Z"}},
		{name: "over the limit", from: "2025-03-14T00:00:00Z", to: "2025-03-14T00:03:01Z", step: time.Minute, max: 3, bad: true},
		{name: "zero step", from: "2025-03-14T00:00:00Z", to: "2025-03-14T01:00:00Z", step: 0, max: 10, bad: true},
		{name: "empty range", from: "2025-03-14T00:00:00Z", to: "2025-03-14T00:00:00Z", step: time.Minute, max: 10, bad: true},
		{name: "reversed", from: "2025-03-14T01:00:00Z", to: "2025-03-14T00:00:00Z", step: time.Minute, max: 10, bad: true},
		{name: "a century at a second", from: "1925-03-14T00:00:00Z", to: "2025-03-14T00:00:00Z", step: time.Second, max: 100_000, bad: true},
		// Longer than the longest duration: to - from saturates, and must
		// not overflow into a negative count of buckets.
		{name: "three centuries at a day", from: "1700-01-01T00:00:00Z", to: "2025-03-14T00:00:00Z", step: 24 * time.Hour, max: 100_000, bad: true},
	} {
		got, err := query.Edges(d(tc.from), d(tc.to), tc.step, tc.max)
		if tc.bad {
			if !errors.Is(err, query.ErrInvalidRequest) {
				t.Errorf("%s: %v, %v; want ErrInvalidRequest", tc.name, got, err)
			}
			continue
		}
		if err != nil || len(got) != len(tc.want) {
			t.Errorf("%s: %v, %v; want %v", tc.name, got, err, tc.want)
			continue
		}
		for i := range got {
			if !got[i].Equal(d(tc.want[i])) {
				t.Errorf("%s: edge %d = %s, want %s", tc.name, i, got[i].Format(time.RFC3339), tc.want[i])
			}
		}
	}
}
