package chart

import (
	"bytes"
	"encoding/xml"
	"errors"
	"fmt"
	"image/color"
	"image/png"
	"io"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// svgDoc is what the tests read from an SVG document.
type svgDoc struct {
	strokes map[string]int // stroked paths by stroke colour, #RRGGBB
	texts   []string
}

// parseSVG parses an SVG document as XML and collects its stroked paths and
// texts.
func parseSVG(t *testing.T, b []byte) svgDoc {
	t.Helper()
	doc := svgDoc{strokes: map[string]int{}}
	dec := xml.NewDecoder(bytes.NewReader(b))
	var inText bool
	var sawSVG bool
	for {
		tok, err := dec.Token()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatalf("SVG is not well-formed XML: %v", err)
		}
		switch el := tok.(type) {
		case xml.StartElement:
			sawSVG = sawSVG || el.Name.Local == "svg"
			inText = el.Name.Local == "text"
			if el.Name.Local != "path" {
				continue
			}
			for _, a := range el.Attr {
				for _, decl := range strings.Split(a.Value, ";") {
					if v, ok := strings.CutPrefix(decl, "stroke:"); ok && a.Name.Local == "style" {
						doc.strokes[v]++
					}
				}
			}
		case xml.CharData:
			if inText {
				doc.texts = append(doc.texts, string(el))
			}
		case xml.EndElement:
			inText = false
		}
	}
	if !sawSVG {
		t.Fatal("no svg element")
	}
	return doc
}

// hex returns the SVG form of a colour without its opacity, computed as
// gonum's vgsvg does.
func hex(c color.Color) string {
	r, g, b, a := c.RGBA()
	k := 255 / float64(a)
	return fmt.Sprintf("#%02X%02X%02X", int(float64(r)*k), int(float64(g)*k), int(float64(b)*k))
}

func (d svgDoc) hasText(s string) bool {
	for _, t := range d.texts {
		if strings.Contains(t, s) {
			return true
		}
	}
	return false
}

func TestWritePNGSize(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name         string
		w, h         int
		wantW, wantH int
	}{
		{"default", 0, 0, DefaultWidth, DefaultHeight},
		{"custom", 640, 300, 640, 300},
		{"smallest", MinWidth, MinHeight, MinWidth, MinHeight},
		{"large", 1600, 900, 1600, 900},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			c := ratesHalfHour()
			c.Width, c.Height = tt.w, tt.h
			var buf bytes.Buffer
			if err := c.WritePNG(&buf); err != nil {
				t.Fatal(err)
			}
			img, err := png.Decode(&buf)
			if err != nil {
				t.Fatalf("not a PNG: %v", err)
			}
			if b := img.Bounds(); b.Dx() != tt.wantW || b.Dy() != tt.wantH {
				t.Errorf("size %dx%d, want %dx%d", b.Dx(), b.Dy(), tt.wantW, tt.wantH)
			}
		})
	}
}

// TestWriteSVGLines checks that each series is one stroked path a run of
// points plus one legend thumbnail, so a NaN gap makes one more path, and that
// the legend names every series, the one with a gap included. The runs are
// longer than the pieces PNG lines are stroked in, which SVG keeps whole.
func TestWriteSVGLines(t *testing.T) {
	t.Parallel()
	t0 := time.Date(2025, 3, 5, 2, 0, 0, 0, time.UTC)
	mk := func(name string, f func(i int) float64) Series {
		s := Series{Name: name}
		for i := range 360 {
			s.Points = append(s.Points, Point{T: t0.Add(time.Duration(i) * 10 * time.Second), V: f(i)})
		}
		return s
	}
	c := Chart{
		Title:  "lines",
		YLabel: "lag",
		Series: []Series{
			mk("steady", func(int) float64 { return 100 }),
			mk("gappy", func(i int) float64 {
				if i >= 120 && i < 150 {
					return math.NaN()
				}
				return float64(i)
			}),
			mk("rising", func(i int) float64 { return float64(i * i) }),
		},
	}
	var buf bytes.Buffer
	if err := c.WriteSVG(&buf); err != nil {
		t.Fatal(err)
	}
	doc := parseSVG(t, buf.Bytes())
	for i, want := range []int{2, 3, 2} {
		if got := doc.strokes[hex(palette[i])]; got != want {
			t.Errorf("series %d (%s): %d paths in %s, want %d", i, c.Series[i].Name, got, hex(palette[i]), want)
		}
	}
	for _, s := range c.Series {
		if !doc.hasText(s.Name) {
			t.Errorf("legend lacks %q; texts: %q", s.Name, doc.texts)
		}
	}
	if !doc.hasText("time (UTC), 2025-03-05 02:00 – 02:59") {
		t.Errorf("no time range label; texts: %q", doc.texts)
	}
}

func TestWriteSVGAnnotations(t *testing.T) {
	t.Parallel()
	var buf bytes.Buffer
	if err := lagWeek().WriteSVG(&buf); err != nil {
		t.Fatal(err)
	}
	doc := parseSVG(t, buf.Bytes())
	for _, want := range []string{"incident 02:10", "STALL", "Mar 05", "250k", "partition 7"} {
		if !doc.hasText(want) {
			t.Errorf("no text %q; texts: %q", want, doc.texts)
		}
	}
	if got := doc.strokes[hex(markerColor)]; got != 1 {
		t.Errorf("%d marker lines, want 1", got)
	}
}

// TestManySeries renders 32 series of a day of minutes: 11 get colours and
// legend entries, 21 are drawn grey under one "21 others" entry. How many
// points the series hold does not matter to that; BenchmarkLagWeek32
// renders a week of them.
func TestManySeries(t *testing.T) {
	t.Parallel()
	c := lagDay32()
	var svg bytes.Buffer
	if err := c.WriteSVG(&svg); err != nil {
		t.Fatal(err)
	}
	doc := parseSVG(t, svg.Bytes())
	if !doc.hasText("21 others") {
		t.Errorf("no others entry; texts: %q", doc.texts)
	}
	if got := doc.strokes[hex(othersColor)]; got != 21+1 {
		t.Errorf("%d grey paths, want 21 lines and 1 thumbnail", got)
	}
	for i := range 11 {
		if got := doc.strokes[hex(palette[i])]; got != 2 {
			t.Errorf("palette[%d]: %d paths, want 2", i, got)
		}
	}
	var img bytes.Buffer
	if err := c.WritePNG(&img); err != nil {
		t.Fatal(err)
	}
	if _, err := png.Decode(&img); err != nil {
		t.Fatalf("not a PNG: %v", err)
	}
}

func TestRenderEdgeCases(t *testing.T) {
	t.Parallel()
	t0 := time.Date(2025, 3, 5, 2, 0, 0, 0, time.UTC)
	tests := []struct {
		name string
		c    Chart
	}{
		{"single point", Chart{Series: []Series{{Name: "p0", Points: []Point{{T: t0, V: 5}}}}}},
		{"flat zero", Chart{Series: []Series{{Name: "p0", Points: []Point{{T: t0}, {T: t0.Add(time.Hour)}}}}}},
		{"negative values", Chart{Series: []Series{{Name: "p0", Points: []Point{{T: t0, V: -5}, {T: t0.Add(time.Hour), V: 3}}}}}},
		{"annotations outside the range", Chart{
			Series:  []Series{{Name: "p0", Points: []Point{{T: t0, V: 1}, {T: t0.Add(time.Hour), V: 2}}}},
			Markers: []Marker{{At: t0.Add(-time.Hour), Label: "before"}, {At: t0.Add(2 * time.Hour), Label: "after"}},
			Bands:   []Band{{From: t0.Add(-2 * time.Hour), To: t0.Add(-time.Hour), Label: "old"}, {From: t0.Add(-time.Hour), To: t0.Add(9 * time.Hour), Label: "wide"}},
		}},
		{"isolated points between gaps", Chart{Series: []Series{{Name: "p0", Points: []Point{
			{T: t0, V: math.NaN()}, {T: t0.Add(time.Minute), V: 3}, {T: t0.Add(2 * time.Minute), V: math.NaN()},
			{T: t0.Add(3 * time.Minute), V: 4}, {T: t0.Add(4 * time.Minute), V: 1},
		}}}}},
		{"unnamed series, no legend", Chart{Series: []Series{{Points: []Point{{T: t0, V: 1}, {T: t0.Add(time.Minute), V: 2}}}}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if err := tt.c.WritePNG(io.Discard); err != nil {
				t.Errorf("WritePNG: %v", err)
			}
			var buf bytes.Buffer
			if err := tt.c.WriteSVG(&buf); err != nil {
				t.Fatalf("WriteSVG: %v", err)
			}
			parseSVG(t, buf.Bytes())
		})
	}
}

func TestWriteRejectsInvalid(t *testing.T) {
	t.Parallel()
	c := Chart{Title: "empty"}
	for name, write := range map[string]func(io.Writer) error{"png": c.WritePNG, "svg": c.WriteSVG} {
		err := write(io.Discard)
		if !errors.Is(err, ErrInvalid) || !strings.HasPrefix(err.Error(), "write "+name+": ") {
			t.Errorf("%s: err = %v, want write %s: invalid chart …", name, err, name)
		}
	}
}

func TestSave(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	c := ratesHalfHour()
	tests := []struct {
		file    string
		wantErr string
		check   func([]byte) error
	}{
		{file: "a.png", check: func(b []byte) error { _, err := png.Decode(bytes.NewReader(b)); return err }},
		{file: "b.SVG", check: func(b []byte) error { return xml.Unmarshal(b, new(struct{})) }},
		{file: "c.jpg", wantErr: `unknown extension ".jpg"`},
		{file: "noext", wantErr: `unknown extension ""`},
	}
	for _, tt := range tests {
		path := filepath.Join(dir, tt.file)
		err := c.Save(path)
		if tt.wantErr != "" {
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("Save(%s) = %v, want %q", tt.file, err, tt.wantErr)
			}
			if _, err := os.Stat(path); !errors.Is(err, os.ErrNotExist) {
				t.Errorf("Save(%s) left a file", tt.file)
			}
			continue
		}
		if err != nil {
			t.Fatalf("Save(%s): %v", tt.file, err)
		}
		b, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		if err := tt.check(b); err != nil {
			t.Errorf("%s: %v", tt.file, err)
		}
	}
	bad := filepath.Join(dir, "bad.png")
	if err := (Chart{}).Save(bad); !errors.Is(err, ErrInvalid) {
		t.Errorf("Save(invalid) = %v, want ErrInvalid", err)
	}
	if _, err := os.Stat(bad); !errors.Is(err, os.ErrNotExist) {
		t.Error("Save(invalid) left a file")
	}
}
