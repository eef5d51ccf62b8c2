package chart

import (
	"slices"
	"testing"
)

func TestFormatTickValues(t *testing.T) {
	t.Parallel()
	tests := []struct {
		format func(float64) string
		v      float64
		want   string
	}{
		{formatCount, 0, "0"}, {formatCount, 7, "7"}, {formatCount, 950, "950"},
		{formatCount, 0.25, "0.25"}, {formatCount, 0.000125, "0.000125"},
		{formatCount, 1000, "1k"}, {formatCount, 1200, "1.2k"}, {formatCount, 12500, "12.5k"},
		{formatCount, 999_000, "999k"}, {formatCount, 1_250_000, "1.25M"}, {formatCount, 3e9, "3G"},
		{formatCount, 1e12, "1T"}, {formatCount, -1500, "-1.5k"}, {formatCount, 1234.5678, "1.235k"},
		{formatSeconds, 0, "0"}, {formatSeconds, 45, "45s"}, {formatSeconds, 90, "1m30s"},
		{formatSeconds, 300, "5m"}, {formatSeconds, 5400, "1h30m"}, {formatSeconds, 7200, "2h"},
		{formatSeconds, 172800, "2d"}, {formatSeconds, 129600, "1d12h"}, {formatSeconds, -60, "-1m"},
		{formatSeconds, 86400 + 300, "1d"}, // two adjacent units: minutes after days drop
	}
	for _, tt := range tests {
		if got := tt.format(tt.v); got != tt.want {
			t.Errorf("format(%v) = %q, want %q", tt.v, got, tt.want)
		}
	}
}

func TestValueScale(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name     string
		lo, hi   float64
		unit     Unit
		wantMin  float64
		wantStep float64
		labels   []string // the labels, when given
	}{
		{"lag starts at zero", 1200, 265_000, UnitCount, 0, 50_000, []string{"0", "50k", "100k", "150k", "200k", "250k", "300k"}},
		{"rates", 1.1e6, 1.4e6, UnitCount, 0, 250_000, nil},
		{"flat zero", 0, 0, UnitCount, 0, 0.2, nil},
		{"top on a tick gets headroom", 0, 1000, UnitCount, 0, 200, []string{"0", "200", "400", "600", "800", "1k", "1.2k"}},
		{"negative", -300, 700, UnitCount, -400, 200, nil},
		{"seconds", 30, 9000, UnitSeconds, 0, 30 * 60, []string{"0", "30m", "1h", "1h30m", "2h", "2h30m", "3h"}},
		{"sub-second", 0, 0.8, UnitSeconds, 0, 0.2, []string{"0", "0.2s", "0.4s", "0.6s", "0.8s", "1s"}},
		{"weeks of seconds", 0, 60 * 86400, UnitSeconds, 0, 10 * 86400, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			s := newValueScale(tt.lo, tt.hi, 6, tt.unit)
			if s.min != tt.wantMin || s.step != tt.wantStep {
				t.Errorf("min, step = %v, %v, want %v, %v", s.min, s.step, tt.wantMin, tt.wantStep)
			}
			if s.max <= tt.hi || s.min > tt.lo {
				t.Errorf("range %v..%v does not cover %v..%v with headroom", s.min, s.max, tt.lo, tt.hi)
			}
			ticks := s.ticks()
			if n := len(ticks) - 1; n > 6+2 {
				t.Errorf("%d steps, want about 6", n)
			}
			var labels []string
			for _, tk := range ticks {
				labels = append(labels, tk.Label)
			}
			if tt.labels != nil && !slices.Equal(labels, tt.labels) {
				t.Errorf("labels = %q, want %q", labels, tt.labels)
			}
		})
	}
}
