package ingest

import (
	"fmt"
	"testing"
	"time"

	"github.com/lagtrail/lagtrail/store"
)

func TestPhaseIsDeterministicAndSpread(t *testing.T) {
	t.Parallel()
	const interval = time.Minute
	const n = 600
	buckets := make([]int, 10)
	for i := range n {
		g := store.GroupRef{Region: "cn-hangzhou", InstanceID: "alikafka_x", Group: fmt.Sprintf("group-%d", i)}
		p := phase(g, interval)
		if p != phase(g, interval) {
			t.Fatalf("phase of %v changed between calls", g)
		}
		if p < 0 || p >= interval {
			t.Fatalf("phase %s outside [0, %s)", p, interval)
		}
		buckets[int(p*10/interval)]++
	}
	// 600 groups over 10 buckets: each should hold roughly 60; a constant
	// or badly clustered phase would leave buckets empty or overfull.
	for i, c := range buckets {
		if c < 30 || c > 90 {
			t.Errorf("bucket %d holds %d of %d groups; phases are not spread: %v", i, c, n, buckets)
		}
	}
}

func TestNextTick(t *testing.T) {
	t.Parallel()
	base := time.Date(2026, 11, 21, 10, 0, 0, 0, time.UTC)
	tests := []struct {
		name     string
		now      time.Time
		phase    time.Duration
		interval time.Duration
		want     time.Time
	}{
		{"before phase", base.Add(5 * time.Second), 20 * time.Second, time.Minute, base.Add(20 * time.Second)},
		{"exactly on tick goes to next", base.Add(20 * time.Second), 20 * time.Second, time.Minute, base.Add(80 * time.Second)},
		{"after phase", base.Add(30 * time.Second), 20 * time.Second, time.Minute, base.Add(80 * time.Second)},
		// A poll that ran until 200s (the tick at 20+3*60) skips to 260s.
		{"slow poll skips missed ticks", base.Add(200 * time.Second), 20 * time.Second, time.Minute, base.Add(260 * time.Second)},
		{"zero phase", base.Add(time.Nanosecond), 0, time.Minute, base.Add(time.Minute)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got := nextTick(tt.now, tt.phase, tt.interval)
			if !got.Equal(tt.want) {
				t.Errorf("nextTick(%s, %s, %s) = %s, want %s", tt.now.Format(time.TimeOnly), tt.phase, tt.interval, got.Format(time.TimeOnly), tt.want.Format(time.TimeOnly))
			}
			if !got.After(tt.now) {
				t.Errorf("tick %s is not after now %s", got, tt.now)
			}
		})
	}
}

func TestBackoffGrowsWithJitterAndCap(t *testing.T) {
	t.Parallel()
	const base, limit = time.Second, 16 * time.Second
	tests := []struct {
		attempt  int
		lo, hi   time.Duration
		distinct bool
	}{
		{1, 500 * time.Millisecond, time.Second, true},
		{2, time.Second, 2 * time.Second, true},
		{3, 2 * time.Second, 4 * time.Second, true},
		{5, 8 * time.Second, 16 * time.Second, true},
		{12, 8 * time.Second, 16 * time.Second, true},
	}
	for _, tt := range tests {
		seen := map[time.Duration]bool{}
		for range 200 {
			d := backoff(tt.attempt, base, limit)
			if d < tt.lo || d > tt.hi {
				t.Fatalf("backoff(%d) = %s, want within [%s, %s]", tt.attempt, d, tt.lo, tt.hi)
			}
			seen[d] = true
		}
		if len(seen) < 10 {
			t.Errorf("backoff(%d) took only %d distinct values in 200 draws: no jitter", tt.attempt, len(seen))
		}
	}
}

func TestSlotIsTheTickAtOrBefore(t *testing.T) {
	t.Parallel()
	g := store.GroupRef{Region: "cn-hangzhou", InstanceID: "i-1", Group: "g-slot"}
	interval := 10 * time.Second
	now := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	next := nextTick(now, phase(g, interval), interval)
	for _, tt := range []struct {
		at   time.Time
		want time.Time
	}{
		{next, next},
		{next.Add(time.Nanosecond), next},
		{next.Add(interval - time.Nanosecond), next},
		{next.Add(-time.Nanosecond), next.Add(-interval)},
	} {
		if got := Slot(g, interval, tt.at); !got.Equal(tt.want) {
			t.Errorf("Slot(%s) = %s, want %s", tt.at.Format(time.RFC3339Nano), got.Format(time.RFC3339Nano), tt.want.Format(time.RFC3339Nano))
		}
	}
}
