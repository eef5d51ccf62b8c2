package chart

import (
	"cmp"
	"image/color"
	"slices"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/text"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
)

// bandFills shades the bands of a chart. It implements plot.Plotter and is
// drawn first, under the grid and the lines.
type bandFills struct{ bands []Band }

// Plot implements plot.Plotter.
func (b bandFills) Plot(c draw.Canvas, p *plot.Plot) {
	for _, band := range b.bands {
		x0, x1, ok := bandSpan(band, c, p)
		if !ok {
			continue
		}
		c.FillPolygon(bandColor, []vg.Point{
			{X: x0, Y: c.Min.Y}, {X: x1, Y: c.Min.Y}, {X: x1, Y: c.Max.Y}, {X: x0, Y: c.Max.Y},
		})
	}
}

// bandSpan returns the horizontal extent of a band on the canvas, clipped to
// it and at least a pixel wide, or false when the band is outside.
func bandSpan(b Band, c draw.Canvas, p *plot.Plot) (x0, x1 vg.Length, ok bool) {
	trX, _ := p.Transforms(&c)
	x0, x1 = trX(unixSeconds(b.From)), trX(unixSeconds(b.To))
	if x1 < c.Min.X || x0 > c.Max.X {
		return 0, 0, false
	}
	x0, x1 = max(x0, c.Min.X), min(x1, c.Max.X)
	if pixel := vg.Points(0.75); x1-x0 < pixel {
		x1 = min(x0+pixel, c.Max.X)
		x0 = x1 - pixel
	}
	return x0, x1, true
}

// annotationLayer draws the marker lines and the labels of bands and markers.
// It implements plot.Plotter and is drawn last, over the lines. Labels sit in
// rows along the top of the plot area, on a light background, each in the
// first row where it overlaps no other label.
type annotationLayer struct {
	bands   []Band
	markers []Marker
}

// annotationLabel is a label to place: its text, colour and preferred left
// edge, or right edge when it would not fit to the right.
type annotationLabel struct {
	text        string
	clr         color.Color
	left, right vg.Length
}

// Plot implements plot.Plotter.
func (a annotationLayer) Plot(c draw.Canvas, p *plot.Plot) {
	const gap = vg.Length(3)
	var labels []annotationLabel
	for _, b := range a.bands {
		if x0, x1, ok := bandSpan(b, c, p); ok && b.Label != "" {
			labels = append(labels, annotationLabel{text: b.Label, clr: bandText, left: x0 + gap, right: x1 - gap})
		}
	}
	slices.SortStableFunc(labels, func(x, y annotationLabel) int { return cmp.Compare(x.left, y.left) })
	nBands := len(labels)

	trX, _ := p.Transforms(&c)
	line := draw.LineStyle{Color: markerColor, Width: vg.Points(1), Dashes: []vg.Length{vg.Points(4), vg.Points(3)}}
	for _, m := range a.markers {
		x := trX(unixSeconds(m.At))
		if !c.ContainsX(x) {
			continue
		}
		c.StrokeLine2(line, x, c.Min.Y, x, c.Max.Y)
		if m.Label != "" {
			labels = append(labels, annotationLabel{text: m.Label, clr: markerColor, left: x + gap, right: x - gap})
		}
	}
	slices.SortStableFunc(labels[nBands:], func(x, y annotationLabel) int { return cmp.Compare(x.left, y.left) })
	drawLabels(c, labels)
}

// drawLabels places labels in rows from the top of the canvas.
func drawLabels(c draw.Canvas, labels []annotationLabel) {
	const pad = vg.Length(2)
	var rowEnds []vg.Length // right edge of the last label of each row
	for _, l := range labels {
		sty := textStyle(noteSize, l.clr, false)
		w := sty.Width(l.text)
		x0 := l.left
		if x0+w > c.Max.X-pad {
			x0 = max(l.right-w, c.Min.X+pad)
		}
		row := 0
		for row < len(rowEnds) && rowEnds[row] > x0-2*pad {
			row++
		}
		if row == len(rowEnds) {
			rowEnds = append(rowEnds, 0)
		}
		rowEnds[row] = x0 + w
		drawNote(c, sty, x0, row, l.text)
	}
}

// drawNote draws one label with its top-left corner in the given row.
func drawNote(c draw.Canvas, sty text.Style, x0 vg.Length, row int, txt string) {
	const pad = vg.Length(2)
	h := sty.Height(txt)
	top := c.Max.Y - pad - vg.Length(row)*(h+2*pad+1)
	c.FillPolygon(labelBack, []vg.Point{
		{X: x0 - pad, Y: top - h - 2*pad}, {X: x0 + sty.Width(txt) + pad, Y: top - h - 2*pad},
		{X: x0 + sty.Width(txt) + pad, Y: top}, {X: x0 - pad, Y: top},
	})
	sty.XAlign, sty.YAlign = draw.XLeft, draw.YTop
	c.FillText(sty, vg.Point{X: x0, Y: top - pad}, txt)
}
