package query_test

import (
	"math"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/lagtrail/lagtrail/internal/scenariotest"
	"github.com/lagtrail/lagtrail/query"
	"github.com/lagtrail/lagtrail/store"
)

// TestSurfacesAgree checks, on one history with an idle group, a quiet one,
// a stall, a rewind and a growing backlog (testdata/consistency.yaml), that
// every surface gives each group the same status and drain ETA at its last
// poll: query status (Engine.Status), query top (its status column), the
// fleet (Engine.Fleet and the group_status view, which /metrics, Grafana and
// the web page read), query drain (Engine.Drain). The fleet's status reads
// NODATA against now() on a history this old, so its evaluation at the last
// poll (last_status) is compared. The idle group, which gets a message now
// and then, must be OK at every bucket of the history.
func TestSurfacesAgree(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	h := scenariotest.GenerateFile(t, "testdata/consistency.yaml", scenariotest.Monday, 6*time.Hour)
	e, _ := engineOn(t, h.URL)
	pool, err := pgxpool.New(ctx, h.URL)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(pool.Close)

	want := map[string]query.Status{
		"idle-reader": query.StatusOK, "quiet": query.StatusOK, "stalled": query.StatusStop,
		"rewinder": query.StatusRewind, "backlogged": query.StatusWarn,
	}
	fleet, err := e.Fleet(ctx, query.FleetRequest{})
	if err != nil {
		t.Fatal(err)
	}
	if len(fleet) != len(want) {
		t.Fatalf("fleet has %d groups, want %d", len(fleet), len(want))
	}
	for _, fg := range fleet {
		name := fg.Group.Group
		if fg.LagAt == nil {
			t.Errorf("%s: no last poll", name)
			continue
		}
		at := *fg.LagAt
		sel := query.Selection{Group: name}

		// query status: the bucket holding the last poll.
		ivs, err := e.Status(ctx, query.StatusRequest{Range: query.Range{Selection: sel, From: at.Truncate(time.Minute), To: at.Truncate(time.Minute).Add(time.Minute), Step: time.Minute}})
		if err != nil || len(ivs) != 1 {
			t.Fatalf("%s: status %v, %v", name, ivs, err)
		}
		status := ivs[0].Status

		// The group_status view's evaluation at the last poll.
		var viewStatus string
		if err := pool.QueryRow(ctx, `SELECT last_status FROM lagtrail.group_status WHERE consumer_group = $1`, name).Scan(&viewStatus); err != nil {
			t.Fatal(err)
		}

		// query top's status column, for a window ending just after the
		// last poll.
		top, err := e.Top(ctx, query.TopRequest{By: store.TopByLag, N: 10, Window: time.Hour, At: at.Add(time.Second)})
		if err != nil {
			t.Fatal(err)
		}
		topStatus := query.StatusNoData
		for _, r := range top.Rows {
			if r.Group.Group == name {
				topStatus = r.Status
			}
		}

		if status != want[name] || viewStatus != status.String() || topStatus != status {
			t.Errorf("%s at %s: query status %s, fleet/view %s, top %s; want %s on every surface", name, at.Format(time.RFC3339), status, viewStatus, topStatus, want[name])
		}

		// Drain ETA: query drain and the fleet, with the one backlog rule.
		ds, err := e.Drain(ctx, query.DrainRequest{Selection: sel, By: store.LevelGroup, At: at})
		if err != nil || len(ds) != 1 {
			t.Fatalf("%s: drain %v, %v", name, ds, err)
		}
		var drainETA *float64
		if ds[0].ETA != nil {
			v := ds[0].ETA.Seconds()
			drainETA = &v
		}
		if !sameETA(drainETA, fg.ETA) || ds[0].Backlog != fg.Backlog {
			t.Errorf("%s: query drain ETA %v (backlog %v), fleet %v (backlog %v)", name, deref(drainETA), ds[0].Backlog, deref(fg.ETA), fg.Backlog)
		}
	}

	// The idle group is OK at every bucket, though its lag was above zero
	// at some polls.
	idle := query.Selection{Group: "idle-reader"}
	ivs, err := e.Status(ctx, query.StatusRequest{Range: query.Range{Selection: idle, From: h.From.Add(30 * time.Minute), To: h.To, Step: time.Minute}})
	if err != nil {
		t.Fatal(err)
	}
	for _, iv := range ivs {
		if iv.Status != query.StatusOK {
			t.Errorf("idle-reader %s to %s: %s (%s), want OK", iv.From, iv.To, iv.Status, iv.Reason)
		}
	}
	hist, err := e.History(ctx, query.Range{Selection: idle, From: h.From, To: h.To, Step: time.Hour, By: store.LevelPartition, Tier: query.TierRaw})
	if err != nil {
		t.Fatal(err)
	}
	var peak int64
	for _, r := range hist.Rows {
		if r.LagMax != nil {
			peak = max(peak, *r.LagMax)
		}
	}
	if peak == 0 {
		t.Error("idle-reader never had lag: the history does not test the idle case")
	}
}

// sameETA reports whether two ETAs in seconds agree: both unknown, or
// within 1% (the fleet's view and query drain fit the same polls).
func sameETA(a, b *float64) bool {
	if a == nil || b == nil {
		return a == nil && b == nil
	}
	return math.Abs(*a-*b) <= 0.01*math.Max(math.Abs(*a), 1)
}
