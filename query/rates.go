package query

import (
	"errors"
	"fmt"
	"time"
)

// ErrBadBuckets is returned for bucket edges that are not strictly
// increasing or are fewer than two.
var ErrBadBuckets = errors.New("bucket edges must be at least two, strictly increasing")

// Bucket is what a counter did in [Start, End).
type Bucket struct {
	Start, End time.Time
	// Count is the number of messages the counter advanced by in the
	// bucket, with linear interpolation inside each counted interval, so
	// that the counts of adjacent buckets add up exactly to the count over
	// their union.
	Count float64
	// Covered is the part of the bucket that counted intervals span.
	Covered time.Duration
}

// Rate returns Count per second of Covered time, and false when no counted
// interval touches the bucket (a gap, a decrease, or no data): the rate
// there is unknown, not zero.
func (b Bucket) Rate() (float64, bool) {
	if b.Covered <= 0 {
		return 0, false
	}
	return b.Count / b.Covered.Seconds(), true
}

// Increase spreads a counter's advance over buckets whose edges are given:
// bucket i is [edges[i], edges[i+1]). Decreases and gaps longer than maxGap
// split the series and are returned as events, never counted as negative or
// huge throughput; maxGap <= 0 derives it as GapFactor times the series'
// median poll interval. Nothing is extrapolated past the first or last
// sample.
func Increase(points []Point, edges []time.Time, maxGap time.Duration) ([]Bucket, []Event, error) {
	if len(edges) < 2 {
		return nil, nil, ErrBadBuckets
	}
	for i := 1; i < len(edges); i++ {
		if !edges[i].After(edges[i-1]) {
			return nil, nil, fmt.Errorf("%w: edge %d (%s) is not after edge %d (%s)", ErrBadBuckets, i, edges[i].Format(time.RFC3339), i-1, edges[i-1].Format(time.RFC3339))
		}
	}
	if maxGap <= 0 {
		maxGap = GapFactor * MedianInterval(points)
	}
	ivs, events := split(points, maxGap)
	buckets := make([]Bucket, len(edges)-1)
	for i := range buckets {
		buckets[i] = Bucket{Start: edges[i], End: edges[i+1]}
	}
	// Both lists are sorted by time: walk them together.
	b := 0
	for _, iv := range ivs {
		for b < len(buckets) && !buckets[b].End.After(iv.from.T) {
			b++
		}
		span := iv.to.T.Sub(iv.from.T)
		delta := float64(iv.to.V - iv.from.V)
		for j := b; j < len(buckets) && buckets[j].Start.Before(iv.to.T); j++ {
			lo := later(iv.from.T, buckets[j].Start)
			hi := earlier(iv.to.T, buckets[j].End)
			if !hi.After(lo) {
				continue
			}
			overlap := hi.Sub(lo)
			buckets[j].Covered += overlap
			if overlap == span {
				buckets[j].Count += delta
			} else {
				buckets[j].Count += delta * float64(overlap) / float64(span)
			}
		}
	}
	return buckets, events, nil
}

func later(a, b time.Time) time.Time {
	if a.After(b) {
		return a
	}
	return b
}

func earlier(a, b time.Time) time.Time {
	if a.Before(b) {
		return a
	}
	return b
}
