package chart

import (
	"math"
	"strconv"
	"strings"

	"gonum.org/v1/plot"
)

// valueScale is the range and tick step of the y axis.
type valueScale struct {
	min, max, step float64
	unit           Unit
}

// secondSteps are the tick steps, in seconds, of a UnitSeconds axis up to a
// week; longer steps are whole numbers of days.
var secondSteps = []float64{
	1, 2, 5, 10, 15, 30,
	60, 2 * 60, 5 * 60, 10 * 60, 15 * 60, 30 * 60,
	3600, 2 * 3600, 3 * 3600, 6 * 3600, 12 * 3600,
	86400, 2 * 86400, 7 * 86400,
}

// newValueScale returns a scale that covers lo..hi in at most about maxSteps
// steps. It includes 0, so the axis of non-negative data starts at 0, and it
// ends on a tick, so the top grid line labels the top of the plot.
func newValueScale(lo, hi float64, maxSteps int, unit Unit) valueScale {
	lo, hi = min(lo, 0), max(hi, 0)
	if hi == lo {
		hi = lo + 1
	}
	step := niceStep((hi-lo)/float64(max(maxSteps, 1)), unit)
	s := valueScale{
		min:  math.Floor(lo/step) * step,
		max:  math.Ceil(hi/step) * step,
		step: step,
		unit: unit,
	}
	// A line exactly on the top edge merges with the frame: leave a step.
	if hi > 0 && s.max-hi < step*1e-9 {
		s.max += step
	}
	return s
}

// niceStep returns the smallest step of the unit's series that is at least raw.
func niceStep(raw float64, unit Unit) float64 {
	if unit == UnitSeconds && raw >= 1 {
		for _, s := range secondSteps {
			if s >= raw {
				return s
			}
		}
		return niceCountStep(raw/86400) * 86400
	}
	return niceCountStep(raw)
}

// niceCountStep returns the smallest of 1, 2, 2.5 and 5 times a power of ten
// that is at least raw.
func niceCountStep(raw float64) float64 {
	mag := math.Pow(10, math.Floor(math.Log10(raw)))
	for _, m := range []float64{1, 2, 2.5, 5} {
		if m*mag >= raw*(1-1e-12) {
			return m * mag
		}
	}
	return 10 * mag
}

// ticks returns the labelled ticks of the scale, one a step.
func (s valueScale) ticks() []plot.Tick {
	n := int(math.Round((s.max - s.min) / s.step))
	ticks := make([]plot.Tick, 0, n+1)
	for i := 0; i <= n; i++ {
		v := math.Round((s.min+float64(i)*s.step)/s.step) * s.step
		ticks = append(ticks, plot.Tick{Value: v, Label: s.label(v)})
	}
	return ticks
}

// label formats a tick value of the scale.
func (s valueScale) label(v float64) string {
	switch {
	case v == 0:
		return "0"
	case s.unit == UnitSeconds && s.step >= 1:
		return formatSeconds(v)
	case s.unit == UnitSeconds:
		return formatCount(v) + "s"
	default:
		return formatCount(v)
	}
}

// countSuffixes are the SI prefixes of formatCount, largest first.
var countSuffixes = []struct {
	div    float64
	suffix string
}{{1e12, "T"}, {1e9, "G"}, {1e6, "M"}, {1e3, "k"}}

// formatCount formats a number with an SI suffix and as few decimals as show
// it exactly (up to 3): 950, 1.2k, 1.25M, 3G.
func formatCount(v float64) string {
	a := math.Abs(v)
	for _, cs := range countSuffixes {
		if a >= cs.div {
			return shortNumber(v/cs.div) + cs.suffix
		}
	}
	return shortNumber(v)
}

// shortNumber formats x with the fewest decimals, up to 3 for numbers of 1
// or more and up to 6 below, that keep its value.
func shortNumber(x float64) string {
	if x == 0 {
		return "0"
	}
	most := 6
	if math.Abs(x) >= 1 {
		most = 3
	}
	for d := 0; d < most; d++ {
		s := strconv.FormatFloat(x, 'f', d, 64)
		if back, err := strconv.ParseFloat(s, 64); err == nil && math.Abs(back-x) <= 1e-9*math.Abs(x) {
			return s
		}
	}
	return strconv.FormatFloat(x, 'f', most, 64)
}

// secondUnits are the units of formatSeconds, largest first.
var secondUnits = []struct {
	secs   int64
	suffix string
}{{86400, "d"}, {3600, "h"}, {60, "m"}, {1, "s"}}

// formatSeconds formats a whole number of seconds with its two largest units:
// 45s, 5m, 1h30m, 2d, 1d12h.
func formatSeconds(v float64) string {
	n := int64(math.Round(math.Abs(v)))
	if n == 0 {
		return "0"
	}
	var b strings.Builder
	if v < 0 {
		b.WriteByte('-')
	}
	parts := 0
	for _, u := range secondUnits {
		if q := n / u.secs; q > 0 && parts < 2 {
			b.WriteString(strconv.FormatInt(q, 10) + u.suffix)
			n -= q * u.secs
			parts++
		} else if parts > 0 {
			break
		}
	}
	return b.String()
}
