package chart

import (
	"image/color"
	"math"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
)

// maxAlpha is the opacity of a max band, out of 255: light enough that the
// lines over it and the bands of other series stay readable.
const maxAlpha = 56

// maxBandColor returns the fill of the max band of a series drawn in clr: the
// same colour, translucent.
func maxBandColor(clr color.Color) color.Color {
	r, g, b, a := clr.RGBA()
	if a == 0 {
		return color.Transparent
	}
	// Un-premultiply, then apply the band's opacity relative to the line's.
	alpha := uint32(maxAlpha) * a / 0xffff
	un := func(v uint32) uint8 { return uint8((v * 0xffff / a) >> 8) }
	return color.NRGBA{R: un(r), G: un(g), B: un(b), A: uint8(alpha)}
}

// span is one point of a max band in axis units: Unix seconds, and the line's
// value and the bucket's maximum (lo <= hi).
type span struct{ x, lo, hi float64 }

// maxBand shades a series' band from its line up to its bucket maxima. It
// implements plot.Plotter and is drawn under the lines.
type maxBand struct {
	runs [][]span
	fill color.Color
}

// Plot implements plot.Plotter.
func (m *maxBand) Plot(c draw.Canvas, p *plot.Plot) {
	trX, trY := p.Transforms(&c)
	edge := draw.LineStyle{Color: m.fill, Width: lineWidth}
	for _, run := range m.runs {
		if len(run) == 1 {
			// A lone bucket between gaps: a vertical stroke from the
			// value to the maximum.
			x := trX(run[0].x)
			if c.ContainsX(x) {
				c.StrokeLines(edge, c.ClipLinesY([]vg.Point{{X: x, Y: trY(run[0].lo)}, {X: x, Y: trY(run[0].hi)}})...)
			}
			continue
		}
		poly := make([]vg.Point, 0, 2*len(run))
		for _, s := range run {
			poly = append(poly, vg.Point{X: trX(s.x), Y: trY(s.hi)})
		}
		for i := len(run) - 1; i >= 0; i-- {
			poly = append(poly, vg.Point{X: trX(run[i].x), Y: trY(run[i].lo)})
		}
		c.FillPolygon(m.fill, c.ClipPolygonXY(poly))
	}
}

// maxSpans splits a series with maxima into runs of points where both the
// value and the maximum are finite, in axis units, each reduced to the
// columns of lo..hi (see envelope). Points whose maximum equals their value
// (a bucket of one sample) still count: the band is empty there.
func maxSpans(s Series, lo, hi float64, columns int) [][]span {
	if s.Max == nil {
		return nil
	}
	var out [][]span
	var run []span
	flush := func() {
		if len(run) > 0 {
			out = append(out, envelope(run, lo, hi, columns))
			run = nil
		}
	}
	for i, p := range s.Points {
		m := s.Max[i]
		if math.IsNaN(p.V) || math.IsNaN(m) {
			flush()
			continue
		}
		run = append(run, span{x: unixSeconds(p.T), lo: min(p.V, m), hi: max(p.V, m)})
	}
	flush()
	return out
}

// envelope reduces a run to at most two points per pixel column of lo..hi:
// the first and last instants of the column, each spanning from the
// column's smallest value to its largest maximum. The band so covers every
// bucket's range, like the M4 line over it covers every value.
func envelope(run []span, lo, hi float64, columns int) []span {
	if len(run) <= 2*columns || hi <= lo || columns < 1 {
		return run
	}
	scale := float64(columns) / (hi - lo)
	column := func(x float64) int {
		return min(max(int((x-lo)*scale), 0), columns-1)
	}
	out := make([]span, 0, 2*columns)
	start, col := 0, column(run[0].x)
	for i := 1; i <= len(run); i++ {
		if i < len(run) && column(run[i].x) == col {
			continue
		}
		c := run[start:i]
		if len(c) <= 2 {
			out = append(out, c...)
		} else {
			l, h := c[0].lo, c[0].hi
			for _, s := range c[1:] {
				l, h = min(l, s.lo), max(h, s.hi)
			}
			out = append(out, span{x: c[0].x, lo: l, hi: h}, span{x: c[len(c)-1].x, lo: l, hi: h})
		}
		if i < len(run) {
			start, col = i, column(run[i].x)
		}
	}
	return out
}
