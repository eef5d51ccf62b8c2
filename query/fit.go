package query

import (
	"math"
	"time"
)

// XY is one observation for a least-squares fit: a value at a time.
type XY struct {
	T time.Time
	V float64
}

// Fit is a least-squares line through observations: V(t) = Intercept +
// Slope * (t - At) seconds.
type Fit struct {
	// At is the time the intercept refers to.
	At time.Time
	// Intercept is the fitted value at At.
	Intercept float64
	// Slope is the fitted change per second.
	Slope float64
}

// LinearFit fits a least-squares line through obs, as PromQL's deriv and
// predict_linear do, with the intercept at at. It returns false for fewer
// than two observations or when they all share one time.
func LinearFit(obs []XY, at time.Time) (Fit, bool) {
	if len(obs) < 2 {
		return Fit{}, false
	}
	// Centre x on the mean for numerical stability.
	n := float64(len(obs))
	var sx, sy float64
	for _, o := range obs {
		sx += o.T.Sub(at).Seconds()
		sy += o.V
	}
	mx, my := sx/n, sy/n
	var sxx, sxy float64
	for _, o := range obs {
		dx := o.T.Sub(at).Seconds() - mx
		sxx += dx * dx
		sxy += dx * (o.V - my)
	}
	if sxx == 0 {
		return Fit{}, false
	}
	slope := sxy / sxx
	return Fit{At: at, Slope: slope, Intercept: my - slope*mx}, true
}

// Predict returns the fitted value at t.
func (f Fit) Predict(t time.Time) float64 {
	return f.Intercept + f.Slope*t.Sub(f.At).Seconds()
}

// DrainETA returns how long until lag reaches zero if it keeps falling at
// slope messages per second, and false when it is not falling (slope >= 0)
// or there is no lag.
func DrainETA(lag float64, slope float64) (time.Duration, bool) {
	if lag <= 0 || slope >= 0 || math.IsNaN(slope) {
		return 0, false
	}
	secs := lag / -slope
	if secs > float64(math.MaxInt64/int64(time.Second)) {
		return 0, false
	}
	return time.Duration(secs * float64(time.Second)), true
}
