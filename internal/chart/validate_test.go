package chart

import (
	"errors"
	"math"
	"strings"
	"testing"
	"time"
)

func TestValidate(t *testing.T) {
	t.Parallel()
	t0 := time.Date(2025, 3, 5, 2, 0, 0, 0, time.UTC)
	pts := func(vs ...float64) []Point {
		out := make([]Point, len(vs))
		for i, v := range vs {
			out[i] = Point{T: t0.Add(time.Duration(i) * time.Minute), V: v}
		}
		return out
	}
	ok := func() Chart {
		return Chart{Title: "lag", Series: []Series{{Name: "p0", Points: pts(1, 2, 3)}}}
	}
	tests := []struct {
		name  string
		edit  func(*Chart)
		wants []string // substrings of the error; none for a valid chart
	}{
		{"valid", func(*Chart) {}, nil},
		{"nan gaps are valid", func(c *Chart) { c.Series[0].Points = pts(math.NaN(), 1, math.NaN()) }, nil},
		{"equal times are valid", func(c *Chart) { c.Series[0].Points[1].T = t0 }, nil},
		{"no series", func(c *Chart) { c.Series = nil }, []string{`"lag"`, "no series"}},
		{"no points", func(c *Chart) {
			c.Series = append(c.Series, Series{Name: "p1"})
		}, []string{`series 1 ("p1")`, "no points"}},
		{"infinite value", func(c *Chart) { c.Series[0].Points[2].V = math.Inf(1) }, []string{`series 0 ("p0")`, "point 2", "+Inf", "use NaN"}},
		{"negative infinity", func(c *Chart) { c.Series[0].Points[0].V = math.Inf(-1) }, []string{"point 0", "-Inf"}},
		{"unsorted", func(c *Chart) {
			c.Series[0].Points[2].T = t0.Add(-time.Minute)
		}, []string{"point 2 at 2025-03-05T01:59:00Z is before point 1", "sorted by time"}},
		{"zero time", func(c *Chart) { c.Series[0].Points[1].T = time.Time{} }, []string{"point 1", "zero time"}},
		{"all nan", func(c *Chart) { c.Series[0].Points = pts(math.NaN(), math.NaN()) }, []string{"no finite value"}},
		{"marker without time", func(c *Chart) { c.Markers = []Marker{{Label: "incident"}} }, []string{`marker 0 ("incident")`, "zero time"}},
		{"band reversed", func(c *Chart) {
			c.Bands = []Band{{From: t0.Add(time.Hour), To: t0, Label: "STALL"}}
		}, []string{`band 0 ("STALL")`, "before it starts"}},
		{"too small", func(c *Chart) { c.Width = 100 }, []string{"size 100x450", "minimum"}},
		{"negative size", func(c *Chart) { c.Height = -1 }, []string{"size 1000x-1"}},
		{"unknown unit", func(c *Chart) { c.YUnit = 7 }, []string{"unknown y unit 7"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			c := ok()
			tt.edit(&c)
			err := c.Validate()
			if tt.wants == nil {
				if err != nil {
					t.Fatalf("Validate() = %v, want nil", err)
				}
				return
			}
			if !errors.Is(err, ErrInvalid) {
				t.Fatalf("Validate() = %v, want an error wrapping ErrInvalid", err)
			}
			for _, w := range tt.wants {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("Validate() = %q, want it to contain %q", err, w)
				}
			}
		})
	}
}

func TestValidateUntitled(t *testing.T) {
	t.Parallel()
	err := Chart{}.Validate()
	if err == nil || err.Error() != "invalid chart: no series" {
		t.Fatalf("Validate() = %v, want %q", err, "invalid chart: no series")
	}
}
