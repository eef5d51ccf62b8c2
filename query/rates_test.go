package query

import (
	"errors"
	"math"
	"testing"
	"time"
)

var t0 = time.Date(2026, 11, 21, 2, 0, 0, 0, time.UTC)

func at(sec float64) time.Time { return t0.Add(time.Duration(sec * float64(time.Second))) }

func pts(pairs ...int64) []Point {
	var out []Point
	for i := 0; i+1 < len(pairs); i += 2 {
		out = append(out, Point{T: at(float64(pairs[i])), V: pairs[i+1]})
	}
	return out
}

func edges(secs ...float64) []time.Time {
	var out []time.Time
	for _, s := range secs {
		out = append(out, at(s))
	}
	return out
}

type wantBucket struct {
	count   float64
	covered time.Duration
	rate    float64 // ignored when !known
	known   bool
}

func TestIncrease(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name       string
		points     []Point
		edges      []time.Time
		maxGap     time.Duration
		want       []wantBucket
		wantEvents []EventKind
	}{
		{
			name:   "steady 10 msg/s",
			points: pts(0, 0, 10, 100, 20, 200, 30, 300, 40, 400),
			edges:  edges(0, 20, 40),
			want:   []wantBucket{{200, 20 * time.Second, 10, true}, {200, 20 * time.Second, 10, true}},
		},
		{
			name:   "interpolated at bucket edges",
			points: pts(0, 0, 10, 100, 20, 200),
			edges:  edges(5, 15, 25),
			want:   []wantBucket{{100, 10 * time.Second, 10, true}, {50, 5 * time.Second, 10, true}},
		},
		{
			name:       "consumer rewind splits, never negative",
			points:     pts(0, 100, 10, 200, 20, 50, 30, 150),
			edges:      edges(0, 30),
			want:       []wantBucket{{200, 20 * time.Second, 10, true}},
			wantEvents: []EventKind{EventDecrease},
		},
		{
			name:       "topic recreated: broker offset drops to 0",
			points:     pts(0, 1_000_000, 10, 1_000_100, 20, 3, 30, 53),
			edges:      edges(0, 10, 20, 30),
			want:       []wantBucket{{100, 10 * time.Second, 10, true}, {0, 0, 0, false}, {50, 10 * time.Second, 5, true}},
			wantEvents: []EventKind{EventDecrease},
		},
		{
			name:       "gap over 3x the median interval is empty, not zero",
			points:     pts(0, 0, 10, 10, 20, 20, 80, 80, 90, 90),
			edges:      edges(0, 20, 40, 60, 80, 100),
			want:       []wantBucket{{20, 20 * time.Second, 1, true}, {0, 0, 0, false}, {0, 0, 0, false}, {0, 0, 0, false}, {10, 10 * time.Second, 1, true}},
			wantEvents: []EventKind{EventGap},
		},
		{
			name:   "a gap within the limit is bridged",
			points: pts(0, 0, 10, 10, 20, 20, 45, 45, 55, 55),
			edges:  edges(0, 60),
			want:   []wantBucket{{55, 55 * time.Second, 1, true}},
		},
		{
			name:       "explicit gap limit",
			points:     pts(0, 0, 10, 10, 20, 20, 45, 45),
			edges:      edges(0, 60),
			maxGap:     20 * time.Second,
			want:       []wantBucket{{20, 20 * time.Second, 1, true}},
			wantEvents: []EventKind{EventGap},
		},
		{
			name:   "no extrapolation before the first or after the last sample",
			points: pts(100, 0, 110, 50),
			edges:  edges(0, 100, 120, 200),
			want:   []wantBucket{{0, 0, 0, false}, {50, 10 * time.Second, 5, true}, {0, 0, 0, false}},
		},
		{
			name:   "stalled consumer: known zero rate",
			points: pts(0, 7, 10, 7, 20, 7),
			edges:  edges(0, 20),
			want:   []wantBucket{{0, 20 * time.Second, 0, true}},
		},
		{
			name:   "duplicate sample times are skipped",
			points: pts(0, 0, 10, 100, 10, 100, 20, 200),
			edges:  edges(0, 20),
			want:   []wantBucket{{200, 20 * time.Second, 10, true}},
		},
		{
			name:   "one sample: nothing known",
			points: pts(0, 5),
			edges:  edges(0, 10),
			want:   []wantBucket{{0, 0, 0, false}},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, events, err := Increase(tt.points, tt.edges, tt.maxGap)
			if err != nil {
				t.Fatal(err)
			}
			if len(got) != len(tt.want) {
				t.Fatalf("%d buckets, want %d", len(got), len(tt.want))
			}
			for i, w := range tt.want {
				g := got[i]
				rate, known := g.Rate()
				if math.Abs(g.Count-w.count) > 1e-9 || g.Covered != w.covered || known != w.known || (known && math.Abs(rate-w.rate) > 1e-9) {
					t.Errorf("bucket %d: count %g covered %s rate %g known %v; want %g %s %g %v", i, g.Count, g.Covered, rate, known, w.count, w.covered, w.rate, w.known)
				}
			}
			if len(events) != len(tt.wantEvents) {
				t.Fatalf("events %+v, want kinds %v", events, tt.wantEvents)
			}
			for i, k := range tt.wantEvents {
				if events[i].Kind != k {
					t.Errorf("event %d is %s, want %s", i, events[i].Kind, k)
				}
			}
		})
	}
}

// TestIncreaseBucketsAddUp checks that however a range is cut into buckets,
// the counts add up to the count over the whole range.
func TestIncreaseBucketsAddUp(t *testing.T) {
	t.Parallel()
	// An irregular series with a rewind and a gap.
	var points []Point
	v := int64(0)
	sec := 0.0
	for i := range 400 {
		sec += 7 + float64(i%5)*1.3
		if i == 150 {
			sec += 200 // gap
		}
		v += int64(3 + i%11)
		if i == 300 {
			v -= 500 // rewind
		}
		points = append(points, Point{T: at(sec), V: v})
	}
	whole, _, err := Increase(points, edges(0, sec+10), 0)
	if err != nil {
		t.Fatal(err)
	}
	for _, step := range []float64{1, 13, 60, 333.3, 1000} {
		var e []float64
		for x := 0.0; x < sec+10; x += step {
			e = append(e, x)
		}
		e = append(e, sec+10)
		parts, _, err := Increase(points, edges(e...), 0)
		if err != nil {
			t.Fatal(err)
		}
		sum, covered := 0.0, time.Duration(0)
		for _, b := range parts {
			sum += b.Count
			covered += b.Covered
		}
		if math.Abs(sum-whole[0].Count) > 1e-6 || covered != whole[0].Covered {
			t.Errorf("step %gs: buckets add up to %.9f over %s, whole range %.9f over %s", step, sum, covered, whole[0].Count, whole[0].Covered)
		}
	}
}

func TestIncreaseRejectsBadEdges(t *testing.T) {
	t.Parallel()
	for _, e := range [][]time.Time{nil, edges(0), edges(10, 10), edges(10, 5)} {
		if _, _, err := Increase(pts(0, 0, 10, 10), e, 0); !errors.Is(err, ErrBadBuckets) {
			t.Errorf("edges %v: err %v, want ErrBadBuckets", e, err)
		}
	}
}

func TestMedianInterval(t *testing.T) {
	t.Parallel()
	tests := []struct {
		points []Point
		want   time.Duration
	}{
		{nil, 0},
		{pts(0, 0), 0},
		{pts(0, 0, 10, 0), 10 * time.Second},
		{pts(0, 0, 10, 0, 30, 0), 15 * time.Second},
		{pts(0, 0, 10, 0, 20, 0, 300, 0), 10 * time.Second},
	}
	for i, tt := range tests {
		if got := MedianInterval(tt.points); got != tt.want {
			t.Errorf("case %d: MedianInterval = %s, want %s", i, got, tt.want)
		}
	}
}
