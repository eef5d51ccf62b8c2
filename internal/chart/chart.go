package chart

import "time"

// Default and smallest chart sizes, in pixels.
const (
	DefaultWidth  = 1000
	DefaultHeight = 450
	MinWidth      = 480
	MinHeight     = 240
)

// Point is one sample of a series. A NaN V marks a gap: the line stops at the
// point before and starts again at the point after.
type Point struct {
	T time.Time
	V float64
}

// Series is one line of a chart. Its points must be in time order. An empty
// Name draws the line without a legend entry.
//
// A series whose points each stand for a bucket of several samples, such as
// the last poll of an hour, hides the peaks between them: Max then holds, for
// each point, the largest sample of its bucket, and the chart shades the band
// from the line up to it in the line's colour, so that no peak is hidden.
// Max is nil for a series of single samples; otherwise it has one value per
// point, NaN where the bucket's maximum is unknown (no band there).
type Series struct {
	Name   string
	Points []Point
	Max    []float64
}

// Marker is a vertical dashed line at one instant, with a label at its top,
// such as "incident 02:10". A marker outside the time range of the series is
// not drawn.
type Marker struct {
	At    time.Time
	Label string
}

// Band is a shaded interval from From to To, with a label at its top-left,
// such as the STALL status of a consumer group. The part outside the time
// range of the series is not drawn.
type Band struct {
	From, To time.Time
	Label    string
}

// Unit says what the values of a chart measure, which decides the steps and
// labels of the y axis ticks.
type Unit int

const (
	// UnitCount is for plain numbers such as messages or messages per second:
	// ticks at 1, 2, 2.5 or 5 times a power of ten, labelled 950, 1.2k, 3.4M.
	UnitCount Unit = iota
	// UnitSeconds is for durations in seconds, such as time lag: ticks at
	// whole seconds, minutes, hours or days, labelled 45s, 5m, 1h30m, 2d.
	UnitSeconds
)

// Chart is a time-series line chart. The zero values of Width, Height and
// YUnit mean DefaultWidth, DefaultHeight and UnitCount. A Chart is only read
// when rendered, so one value may be rendered concurrently.
type Chart struct {
	// Title is drawn above the plot; empty draws none.
	Title string
	// YLabel names the y axis, such as "messages" or "time lag".
	YLabel string
	// YUnit decides the y axis ticks.
	YUnit Unit
	// Series are the lines, drawn in distinct colours.
	Series []Series
	// Markers are vertical dashed lines at instants.
	Markers []Marker
	// Bands are shaded intervals, drawn under the lines.
	Bands []Band
	// Width and Height are the image size in pixels. An SVG file has the same
	// size at 96 pixels per inch.
	Width, Height int
}

// size returns the width and height in pixels, with the defaults applied.
func (c Chart) size() (w, h int) {
	w, h = c.Width, c.Height
	if w == 0 {
		w = DefaultWidth
	}
	if h == 0 {
		h = DefaultHeight
	}
	return w, h
}
