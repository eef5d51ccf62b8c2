package chart

import (
	"bytes"
	"encoding/xml"
	"errors"
	"image/png"
	"io"
	"math"
	"strings"
	"testing"
	"time"
)

// stallBuckets is two days of hourly buckets of one partition: the last
// poll of every hour is 100 messages behind, but in hour 20 a stall peaked
// at 22,000 between two polls and drained before the hour's last one. Its
// Max is nil unless withMax.
func stallBuckets(withMax bool) Chart {
	t0 := time.Date(2025, 3, 5, 0, 0, 0, 0, time.UTC)
	s := Series{Name: "orders/0"}
	for i := range 48 {
		s.Points = append(s.Points, Point{T: t0.Add(time.Duration(i) * time.Hour), V: 100})
		s.Max = append(s.Max, 150)
	}
	s.Max[20] = 22000
	if !withMax {
		s.Max = nil
	}
	return Chart{Title: "stall", YLabel: "lag", Series: []Series{s}}
}

// svgFills counts the filled paths of an SVG document by fill colour
// (#RRGGBB), those with a fill-opacity below 1 apart, as "#RRGGBB~".
func svgFills(t *testing.T, b []byte) map[string]int {
	t.Helper()
	fills := map[string]int{}
	dec := xml.NewDecoder(bytes.NewReader(b))
	for {
		tok, err := dec.Token()
		if err == io.EOF {
			return fills
		}
		if err != nil {
			t.Fatalf("SVG is not well-formed XML: %v", err)
		}
		el, ok := tok.(xml.StartElement)
		if !ok || el.Name.Local != "path" {
			continue
		}
		for _, a := range el.Attr {
			if a.Name.Local != "style" {
				continue
			}
			fill, translucent := "", false
			for _, decl := range strings.Split(a.Value, ";") {
				if v, ok := strings.CutPrefix(decl, "fill:"); ok && v != "none" {
					fill = v
				}
				translucent = translucent || strings.HasPrefix(decl, "fill-opacity:")
			}
			if fill != "" && translucent {
				fill += "~"
			}
			if fill != "" {
				fills[fill]++
			}
		}
	}
}

// TestMaxBandSVG checks that a series with maxima is drawn with a
// translucent band in its own colour (and its legend thumbnail too), and
// that the y axis reaches the peak that the line alone hides; without
// maxima, neither.
func TestMaxBandSVG(t *testing.T) {
	t.Parallel()
	// vgsvg writes the translucent colour un-premultiplied, as hex does.
	band := hex(maxBandColor(palette[0])) + "~"
	for _, withMax := range []bool{true, false} {
		var buf bytes.Buffer
		if err := stallBuckets(withMax).WriteSVG(&buf); err != nil {
			t.Fatal(err)
		}
		fills := svgFills(t, buf.Bytes())
		doc := parseSVG(t, buf.Bytes())
		want, wantTick := 0, false
		if withMax {
			want, wantTick = 2, true // the band and the legend's thumbnail
		}
		if got := fills[band]; got != want {
			t.Errorf("withMax=%v: %d translucent %s paths, want %d; fills %v", withMax, got, band, want, fills)
		}
		if got := doc.hasText("20k"); got != wantTick {
			t.Errorf("withMax=%v: y axis tick 20k drawn: %v, want %v; texts %q", withMax, got, wantTick, doc.texts)
		}
		if got := doc.strokes[hex(palette[0])]; got != 2 {
			t.Errorf("withMax=%v: %d lines in %s, want the line and its thumbnail", withMax, got, hex(palette[0]))
		}
	}
}

// TestMaxBandPNG checks the pixels: in the column of the hour that peaked,
// the band's colour (the series' blue over white) reaches far above the
// line; in a column of an ordinary hour it does not.
func TestMaxBandPNG(t *testing.T) {
	t.Parallel()
	var buf bytes.Buffer
	if err := stallBuckets(true).WritePNG(&buf); err != nil {
		t.Fatal(err)
	}
	img, err := png.Decode(&buf)
	if err != nil {
		t.Fatal(err)
	}
	// The blue at the band's opacity over white.
	r0, g0, b0, _ := palette[0].RGBA()
	a := float64(maxAlpha) / 255
	blend := func(c uint32) float64 { return 255 + (float64(c>>8)-255)*a }
	want := [3]float64{blend(r0), blend(g0), blend(b0)}
	isBand := func(x, y int) bool {
		r, g, b, _ := img.At(x, y).RGBA()
		return math.Abs(float64(r>>8)-want[0]) <= 4 && math.Abs(float64(g>>8)-want[1]) <= 4 && math.Abs(float64(b>>8)-want[2]) <= 4
	}
	// The band's tallest column: bands of other hours are 50 messages
	// high, a pixel or less.
	bounds := img.Bounds()
	tallest, tallestX := 0, 0
	for x := bounds.Min.X; x < bounds.Max.X; x++ {
		n := 0
		for y := bounds.Min.Y; y < bounds.Max.Y; y++ {
			if isBand(x, y) {
				n++
			}
		}
		if n > tallest {
			tallest, tallestX = n, x
		}
	}
	if tallest < bounds.Dy()/3 {
		t.Fatalf("the band's tallest column (x=%d) has %d band pixels; want a third of the %d-pixel height for the 22k peak over a line at 100", tallestX, tallest, bounds.Dy())
	}
	// The peak is at hour 20 of 48: about 20/47 of the way along the time
	// axis, which spans most of the width.
	if f := float64(tallestX) / float64(bounds.Dx()); f < 0.3 || f > 0.5 {
		t.Errorf("the band peaks at x=%d (%.2f of the width); want it near hour 20 of 48", tallestX, f)
	}
	// Without maxima no pixel has the band's colour but the legend's.
	buf.Reset()
	if err := stallBuckets(false).WritePNG(&buf); err != nil {
		t.Fatal(err)
	}
	plain, err := png.Decode(&buf)
	if err != nil {
		t.Fatal(err)
	}
	img = plain
	n := 0
	for x := bounds.Min.X; x < bounds.Max.X; x++ {
		for y := bounds.Min.Y; y < bounds.Max.Y; y++ {
			if isBand(x, y) {
				n++
			}
		}
	}
	if n > 10 {
		t.Errorf("without maxima, %d pixels have the band's colour", n)
	}
}

// TestEnvelope checks the reduction of a band to the pixel columns: at
// most two points a column, and every bucket's range inside the band.
func TestEnvelope(t *testing.T) {
	t.Parallel()
	var run []span
	for i := range 10080 { // a week of minutes
		v := float64(i % 97)
		run = append(run, span{x: float64(i * 60), lo: v, hi: v + float64(i%13)})
	}
	run[5000].hi = 1e6
	lo, hi, cols := run[0].x, run[len(run)-1].x, 800
	out := envelope(run, lo, hi, cols)
	if len(out) > 2*cols {
		t.Fatalf("%d points for %d columns", len(out), cols)
	}
	top := 0.0
	for i, s := range out {
		if i > 0 && s.x < out[i-1].x {
			t.Fatalf("point %d at %g is before point %d at %g", i, s.x, i-1, out[i-1].x)
		}
		top = max(top, s.hi)
		if s.lo != 0 && s.lo > s.hi {
			t.Fatalf("point %d: lo %g above hi %g", i, s.lo, s.hi)
		}
	}
	if top != 1e6 {
		t.Errorf("the band tops at %g, want the peak 1e6", top)
	}
	// A run that fits is kept as it is.
	if got := envelope(run[:100], lo, hi, cols); len(got) != 100 {
		t.Errorf("100 points over 800 columns became %d", len(got))
	}
}

// TestMaxValidate checks the maxima's rules: one a point, not infinite;
// NaN is a hole in the band.
func TestMaxValidate(t *testing.T) {
	t.Parallel()
	c := stallBuckets(true)
	c.Series[0].Max = c.Series[0].Max[:10]
	if err := c.Validate(); !errors.Is(err, ErrInvalid) || !strings.Contains(err.Error(), "10 maxima for 48 points") {
		t.Errorf("short Max: %v", err)
	}
	c = stallBuckets(true)
	c.Series[0].Max[3] = math.Inf(1)
	if err := c.Validate(); !errors.Is(err, ErrInvalid) || !strings.Contains(err.Error(), "maximum 3") {
		t.Errorf("infinite max: %v", err)
	}
	c = stallBuckets(true)
	c.Series[0].Max[3] = math.NaN()
	c.Series[0].Points[10].V = math.NaN()
	c.Series[0].Max[11] = 50 // below the value: the band spans between them
	if err := c.WriteSVG(io.Discard); err != nil {
		t.Errorf("NaN maxima: %v", err)
	}
}
