package chart

import (
	"math"
	"time"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/text"
	"gonum.org/v1/plot/vg"
)

// timeStep is a step of time axis ticks, in seconds, with the step of its
// unlabelled minor ticks (0 for none) and the layout of its labels.
type timeStep struct {
	major, minor int64
	layout       string
}

const (
	minute = 60
	hour   = 60 * minute
	day    = 24 * hour
	week   = 7 * day
	// mondayOffset is the first Monday after the Unix epoch (a Thursday).
	mondayOffset = 4 * day
	// dayLayout labels ticks at midnight and of steps of a day or more.
	dayLayout = "Jan 02"
)

// timeSteps are the steps of time axis ticks, smallest first.
var timeSteps = []timeStep{
	{1, 0, "15:04:05"}, {2, 1, "15:04:05"}, {5, 1, "15:04:05"},
	{10, 5, "15:04:05"}, {15, 5, "15:04:05"}, {30, 10, "15:04:05"},
	{minute, 15, "15:04"}, {2 * minute, minute, "15:04"}, {5 * minute, minute, "15:04"},
	{10 * minute, 5 * minute, "15:04"}, {15 * minute, 5 * minute, "15:04"}, {30 * minute, 10 * minute, "15:04"},
	{hour, 15 * minute, "15:04"}, {2 * hour, 30 * minute, "15:04"}, {3 * hour, hour, "15:04"},
	{6 * hour, hour, "15:04"}, {12 * hour, 3 * hour, "15:04"},
	{day, 6 * hour, dayLayout}, {2 * day, 12 * hour, dayLayout},
	{week, day, dayLayout}, {2 * week, day, dayLayout},
}

// timeAxis is the range, in Unix seconds, and tick step of the x axis.
type timeAxis struct {
	lo, hi float64
	step   timeStep
}

// newTimeAxis returns an axis over lo..hi (Unix seconds) with the smallest
// step that fits the span in at most maxSteps steps, so at most maxSteps+1
// labelled ticks.
func newTimeAxis(lo, hi float64, maxSteps int) timeAxis {
	span := hi - lo
	maxSteps = max(maxSteps, 2)
	for _, s := range timeSteps {
		if span/float64(s.major) <= float64(maxSteps) {
			return timeAxis{lo: lo, hi: hi, step: s}
		}
	}
	// Beyond the table: whole numbers of weeks.
	weeks := int64(math.Ceil(span / float64(week) / float64(maxSteps)))
	return timeAxis{lo: lo, hi: hi, step: timeStep{major: weeks * week, minor: week, layout: dayLayout}}
}

// Ticks returns the labelled ticks of the axis and its minor ticks; it
// implements plot.Ticker and ignores its arguments, the axis range.
func (a timeAxis) Ticks(_, _ float64) []plot.Tick {
	var ticks []plot.Tick
	for _, v := range a.multiples(a.step.major) {
		ticks = append(ticks, plot.Tick{Value: float64(v), Label: a.label(v)})
	}
	if a.step.minor == 0 {
		return ticks
	}
	for _, v := range a.multiples(a.step.minor) {
		if (v-a.base())%a.step.major != 0 {
			ticks = append(ticks, plot.Tick{Value: float64(v)})
		}
	}
	return ticks
}

// multiples returns the instants in the axis range that are a whole number of
// steps after the base instant.
func (a timeAxis) multiples(step int64) []int64 {
	base := a.base()
	first := int64(math.Ceil((a.lo-float64(base))/float64(step)))*step + base
	var out []int64
	for v := first; float64(v) <= a.hi; v += step {
		out = append(out, v)
	}
	return out
}

// base returns the instant ticks count from: the Unix epoch, or for weekly
// steps the first Monday after it, so that weeks start on Mondays.
func (a timeAxis) base() int64 {
	if a.step.major%week == 0 {
		return mondayOffset
	}
	return 0
}

// label formats a major tick: the step's layout, or the date at midnight.
func (a timeAxis) label(v int64) string {
	t := time.Unix(v, 0).UTC()
	if v%day == 0 {
		return t.Format(dayLayout)
	}
	return t.Format(a.step.layout)
}

// rangeLabel is the axis label: the time zone and the range shown, in the
// longest of three forms whose width in style fits in width.
func (a timeAxis) rangeLabel(style text.Style, width vg.Length) string {
	from, to := unixTime(a.lo), unixTime(a.hi)
	clock := "15:04"
	if a.step.major < minute {
		clock = "15:04:05"
	}
	fromDate, toDate := "2006-01-02 ", "2006-01-02 "
	if from.Format(time.DateOnly) == to.Format(time.DateOnly) {
		toDate = ""
	}
	long := "time (UTC), " + from.Format(fromDate+clock) + " – " + to.Format(toDate+clock)
	if style.Width(long) <= width {
		return long
	}
	if toDate != "" {
		toDate = "01-02 "
	}
	short := "UTC " + from.Format("01-02 "+clock) + " – " + to.Format(toDate+clock)
	if style.Width(short) <= width {
		return short
	}
	return "UTC"
}

// unixSeconds converts a time to the float Unix seconds of the x axis.
func unixSeconds(t time.Time) float64 {
	return float64(t.Unix()) + float64(t.Nanosecond())/1e9
}

// unixTime converts float Unix seconds of the x axis to a UTC time.
func unixTime(v float64) time.Time {
	sec := math.Floor(v)
	return time.Unix(int64(sec), int64((v-sec)*1e9)).UTC()
}
