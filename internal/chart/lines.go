package chart

import (
	"image/color"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
	"gonum.org/v1/plot/vg/vgimg"
)

// lineSeries draws one series: a line a run of finite points, and a dot for a
// run of one point, which a line cannot show. It implements plot.Plotter and
// plot.Thumbnailer. It has no DataRange: the chart sets the axis ranges.
type lineSeries struct {
	runs  [][]xy
	style draw.LineStyle
	// band is the fill of the series' max band, nil without one; the
	// legend thumbnail shows it above the line.
	band color.Color
}

// Plot implements plot.Plotter.
func (l *lineSeries) Plot(c draw.Canvas, p *plot.Plot) {
	trX, trY := p.Transforms(&c)
	dot := draw.GlyphStyle{Color: l.style.Color, Radius: l.style.Width * 1.2, Shape: draw.CircleGlyph{}}
	raster := isRaster(c)
	for _, run := range l.runs {
		pts := make([]vg.Point, len(run))
		for i, q := range run {
			pts[i] = vg.Point{X: trX(q.x), Y: trY(q.y)}
		}
		if len(pts) == 1 {
			if c.Contains(pts[0]) {
				c.DrawGlyphNoClip(dot, pts[0])
			}
			continue
		}
		for _, line := range c.ClipLinesXY(pts) {
			// Stroked in pieces: the PNG rasteriser's cost grows with the
			// square of a path's length (it looks cells up in a list), so
			// a week of 1-minute points as one path took seconds. Pieces
			// share their end points, so the line stays unbroken. SVG
			// keeps one path a line.
			for raster && len(line) > strokePiece {
				c.StrokeLines(l.style, line[:strokePiece+1])
				line = line[strokePiece:]
			}
			c.StrokeLines(l.style, line)
		}
	}
}

// strokePiece is how many segments of a line are stroked as one path on a
// raster canvas. Measured on a week of 1-minute lag of 32 partitions
// (BenchmarkLagWeek32/png): 1.6 s as whole lines, 0.7 s in pieces of 64.
const strokePiece = 64

// isRaster says whether c draws on a PNG canvas, through the canvases the
// plot wraps it in.
func isRaster(c draw.Canvas) bool {
	var cv vg.Canvas = c
	for {
		switch v := cv.(type) {
		case draw.Canvas:
			cv = v.Canvas
		case *draw.Canvas:
			cv = v.Canvas
		case *vgimg.Canvas:
			return true
		default:
			return false
		}
	}
}

// Thumbnail implements plot.Thumbnailer: a short line in the series' style,
// under its max band's colour when it has one.
func (l *lineSeries) Thumbnail(c *draw.Canvas) {
	sty := l.style
	sty.Width = max(sty.Width, vg.Points(2))
	y := c.Center().Y
	if l.band != nil {
		c.FillPolygon(l.band, []vg.Point{{X: c.Min.X, Y: y}, {X: c.Max.X, Y: y}, {X: c.Max.X, Y: c.Max.Y}, {X: c.Min.X, Y: c.Max.Y}})
	}
	c.StrokeLine2(sty, c.Min.X, y, c.Max.X, y)
}
