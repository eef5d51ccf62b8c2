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

// JudgeBacklog judges r's lag and ETA with JudgeDrain, the rule query
// drain applies, from r's lag, production rate and slope. A group with no
// lag figure has no backlog and no ETA.
func JudgeBacklog(r store.FleetRow) FleetGroup {
	g := FleetGroup{FleetRow: r}
	g.ETA = nil
	if r.Lag == nil {
		return g
	}
	backlog, eta := JudgeDrain(*r.Lag, r.ProduceRate, r.Slope)
	g.Backlog = backlog
	if eta != nil {
		secs := eta.Seconds()
		g.ETA = &secs
	}
	return g
}
