package ingest

import (
	"context"
	"math"
	"sync"
	"time"

	"golang.org/x/time/rate"
)

// sendWindow is the span callLimiter counts calls over: a second, and a
// millisecond to spare for how send times are rounded where they are
// compared (PostgreSQL keeps microseconds).
const sendWindow = time.Second + time.Millisecond

// callLimiter paces the calls of one API. A token bucket (rate limit,
// burst 1) spaces them; a record of the last send times then holds back a
// call that would make more than limit+1 calls within any second, which is
// what share counts on. The token bucket alone allows that many only by its
// own schedule: goroutines wake from it with jitter, and calls it spaced
// 20 ms apart can leave closer together, a call or two over the limit in a
// second (bench record measured 51 against 50 on a loaded machine).
type callLimiter struct {
	bucket *rate.Limiter

	mu   sync.Mutex
	sent []time.Time // the last len(sent) send times, oldest at next
	next int
}

// newCallLimiter returns a limiter at limit calls per second.
func newCallLimiter(limit rate.Limit) *callLimiter {
	l := &callLimiter{bucket: rate.NewLimiter(limit, 1)}
	l.sent = make([]time.Time, windowCalls(limit))
	return l
}

// windowCalls is the most calls a token bucket of limit and burst 1 makes
// in a second: the token it holds, then limit more.
func windowCalls(limit rate.Limit) int {
	return int(math.Floor(float64(limit))) + 1
}

// Limit returns the limiter's rate.
func (l *callLimiter) Limit() rate.Limit { return l.bucket.Limit() }

// SetLimit changes the rate, keeping the most recent send times.
func (l *callLimiter) SetLimit(limit rate.Limit) {
	l.bucket.SetLimit(limit)
	l.mu.Lock()
	defer l.mu.Unlock()
	n := windowCalls(limit)
	if n == len(l.sent) {
		return
	}
	// Oldest first, then keep the newest n.
	ordered := append(append([]time.Time{}, l.sent[l.next:]...), l.sent[:l.next]...)
	if len(ordered) > n {
		ordered = ordered[len(ordered)-n:]
	}
	l.sent = append(make([]time.Time, n-len(ordered)), ordered...)
	l.next = 0
}

// Wait blocks until a call may leave, and returns its send time, or the
// context's error.
func (l *callLimiter) Wait(ctx context.Context) (time.Time, error) {
	if err := l.bucket.Wait(ctx); err != nil {
		return time.Time{}, err
	}
	for {
		l.mu.Lock()
		now := time.Now()
		oldest := l.sent[l.next]
		if oldest.IsZero() || now.Sub(oldest) >= sendWindow {
			l.sent[l.next] = now
			l.next = (l.next + 1) % len(l.sent)
			l.mu.Unlock()
			return now, nil
		}
		wait := sendWindow - now.Sub(oldest)
		l.mu.Unlock()
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return time.Time{}, ctx.Err()
		case <-t.C:
		}
	}
}
