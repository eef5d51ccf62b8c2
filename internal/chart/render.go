package chart

import (
	"bytes"
	"fmt"
	"image/color"
	"io"
	"math"
	"os"
	"path/filepath"
	"strings"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
	"gonum.org/v1/plot/vg/vgimg"
	"gonum.org/v1/plot/vg/vgsvg"
)

// dpi is the resolution of PNG images, and of SVG files for their size.
const dpi = 96

// Layout, in points.
const (
	margin       = vg.Length(8)  // around the whole chart
	legendGap    = vg.Length(12) // between the plot area and the legend
	yAxisWidth   = vg.Length(55) // estimated, to size the time axis ticks
	timeLabelGap = vg.Length(60) // room for one time tick label
	valueStepGap = vg.Length(42) // room for one y axis step
	titleAxesH   = vg.Length(60) // estimated title and time axis height
)

// WritePNG validates the chart and writes it to w as a PNG image of
// Width×Height pixels.
func (c Chart) WritePNG(w io.Writer) error {
	if err := c.Validate(); err != nil {
		return fmt.Errorf("write png: %w", err)
	}
	wpx, hpx := c.size()
	cv := vgimg.NewWith(vgimg.UseWH(pixels(wpx), pixels(hpx)), vgimg.UseDPI(dpi))
	if err := c.draw(draw.New(cv)); err != nil {
		return fmt.Errorf("write png: %w", err)
	}
	if _, err := (vgimg.PngCanvas{Canvas: cv}).WriteTo(w); err != nil {
		return fmt.Errorf("write png: %w", err)
	}
	return nil
}

// WriteSVG validates the chart and writes it to w as an SVG document of
// Width×Height pixels at 96 pixels per inch.
func (c Chart) WriteSVG(w io.Writer) error {
	if err := c.Validate(); err != nil {
		return fmt.Errorf("write svg: %w", err)
	}
	wpx, hpx := c.size()
	cv := vgsvg.New(pixels(wpx), pixels(hpx))
	if err := c.draw(draw.New(cv)); err != nil {
		return fmt.Errorf("write svg: %w", err)
	}
	if _, err := cv.WriteTo(w); err != nil {
		return fmt.Errorf("write svg: %w", err)
	}
	return nil
}

// Save writes the chart to a file, as PNG or SVG by the extension of path
// (.png or .svg, in any case). The file is written only once the chart is
// drawn, so an invalid chart leaves no file behind.
func (c Chart) Save(path string) error {
	var write func(io.Writer) error
	switch ext := strings.ToLower(filepath.Ext(path)); ext {
	case ".png":
		write = c.WritePNG
	case ".svg":
		write = c.WriteSVG
	default:
		return fmt.Errorf("save chart %s: unknown extension %q, want .png or .svg", path, ext)
	}
	var buf bytes.Buffer
	if err := write(&buf); err != nil {
		return fmt.Errorf("save chart %s: %w", path, err)
	}
	if err := os.WriteFile(path, buf.Bytes(), 0o644); err != nil {
		return fmt.Errorf("save chart: %w", err)
	}
	return nil
}

// pixels converts pixels to the points of vg at the chart resolution.
func pixels(n int) vg.Length {
	return vg.Length(n) * vg.Inch / dpi
}

// draw draws a valid chart on dc: the plot on the left and the legend, if
// any, on the right. A panic in gonum plot becomes an error.
func (c Chart) draw(dc draw.Canvas) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("draw chart: gonum plot: %v", r)
		}
	}()
	dc.SetColor(color.White)
	dc.Fill(dc.Rectangle.Path())
	area := draw.Crop(dc, margin, -margin, margin, -margin)
	lo, hi := c.timeRange()
	wpx, _ := c.size()

	plan := planLegend(c.Series, legendCapacity(area.Max.Y-area.Min.Y-titleAxesH))
	lines := make([]*lineSeries, len(c.Series))
	bands := make([]*maxBand, len(c.Series))
	for i, s := range c.Series {
		lines[i] = &lineSeries{runs: segments(s.Points, lo, hi, wpx), style: plan.styles[i]}
		if s.Max != nil {
			bands[i] = &maxBand{runs: maxSpans(s, lo, hi, wpx), fill: maxBandColor(plan.styles[i].Color)}
			lines[i].band = bands[i].fill
		}
	}
	leg := plan.legend(c.Series, lines)
	plotArea := area
	if leg != nil {
		r := leg.Rectangle(area)
		plotArea.Max.X -= r.Max.X - r.Min.X + legendGap
	}

	p := c.newPlot(plotArea, lo, hi)
	// The max bands go under every line, so that no band hides a line.
	for _, i := range plan.order {
		if bands[i] != nil {
			p.Add(bands[i])
		}
	}
	for _, i := range plan.order {
		p.Add(lines[i])
	}
	p.Add(annotationLayer{bands: c.Bands, markers: c.Markers})
	p.Draw(plotArea)

	if leg != nil {
		data := p.DataCanvas(plotArea)
		leg.Draw(draw.Canvas{Canvas: dc.Canvas, Rectangle: vg.Rectangle{
			Min: vg.Point{X: plotArea.Max.X + legendGap, Y: data.Min.Y},
			Max: vg.Point{X: area.Max.X, Y: data.Max.Y},
		}})
	}
	return nil
}

// newPlot returns a plot with the chart's title, axes, bands and grid, sized
// for the plot area, and without the series.
func (c Chart) newPlot(plotArea draw.Canvas, lo, hi float64) *plot.Plot {
	p := plot.New()
	applyTheme(p)
	p.BackgroundColor = nil // draw fills the whole canvas
	p.Title.Text = c.Title

	size := plotArea.Size()
	ta := newTimeAxis(lo, hi, int((size.X-yAxisWidth)/timeLabelGap))
	p.X.Min, p.X.Max = lo, hi
	p.X.Tick.Marker = ta
	p.X.Label.Text = ta.rangeLabel(p.X.Label.TextStyle, size.X-yAxisWidth)

	ylo, yhi := c.valueRange()
	vs := newValueScale(ylo, yhi, int((size.Y-titleAxesH)/valueStepGap), c.YUnit)
	p.Y.Min, p.Y.Max = vs.min, vs.max
	p.Y.Tick.Marker = plot.ConstantTicks(vs.ticks())
	p.Y.Label.Text = c.YLabel

	grid := plotter.NewGrid()
	grid.Vertical = draw.LineStyle{Color: gridColor, Width: vg.Points(0.6)}
	grid.Horizontal = grid.Vertical
	p.Add(bandFills{bands: c.Bands}, grid)
	return p
}

// timeRange returns the first and last instants of the series, in Unix
// seconds, widened to a minute around a single instant.
func (c Chart) timeRange() (lo, hi float64) {
	lo, hi = math.Inf(1), math.Inf(-1)
	for _, s := range c.Series {
		lo = min(lo, unixSeconds(s.Points[0].T))
		hi = max(hi, unixSeconds(s.Points[len(s.Points)-1].T))
	}
	if lo == hi {
		lo, hi = lo-30, hi+30
	}
	return lo, hi
}

// valueRange returns the smallest and largest finite values of the series,
// their maxima included.
func (c Chart) valueRange() (lo, hi float64) {
	lo, hi = math.Inf(1), math.Inf(-1)
	for _, s := range c.Series {
		for _, p := range s.Points {
			if !math.IsNaN(p.V) {
				lo, hi = min(lo, p.V), max(hi, p.V)
			}
		}
		for _, m := range s.Max {
			if !math.IsNaN(m) {
				lo, hi = min(lo, m), max(hi, m)
			}
		}
	}
	return lo, hi
}
