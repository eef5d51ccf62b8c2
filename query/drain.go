package query

import (
	"context"
	"fmt"
	"time"

	"github.com/lagtrail/lagtrail/store"
)

// Defaults of DrainRequest.
const (
	DefaultDrainWindow = 15 * time.Minute
	DefaultHorizon     = time.Hour
)

// DrainRequest asks how fast the selected lag drains, over Window ending at
// At.
type DrainRequest struct {
	Selection
	By store.Level
	// At is the end of the window.
	At time.Time
	// Window is how far back from At the rates and the slope are computed.
	// Default 15m.
	Window time.Duration
	// Horizon is how far past At PredictedLag looks. Default 1h.
	Horizon time.Duration
}

// Drain is how one key's lag moves over the window.
type Drain struct {
	store.Key
	// At is the end of the window and Window its length.
	At     time.Time
	Window time.Duration
	// LagAt is the time of the last poll in the window and Lag the lag
	// then; nil when the window holds no poll.
	LagAt *time.Time
	Lag   *int64
	// TimeLag and TimeLagKind are the time lag at LagAt.
	TimeLag     *float64
	TimeLagKind store.TimeLagKind
	// ConsumeRate, ProduceRate and NetRate are in messages per second over
	// the window.
	ConsumeRate, ProduceRate, NetRate *float64
	// Slope is the least-squares slope of the lag over the window's polls,
	// in messages per second, as PromQL's deriv.
	Slope *float64
	// Backlog is whether Lag is a backlog (IsBacklog at ProduceRate).
	Backlog bool
	// ETA is how long until the lag reaches zero at Slope, from LagAt: 0
	// without a backlog (the consumer keeps up), nil when a backlog is not
	// draining.
	ETA *time.Duration
	// Horizon and PredictedLag: the fitted lag at At+Horizon, as PromQL's
	// predict_linear but floored at 0; nil with fewer than two polls.
	Horizon      time.Duration
	PredictedLag *float64
}

// Drain returns, per key, the lag, rates, least-squares slope, time to
// drain and predicted lag over the window ending at req.At.
func (e *Engine) Drain(ctx context.Context, req DrainRequest) ([]Drain, error) {
	if req.Window == 0 {
		req.Window = DefaultDrainWindow
	}
	if req.Horizon == 0 {
		req.Horizon = DefaultHorizon
	}
	if req.Window < 0 {
		return nil, fmt.Errorf("%w: window must be positive, got %s", ErrInvalidRequest, req.Window)
	}
	if req.Horizon < 0 {
		return nil, fmt.Errorf("%w: horizon must not be negative, got %s", ErrInvalidRequest, req.Horizon)
	}
	if req.At.IsZero() {
		return nil, fmt.Errorf("%w: no time given for the end of the window", ErrInvalidRequest)
	}
	groups, err := e.resolve(ctx, req.Selection)
	if err != nil {
		return nil, err
	}
	at := req.At.UTC()
	// The window is closed at At: a poll exactly at At belongs to it.
	end := at.Add(time.Microsecond)
	aggs, err := e.src.Buckets(ctx, e.aggregate(groups, req.Selection, req.By, []time.Time{at.Add(-req.Window), end}))
	if err != nil {
		return nil, fmt.Errorf("drain: %w", err)
	}
	out := make([]Drain, 0, len(aggs))
	for _, a := range aggs {
		out = append(out, DrainFrom(a, at, req.Window, req.Horizon))
	}
	return out, nil
}

// DrainFrom computes a Drain from the aggregate of one bucket spanning the
// window [at-window, at].
func DrainFrom(a store.BucketAggregate, at time.Time, window, horizon time.Duration) Drain {
	d := Drain{
		Key: a.Key, At: at, Window: window, Horizon: horizon,
		LagAt: a.LagAt, Lag: a.Lag, TimeLag: a.TimeLag, TimeLagKind: a.TimeLagKind,
		ConsumeRate: a.ConsumeRate, ProduceRate: a.ProduceRate,
		NetRate: NetRate(a.ConsumeRate, a.ProduceRate),
		Slope:   a.LagSlope,
	}
	if a.LagSlope != nil && a.LagIntercept != nil {
		// The intercept is the fitted lag at the window's start.
		f := Fit{At: at.Add(-window), Intercept: *a.LagIntercept, Slope: *a.LagSlope}
		// Lag cannot go below zero; a line can.
		p := max(f.Predict(at.Add(horizon)), 0)
		d.PredictedLag = &p
		if a.Lag != nil {
			if eta, ok := DrainETA(float64(*a.Lag), *a.LagSlope); ok {
				d.ETA = &eta
			}
		}
	}
	if a.Lag != nil {
		d.Backlog = IsBacklog(*a.Lag, a.ProduceRate)
		if !d.Backlog {
			zero := time.Duration(0)
			d.ETA = &zero
		}
	}
	return d
}
