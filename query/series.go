package query

import (
	"slices"
	"time"
)

// Point is one sample of a monotone counter: a consumer offset or a broker
// offset at the time it was read.
type Point struct {
	T time.Time
	V int64
}

// EventKind names something in a counter's history that breaks its
// continuity.
type EventKind string

// The events a counter series can hold.
const (
	// EventDecrease: the counter went down between two samples. For a
	// consumer offset that is a rewind or a reset; for a broker offset, a
	// topic recreated or truncated. The interval is not counted.
	EventDecrease EventKind = "decrease"
	// EventGap: two samples are further apart than the gap limit, so what
	// happened between them is unknown. The interval is not counted.
	EventGap EventKind = "gap"
)

// Event is a break in a counter series, between samples From and To.
type Event struct {
	Kind EventKind
	From Point
	To   Point
}

// interval is the span between two consecutive samples that counts: the
// counter did not go down and the samples are close enough.
type interval struct {
	from, to Point
}

// split cuts a series into the intervals that count and the events between
// them. points must be sorted by time; samples with equal times keep the
// last. maxGap <= 0 means no gap limit.
func split(points []Point, maxGap time.Duration) ([]interval, []Event) {
	var ivs []interval
	var events []Event
	for i := 1; i < len(points); i++ {
		a, b := points[i-1], points[i]
		if !b.T.After(a.T) {
			continue
		}
		switch {
		case b.V < a.V:
			events = append(events, Event{Kind: EventDecrease, From: a, To: b})
		case maxGap > 0 && b.T.Sub(a.T) > maxGap:
			events = append(events, Event{Kind: EventGap, From: a, To: b})
		default:
			ivs = append(ivs, interval{from: a, to: b})
		}
	}
	return ivs, events
}

// MedianInterval returns the median time between consecutive samples, or 0
// when there are fewer than two.
func MedianInterval(points []Point) time.Duration {
	if len(points) < 2 {
		return 0
	}
	d := make([]time.Duration, 0, len(points)-1)
	for i := 1; i < len(points); i++ {
		if dt := points[i].T.Sub(points[i-1].T); dt > 0 {
			d = append(d, dt)
		}
	}
	if len(d) == 0 {
		return 0
	}
	slices.Sort(d)
	m := len(d) / 2
	if len(d)%2 == 1 {
		return d[m]
	}
	return (d[m-1] + d[m]) / 2
}

// GapFactor is how many median poll intervals two samples may be apart
// before the span between them counts as a gap.
const GapFactor = 3
