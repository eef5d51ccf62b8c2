package main

import (
	"testing"
	"time"
)

func TestScenarioStart(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 11, 21, 8, 30, 45, 0, time.UTC)
	for _, c := range []struct {
		flag string
		want time.Time
	}{
		{"-7d", time.Date(2026, 11, 14, 0, 0, 0, 0, time.UTC)},
		{"-3d", time.Date(2026, 11, 18, 0, 0, 0, 0, time.UTC)},
		{"-90m", time.Date(2026, 11, 21, 7, 0, 0, 0, time.UTC)},
		{"2025-01-06T00:00:59Z", time.Date(2025, 1, 6, 0, 0, 0, 0, time.UTC)},
	} {
		got, err := scenarioStart(c.flag, now)
		if err != nil || !got.Equal(c.want) {
			t.Errorf("scenarioStart(%q) = %v, %v; want %v", c.flag, got, err, c.want)
		}
	}
	if _, err := scenarioStart("yesterday", now); err == nil {
		t.Error("scenarioStart(yesterday): no error")
	}
}
