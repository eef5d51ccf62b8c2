package query

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/lagtrail/lagtrail/store"
)

// Defaults and limits of TopRequest.
const (
	// DefaultTopN is how many groups Top returns by default.
	DefaultTopN = 10
	// DefaultTopWindow is TopRequest.Window's default.
	DefaultTopWindow = 24 * time.Hour
	// MinTopWindow is the shortest window: the rollups Top reads are
	// hourly.
	MinTopWindow = time.Hour
	// TopStatusRange is the range whose status timeline gives the status
	// of each returned group: the last interval of Status over
	// [At - TopStatusRange, At), at the default step (1m) and window.
	TopStatusRange = 15 * time.Minute
)

// TopRequest asks for the groups first by one figure over the window
// [At - Window, At).
type TopRequest struct {
	// By is the figure to rank by.
	By store.TopBy
	// N is how many groups to return, 1 to store.MaxTopLimit.
	N int
	// Window is the window's length, at least MinTopWindow.
	Window time.Duration
	// At is the window's end.
	At time.Time
	// Region and Instance narrow the groups ranked; empty matches any.
	Region, Instance string
}

// ParseTopBy reads the name of a figure Top ranks by: lag, growth,
// time-lag, eta or stall.
func ParseTopBy(s string) (store.TopBy, error) {
	for _, b := range store.TopBys {
		if s == string(b) {
			return b, nil
		}
	}
	return "", fmt.Errorf("%w: --by must be %s, got %q", ErrInvalidRequest, topByList(), s)
}

func topByList() string {
	names := make([]string, len(store.TopBys))
	for i, b := range store.TopBys {
		names[i] = string(b)
	}
	return strings.Join(names[:len(names)-1], ", ") + " or " + names[len(names)-1]
}

// Validate checks the request without reading anything: a known figure, N
// between 1 and store.MaxTopLimit, a window of at least MinTopWindow and an
// end. Its errors wrap ErrInvalidRequest and name the flag at fault.
func (r TopRequest) Validate() error {
	if _, err := ParseTopBy(string(r.By)); err != nil {
		return err
	}
	switch {
	case r.N < 1 || r.N > store.MaxTopLimit:
		return fmt.Errorf("%w: -n must be between 1 and %d, got %d", ErrInvalidRequest, store.MaxTopLimit, r.N)
	case r.Window < MinTopWindow:
		return fmt.Errorf("%w: --window must be at least %s (the rollups top reads are hourly), got %s",
			ErrInvalidRequest, shortDuration(MinTopWindow), shortDuration(r.Window))
	case r.At.IsZero():
		return fmt.Errorf("%w: no time given for the end of the window", ErrInvalidRequest)
	}
	return nil
}

// shortDuration writes d as time.Duration does, without the trailing zero
// units: 1h, 10m, 1h30m.
func shortDuration(d time.Duration) string {
	s := d.String()
	if strings.HasSuffix(s, "m0s") {
		s = strings.TrimSuffix(s, "0s")
	}
	if strings.HasSuffix(s, "h0m") {
		s = strings.TrimSuffix(s, "0m")
	}
	return s
}

// TopRow is a ranked group with its figures over the window and its status
// at the window's end.
type TopRow struct {
	store.TopRow
	// Status is the group's status at At, as Status evaluates it (the
	// last interval of its timeline over [At - TopStatusRange, At)), with
	// the partitions at that status and the reason.
	Status           Status
	StatusPartitions []PartitionRef
	StatusReason     string
}

// Top is the answer to a TopRequest.
type Top struct {
	By store.TopBy
	// From and At delimit the window read: At - Window truncated to the
	// hour (the rollups are hourly), and At; see store.TopQuery.From.
	From, At time.Time
	Window   time.Duration
	// StatusWindow is the sliding window of the status evaluation.
	StatusWindow time.Duration
	Rows         []TopRow
}

// Top ranks every recorded group with a poll in the window by req.By, in
// the database from the hourly rollups, and returns the first req.N with
// all their figures (see store.TopRow for their definitions) and, for
// those only, their status at req.At.
func (e *Engine) Top(ctx context.Context, req TopRequest) (*Top, error) {
	if err := req.Validate(); err != nil {
		return nil, err
	}
	ts := e.src
	// A region or instance that matches nothing is a bad request, as for
	// every query.
	if _, err := e.resolve(ctx, Selection{Region: req.Region, Instance: req.Instance}); err != nil {
		return nil, err
	}
	q := store.TopQuery{By: req.By, Limit: req.N, At: req.At.UTC(), Window: req.Window, Region: req.Region, Instance: req.Instance, Backlog: store.DefaultBacklog}
	rows, err := ts.Top(ctx, q)
	if err != nil {
		return nil, fmt.Errorf("top: %w", err)
	}
	out := &Top{By: req.By, From: q.From(), At: q.At, Window: req.Window, StatusWindow: DefaultStatusWindow,
		Rows: make([]TopRow, len(rows))}
	for i, r := range rows {
		out.Rows[i] = TopRow{TopRow: r}
	}
	if len(rows) == 0 {
		return out, nil
	}
	groups := make([]store.GroupRef, len(rows))
	for i, r := range rows {
		groups[i] = r.Group
	}
	last, err := e.statusAt(ctx, groups, q.At, out.StatusWindow)
	if err != nil {
		return nil, fmt.Errorf("top: %w", err)
	}
	for i := range out.Rows {
		iv := last[out.Rows[i].Group]
		out.Rows[i].Status, out.Rows[i].StatusPartitions, out.Rows[i].StatusReason = iv.Status, iv.Partitions, iv.Reason
	}
	return out, nil
}

// statusAt returns the status of each group at at: the last interval of
// the timeline Status gives over [at - TopStatusRange, at) at the default
// step, evaluated over window, reading window (not Config.Lookback) of
// history before the range.
func (e *Engine) statusAt(ctx context.Context, groups []store.GroupRef, at time.Time, window time.Duration) (map[store.GroupRef]Interval, error) {
	from := at.Add(-TopStatusRange)
	edges, err := Edges(from, at, DefaultStep(TopStatusRange), store.MaxBuckets)
	if err != nil {
		return nil, err
	}
	q := e.aggregate(groups, Selection{}, store.LevelPartition, edges)
	q.Window = window
	// The status needs no more history than its window: a partition
	// unchanged since before the samples read is STOP whatever the
	// lookback (only its reason then says "since before"), and a rewind
	// counts within the window. Reading the engine's whole lookback (24h
	// by default) took 1.8 s for the 7 groups of the incident scenario,
	// against 0.1 s.
	q.Lookback = window
	states, err := e.partitionStates(ctx, q)
	if err != nil {
		return nil, fmt.Errorf("status: %w", err)
	}
	out := make(map[store.GroupRef]Interval, len(groups))
	for _, iv := range Timeline(groups, states, edges, Rules{Window: window}) {
		out[iv.Group] = iv // intervals come in time order: the last wins
	}
	return out, nil
}
