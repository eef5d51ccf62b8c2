package query

import (
	"math"
	"testing"
	"time"
)

func xy(pairs ...float64) []XY {
	var out []XY
	for i := 0; i+1 < len(pairs); i += 2 {
		out = append(out, XY{T: at(pairs[i]), V: pairs[i+1]})
	}
	return out
}

func TestLinearFit(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name          string
		obs           []XY
		at            time.Time
		ok            bool
		slope, interc float64
	}{
		{"exact line", xy(0, 100, 10, 80, 20, 60, 30, 40), at(30), true, -2, 40},
		{"intercept at another time", xy(0, 100, 10, 80, 20, 60), at(0), true, -2, 100},
		// By hand: means 15 and 15, Sxy 480, Sxx 500: slope 0.96,
		// intercept 15 - 0.96*15 = 0.6.
		{"noisy points", xy(0, 1, 10, 9, 20, 21, 30, 29), at(0), true, 0.96, 0.6},
		{"flat", xy(0, 5, 10, 5, 20, 5), at(20), true, 0, 5},
		{"one observation", xy(0, 5), at(0), false, 0, 0},
		{"all at one time", xy(10, 5, 10, 7), at(10), false, 0, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			f, ok := LinearFit(tt.obs, tt.at)
			if ok != tt.ok {
				t.Fatalf("ok = %v, want %v", ok, tt.ok)
			}
			if !ok {
				return
			}
			if math.Abs(f.Slope-tt.slope) > 1e-9 || math.Abs(f.Intercept-tt.interc) > 1e-9 {
				t.Errorf("fit = slope %g intercept %g, want %g %g", f.Slope, f.Intercept, tt.slope, tt.interc)
			}
			if p := f.Predict(tt.at.Add(10 * time.Second)); math.Abs(p-(tt.interc+10*tt.slope)) > 1e-9 {
				t.Errorf("Predict(+10s) = %g, want %g", p, tt.interc+10*tt.slope)
			}
		})
	}
}

func TestDrainETA(t *testing.T) {
	t.Parallel()
	tests := []struct {
		lag, slope float64
		want       time.Duration
		ok         bool
	}{
		{1000, -10, 100 * time.Second, true},
		{1000, -0.5, 2000 * time.Second, true},
		{1000, 0, 0, false},
		{1000, 3, 0, false},
		{0, -10, 0, false},
		{1000, math.NaN(), 0, false},
		{1e30, -1e-30, 0, false},
	}
	for _, tt := range tests {
		got, ok := DrainETA(tt.lag, tt.slope)
		if ok != tt.ok || got != tt.want {
			t.Errorf("DrainETA(%g, %g) = %s, %v; want %s, %v", tt.lag, tt.slope, got, ok, tt.want, tt.ok)
		}
	}
}
