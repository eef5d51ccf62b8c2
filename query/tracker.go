package query

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/lagtrail/lagtrail/store"
)

// Tracker follows one partition's polls, in order, and gives at each the
// state the status rules read (store.PartitionState), without going back to
// the database: the incremental form of store.PartitionStates, for
// evaluating status as each poll arrives (issue 18). It keeps the polls of
// the last Window, and the one before them, and running figures for the
// rest. Over polls that PartitionStates reads in full (no poll before its
// lookback), the two give the same state: TestTrackerMatchesPartitionStates.
//
// A Tracker is not safe for concurrent use.
type Tracker struct {
	key    store.Key
	window time.Duration
	// ring holds the polls in the window of the last one, oldest first.
	ring []trackedPoll
	// last is the last poll observed; n counts the polls observed.
	last trackedPoll
	n    int
	// first is the time of the first poll observed.
	first time.Time
	// changedAt and changedN are the time and number of the last poll
	// whose consumer offset differed from the poll before; changedN is 0
	// until one did.
	changedAt time.Time
	changedN  int
	// caughtUpAt and caughtUpN are those of the last poll with no lag.
	caughtUpAt time.Time
	caughtUpN  int
}

// trackedPoll is one poll of the partition, with the offsets of the poll
// before it (hasPrev false for the first).
type trackedPoll struct {
	t                  time.Time
	broker, consumer   int64
	lag                int64
	hasPrev            bool
	prevBroker, prevCo int64
}

// ErrOutOfOrder is returned by Observe for a poll not later than the last
// one observed.
var ErrOutOfOrder = errors.New("poll out of order")

// NewTracker returns a Tracker of the partition key whose evaluations look
// back over window, which must be positive.
func NewTracker(key store.Key, window time.Duration) (*Tracker, error) {
	if window <= 0 {
		return nil, fmt.Errorf("%w: window must be positive, got %s", ErrInvalidRequest, window)
	}
	return &Tracker{key: key, window: window}, nil
}

// Observe adds the poll at t with the partition's broker and consumer
// offsets. A poll not after the last one is refused with ErrOutOfOrder and
// changes nothing.
func (tr *Tracker) Observe(t time.Time, broker, consumer int64) error {
	if tr.n > 0 && !t.After(tr.last.t) {
		return fmt.Errorf("%w: %s is not after %s", ErrOutOfOrder, t.Format(time.RFC3339Nano), tr.last.t.Format(time.RFC3339Nano))
	}
	p := trackedPoll{t: t, broker: broker, consumer: consumer, lag: max(broker-consumer, 0)}
	if tr.n > 0 {
		p.hasPrev, p.prevBroker, p.prevCo = true, tr.last.broker, tr.last.consumer
	}
	tr.n++
	if tr.n == 1 {
		tr.first = t
	}
	if p.hasPrev && consumer != p.prevCo {
		tr.changedAt, tr.changedN = t, tr.n
	}
	if p.lag == 0 {
		tr.caughtUpAt, tr.caughtUpN = t, tr.n
	}
	tr.last = p
	// The window is [t - window, t], as PartitionStates's RANGE frame.
	from := t.Add(-tr.window)
	drop := 0
	for drop < len(tr.ring) && tr.ring[drop].t.Before(from) {
		drop++
	}
	tr.ring = append(tr.ring[drop:], p)
	return nil
}

// State returns the state at the last poll observed, with the group's
// allowed lag; the zero state before any.
func (tr *Tracker) State(allowedLag int64) store.PartitionState {
	if tr.n == 0 {
		return store.PartitionState{}
	}
	p := tr.last
	st := store.PartitionState{
		Key: tr.key, At: p.t, BrokerOffset: p.broker, Consumer: p.consumer, Lag: p.lag,
		Samples: len(tr.ring), LagFirst: tr.ring[0].lag, LagMin: tr.ring[0].lag,
		WindowStart: tr.ring[0].t, AllowedLag: allowedLag,
	}
	for _, w := range tr.ring {
		st.LagMin = min(st.LagMin, w.lag)
		if !w.hasPrev {
			continue
		}
		if w.lag < max(w.prevBroker-w.prevCo, 0) {
			st.LagDecreases++
		}
		if w.broker >= w.prevBroker && w.consumer < w.prevCo {
			st.Rewound += w.prevCo - w.consumer
			st.RewindFrom = max(st.RewindFrom, w.prevCo)
		}
	}
	if tr.changedN > 0 {
		st.UnchangedSince, st.UnchangedSamples = tr.changedAt, tr.n-tr.changedN+1
	} else {
		st.UnchangedSince, st.UnchangedSamples, st.SinceIsLowerBound = tr.first, tr.n, true
	}
	if tr.caughtUpN > 0 {
		st.CaughtUpAt, st.SinceCaughtUp = tr.caughtUpAt, tr.n-tr.caughtUpN
	}
	return st
}

// StatesFromPoints returns what store.PartitionStates returns for the
// query whose samples are points (store.PartitionPoints: by group, then
// time), its edges and window: for every partition and every bucket in
// which its group was polled, the state at the group's last poll in the
// bucket, and bucket -1 for the last poll before the first edge; ordered
// by group, topic, partition and bucket. It runs a Tracker per partition
// over the points, so it costs what reading them costs.
func StatesFromPoints(points []store.PartitionPoint, edges []time.Time, window time.Duration) ([]store.PartitionState, error) {
	if len(edges) < 2 {
		return nil, fmt.Errorf("%w: need at least two edges, got %d", ErrInvalidRequest, len(edges))
	}
	// bucket returns the bucket of t as width_bucket numbers it, less one:
	// -1 before the first edge, len(edges)-1 from the last one on.
	bucket := func(t time.Time) int {
		return sort.Search(len(edges), func(i int) bool { return edges[i].After(t) }) - 1
	}
	last := len(edges) - 1
	type part struct {
		topic     string
		partition int32
	}
	type tracked struct {
		tr     *Tracker
		states []store.PartitionState
	}
	var out []store.PartitionState
	var groups []store.GroupRef
	byGroup := map[store.GroupRef][]store.PartitionState{}
	for lo := 0; lo < len(points); {
		g := points[lo].Group
		hi := lo
		// The group's last poll in each bucket.
		ends := map[int]time.Time{}
		for ; hi < len(points) && points[hi].Group == g; hi++ {
			if b := bucket(points[hi].At); b < last {
				ends[b] = points[hi].At
			}
		}
		parts := map[part]*tracked{}
		var keys []part
		for _, p := range points[lo:hi] {
			k := part{p.Topic, p.Partition}
			t := parts[k]
			if t == nil {
				tr, err := NewTracker(p.Key, window)
				if err != nil {
					return nil, err
				}
				t = &tracked{tr: tr}
				parts[k] = t
				keys = append(keys, k)
			}
			if err := t.tr.Observe(p.At, p.BrokerOffset, p.Consumer); err != nil {
				return nil, fmt.Errorf("%s/%s/%d: %w", g.Group, p.Topic, p.Partition, err)
			}
			if b := bucket(p.At); b < last && ends[b].Equal(p.At) {
				st := t.tr.State(p.AllowedLag)
				st.Bucket = b
				t.states = append(t.states, st)
			}
		}
		// Each partition's states are in bucket order already.
		slices.SortFunc(keys, func(a, b part) int {
			return cmp.Or(strings.Compare(a.topic, b.topic), cmp.Compare(a.partition, b.partition))
		})
		var states []store.PartitionState
		for _, k := range keys {
			states = append(states, parts[k].states...)
		}
		if _, ok := byGroup[g]; !ok {
			groups = append(groups, g)
		}
		byGroup[g] = append(byGroup[g], states...)
		lo = hi
	}
	slices.SortFunc(groups, func(a, b store.GroupRef) int {
		return cmp.Or(strings.Compare(a.Region, b.Region), strings.Compare(a.InstanceID, b.InstanceID), strings.Compare(a.Group, b.Group))
	})
	for _, g := range groups {
		out = append(out, byGroup[g]...)
	}
	return out, nil
}

// partitionStates returns what store.PartitionStates returns for q, from
// the samples it reads, evaluated in memory (StatesFromPoints): the
// database only reads, which costs a small part of computing the window
// features in SQL.
func (e *Engine) partitionStates(ctx context.Context, q store.AggregateQuery) ([]store.PartitionState, error) {
	if q.Window <= 0 {
		return nil, fmt.Errorf("%w: window must be positive, got %s", ErrInvalidRequest, q.Window)
	}
	points, err := e.src.PartitionPoints(ctx, q)
	if err != nil {
		return nil, err
	}
	return StatesFromPoints(points, q.Edges, q.Window)
}
