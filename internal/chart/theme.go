package chart

import (
	"image/color"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/font"
	"gonum.org/v1/plot/text"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
)

// palette holds the colours of labelled series, in order of use: Tableau's
// ten without its grey (kept for unlabelled series), then three darker ones.
var palette = []color.Color{
	rgb(0x1f77b4), // blue
	rgb(0xff7f0e), // orange
	rgb(0x2ca02c), // green
	rgb(0xd62728), // red
	rgb(0x9467bd), // purple
	rgb(0x8c564b), // brown
	rgb(0xe377c2), // pink
	rgb(0x17becf), // cyan
	rgb(0xbcbd22), // olive
	rgb(0x393b79), // indigo
	rgb(0x222222), // near black
	rgb(0x637939), // moss
}

// Colours of everything but labelled series.
var (
	othersColor = color.NRGBA{R: 118, G: 124, B: 132, A: 110}
	textColor   = color.Gray{Y: 30}
	axisColor   = color.Gray{Y: 110}
	gridColor   = color.Gray{Y: 228}
	bandColor   = color.NRGBA{R: 255, G: 170, B: 0, A: 48}
	bandText    = rgb(0x8a5a00)
	markerColor = rgb(0xb03a2e)
	labelBack   = color.NRGBA{R: 255, G: 255, B: 255, A: 210}
)

// Sizes of lines and text, in points (a pixel is 0.75 points).
const (
	lineWidth   = vg.Length(1.2)
	othersWidth = vg.Length(0.75)
	titleSize   = vg.Length(13)
	labelSize   = vg.Length(10)
	tickSize    = vg.Length(9)
	noteSize    = vg.Length(8.5)
)

// boldWeight is golang.org/x/image/font.WeightBold, the type of
// font.Font.Weight; the constant keeps that package out of the imports.
const boldWeight = 3

// sans is the typeface of all text: Liberation Sans, which gonum plot embeds.
var sans = font.Font{Typeface: "Liberation", Variant: "Sans"}

// textStyle returns a text style of the theme.
func textStyle(size vg.Length, clr color.Color, bold bool) text.Style {
	f := font.From(sans, size)
	if bold {
		f.Weight = boldWeight
	}
	return text.Style{Color: clr, Font: f, Handler: plot.DefaultTextHandler}
}

// applyTheme sets the fonts, colours and tick marks of a new plot.
func applyTheme(p *plot.Plot) {
	title := textStyle(titleSize, textColor, true)
	title.XAlign, title.YAlign = draw.XCenter, draw.YTop
	p.Title.TextStyle = title
	p.Title.Padding = vg.Points(8)
	for _, a := range []*plot.Axis{&p.X, &p.Y} {
		label := textStyle(labelSize, textColor, false)
		label.XAlign, label.YAlign = a.Label.TextStyle.XAlign, a.Label.TextStyle.YAlign
		a.Label.TextStyle = label
		a.Label.Padding = vg.Points(4)
		tick := textStyle(tickSize, textColor, false)
		tick.XAlign, tick.YAlign = a.Tick.Label.XAlign, a.Tick.Label.YAlign
		a.Tick.Label = tick
		a.Tick.Length = vg.Points(4)
		a.Tick.LineStyle = draw.LineStyle{Color: axisColor, Width: vg.Points(0.5)}
		a.LineStyle = draw.LineStyle{Color: axisColor, Width: vg.Points(0.75)}
		a.Padding = 0
	}
}

// rgb returns the opaque colour of a 0xRRGGBB value.
func rgb(v uint32) color.RGBA {
	return color.RGBA{R: uint8(v >> 16), G: uint8(v >> 8), B: uint8(v), A: 255}
}
