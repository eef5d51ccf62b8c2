package store

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
)

// Bounds of the ttl that Heartbeat and SyncLeases accept.
const (
	// MinLeaseTTL is the shortest ttl: shorter ones would expire before a
	// slow round trip returns.
	MinLeaseTTL = 100 * time.Millisecond
	// MaxLeaseTTL is the longest ttl: a dead recorder's groups would wait
	// that long for another.
	MaxLeaseTTL = time.Hour
	// memberGraceFactor times the heartbeat ttl is how long a member row
	// stays after it expired, for operators to see, before a heartbeat
	// deletes it with its expired leases.
	memberGraceFactor = 10
)

// ErrInvalidLease is wrapped by the error Heartbeat, SyncLeases and Leave
// return for arguments they refuse before touching the database; the
// wrapping error names the problem.
var ErrInvalidLease = errors.New("invalid lease request")

// Member is one recorder process known to the database.
type Member struct {
	// ID identifies the recorder; it is what leases name as their holder.
	ID string
	// Host and PID say where the recorder runs, for operators.
	Host string
	PID  int
	// StartedAt, HeartbeatAt and ExpiresAt are database times, set by
	// Heartbeat (the values passed to it are ignored): the first heartbeat
	// of this process (same host and pid, no lapse), the last one, and
	// when the member counts as dead unless it heartbeats again.
	StartedAt, HeartbeatAt, ExpiresAt time.Time
}

// Lease is one row of the lease table: Group is held by RecorderID from
// AcquiredAt until ExpiresAt (database times), and Live is true while
// ExpiresAt is in the future by the database's clock.
type Lease struct {
	// Group is the leased consumer group.
	Group GroupRef
	// RecorderID is the holder, or the last holder when the lease expired.
	RecorderID string
	// AcquiredAt is when the holder took the lease; renewals without a
	// lapse keep it.
	AcquiredAt time.Time
	// ExpiresAt is when the lease runs out unless renewed.
	ExpiresAt time.Time
	// Live is true while ExpiresAt is in the future.
	Live bool
}

// Heartbeat upserts recorder m.ID (with m.Host and m.PID) as alive until
// the database's now + ttl and returns the live members (expiry after the
// database's now), sorted by ID, m included. It also deletes the member
// rows expired for more than 10 ttl, other than m's, and the expired
// leases of those members or expired for more than 10 ttl. Arguments it
// refuses give an error wrapping ErrInvalidLease.
func (s *Store) Heartbeat(ctx context.Context, m Member, ttl time.Duration) ([]Member, error) {
	if err := checkLeaseArgs(m.ID, ttl); err != nil {
		return nil, fmt.Errorf("heartbeat: %w", err)
	}
	if m.PID < 0 || int64(m.PID) > 1<<31-1 {
		return nil, fmt.Errorf("heartbeat: %w: pid must be between 0 and 2147483647, got %d", ErrInvalidLease, m.PID)
	}
	var members []Member
	err := retryConflict(func() error {
		rows, err := s.pool.Query(ctx, heartbeatSQL, m.ID, m.Host, int32(m.PID), ttl, memberGraceFactor*ttl)
		if err != nil {
			return err
		}
		rs, err := pgx.CollectRows(rows, pgx.RowToStructByName[memberRow])
		if err != nil {
			return err
		}
		members = make([]Member, len(rs))
		for i, r := range rs {
			members[i] = r.member()
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("heartbeat %q: %w", m.ID, err)
	}
	slices.SortFunc(members, func(a, b Member) int { return cmp.Compare(a.ID, b.ID) })
	return members, nil
}

// SyncLeases brings recorder id's leases in line with want, in one round
// trip and one transaction:
//
//   - it releases id's leases on groups not in want;
//   - it renews id's leases on groups in want until the database's now +
//     ttl;
//   - it claims the groups of want that nobody holds or whose lease has
//     expired (a lease another recorder holds is left alone).
//
// It returns the groups id holds afterwards (a subset of want, sorted by
// region, instance and group) and the database time at (the start of the
// transaction) the held leases were renewed at: each runs out at at + ttl.
// Since at is no earlier than the call, a caller that stops polling a group
// by its own clock's call time + ttl never polls a group another recorder
// may have taken. Duplicates in want are ignored.
//
// Concurrent calls from several recorders with overlapping wants are safe:
// each group row is locked in primary key order, a lease has one holder,
// and a deadlock or serialization failure is retried once. Arguments it
// refuses give an error wrapping ErrInvalidLease.
func (s *Store) SyncLeases(ctx context.Context, id string, want []GroupRef, ttl time.Duration) (held []GroupRef, at time.Time, err error) {
	if err := checkLeaseArgs(id, ttl); err != nil {
		return nil, time.Time{}, fmt.Errorf("sync leases: %w", err)
	}
	regions := make([]string, len(want))
	instances := make([]string, len(want))
	groups := make([]string, len(want))
	for i, g := range want {
		switch {
		case g.Region == "":
			return nil, time.Time{}, fmt.Errorf("sync leases: %w: want[%d] has an empty region", ErrInvalidLease, i)
		case g.InstanceID == "":
			return nil, time.Time{}, fmt.Errorf("sync leases: %w: want[%d] has an empty instance id", ErrInvalidLease, i)
		case g.Group == "":
			return nil, time.Time{}, fmt.Errorf("sync leases: %w: want[%d] has an empty group", ErrInvalidLease, i)
		}
		regions[i], instances[i], groups[i] = g.Region, g.InstanceID, g.Group
	}
	err = retryConflict(func() error {
		held, at, err = s.syncLeases(ctx, id, regions, instances, groups, ttl)
		return err
	})
	if err != nil {
		return nil, time.Time{}, fmt.Errorf("sync leases of %q: %w", id, err)
	}
	slices.SortFunc(held, compareGroupRefs)
	return held, at, nil
}

// syncLeases runs syncLeasesSQL and releaseSQL as one batch, which
// PostgreSQL runs as one implicit transaction.
func (s *Store) syncLeases(ctx context.Context, id string, regions, instances, groups []string, ttl time.Duration) ([]GroupRef, time.Time, error) {
	b := &pgx.Batch{}
	b.Queue(syncLeasesSQL, id, regions, instances, groups, ttl)
	b.Queue(releaseSQL, id)
	br := s.pool.SendBatch(ctx, b)
	rows, err := br.Query()
	if err != nil {
		_ = br.Close()
		return nil, time.Time{}, err
	}
	held, err := pgx.CollectRows(rows, pgx.RowToStructByName[leaseGroup])
	if err != nil {
		_ = br.Close()
		return nil, time.Time{}, err
	}
	var at time.Time
	var released int64
	if err := br.QueryRow().Scan(&at, &released); err != nil {
		_ = br.Close()
		return nil, time.Time{}, err
	}
	if err := br.Close(); err != nil {
		return nil, time.Time{}, err
	}
	out := make([]GroupRef, len(held))
	for i, g := range held {
		out[i] = g.ref()
	}
	return out, at.UTC(), nil
}

// Leave deletes recorder id's member row and its leases, so that the other
// recorders take its groups at their next SyncLeases instead of waiting for
// the leases to expire. Leaving twice, or without having joined, is not an
// error.
func (s *Store) Leave(ctx context.Context, id string) error {
	if id == "" {
		return fmt.Errorf("leave: %w: recorder id is empty", ErrInvalidLease)
	}
	err := retryConflict(func() error {
		var leases, members int64
		return s.pool.QueryRow(ctx, leaveSQL, id).Scan(&leases, &members)
	})
	if err != nil {
		return fmt.Errorf("leave %q: %w", id, err)
	}
	return nil
}

// Leases lists every lease, live or expired, sorted by group.
func (s *Store) Leases(ctx context.Context) ([]Lease, error) {
	rows, err := s.pool.Query(ctx, leasesSQL)
	if err != nil {
		return nil, fmt.Errorf("list leases: %w", err)
	}
	rs, err := pgx.CollectRows(rows, pgx.RowToStructByName[leaseRow])
	if err != nil {
		return nil, fmt.Errorf("list leases: %w", err)
	}
	out := make([]Lease, len(rs))
	for i, r := range rs {
		out[i] = Lease{
			Group:      r.leaseGroup.ref(),
			RecorderID: r.RecorderID,
			AcquiredAt: r.AcquiredAt.UTC(),
			ExpiresAt:  r.ExpiresAt.UTC(),
			Live:       r.Live,
		}
	}
	slices.SortFunc(out, func(a, b Lease) int { return compareGroupRefs(a.Group, b.Group) })
	return out, nil
}

// checkLeaseArgs checks the recorder id and ttl common to Heartbeat and
// SyncLeases.
func checkLeaseArgs(id string, ttl time.Duration) error {
	switch {
	case id == "":
		return fmt.Errorf("%w: recorder id is empty", ErrInvalidLease)
	case ttl < MinLeaseTTL || ttl > MaxLeaseTTL:
		return fmt.Errorf("%w: ttl must be between %v and %v, got %v", ErrInvalidLease, MinLeaseTTL, MaxLeaseTTL, ttl)
	}
	return nil
}

// retryConflict runs f, and once more if it failed with a deadlock or a
// serialization failure: the transaction was rolled back and may succeed
// when run again.
func retryConflict(f func() error) error {
	err := f()
	if isConflict(err) {
		err = f()
	}
	return err
}

// isConflict reports whether err is PostgreSQL giving up a transaction
// because of a deadlock (40P01) or a serialization failure (40001).
func isConflict(err error) bool {
	var pgErr *pgconn.PgError
	return errors.As(err, &pgErr) && (pgErr.Code == "40001" || pgErr.Code == "40P01")
}

// compareGroupRefs orders groups by region, instance and group name.
func compareGroupRefs(a, b GroupRef) int {
	return cmp.Or(cmp.Compare(a.Region, b.Region), cmp.Compare(a.InstanceID, b.InstanceID), cmp.Compare(a.Group, b.Group))
}

// leaseGroup is a group as the lease tables name it.
type leaseGroup struct {
	Region     string `db:"region"`
	InstanceID string `db:"instance_id"`
	GroupName  string `db:"group_name"`
}

func (g leaseGroup) ref() GroupRef {
	return GroupRef{Region: g.Region, InstanceID: g.InstanceID, Group: g.GroupName}
}

// leaseRow is a row of leasesSQL.
type leaseRow struct {
	leaseGroup
	RecorderID string    `db:"recorder_id"`
	AcquiredAt time.Time `db:"acquired_at"`
	ExpiresAt  time.Time `db:"expires_at"`
	Live       bool      `db:"live"`
}

// memberRow is a row of heartbeatSQL.
type memberRow struct {
	RecorderID  string    `db:"recorder_id"`
	Host        string    `db:"host"`
	PID         int32     `db:"pid"`
	StartedAt   time.Time `db:"started_at"`
	HeartbeatAt time.Time `db:"heartbeat_at"`
	ExpiresAt   time.Time `db:"expires_at"`
}

func (r memberRow) member() Member {
	return Member{ID: r.RecorderID, Host: r.Host, PID: int(r.PID), StartedAt: r.StartedAt.UTC(), HeartbeatAt: r.HeartbeatAt.UTC(), ExpiresAt: r.ExpiresAt.UTC()}
}
