package ingest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"hash/fnv"
	"log/slog"
	"os"
	"time"

	"github.com/lagtrail/lagtrail/store"
)

// Leaser coordinates the recorders of one database. *store.Store satisfies
// it.
type Leaser interface {
	// Heartbeat marks m alive for ttl and returns the live recorders.
	Heartbeat(ctx context.Context, m store.Member, ttl time.Duration) ([]store.Member, error)
	// SyncLeases makes id hold the groups of want it can, for ttl, and
	// releases its others; it returns the groups id holds.
	SyncLeases(ctx context.Context, id string, want []store.GroupRef, ttl time.Duration) ([]store.GroupRef, time.Time, error)
	// Leave gives up id's membership and leases at once.
	Leave(ctx context.Context, id string) error
}

// HAConfig shares the groups among the recorders of one database. Each
// recorder wants the groups that rendezvous hashing over the live
// recorders gives it, and polls those it holds a lease on; a lease is held
// by one recorder at a time, and lapses LeaseTTL after its holder stops
// renewing it. Each recorder's request rate is its share of
// Alibaba.RequestsPerSecond: the limit divided by the live recorders.
type HAConfig struct {
	// Leases turns sharing on. Nil: this recorder polls every group.
	Leases Leaser
	// ID names this recorder among the others. Default: host name, process
	// id and a random suffix.
	ID string
	// LeaseTTL is how long a lease and a heartbeat last unrenewed. They
	// are renewed every quarter of it. Default: half the interval, at
	// least 500ms, so that the groups of a recorder that died are polled
	// again within two intervals. At most the interval.
	LeaseTTL time.Duration
}

// DefaultLeaseTTL is the LeaseTTL used when it is zero: half the interval,
// at least 500ms.
func DefaultLeaseTTL(interval time.Duration) time.Duration {
	return max(interval/2, 500*time.Millisecond)
}

func (h HAConfig) withDefaults(interval time.Duration) HAConfig {
	if h.Leases == nil {
		return h
	}
	if h.LeaseTTL == 0 {
		h.LeaseTTL = DefaultLeaseTTL(interval)
	}
	if h.ID == "" {
		h.ID = defaultRecorderID()
	}
	return h
}

// MinLeaseTTL is the shortest HAConfig.LeaseTTL allowed.
const MinLeaseTTL = 200 * time.Millisecond

func (h HAConfig) validate(interval time.Duration) error {
	if h.Leases == nil {
		return nil
	}
	switch {
	case h.LeaseTTL < MinLeaseTTL:
		return fmt.Errorf("ha lease ttl must be at least %s, got %s", MinLeaseTTL, h.LeaseTTL)
	case h.LeaseTTL > interval:
		return fmt.Errorf("ha lease ttl %s must not exceed the interval %s, or a dead recorder's groups wait more than two intervals", h.LeaseTTL, interval)
	case len(h.ID) > 200:
		return fmt.Errorf("ha id is longer than 200 bytes")
	}
	return nil
}

func defaultRecorderID() string {
	host, err := os.Hostname()
	if err != nil || host == "" {
		host = "recorder"
	}
	var b [4]byte
	_, _ = rand.Read(b[:])
	return fmt.Sprintf("%s-%d-%s", host, os.Getpid(), hex.EncodeToString(b[:]))
}

// assign returns the groups that rendezvous hashing gives to me among
// members: each group goes to the member with the highest hash of (member,
// group). Every recorder computes the same answer from the same members,
// and a member joining or leaving moves only the groups it takes or had.
func assign(groups []store.GroupRef, members []string, me string) []store.GroupRef {
	var out []store.GroupRef
	for _, g := range groups {
		best, bestHash := "", uint64(0)
		for _, m := range members {
			if h := rendezvous(m, g); best == "" || h > bestHash || h == bestHash && m < best {
				best, bestHash = m, h
			}
		}
		if best == me {
			out = append(out, g)
		}
	}
	return out
}

func rendezvous(member string, g store.GroupRef) uint64 {
	h := fnv.New64a()
	h.Write([]byte(member))
	h.Write([]byte{0})
	h.Write([]byte(g.Region))
	h.Write([]byte{0})
	h.Write([]byte(g.InstanceID))
	h.Write([]byte{0})
	h.Write([]byte(g.Group))
	// FNV's low bits mix poorly for similar keys; finish with a
	// multiply-xorshift so that the maximum is spread evenly.
	x := h.Sum64()
	x ^= x >> 33
	x *= 0xff51afd7ed558ccd
	x ^= x >> 33
	return x
}

// coordinate runs the HA loop until ctx ends: heartbeat, share the request
// rate, sync leases on the groups this recorder wants, and let the
// supervisor poll exactly those held. When the database cannot be reached,
// the groups held last are kept, so that polling goes on through an outage.
func (r *Recorder) coordinate(ctx context.Context, sup *supervisor) {
	ha := r.cfg.HA
	host, _ := os.Hostname()
	me := store.Member{ID: ha.ID, Host: host, PID: os.Getpid()}
	every := ha.LeaseTTL / 4
	joined := false
	failing := false
	defer func() {
		lctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
		defer cancel()
		if err := ha.Leases.Leave(lctx, me.ID); err != nil {
			r.log.Warn("leave: the others take this recorder's groups when its leases lapse", slog.Any("err", err))
		}
	}()
	r.log.Info("sharing groups with the database's other recorders", slog.String("recorder", me.ID), slog.Duration("lease_ttl", ha.LeaseTTL))
	lastOK := time.Now()
	for {
		err := r.syncOnce(ctx, me, &joined, sup)
		if err == nil {
			if late := time.Since(lastOK); late > ha.LeaseTTL {
				r.log.Warn("lease sync came late: the others may have taken this recorder's groups meanwhile", slog.Duration("since_last", late), slog.Duration("lease_ttl", ha.LeaseTTL))
			}
			lastOK = time.Now()
		}
		switch {
		case err != nil && ctx.Err() == nil && !failing:
			failing = true
			r.log.Warn("lease sync failed; polling the groups held last", slog.Any("err", err))
		case err == nil && failing:
			failing = false
			r.log.Info("lease sync recovered")
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(every):
		}
	}
}

func (r *Recorder) syncOnce(ctx context.Context, me store.Member, joined *bool, sup *supervisor) error {
	ha := r.cfg.HA
	members, err := ha.Leases.Heartbeat(ctx, me, ha.LeaseTTL)
	if err != nil {
		return fmt.Errorf("heartbeat: %w", err)
	}
	ids := make([]string, 0, len(members))
	for _, m := range members {
		ids = append(ids, m.ID)
	}
	if len(ids) == 0 {
		ids = []string{me.ID}
	}
	r.shareRate(r.recentMembers(len(ids), time.Now(), ha.LeaseTTL))
	r.metrics.members.Set(float64(len(ids)))
	if !*joined {
		// The others lower their rate at their next heartbeat; wait for
		// it before taking groups, so that the limit holds meanwhile.
		*joined = true
		return nil
	}
	want := assign(sup.discovered(), ids, me.ID)
	held, _, err := ha.Leases.SyncLeases(ctx, me.ID, want, ha.LeaseTTL)
	if err != nil {
		return fmt.Errorf("sync leases: %w", err)
	}
	r.metrics.leasedGroups.Set(float64(len(held)))
	sup.allow(held)
	return nil
}

// recentMembers records that n recorders are live at now and returns the
// most seen within the last ttl. Rates go down at once when a recorder
// joins, but up only when one has been gone for a whole lease: a recorder
// that merely missed a heartbeat, because its machine stalled, may still be
// polling at its share until its leases lapse.
func (r *Recorder) recentMembers(n int, now time.Time, ttl time.Duration) int {
	r.membersSeen = append(r.membersSeen, membersAt{at: now, n: n})
	most := 0
	keep := r.membersSeen[:0]
	for _, m := range r.membersSeen {
		if now.Sub(m.at) <= ttl {
			keep = append(keep, m)
			most = max(most, m.n)
		}
	}
	r.membersSeen = keep
	return most
}

// membersAt is a count of live recorders seen at a time.
type membersAt struct {
	at time.Time
	n  int
}

// shareRate sets every limiter to this recorder's share of the limit.
func (r *Recorder) shareRate(members int) {
	limit := share(r.cfg.Alibaba.RequestsPerSecond, members)
	for _, api := range r.apis {
		for _, l := range []*callLimiter{api.progress, api.consumers, api.instances} {
			if l.Limit() != limit {
				l.SetLimit(limit)
			}
		}
	}
}
