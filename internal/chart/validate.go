package chart

import (
	"errors"
	"fmt"
	"math"
	"time"
)

// ErrInvalid is wrapped by every error of [Chart.Validate], and so by the
// rendering methods when they refuse a chart.
var ErrInvalid = errors.New("invalid chart")

// Validate reports the first problem that keeps the chart from being drawn:
// a bad size, no series, a series without points, an infinite value (use NaN
// for a gap), maxima that are not one a point or are infinite, a point
// without a time or out of time order, no finite value at all, a marker
// without a time, a band that ends before it starts, or an unknown unit. The
// error wraps [ErrInvalid] and names the series, point, marker or band at
// fault.
func (c Chart) Validate() error {
	if err := c.validateLayout(); err != nil {
		return c.invalid(err)
	}
	finite := false
	for i, s := range c.Series {
		ok, err := validateSeries(s)
		if err != nil {
			return c.invalid(fmt.Errorf("series %d (%q): %w", i, s.Name, err))
		}
		finite = finite || ok
	}
	if !finite {
		return c.invalid(errors.New("no finite value: every point of every series is NaN"))
	}
	for i, m := range c.Markers {
		if m.At.IsZero() {
			return c.invalid(fmt.Errorf("marker %d (%q): zero time", i, m.Label))
		}
	}
	for i, b := range c.Bands {
		if err := validateBand(b); err != nil {
			return c.invalid(fmt.Errorf("band %d (%q): %w", i, b.Label, err))
		}
	}
	return nil
}

// validateLayout checks what does not depend on the data.
func (c Chart) validateLayout() error {
	w, h := c.size()
	if w < MinWidth || h < MinHeight {
		return fmt.Errorf("size %dx%d pixels is below the minimum %dx%d", w, h, MinWidth, MinHeight)
	}
	if c.YUnit != UnitCount && c.YUnit != UnitSeconds {
		return fmt.Errorf("unknown y unit %d", int(c.YUnit))
	}
	if len(c.Series) == 0 {
		return errors.New("no series")
	}
	return nil
}

// invalid wraps a problem in ErrInvalid, naming the chart by its title.
func (c Chart) invalid(err error) error {
	if c.Title == "" {
		return fmt.Errorf("%w: %w", ErrInvalid, err)
	}
	return fmt.Errorf("%w %q: %w", ErrInvalid, c.Title, err)
}

// validateSeries checks one series and says whether it has a finite value.
func validateSeries(s Series) (finite bool, err error) {
	if len(s.Points) == 0 {
		return false, errors.New("no points")
	}
	for j, p := range s.Points {
		if p.T.IsZero() {
			return false, fmt.Errorf("point %d: zero time", j)
		}
		if math.IsInf(p.V, 0) {
			return false, fmt.Errorf("point %d at %s: value %v is infinite (use NaN for a gap)", j, stamp(p.T), p.V)
		}
		if j > 0 && p.T.Before(s.Points[j-1].T) {
			return false, fmt.Errorf("point %d at %s is before point %d at %s: points must be sorted by time",
				j, stamp(p.T), j-1, stamp(s.Points[j-1].T))
		}
		finite = finite || !math.IsNaN(p.V)
	}
	if s.Max != nil && len(s.Max) != len(s.Points) {
		return false, fmt.Errorf("%d maxima for %d points: want one a point (NaN where unknown)", len(s.Max), len(s.Points))
	}
	for j, m := range s.Max {
		if math.IsInf(m, 0) {
			return false, fmt.Errorf("maximum %d at %s: value %v is infinite (use NaN where unknown)", j, stamp(s.Points[j].T), m)
		}
	}
	return finite, nil
}

// validateBand checks the times of one band.
func validateBand(b Band) error {
	if b.From.IsZero() || b.To.IsZero() {
		return errors.New("zero time")
	}
	if b.To.Before(b.From) {
		return fmt.Errorf("ends at %s before it starts at %s", stamp(b.To), stamp(b.From))
	}
	return nil
}

// stamp formats a time for error messages.
func stamp(t time.Time) string {
	return t.UTC().Format(time.RFC3339Nano)
}
