package ingest

import (
	"fmt"
	"testing"
	"time"

	"github.com/lagtrail/lagtrail/store"
)

func groupsN(n int) []store.GroupRef {
	out := make([]store.GroupRef, n)
	for i := range out {
		out[i] = store.GroupRef{Region: "cn-hangzhou", InstanceID: "i-1", Group: fmt.Sprintf("g-%04d", i)}
	}
	return out
}

func TestAssignGivesEveryGroupToExactlyOneMember(t *testing.T) {
	t.Parallel()
	groups := groupsN(3000)
	for _, members := range [][]string{{"a"}, {"a", "b"}, {"a", "b", "c"}, {"r-1", "r-2", "r-3", "r-4", "r-5"}} {
		t.Run(fmt.Sprint(len(members)), func(t *testing.T) {
			t.Parallel()
			owners := map[store.GroupRef]int{}
			for _, m := range members {
				mine := assign(groups, members, m)
				// An even share is len/members; rendezvous hashing is
				// within a few percent of it at this size.
				even := len(groups) / len(members)
				if len(mine) < even*85/100 || len(mine) > even*115/100 {
					t.Errorf("%s gets %d of %d groups, want about %d", m, len(mine), len(groups), even)
				}
				for _, g := range mine {
					owners[g]++
				}
			}
			for _, g := range groups {
				if owners[g] != 1 {
					t.Fatalf("%v has %d owners, want 1", g, owners[g])
				}
			}
		})
	}
}

func TestAssignMovesOnlyTheGroupsOfTheMemberThatLeft(t *testing.T) {
	t.Parallel()
	groups := groupsN(1000)
	before := map[store.GroupRef]string{}
	for _, m := range []string{"a", "b", "c"} {
		for _, g := range assign(groups, []string{"a", "b", "c"}, m) {
			before[g] = m
		}
	}
	moved := 0
	for _, m := range []string{"a", "c"} {
		for _, g := range assign(groups, []string{"a", "c"}, m) {
			if before[g] != m {
				moved++
				if before[g] != "b" {
					t.Errorf("%v moved from %s to %s though %s is still alive", g, before[g], m, before[g])
				}
			}
		}
	}
	if moved == 0 {
		t.Error("no group moved when b left")
	}
}

func TestShareKeepsTheSumWithinTheLimit(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		rps     float64
		members int
		want    float64
	}{
		{50, 1, 49},
		{50, 2, 24},
		{24, 3, 7},
		{100, 4, 24},
		{2, 2, 0.5},
		{1, 1, 0.5},
	} {
		got := float64(share(tt.rps, tt.members))
		if got != tt.want {
			t.Errorf("share(%g, %d) = %g, want %g", tt.rps, tt.members, got, tt.want)
		}
		// Each bucket allows rate+1 calls in a one-second window.
		if sum := float64(tt.members) * (got + 1); sum > tt.rps && got > tt.rps/float64(2*tt.members) {
			t.Errorf("share(%g, %d): %d members may make %g calls in a second", tt.rps, tt.members, tt.members, sum)
		}
	}
}

func TestRecentMembersRaisesRatesOnlyAfterALease(t *testing.T) {
	t.Parallel()
	r := &Recorder{}
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	ttl := time.Second
	steps := []struct {
		after time.Duration
		live  int
		want  int
	}{
		{0, 3, 3},
		{250 * time.Millisecond, 2, 3},  // one missed a heartbeat: keep its share reserved
		{500 * time.Millisecond, 3, 3},  // it is back
		{900 * time.Millisecond, 2, 3},  // gone again
		{1600 * time.Millisecond, 2, 2}, // the last 3 was seen more than a lease ago
		{2000 * time.Millisecond, 4, 4}, // a new one joins: lower at once
	}
	for _, s := range steps {
		if got := r.recentMembers(s.live, t0.Add(s.after), ttl); got != s.want {
			t.Errorf("at +%s with %d live: share among %d, want %d", s.after, s.live, got, s.want)
		}
	}
}
