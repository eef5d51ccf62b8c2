package chart

import (
	"math"
	"testing"
	"time"
)

func TestSegmentsSplitAtNaN(t *testing.T) {
	t.Parallel()
	nan := math.NaN()
	tests := []struct {
		name string
		vs   []float64
		want [][]float64
	}{
		{"no gap", []float64{1, 2, 3}, [][]float64{{1, 2, 3}}},
		{"gap", []float64{1, 2, nan, 3}, [][]float64{{1, 2}, {3}}},
		{"leading, trailing and repeated", []float64{nan, 1, nan, nan, 2, 3, nan}, [][]float64{{1}, {2, 3}}},
		{"only nan", []float64{nan, nan}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			pts := make([]Point, len(tt.vs))
			for i, v := range tt.vs {
				pts[i] = Point{T: sampleStart.Add(time.Duration(i) * time.Minute), V: v}
			}
			lo, hi := unixSeconds(pts[0].T), unixSeconds(pts[len(pts)-1].T)
			got := segments(pts, lo, hi, 1000)
			if len(got) != len(tt.want) {
				t.Fatalf("got %d runs %v, want %d", len(got), got, len(tt.want))
			}
			for i, run := range got {
				if len(run) != len(tt.want[i]) {
					t.Fatalf("run %d = %v, want values %v", i, run, tt.want[i])
				}
				for j, q := range run {
					if q.y != tt.want[i][j] {
						t.Errorf("run %d point %d = %v, want %v", i, j, q.y, tt.want[i][j])
					}
				}
			}
		})
	}
}

func TestDownsampleKeepsExtremes(t *testing.T) {
	t.Parallel()
	// A week of minutes: a slow wave, one spike up and one down.
	const n = 7 * 24 * 60
	run := make([]xy, n)
	for i := range run {
		run[i] = xy{x: float64(i * 60), y: 100 + 10*math.Sin(float64(i)/50)}
	}
	run[4321].y, run[7777].y = 5000, -5000
	const columns = 800
	got := downsample(run, run[0].x, run[n-1].x, columns)
	if len(got) > 4*columns {
		t.Errorf("%d points, want at most %d", len(got), 4*columns)
	}
	if got[0] != run[0] || got[len(got)-1] != run[n-1] {
		t.Errorf("first or last point lost: %v %v", got[0], got[len(got)-1])
	}
	var hasMax, hasMin bool
	for i, q := range got {
		if i > 0 && q.x <= got[i-1].x {
			t.Fatalf("point %d at %v not after %v", i, q.x, got[i-1].x)
		}
		hasMax = hasMax || q == run[4321]
		hasMin = hasMin || q == run[7777]
	}
	if !hasMax || !hasMin {
		t.Errorf("spikes lost: max kept %v, min kept %v", hasMax, hasMin)
	}
}

func TestDownsampleShortRunUnchanged(t *testing.T) {
	t.Parallel()
	run := []xy{{0, 1}, {10, 5}, {20, 2}, {30, 4}, {40, 3}, {50, 0}}
	got := downsample(run, 0, 50, 1000)
	if len(got) != len(run) {
		t.Fatalf("got %v, want %v unchanged", got, run)
	}
}
