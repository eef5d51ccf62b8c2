package query

import (
	"math"
	"slices"
	"time"
)

// LagPoint is a group's or a partition's state at one poll.
type LagPoint struct {
	At  time.Time
	Lag int64
	// ProduceRate is the production rate over the interval ending at this
	// poll, in messages per second; nil when unknown.
	ProduceRate *float64
}

// Normal is what a series looked like before the range an incident report
// covers: the yardstick its lag is judged against.
type Normal struct {
	// LagP95 is the 95th percentile of the lag (nearest rank).
	LagP95 float64 `json:"lag_p95"`
	// ProduceRate is the median production rate, in messages per second.
	ProduceRate float64 `json:"produce_rate"`
	// Points is how many polls it was taken from.
	Points int `json:"points"`
	// FromRange is true when no poll before the range was recorded and
	// the yardstick comes from the range itself: its lowest-quartile lag
	// and median production.
	FromRange bool `json:"from_range"`
}

// NormalFrom measures the yardstick of points, the polls before a report's
// range; when there are fewer than MinNormalPoints of them it falls back to
// the range's own polls, taking their lower quartile of lag, which an
// incident covering less than three quarters of the range does not move.
func NormalFrom(before, inRange []LagPoint) Normal {
	pts, q, fromRange := before, 0.95, false
	if len(before) < MinNormalPoints {
		pts, q, fromRange = inRange, 0.25, true
	}
	n := Normal{Points: len(pts), FromRange: fromRange}
	if len(pts) == 0 {
		return n
	}
	lags := make([]float64, 0, len(pts))
	var rates []float64
	for _, p := range pts {
		lags = append(lags, float64(p.Lag))
		if p.ProduceRate != nil {
			rates = append(rates, *p.ProduceRate)
		}
	}
	slices.Sort(lags)
	n.LagP95 = nearestRank(lags, q)
	if len(rates) > 0 {
		slices.Sort(rates)
		n.ProduceRate = nearestRank(rates, 0.5)
	}
	return n
}

// MinNormalPoints is the fewest polls before a range that NormalFrom
// measures the yardstick from.
const MinNormalPoints = 5

// DetectConfig tunes Episodes. The zero value is the default.
type DetectConfig struct {
	// BehindSeconds: a lag above this many seconds of production (and
	// above twice the normal 95th percentile) is elevated. Default
	// BacklogSeconds (60); Engine.Incident defaults it to
	// StallSamples poll intervals when that is less (ForPollInterval).
	BehindSeconds float64
	// NormalSeconds: a lag at or below this many seconds of production
	// (or 1.5 times the normal 95th percentile) is back to normal.
	// Default BehindSeconds / 12 (5 s at the default 60).
	NormalSeconds float64
	// Sustain is how many consecutive polls must be elevated for an
	// incident. Default 2.
	Sustain int
	// MergePolls: an incident that is elevated again within this many
	// polls of recovering goes on rather than starting anew. Default 5.
	MergePolls int
	// RateWindow is how many polls the local production rate is the
	// median of. Default 10.
	RateWindow int
}

// ForPollInterval returns c with the default BehindSeconds scaled to the
// poll interval: StallSamples intervals of production, at most
// BacklogSeconds. At 1 s polls a lag of 3 s of production is already
// elevated, so that a stall of a few polls (STALL in the status) is an
// incident; at a minute or more the floor stays a minute of production.
func (c DetectConfig) ForPollInterval(interval time.Duration) DetectConfig {
	if c.BehindSeconds <= 0 && interval > 0 {
		c.BehindSeconds = min(BacklogSeconds, StallSamples*interval.Seconds())
	}
	return c
}

func (c DetectConfig) withDefaults() DetectConfig {
	if c.BehindSeconds <= 0 {
		c.BehindSeconds = BacklogSeconds
	}
	if c.NormalSeconds <= 0 {
		c.NormalSeconds = c.BehindSeconds / 12
	}
	if c.Sustain <= 0 {
		c.Sustain = 2
	}
	if c.MergePolls <= 0 {
		c.MergePolls = 5
	}
	if c.RateWindow <= 0 {
		c.RateWindow = 10
	}
	return c
}

// Episode is a stretch of polls in which a series' lag was abnormal, as
// indices into the points Episodes was given.
type Episode struct {
	// Start is the last poll at normal lag before the lag rose: the lag
	// began to grow after it. StartedBefore is true when no such poll is in
	// the points; Start is then 0.
	Start         int
	StartedBefore bool
	// Detected is the first poll of the first sustained run above the
	// elevated threshold.
	Detected int
	// Peak is the poll with the highest lag from Start to End (the first
	// of equal ones).
	Peak int
	// End is the first poll back at normal lag after the last elevated
	// one, or -1 when the lag had not recovered by the last point.
	End int
}

// Thresholds returns, per point, the lag above which it is elevated and the
// lag at or below which it is normal: the larger of a multiple of the
// normal lag and seconds of production at the larger of the normal and the
// local (median over cfg.RateWindow polls) production rate.
func Thresholds(points []LagPoint, normal Normal, cfg DetectConfig) (elevated, back []float64) {
	cfg = cfg.withDefaults()
	elevated = make([]float64, len(points))
	back = make([]float64, len(points))
	window := make([]float64, 0, cfg.RateWindow)
	for i := range points {
		window = window[:0]
		for j := max(0, i-cfg.RateWindow+1); j <= i; j++ {
			if r := points[j].ProduceRate; r != nil && !math.IsNaN(*r) {
				window = append(window, *r)
			}
		}
		rate := normal.ProduceRate
		if len(window) > 0 {
			slices.Sort(window)
			rate = max(rate, nearestRank(window, 0.5))
		}
		elevated[i] = max(2*normal.LagP95, cfg.BehindSeconds*rate, 1)
		back[i] = max(1.5*normal.LagP95, cfg.NormalSeconds*rate)
	}
	return elevated, back
}

// Episodes finds the incidents in one series: runs of at least cfg.Sustain
// polls whose lag is above the elevated threshold (see Thresholds), each
// extended back to the last poll at normal lag, where the lag began to grow,
// and forward to the first poll back at normal lag. Elevated runs closer than
// cfg.MergePolls polls merge into one episode.
func Episodes(points []LagPoint, normal Normal, cfg DetectConfig) []Episode {
	cfg = cfg.withDefaults()
	elevated, back := Thresholds(points, normal, cfg)
	above := func(i int) bool { return float64(points[i].Lag) > elevated[i] }
	sustained := func(i int) bool {
		for j := i; j < i+cfg.Sustain; j++ {
			if j == len(points) {
				// Elevated up to the last poll: as sustained as the
				// data can show.
				return j > i
			}
			if !above(j) {
				return false
			}
		}
		return true
	}
	var out []Episode
	floor := 0 // no episode reaches back before the previous one's end
	for i := 0; i < len(points); i++ {
		if !above(i) || !sustained(i) {
			continue
		}
		ep := Episode{Detected: i, End: -1}
		s := i - 1
		for s >= floor && float64(points[s].Lag) > back[s] {
			s--
		}
		if s < floor {
			// Only possible at floor 0: an earlier episode's end is a
			// poll at normal lag.
			ep.StartedBefore = true
			s = floor
		}
		ep.Start = s
		// Walk to recovery; an elevated run soon after it continues the
		// episode.
		j := i + 1
		for {
			for j < len(points) && float64(points[j].Lag) > back[j] {
				j++
			}
			if j >= len(points) {
				break
			}
			ep.End = j
			next := -1
			for k := j + 1; k < len(points) && k <= j+cfg.MergePolls; k++ {
				if above(k) && sustained(k) {
					next = k
					break
				}
			}
			if next < 0 {
				break
			}
			ep.End, j = -1, next
		}
		last := ep.End
		if last < 0 {
			last = len(points) - 1
		}
		ep.Peak = ep.Start
		for k := ep.Start; k <= last; k++ {
			if points[k].Lag > points[ep.Peak].Lag {
				ep.Peak = k
			}
		}
		out = append(out, ep)
		if ep.End < 0 {
			break
		}
		floor, i = ep.End, ep.End
	}
	return out
}

// CoverStalls makes every stall lie inside an episode. stalls are runs of
// points [a, b] (indices into points) rated STALL or STOP; an episode that
// overlaps a run but does not cover it is widened to cover it, and a run no
// episode touches becomes an episode of its own: from the poll before it
// to the poll after it (or open, at the end of the points), detected at its
// first poll. Overlapping episodes merge. The result is in time order.
func CoverStalls(points []LagPoint, eps []Episode, stalls [][2]int) []Episode {
	out := slices.Clone(eps)
	last := func(e Episode) int {
		if e.End < 0 {
			return len(points) - 1
		}
		return e.End
	}
	for _, st := range stalls {
		a, b := st[0], st[1]
		if a < 0 || b >= len(points) || a > b {
			continue
		}
		want := Episode{Start: max(a-1, 0), StartedBefore: a == 0, Detected: a, End: b + 1}
		if want.End >= len(points) {
			want.End = -1
		}
		i := slices.IndexFunc(out, func(e Episode) bool { return e.Start <= b && last(e) >= a })
		if i < 0 {
			out = append(out, want)
			continue
		}
		e := &out[i]
		if want.Start < e.Start {
			e.Start, e.StartedBefore = want.Start, want.StartedBefore
		}
		e.Detected = min(e.Detected, a)
		if e.End >= 0 && (want.End < 0 || want.End > e.End) {
			e.End = want.End
		}
	}
	slices.SortFunc(out, func(x, y Episode) int { return x.Start - y.Start })
	merged := out[:0]
	for _, e := range out {
		if n := len(merged); n > 0 && last(merged[n-1]) >= e.Start {
			m := &merged[n-1]
			m.Detected = min(m.Detected, e.Detected)
			if m.End >= 0 && (e.End < 0 || e.End > m.End) {
				m.End = e.End
			}
			continue
		}
		merged = append(merged, e)
	}
	for i := range merged {
		e := &merged[i]
		e.Peak = e.Start
		for k := e.Start; k <= last(*e); k++ {
			if points[k].Lag > points[e.Peak].Lag {
				e.Peak = k
			}
		}
	}
	return merged
}
