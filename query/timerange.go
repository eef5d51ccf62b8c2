package query

import (
	"fmt"
	"strings"
	"time"

	"github.com/lagtrail/lagtrail/internal/strictyaml"
)

// ParseTime reads a time given as RFC3339 ("2025-03-14T02:00:00Z"), as a
// date alone ("2025-03-14", midnight UTC), as "now", or relative to now: a
// signed duration as strictyaml.ParseDuration reads it ("-24h", "-90m",
// "+15m", "-7d", "-2w", "-1d12h"; a day is 24 hours).
func ParseTime(s string, now time.Time) (time.Time, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return time.Time{}, fmt.Errorf("%w: empty time", ErrInvalidRequest)
	}
	if s == "now" {
		return now, nil
	}
	if s[0] == '-' || s[0] == '+' {
		d, err := strictyaml.ParseDuration(s)
		if err != nil {
			return time.Time{}, fmt.Errorf("%w: bad relative time %q: want e.g. -24h, -90m, -7d, -2w or -1d12h", ErrInvalidRequest, s)
		}
		return now.Add(d), nil
	}
	if t, err := time.Parse(time.DateOnly, s); err == nil {
		return t, nil
	}
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		return time.Time{}, fmt.Errorf("%w: bad time %q: want RFC3339 (2006-01-02T15:04:05Z), a date (2006-01-02, midnight UTC), now, or relative (-24h, -7d)", ErrInvalidRequest, s)
	}
	return t, nil
}

// niceSteps are the bucket widths DefaultStep chooses from.
var niceSteps = []time.Duration{
	time.Minute, 2 * time.Minute, 5 * time.Minute, 10 * time.Minute, 15 * time.Minute, 30 * time.Minute,
	time.Hour, 2 * time.Hour, 3 * time.Hour, 6 * time.Hour, 12 * time.Hour, 24 * time.Hour,
}

// TargetBuckets is how many buckets, at most, DefaultStep aims for.
const TargetBuckets = 120

// DefaultStep returns the smallest of 1m, 2m, 5m, 10m, 15m, 30m, 1h, 2h, 3h,
// 6h, 12h and 1d that cuts span into at most TargetBuckets buckets, or a
// whole number of days beyond that. A minute is the floor: polls are rarely
// closer.
func DefaultStep(span time.Duration) time.Duration {
	for _, s := range niceSteps {
		if span <= s*TargetBuckets {
			return s
		}
	}
	// Rounded up without adding first: a span near the longest duration
	// (from -292 years) must not overflow into a negative step.
	per := 24 * time.Hour * TargetBuckets
	days := span / per
	if span%per != 0 {
		days++
	}
	return days * 24 * time.Hour
}

// Edges returns the bucket edges of [from, to) at step: from, every time
// aligned to step (time.Truncate's alignment, so UTC midnights for steps
// that divide a day) strictly between from and to, then to. The
// first and last buckets are shorter when from or to is not aligned, so the
// same step gives the same buckets whatever the range. It refuses more than
// maxBuckets buckets.
func Edges(from, to time.Time, step time.Duration, maxBuckets int) ([]time.Time, error) {
	if step <= 0 {
		return nil, fmt.Errorf("%w: step must be positive, got %s", ErrInvalidRequest, step)
	}
	if !to.After(from) {
		return nil, fmt.Errorf("%w: --from %s is not before --to %s", ErrInvalidRequest,
			from.UTC().Format(time.RFC3339), to.UTC().Format(time.RFC3339))
	}
	first := from.Truncate(step)
	if !first.After(from) {
		first = first.Add(step)
	}
	n := 1
	if first.Before(to) {
		// Rounded up without adding first, as in DefaultStep.
		d := to.Sub(first)
		n += int(d / step)
		if d%step != 0 {
			n++
		}
	}
	if n > maxBuckets {
		return nil, fmt.Errorf("%w: %s at a step of %s is %d buckets, more than %d: use a larger --step or a shorter range",
			ErrInvalidRequest, to.Sub(from), step, n, maxBuckets)
	}
	edges := make([]time.Time, 0, n+1)
	edges = append(edges, from)
	for t := first; t.Before(to); t = t.Add(step) {
		edges = append(edges, t)
	}
	return append(edges, to), nil
}
