package query

import (
	"context"

	"github.com/lagtrail/lagtrail/store"
)

// FleetRequest selects the groups Fleet reports on; empty fields match
// any.
type FleetRequest struct {
	Region, Instance string
}

// FleetGroup is one group of the fleet now: store.FleetRow with its ETA
// judged as Top judges it.
type FleetGroup struct {
	store.FleetRow
	// Backlog is false when the lag is at most BacklogSeconds of the
	// group's production: messages in flight for a group that keeps up.
	// Its ETA is then 0.
	Backlog bool
}

// Fleet returns every recorded group the request selects, ordered by
// region, instance and name, with its status and figures at its last
// successful poll (see store.FleetRow).
func (e *Engine) Fleet(ctx context.Context, req FleetRequest) ([]FleetGroup, error) {
	rows, err := e.src.Fleet(ctx, store.FleetQuery(req))
	if err != nil {
		return nil, err
	}
	out := make([]FleetGroup, len(rows))
	for i, r := range rows {
		out[i] = JudgeBacklog(r)
	}
	return out, nil
}

// JudgeBacklog decides whether r's lag is a backlog (IsBacklog). Without a
// backlog the ETA is 0, as in Drain and Top; with one, it is r's (nil when
// the lag is not draining). A group with no lag figure has no backlog and
// no ETA.
func JudgeBacklog(r store.FleetRow) FleetGroup {
	g := FleetGroup{FleetRow: r}
	if r.Lag == nil {
		g.ETA = nil
		return g
	}
	if !IsBacklog(*r.Lag, r.ProduceRate) {
		zero := 0.0
		g.ETA = &zero
		return g
	}
	g.Backlog = true
	return g
}
