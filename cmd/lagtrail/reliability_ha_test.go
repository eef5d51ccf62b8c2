package main

import (
	"context"
	"fmt"
	"maps"
	"path/filepath"
	"sort"
	"testing"
	"time"

	"github.com/lagtrail/lagtrail/ingest"
	"github.com/lagtrail/lagtrail/internal/pgtest"
	"github.com/lagtrail/lagtrail/store"
)

// TestThreeRecordersShareThirtyGroups runs three recorders with HA on over
// 30 groups: every group is polled once per interval, by one of them; one is
// killed with SIGKILL and its groups are polled again within two intervals;
// the request limit holds across the three all along.
func TestThreeRecordersShareThirtyGroups(t *testing.T) {
	t.Parallel()
	dbURL := pgtest.URL(t)
	const groups, rps = 30, 24
	rig := newRecordRig(t, groups, 2)
	// Leases last half an interval, 1.5s, renewed every 375ms: enough
	// slack for a loaded test machine, where a lease too short for the
	// machine's stalls makes recorders flap.
	rig.interval, rig.rps = 3*time.Second, rps
	interval := rig.interval
	ids := []string{"rec-a", "rec-b", "rec-c"}
	procs := make([]*recorderProc, len(ids))
	for i, id := range ids {
		cfg := rig.config(id+".yaml", filepath.Join(rig.dir, id), fmt.Sprintf("ha:\n  enabled: true\n  id: %s\n", id))
		procs[i] = rig.start(dbURL, "--config", cfg)
	}

	// Let them settle: wait until every group is leased, each recorder
	// holds some, and who holds what has not changed for an interval.
	// Then keep polling.
	ctx := context.Background()
	st, err := store.Open(ctx, store.Config{DatabaseURL: dbURL}, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	var (
		leases []store.Lease
		held   map[string][]store.GroupRef
		owner  map[string]string
		since  time.Time
	)
	settledOK := waitFor(waitLimit, func() bool {
		leases, err = st.Leases(ctx)
		if err != nil {
			t.Fatal(err)
		}
		was := owner
		held, owner = map[string][]store.GroupRef{}, map[string]string{}
		for _, l := range leases {
			if l.Live {
				held[l.RecorderID] = append(held[l.RecorderID], l.Group)
				owner[l.Group.Group] = l.RecorderID
			}
		}
		shared := len(owner) == groups
		for _, id := range ids {
			shared = shared && len(held[id]) > 0
		}
		if !shared || !maps.Equal(owner, was) {
			since = time.Now()
			return false
		}
		return time.Since(since) >= interval
	})
	for _, id := range ids {
		t.Logf("%s holds %d groups", id, len(held[id]))
		if len(held[id]) == 0 {
			t.Errorf("%s holds no group; the groups are not shared", id)
		}
	}
	if len(owner) != groups {
		t.Fatalf("%d groups leased, want %d; leases: %+v", len(owner), groups, leases)
	}
	if !settledOK {
		t.Fatalf("the leases did not stay put for an interval within %s; leases: %+v", waitLimit, leases)
	}
	settled := since
	time.Sleep(3 * interval)

	victim := ids[0]
	procs[0].kill()
	killedAt := time.Now()
	time.Sleep(6 * interval)
	for _, p := range procs[1:] {
		p.stop(t)
	}
	stoppedAt := time.Now()

	// Count requests per group and slot. Before the kill every slot after
	// the settling time has exactly one; after it, so has every slot from
	// two intervals on, for every group, the victim's included.
	reqs := rig.progressRequests()
	perSlot := map[string]map[time.Time]int{}
	for _, q := range reqs {
		g := store.GroupRef{Region: q.RegionID, InstanceID: q.InstanceID, Group: q.ConsumerID}
		slot := ingest.Slot(g, interval, q.Time)
		if perSlot[g.Group] == nil {
			perSlot[g.Group] = map[time.Time]int{}
		}
		perSlot[g.Group][slot]++
	}
	takenOver := killedAt.Add(2 * interval)
	var missing, doubled []string
	for _, name := range rig.groups {
		g := store.GroupRef{Region: rigRegion, InstanceID: rigInstance, Group: name}
		for slot := ingest.Slot(g, interval, settled).Add(interval); slot.Add(interval).Before(stoppedAt.Add(-interval)); slot = slot.Add(interval) {
			n := perSlot[name][slot]
			inGap := owner[name] == victim && !slot.Before(killedAt.Add(-interval)) && slot.Before(takenOver)
			switch {
			case n > 1:
				doubled = append(doubled, fmt.Sprintf("%s@%s×%d", name, slot.Format("15:04:05.000"), n))
			case n == 0 && !inGap:
				missing = append(missing, fmt.Sprintf("%s@%s (owner %s)", name, slot.Format("15:04:05.000"), owner[name]))
			}
		}
	}
	if len(doubled) > 0 {
		t.Errorf("%d group slots polled more than once: %v", len(doubled), head(doubled))
	}
	if len(missing) > 0 {
		t.Errorf("%d group slots not polled (the victim's are excused for two intervals after the kill): %v", len(missing), head(missing))
	}

	// The quota: at most rps requests in any one-second window, across
	// the three recorders. The limiters govern when calls are sent, each
	// stored poll's StartedAt; arrival at the endpoint adds the machine's
	// scheduling jitter, logged for comparison. The victim's polls lost
	// with it count at their arrival, which is after they were sent.
	polls, err := st.ReadPolls(ctx, store.Range{})
	if err != nil {
		t.Fatal(err)
	}
	sentAt := map[string]time.Time{}
	for _, p := range polls {
		sentAt[p.RequestID] = p.StartedAt
	}
	var sent, arrived []time.Time
	for _, q := range reqs {
		arrived = append(arrived, q.Time)
		if at, ok := sentAt[q.RequestID]; ok {
			sent = append(sent, at)
		} else {
			sent = append(sent, q.Time)
		}
	}
	peak, peakAt := peakPerSecond(sent)
	peakArrived, _ := peakPerSecond(arrived)
	t.Logf("%d requests; peak %d sent in one second at %s, %d arrived (limit %d)", len(reqs), peak, peakAt.Format("15:04:05.000"), peakArrived, rps)
	if peak > rps {
		t.Errorf("%d requests sent in the second from %s, over the limit of %d", peak, peakAt.Format("15:04:05.000"), rps)
	}
}

// peakPerSecond returns the most times in any one-second window and where
// that window starts.
func peakPerSecond(at []time.Time) (int, time.Time) {
	sort.Slice(at, func(i, j int) bool { return at[i].Before(at[j]) })
	peak, peakAt := 0, time.Time{}
	for i := range at {
		j := i
		for j < len(at) && at[j].Sub(at[i]) < time.Second {
			j++
		}
		if j-i > peak {
			peak, peakAt = j-i, at[i]
		}
	}
	return peak, peakAt
}
