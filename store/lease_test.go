package store_test

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"math/rand/v2"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/lagtrail/lagtrail/store"
)

// leaseGroups returns n groups spread over two instances, in sorted order.
func leaseGroups(n int) []store.GroupRef {
	gs := make([]store.GroupRef, n)
	for i := range gs {
		gs[i] = store.GroupRef{Region: "cn-hangzhou", InstanceID: fmt.Sprintf("alikafka-%d", i%2), Group: fmt.Sprintf("group-%05d", i)}
	}
	slices.SortFunc(gs, compareGroups)
	return gs
}

// holders returns who holds each group with a live lease.
func holders(t *testing.T, s *store.Store) map[store.GroupRef]string {
	t.Helper()
	ls, err := s.Leases(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	m := make(map[store.GroupRef]string)
	for _, l := range ls {
		if l.Live {
			m[l.Group] = l.RecorderID
		}
	}
	return m
}

// leaseOf returns the lease row of g, failing when there is none.
func leaseOf(t *testing.T, s *store.Store, g store.GroupRef) store.Lease {
	t.Helper()
	ls, err := s.Leases(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range ls {
		if l.Group == g {
			return l
		}
	}
	t.Fatalf("no lease row for %v in %v", g, ls)
	return store.Lease{}
}

// syncLeases calls SyncLeases and fails the test on error.
func syncLeases(t *testing.T, s *store.Store, id string, want []store.GroupRef, ttl time.Duration) ([]store.GroupRef, time.Time) {
	t.Helper()
	held, at, err := s.SyncLeases(t.Context(), id, want, ttl)
	if err != nil {
		t.Fatalf("SyncLeases(%s): %v", id, err)
	}
	if at.IsZero() {
		t.Fatalf("SyncLeases(%s) returned a zero time", id)
	}
	return held, at
}

// shortTTL is a lease or heartbeat time to live the tests wait out: far
// longer than the few statements they run before relying on it still being
// live, also on a loaded machine.
const shortTTL = 5 * time.Second

// waitLimit bounds a wait for something that takes shortTTL.
const waitLimit = 3 * time.Minute

// waitExpired waits until no lease of the groups is live by the
// database's clock. It waits, but asserts nothing about how long.
func waitExpired(t *testing.T, s *store.Store, gs ...store.GroupRef) {
	t.Helper()
	deadline := time.Now().Add(waitLimit)
	for {
		h := holders(t, s)
		if !slices.ContainsFunc(gs, func(g store.GroupRef) bool { _, ok := h[g]; return ok }) {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("leases still live after %s: %v", waitLimit, h)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func TestSyncLeasesClaimRenewRelease(t *testing.T) {
	t.Parallel()
	s, _ := newStore(t)
	gs := leaseGroups(4)
	g0, g1, g2, g3 := gs[0], gs[1], gs[2], gs[3]

	// Claim: nobody holds anything. Duplicates are ignored, the answer is
	// sorted whatever the order asked.
	held, at1 := syncLeases(t, s, "a", []store.GroupRef{g2, g0, g1, g0}, time.Minute)
	if want := []store.GroupRef{g0, g1, g2}; !slices.Equal(held, want) {
		t.Fatalf("claim: held %v, want %v", held, want)
	}
	first := leaseOf(t, s, g1)
	if first.RecorderID != "a" || !first.Live || !first.AcquiredAt.Equal(at1) || !first.ExpiresAt.Equal(at1.Add(time.Minute)) {
		t.Fatalf("claim: lease %+v, want held by a, live, acquired at %v, expiring a minute later", first, at1)
	}

	// Renew: same groups, expiry moves, acquired_at stays.
	held, at2 := syncLeases(t, s, "a", []store.GroupRef{g0, g1, g2}, time.Minute)
	if want := []store.GroupRef{g0, g1, g2}; !slices.Equal(held, want) {
		t.Fatalf("renew: held %v, want %v", held, want)
	}
	renewed := leaseOf(t, s, g1)
	if !renewed.AcquiredAt.Equal(first.AcquiredAt) || !renewed.ExpiresAt.Equal(at2.Add(time.Minute)) || at2.Before(at1) {
		t.Fatalf("renew: lease %+v at %v, want acquired at %v and expiring a minute after %v", renewed, at2, first.AcquiredAt, at2)
	}

	// Another recorder cannot take a live lease, but takes a free group.
	held, _ = syncLeases(t, s, "b", []store.GroupRef{g1, g3}, time.Minute)
	if want := []store.GroupRef{g3}; !slices.Equal(held, want) {
		t.Fatalf("b: held %v, want %v", held, want)
	}

	// Release: a keeps only g2; g0 and g1 are deleted, b's g3 untouched.
	held, _ = syncLeases(t, s, "a", []store.GroupRef{g2}, time.Minute)
	if want := []store.GroupRef{g2}; !slices.Equal(held, want) {
		t.Fatalf("release: held %v, want %v", held, want)
	}
	ls, err := s.Leases(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, l := range ls {
		got = append(got, l.Group.Group+"="+l.RecorderID)
	}
	if want := []string{g2.Group + "=a", g3.Group + "=b"}; !slices.Equal(got, want) {
		t.Fatalf("release: lease rows %v, want %v", got, want)
	}

	// Now b takes g1 at once.
	held, _ = syncLeases(t, s, "b", []store.GroupRef{g1, g3}, time.Minute)
	if want := []store.GroupRef{g1, g3}; !slices.Equal(held, want) {
		t.Fatalf("b after release: held %v, want %v", held, want)
	}

	// An empty want releases everything.
	held, _ = syncLeases(t, s, "b", nil, time.Minute)
	if len(held) != 0 {
		t.Fatalf("empty want: held %v, want none", held)
	}
	if h := holders(t, s); !maps.Equal(h, map[store.GroupRef]string{g2: "a"}) {
		t.Fatalf("after b released all: holders %v, want only g2 by a", h)
	}
}

func TestSyncLeasesTakesExpired(t *testing.T) {
	t.Parallel()
	s, _ := newStore(t)
	gs := leaseGroups(2)
	g, other := gs[0], gs[1]

	if held, _ := syncLeases(t, s, "a", []store.GroupRef{g, other}, shortTTL); len(held) != 2 {
		t.Fatalf("a: held %v, want both", held)
	}
	if held, _ := syncLeases(t, s, "b", []store.GroupRef{g}, time.Minute); len(held) != 0 {
		t.Fatalf("b while a's lease is live: held %v, want none", held)
	}
	aLease := leaseOf(t, s, g)
	waitExpired(t, s, g, other)

	held, at := syncLeases(t, s, "b", []store.GroupRef{g}, time.Minute)
	if want := []store.GroupRef{g}; !slices.Equal(held, want) {
		t.Fatalf("b after a's lease expired: held %v, want %v", held, want)
	}
	bLease := leaseOf(t, s, g)
	if bLease.RecorderID != "b" || !bLease.AcquiredAt.Equal(at) || bLease.AcquiredAt.Before(aLease.ExpiresAt) {
		t.Fatalf("b's lease %+v, want acquired by b at %v, after a's expiry %v", bLease, at, aLease.ExpiresAt)
	}

	// a comes back: it cannot renew g, which b holds now, but it renews
	// its own expired lease of other, from a fresh acquired_at.
	otherBefore := leaseOf(t, s, other)
	held, at = syncLeases(t, s, "a", []store.GroupRef{g, other}, time.Minute)
	if want := []store.GroupRef{other}; !slices.Equal(held, want) {
		t.Fatalf("a back: held %v, want %v", held, want)
	}
	otherAfter := leaseOf(t, s, other)
	if otherAfter.RecorderID != "a" || !otherAfter.AcquiredAt.Equal(at) || !otherAfter.AcquiredAt.After(otherBefore.AcquiredAt) {
		t.Fatalf("a's lease of other after a lapse: %+v, want acquired anew at %v (was %v)", otherAfter, at, otherBefore.AcquiredAt)
	}
	if h := holders(t, s); h[g] != "b" {
		t.Fatalf("holders %v, want g still held by b", h)
	}
}

func TestLeaveFreesGroups(t *testing.T) {
	t.Parallel()
	s, pool := newStore(t)
	ctx := t.Context()
	gs := leaseGroups(5)
	if _, err := s.Heartbeat(ctx, store.Member{ID: "a", Host: "h1", PID: 1}, time.Minute); err != nil {
		t.Fatal(err)
	}
	if held, _ := syncLeases(t, s, "a", gs, time.Hour); len(held) != len(gs) {
		t.Fatalf("a: held %v, want all %d", held, len(gs))
	}
	if held, _ := syncLeases(t, s, "b", gs, time.Minute); len(held) != 0 {
		t.Fatalf("b before a left: held %v, want none", held)
	}
	if err := s.Leave(ctx, "a"); err != nil {
		t.Fatalf("Leave: %v", err)
	}
	if n := count(t, pool, "recorders"); n != 0 {
		t.Errorf("after Leave: %d recorder rows, want 0", n)
	}
	if h := holders(t, s); len(h) != 0 {
		t.Fatalf("after Leave: holders %v, want none", h)
	}
	if held, _ := syncLeases(t, s, "b", gs, time.Minute); !slices.Equal(held, gs) {
		t.Fatalf("b after a left: held %v, want all of %v", held, gs)
	}
	if err := s.Leave(ctx, "a"); err != nil {
		t.Errorf("second Leave: %v, want nil", err)
	}
	if h := holders(t, s); len(h) != len(gs) {
		t.Errorf("a's second Leave changed b's leases: %v", h)
	}
}

// TestSyncLeasesConcurrent runs 3 recorders that sync overlapping, shifting
// halves of 30 groups for many rounds. Each keeps a belief of what it
// holds in a shared map: it drops a group before the call that releases
// it and adds what the call returns. No group is ever believed held by two
// recorders, every belief matches a live lease in the table, a wanted
// group held before is always renewed, and nothing fails.
func TestSyncLeasesConcurrent(t *testing.T) {
	t.Parallel()
	s, _ := newStore(t)
	ctx := t.Context()
	gs := leaseGroups(30)
	const rounds = 60

	var (
		mu       sync.Mutex
		owner    = make(map[store.GroupRef]string)
		handoffs int
		claims   int
	)
	var wg sync.WaitGroup
	for r := range 3 {
		id := fmt.Sprintf("rec-%d", r)
		wg.Go(func() {
			rng := rand.New(rand.NewPCG(uint64(r), 7))
			var mine []store.GroupRef
			for round := range rounds {
				off := rng.IntN(len(gs))
				var want []store.GroupRef
				for i := range len(gs) / 2 {
					want = append(want, gs[(off+i)%len(gs)])
				}
				mu.Lock()
				for _, g := range mine {
					if !slices.Contains(want, g) && owner[g] == id {
						delete(owner, g)
					}
				}
				mu.Unlock()

				held, _, err := s.SyncLeases(ctx, id, want, time.Minute)
				if err != nil {
					t.Errorf("%s round %d: %v", id, round, err)
					return
				}

				mu.Lock()
				for _, g := range mine {
					if slices.Contains(want, g) && !slices.Contains(held, g) {
						t.Errorf("%s round %d: lost %v, which it held and still wants", id, round, g)
					}
				}
				for _, g := range held {
					if !slices.Contains(want, g) {
						t.Errorf("%s round %d: holds %v, which it does not want", id, round, g)
					}
					switch o := owner[g]; o {
					case id:
					case "":
						claims++
					default:
						t.Errorf("%s round %d: holds %v, which %s believes it holds", id, round, g, o)
					}
					owner[g] = id
				}
				ls, err := s.Leases(ctx)
				if err != nil {
					t.Errorf("%s round %d: Leases: %v", id, round, err)
					mu.Unlock()
					return
				}
				live := make(map[store.GroupRef]string)
				for _, l := range ls {
					if l.Live {
						live[l.Group] = l.RecorderID
					}
				}
				for g, o := range owner {
					if live[g] != o {
						t.Errorf("%s round %d: %s believes it holds %v, the table says %q", id, round, o, g, live[g])
					}
				}
				for _, g := range mine {
					if !slices.Contains(held, g) && owner[g] != "" && owner[g] != id {
						handoffs++
					}
				}
				mu.Unlock()
				mine = held
			}
		})
	}
	wg.Wait()
	t.Logf("%d claims, %d groups handed straight to another recorder", claims, handoffs)
	if claims <= len(gs) {
		t.Errorf("%d claims over %d rounds of 3 recorders: the wants did not move groups around", claims, rounds)
	}
}

func TestHeartbeatMembers(t *testing.T) {
	t.Parallel()
	s, _ := newStore(t)
	ctx := t.Context()
	ids := func(ms []store.Member) []string {
		var out []string
		for _, m := range ms {
			out = append(out, m.ID)
		}
		return out
	}

	if _, err := s.Heartbeat(ctx, store.Member{ID: "short", Host: "h2", PID: 2}, shortTTL); err != nil {
		t.Fatal(err)
	}
	ms, err := s.Heartbeat(ctx, store.Member{ID: "long", Host: "h1", PID: 1}, time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := ids(ms), []string{"long", "short"}; !slices.Equal(got, want) {
		t.Fatalf("members %v, want %v", got, want)
	}
	long := ms[0]
	if long.Host != "h1" || long.PID != 1 || long.StartedAt.IsZero() || !long.StartedAt.Equal(long.HeartbeatAt) ||
		!long.ExpiresAt.Equal(long.HeartbeatAt.Add(time.Minute)) {
		t.Fatalf("first heartbeat of long: %+v, want h1, pid 1, started at its heartbeat, expiring a minute later", long)
	}

	// Wait until short's heartbeat expires; long's next heartbeat leaves
	// it out, and keeps long's started_at.
	deadline := time.Now().Add(waitLimit)
	for slices.Contains(ids(ms), "short") {
		if time.Now().After(deadline) {
			t.Fatalf("short still live after %s: %v", waitLimit, ms)
		}
		time.Sleep(100 * time.Millisecond)
		if ms, err = s.Heartbeat(ctx, store.Member{ID: "long", Host: "h1", PID: 1}, time.Minute); err != nil {
			t.Fatal(err)
		}
	}
	if got, want := ids(ms), []string{"long"}; !slices.Equal(got, want) {
		t.Fatalf("members after short expired: %v, want %v", got, want)
	}
	if !ms[0].StartedAt.Equal(long.StartedAt) {
		t.Errorf("started_at moved from %v to %v across heartbeats of one process", long.StartedAt, ms[0].StartedAt)
	}

	// short comes back: live again, started anew.
	ms, err = s.Heartbeat(ctx, store.Member{ID: "short", Host: "h2", PID: 2}, time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := ids(ms), []string{"long", "short"}; !slices.Equal(got, want) {
		t.Fatalf("members after short came back: %v, want %v", got, want)
	}

	// long restarts under the same id with another pid: started_at resets.
	ms, err = s.Heartbeat(ctx, store.Member{ID: "long", Host: "h1", PID: 99}, time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	if ms[0].PID != 99 || !ms[0].StartedAt.After(long.StartedAt) {
		t.Errorf("long restarted with pid 99: %+v, want pid 99 and started_at after %v", ms[0], long.StartedAt)
	}
}

// backdate moves a recorder's expiry, or a lease's, into the past, as if
// it had died that long ago.
func backdate(t *testing.T, pool *pgxpool.Pool, table, where string, ago time.Duration, args ...any) {
	t.Helper()
	// table and where are constants of the calling test.
	tag, err := pool.Exec(t.Context(), "UPDATE lagtrail."+table+" SET expires_at = now() - $1::interval WHERE "+where,
		append([]any{ago}, args...)...)
	if err != nil || tag.RowsAffected() == 0 {
		t.Fatalf("backdate %s where %s: %v rows, %v", table, where, tag.RowsAffected(), err)
	}
}

func TestHeartbeatCleansUpDeadMembers(t *testing.T) {
	t.Parallel()
	s, pool := newStore(t)
	ctx := t.Context()
	gs := leaseGroups(6)
	for _, id := range []string{"live", "dead", "recent"} {
		if _, err := s.Heartbeat(ctx, store.Member{ID: id}, time.Minute); err != nil {
			t.Fatal(err)
		}
	}
	syncLeases(t, s, "live", gs[0:1], time.Minute)
	syncLeases(t, s, "dead", gs[1:3], time.Minute)
	syncLeases(t, s, "recent", gs[3:4], time.Minute)
	syncLeases(t, s, "ghost", gs[4:6], time.Minute) // never heartbeated

	// dead died 2 hours ago, recent 5 minutes ago; ghost's first lease
	// expired 2 hours ago, its second a minute ago.
	backdate(t, pool, "recorders", "recorder_id = $2", 2*time.Hour, "dead")
	backdate(t, pool, "group_leases", "recorder_id = $2", 2*time.Hour, "dead")
	backdate(t, pool, "recorders", "recorder_id = $2", 5*time.Minute, "recent")
	backdate(t, pool, "group_leases", "recorder_id = $2", 5*time.Minute, "recent")
	backdate(t, pool, "group_leases", "group_name = $2", 2*time.Hour, gs[4].Group)
	backdate(t, pool, "group_leases", "group_name = $2", time.Minute, gs[5].Group)

	// A heartbeat with a 1-minute ttl keeps dead members for 10 minutes.
	ms, err := s.Heartbeat(ctx, store.Member{ID: "live"}, time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	if len(ms) != 1 || ms[0].ID != "live" {
		t.Fatalf("members %+v, want live only", ms)
	}
	var members []string
	rows, err := pool.Query(ctx, "SELECT recorder_id FROM lagtrail.recorders ORDER BY recorder_id")
	if err != nil {
		t.Fatal(err)
	}
	if members, err = pgx.CollectRows(rows, pgx.RowTo[string]); err != nil {
		t.Fatal(err)
	}
	if want := []string{"live", "recent"}; !slices.Equal(members, want) {
		t.Errorf("member rows after cleanup %v, want %v (dead deleted, recent kept)", members, want)
	}
	ls, err := s.Leases(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, l := range ls {
		got = append(got, l.Group.Group+"="+l.RecorderID)
	}
	want := []string{gs[0].Group + "=live", gs[3].Group + "=recent", gs[5].Group + "=ghost"}
	slices.Sort(want)
	slices.Sort(got)
	if !slices.Equal(got, want) {
		t.Errorf("lease rows after cleanup %v, want %v", got, want)
	}
}

func TestRecorderViews(t *testing.T) {
	t.Parallel()
	s, pool := newStore(t)
	ctx := t.Context()
	gs := leaseGroups(3)
	for _, id := range []string{"a", "b"} {
		if _, err := s.Heartbeat(ctx, store.Member{ID: id, Host: "host-" + id, PID: 7}, time.Minute); err != nil {
			t.Fatal(err)
		}
	}
	syncLeases(t, s, "a", gs[0:1], time.Minute)
	syncLeases(t, s, "b", gs[1:3], time.Minute)
	backdate(t, pool, "recorders", "recorder_id = $2", time.Second, "b")
	backdate(t, pool, "group_leases", "group_name = $2", time.Second, gs[2].Group)

	rows, err := pool.Query(ctx, `
SELECT consumer_group || ' ' || recorder_id || ' ' || coalesce(host, '-') || ' ' || lease_live || ' ' || recorder_live || ' ' || state
FROM lagtrail.recorder_assignments ORDER BY region, instance_id, consumer_group`)
	if err != nil {
		t.Fatal(err)
	}
	got, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		t.Fatal(err)
	}
	want := []string{
		gs[0].Group + " a host-a true true held",
		gs[1].Group + " b host-b true false orphaned",
		gs[2].Group + " b host-b false false expired",
	}
	if !slices.Equal(got, want) {
		t.Errorf("recorder_assignments:\n got %q\nwant %q", got, want)
	}

	rows, err = pool.Query(ctx, `SELECT recorder_id || ' ' || live || ' ' || groups_held FROM lagtrail.recorder_status ORDER BY recorder_id`)
	if err != nil {
		t.Fatal(err)
	}
	got, err = pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{"a true 1", "b false 1"}; !slices.Equal(got, want) {
		t.Errorf("recorder_status: got %q, want %q", got, want)
	}
}

func TestLeaseValidation(t *testing.T) {
	t.Parallel()
	s, _ := newStore(t)
	ctx := t.Context()
	ok := store.GroupRef{Region: "r", InstanceID: "i", Group: "g"}
	tests := []struct {
		name string
		call func() error
		want string
	}{
		{"heartbeat empty id", func() error {
			_, err := s.Heartbeat(ctx, store.Member{}, time.Minute)
			return err
		}, "recorder id is empty"},
		{"heartbeat short ttl", func() error {
			_, err := s.Heartbeat(ctx, store.Member{ID: "a"}, 50*time.Millisecond)
			return err
		}, "ttl must be between 100ms and 1h0m0s, got 50ms"},
		{"heartbeat negative pid", func() error {
			_, err := s.Heartbeat(ctx, store.Member{ID: "a", PID: -1}, time.Minute)
			return err
		}, "pid must be between 0 and 2147483647, got -1"},
		{"sync empty id", func() error {
			_, _, err := s.SyncLeases(ctx, "", []store.GroupRef{ok}, time.Minute)
			return err
		}, "recorder id is empty"},
		{"sync long ttl", func() error {
			_, _, err := s.SyncLeases(ctx, "a", []store.GroupRef{ok}, 2*time.Hour)
			return err
		}, "ttl must be between 100ms and 1h0m0s, got 2h0m0s"},
		{"sync zero ttl", func() error {
			_, _, err := s.SyncLeases(ctx, "a", []store.GroupRef{ok}, 0)
			return err
		}, "got 0s"},
		{"sync empty region", func() error {
			_, _, err := s.SyncLeases(ctx, "a", []store.GroupRef{ok, {InstanceID: "i", Group: "g"}}, time.Minute)
			return err
		}, "want[1] has an empty region"},
		{"sync empty instance", func() error {
			_, _, err := s.SyncLeases(ctx, "a", []store.GroupRef{{Region: "r", Group: "g"}}, time.Minute)
			return err
		}, "want[0] has an empty instance id"},
		{"sync empty group", func() error {
			_, _, err := s.SyncLeases(ctx, "a", []store.GroupRef{ok, ok, {Region: "r", InstanceID: "i"}}, time.Minute)
			return err
		}, "want[2] has an empty group"},
		{"leave empty id", func() error { return s.Leave(ctx, "") }, "recorder id is empty"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.call()
			if !errors.Is(err, store.ErrInvalidLease) || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("error %v, want ErrInvalidLease naming %q", err, tt.want)
			}
		})
	}
	// Nothing reached the database.
	if ls, err := s.Leases(ctx); err != nil || len(ls) != 0 {
		t.Errorf("leases after refused calls: %v, %v; want none", ls, err)
	}
}

// BenchmarkSyncLeases measures one SyncLeases of n groups: renewing n held
// leases, claiming n free groups, taking over n expired leases of another
// recorder, and releasing n leases. The table is vacuumed before each call,
// outside the timer, as autovacuum would between the syncs of a recorder
// (one per interval); without it the back-to-back calls measure bloat.
func BenchmarkSyncLeases(b *testing.B) {
	ctx := context.Background()
	for _, n := range []int{1000, 10000} {
		s, pool := newStore(b)
		gs := leaseGroups(n)
		exec := func(sql string) {
			if _, err := pool.Exec(ctx, sql); err != nil {
				b.Fatal(err)
			}
		}
		run := func(name string, setup func(), want []store.GroupRef, wantHeld int) {
			b.Run(fmt.Sprintf("%s/%d", name, n), func(b *testing.B) {
				for range b.N {
					b.StopTimer()
					setup()
					exec("VACUUM lagtrail.group_leases")
					b.StartTimer()
					held, _, err := s.SyncLeases(ctx, "bench", want, time.Minute)
					if err != nil {
						b.Fatal(err)
					}
					if len(held) != wantHeld {
						b.Fatalf("held %d, want %d", len(held), wantHeld)
					}
				}
			})
		}
		hold := func() {
			if _, _, err := s.SyncLeases(ctx, "bench", gs, time.Minute); err != nil {
				b.Fatal(err)
			}
		}
		run("renew", hold, gs, n)
		run("claim", func() { exec("DELETE FROM lagtrail.group_leases") }, gs, n)
		run("takeover", func() {
			hold()
			exec("UPDATE lagtrail.group_leases SET recorder_id = 'other', expires_at = now() - interval '1 second'")
		}, gs, n)
		run("release", hold, nil, 0)
	}
}
