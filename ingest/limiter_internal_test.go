package ingest

import (
	"context"
	"sort"
	"sync"
	"testing"
	"time"

	"golang.org/x/time/rate"
)

// maxInWindow is the most of times (sorted) within any span starting at
// one of them, the window a second ahead of each, as bench record counts.
func maxInWindow(times []time.Time, span time.Duration) int {
	most := 0
	j := 0
	for i := range times {
		for j < len(times) && times[j].Sub(times[i]) < span {
			j++
		}
		most = max(most, j-i)
	}
	return most
}

// TestCallLimiterHoldsTheWindow has 64 goroutines call at once for 2.5 s
// through a limiter of 9/s, then lowers it to 4/s: no second, measured on
// the send times it returned, may hold more than limit+1 calls, whatever
// the goroutines' wake-up jitter.
func TestCallLimiterHoldsTheWindow(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name   string
		limit  rate.Limit
		change rate.Limit
	}{
		{"steady", 9, 0},
		{"lowered mid-run", 9, 4},
		{"raised mid-run", 4, 9},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			l := newCallLimiter(tc.limit)
			ctx, cancel := context.WithTimeout(context.Background(), 2500*time.Millisecond)
			defer cancel()
			var mu sync.Mutex
			var before, after []time.Time
			changedAt := time.Now().Add(1200 * time.Millisecond)
			if tc.change > 0 {
				go func() {
					time.Sleep(time.Until(changedAt))
					l.SetLimit(tc.change)
				}()
			}
			var wg sync.WaitGroup
			for range 64 {
				wg.Add(1)
				go func() {
					defer wg.Done()
					for {
						at, err := l.Wait(ctx)
						if err != nil {
							return
						}
						// Work of random length, as calls have.
						time.Sleep(time.Duration(at.UnixNano()%7) * time.Millisecond)
						mu.Lock()
						if at.Before(changedAt) {
							before = append(before, at)
						} else {
							after = append(after, at)
						}
						mu.Unlock()
					}
				}()
			}
			wg.Wait()
			all := append(append([]time.Time{}, before...), after...)
			sort.Slice(all, func(i, j int) bool { return all[i].Before(all[j]) })
			bound := windowCalls(max(tc.limit, tc.change))
			if got := maxInWindow(all, time.Second); got > bound || len(all) < 4 {
				t.Errorf("%d calls in one second of %d, want at most %d", got, len(all), bound)
			}
			if tc.change > 0 {
				// A second after the change, the new limit holds.
				var late []time.Time
				for _, at := range all {
					if at.After(changedAt.Add(sendWindow)) {
						late = append(late, at)
					}
				}
				if got, want := maxInWindow(late, time.Second), windowCalls(tc.change); got > want {
					t.Errorf("after the change to %v/s: %d calls in one second, want at most %d", tc.change, got, want)
				}
			}
		})
	}
}

func TestCallLimiterStopsWaitingOnCancel(t *testing.T) {
	t.Parallel()
	l := newCallLimiter(1)
	ctx, cancel := context.WithCancel(context.Background())
	if _, err := l.Wait(ctx); err != nil {
		t.Fatal(err)
	}
	cancel()
	if at, err := l.Wait(ctx); err == nil {
		t.Errorf("Wait on a cancelled context returned %v, want the context's error", at)
	}
}
