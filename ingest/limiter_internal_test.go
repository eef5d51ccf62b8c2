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

// TestCallLimiterHoldsTheWindow has 64 goroutines call at once for at least
// 2.5 s through a limiter of 9/s, then lowers it to 4/s: no second, measured
// on the send times it returned, may hold more than limit+1 calls, whatever
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
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			var mu sync.Mutex
			var all []time.Time
			// The limit changes 1.2 s in; changedAt is when SetLimit
			// returned, however late the goroutine ran.
			began := time.Now()
			changed := make(chan time.Time, 1)
			if tc.change > 0 {
				go func() {
					time.Sleep(1200 * time.Millisecond)
					l.SetLimit(tc.change)
					changed <- time.Now()
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
						all = append(all, at)
						mu.Unlock()
					}
				}()
			}
			// Run for 2.5 s, and on until there are 4 calls and, with a
			// change, calls over more than a second from a second after
			// it, however slowly the machine runs.
			var changedAt time.Time
			enough := func() bool {
				if changedAt.IsZero() {
					select {
					case changedAt = <-changed:
					default:
					}
				}
				mu.Lock()
				defer mu.Unlock()
				if time.Since(began) < 2500*time.Millisecond || len(all) < 4 {
					return false
				}
				return tc.change == 0 || !changedAt.IsZero() && all[len(all)-1].After(changedAt.Add(sendWindow+time.Second))
			}
			for deadline := time.Now().Add(2 * time.Minute); !enough(); time.Sleep(50 * time.Millisecond) {
				if time.Now().After(deadline) {
					cancel()
					wg.Wait()
					t.Fatalf("after 2 minutes: %d calls, limit changed at %v; want 4 calls, and with a change, calls over a second from a second after it", len(all), changedAt)
				}
			}
			cancel()
			wg.Wait()
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
