package ingest

import (
	"hash/fnv"
	"math/rand/v2"
	"time"

	"github.com/lagtrail/lagtrail/store"
)

// phase returns the group's deterministic start offset within the interval.
// The same group always gets the same offset, so restarts and several
// recorders keep one rhythm, and offsets of different groups spread evenly
// over the interval.
func phase(g store.GroupRef, interval time.Duration) time.Duration {
	h := fnv.New64a()
	h.Write([]byte(g.Region))
	h.Write([]byte{0})
	h.Write([]byte(g.InstanceID))
	h.Write([]byte{0})
	h.Write([]byte(g.Group))
	return time.Duration(h.Sum64() % uint64(interval))
}

// nextTick returns the first tick strictly after now, where ticks are
// epoch + phase + k*interval. A poll that ran long therefore skips the ticks
// it missed instead of queueing them.
func nextTick(now time.Time, phase, interval time.Duration) time.Time {
	base := now.Truncate(interval).Add(phase)
	for !base.After(now) {
		base = base.Add(interval)
	}
	return base
}

// backoff returns the wait before retry number attempt (1-based) after
// throttling: exponential from base, capped at limit, with full jitter so
// that throttled groups do not retry in step.
func backoff(attempt int, base, limit time.Duration) time.Duration {
	d := base
	for i := 1; i < attempt && d < limit; i++ {
		d *= 2
	}
	d = min(d, limit)
	// Full jitter over [d/2, d): never zero, never in lockstep.
	half := d / 2
	return half + rand.N(d-half+1)
}

// Slot returns the latest tick of g at or before t: when a recorder polling
// every interval was due to start g's poll. Ticks are the Unix epoch plus the
// group's deterministic phase plus whole intervals, on every recorder, so a
// poll that started at s began Slot(g, interval, s) late by s minus that
// tick. Load tests use it to judge punctuality from the API's request log.
func Slot(g store.GroupRef, interval time.Duration, t time.Time) time.Time {
	if interval <= 0 {
		return t
	}
	return nextTick(t, phase(g, interval), interval).Add(-interval)
}
