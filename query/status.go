package query

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/lagtrail/lagtrail/store"
)

// Status is a Burrow-style evaluation of a partition or a group.
type Status int

// The statuses, from best to worst. A group's status is the worst of its
// partitions'.
const (
	// StatusNoData: no poll in the bucket; nothing is claimed.
	StatusNoData Status = iota
	// StatusOK: no lag, or the lag went down in the window.
	StatusOK
	// StatusWarn: the lag was never zero and never went down in the window.
	StatusWarn
	// StatusRewind: the consumer offset went back in the window.
	StatusRewind
	// StatusStall: lag, and the consumer offset has not moved for at least
	// StallSamples polls.
	StatusStall
	// StatusStop: lag, and the consumer offset has not moved for longer
	// than the window.
	StatusStop
)

// StallSamples is how many consecutive polls must show the same consumer
// offset, while there is lag, for a partition to be STALL.
const StallSamples = 3

// StallMinTime is how long, at least, those polls must span: two of
// Kafka's default auto-commit intervals (5 s), so that at polls a second
// apart a consumer committing on that default is not STALL between two
// commits. At the default 60 s polls, StallSamples polls span more.
const StallMinTime = 10 * time.Second

// WarnSamples is how many polls the window must hold before a lag that never
// went down counts as WARN.
const WarnSamples = 3

// DefaultMinSamples is Rules.MinSamples's default.
const DefaultMinSamples = 3

// Rules are the settings of the status evaluation. The zero value of each
// field but Window means its default.
type Rules struct {
	// Window is the sliding window each evaluation looks back over. It
	// must be positive.
	Window time.Duration
	// AllowedLag, when set, is the lag a partition may have and still
	// count as caught up (Burrow's allowed-lag), for every group. Nil uses
	// each group's own, from the targets of the recorder's config
	// (store.PartitionState.AllowedLag; 0 unless set there).
	AllowedLag *int64
	// MinSamples is how many polls the window must hold before any verdict
	// worse than OK (Burrow's minimum-complete, counted in polls).
	// Default DefaultMinSamples; negative is refused by callers.
	MinSamples int
}

// allowedLag returns the allowed lag of the partition in state st.
func (r Rules) allowedLag(st store.PartitionState) int64 {
	if r.AllowedLag != nil {
		return *r.AllowedLag
	}
	return st.AllowedLag
}

func (r Rules) minSamples() int {
	if r.MinSamples <= 0 {
		return DefaultMinSamples
	}
	return r.MinSamples
}

// String returns the status in capitals, as Burrow writes it.
func (s Status) String() string {
	switch s {
	case StatusNoData:
		return "NODATA"
	case StatusOK:
		return "OK"
	case StatusWarn:
		return "WARN"
	case StatusRewind:
		return "REWIND"
	case StatusStall:
		return "STALL"
	case StatusStop:
		return "STOP"
	}
	return fmt.Sprintf("Status(%d)", int(s))
}

// MarshalText writes the status as String does, so that JSON carries
// "STALL" rather than a number.
func (s Status) MarshalText() ([]byte, error) { return []byte(s.String()), nil }

// UnmarshalText reads a status as String writes it.
func (s *Status) UnmarshalText(b []byte) error {
	for v := StatusNoData; v <= StatusStop; v++ {
		if v.String() == string(b) {
			*s = v
			return nil
		}
	}
	return fmt.Errorf("unknown status %q", b)
}

// Evaluate rates one partition from its state at the end of a window, and
// says why in words. It ports Burrow's evaluator (linkedin/Burrow,
// core/internal/evaluator) to polled offsets. Progress is timed from the
// later of the first poll showing the current consumer offset and the last
// poll with no lag (Burrow's guard, its issue #303): a partition that was
// caught up and then got a message has made no progress to speak of. The
// rules, first match wins:
//
//   - OK: the lag is at most the allowed lag now (r.AllowedLag, or the
//     group's own, st.AllowedLag).
//   - OK: the window holds fewer than r.MinSamples polls.
//   - STOP: no progress for longer than the window; or, when the consumer
//     was not caught up since its last progress and that progress was
//     seen, for longer than the window saw it progress before that
//     (Burrow: the time since the last commit exceeds the time the commits
//     span; once STOP, it stays STOP while nothing moves).
//   - REWIND: the consumer offset went back in the window and is still
//     short of where it went back from (a rewind that caught up is
//     forgiven).
//   - STALL: StallSamples polls or more with lag and no progress, over at
//     least StallMinTime.
//   - OK: the lag was at most the allowed lag at some poll in the window.
//   - WARN: the window holds WarnSamples polls or more and the lag never
//     went down between two of them.
//   - OK otherwise.
//
// lagtrail polls the committed offset, so it cannot tell a consumer that
// commits the same offset from one that stopped committing; and it rates a
// partition STALL after StallSamples polls with lag and no progress even
// when the lag was zero earlier in the window, where Burrow waits for that
// poll to leave its window.
func Evaluate(st store.PartitionState, r Rules) (Status, string) {
	v := evaluate(st, r)
	return v.status, v.reason
}

// verdict is one evaluation: the status, why in words, and, for STALL and
// STOP, the time progress stopped.
type verdict struct {
	status Status
	reason string
	since  time.Time
	// before is set when since is a lower bound: the offset did not
	// change in everything read.
	before bool
}

func evaluate(st store.PartitionState, r Rules) verdict {
	window := r.Window
	progress, stuckSamples := st.UnchangedSince, st.UnchangedSamples
	caughtUp := st.CaughtUpAt.After(st.UnchangedSince)
	if caughtUp {
		progress, stuckSamples = st.CaughtUpAt, st.SinceCaughtUp
	}
	stuck := st.At.Sub(progress)
	// ran is how long the window saw the consumer progress before it
	// stopped.
	ran := st.UnchangedSince.Sub(st.WindowStart)
	// lower: progress stopped before everything read.
	lower := st.SinceIsLowerBound && !caughtUp
	allowed := r.allowedLag(st)
	since := progress.Format(time.RFC3339)
	if lower {
		since = "before " + since
	}
	switch {
	case st.Lag <= allowed:
		if st.Lag == 0 {
			return verdict{status: StatusOK, reason: "no lag"}
		}
		return verdict{status: StatusOK, reason: fmt.Sprintf("lag %d within the allowed %d", st.Lag, allowed)}
	case st.Samples < r.minSamples():
		return verdict{status: StatusOK, reason: fmt.Sprintf("only %d polls in the last %s", st.Samples, window)}
	case stuck > window || (!caughtUp && !st.SinceIsLowerBound && stuck > ran):
		return verdict{status: StatusStop, reason: fmt.Sprintf("no consumer progress since %s (%s) with lag %d", since, stuck.Round(time.Second), st.Lag), since: progress, before: lower}
	case st.Rewound > 0 && st.Consumer < st.RewindFrom:
		return verdict{status: StatusRewind, reason: fmt.Sprintf("consumer offset went back %d messages in the last %s and is %d short of where it was", st.Rewound, window, st.RewindFrom-st.Consumer)}
	case stuckSamples >= StallSamples && stuck >= StallMinTime:
		return verdict{status: StatusStall, reason: fmt.Sprintf("consumer offset %d unchanged with lag for %d polls since %s (lag %d)", st.Consumer, stuckSamples, since, st.Lag), since: progress, before: lower}
	case st.LagMin <= allowed:
		if st.LagMin == 0 {
			return verdict{status: StatusOK, reason: "lag was zero in the window"}
		}
		return verdict{status: StatusOK, reason: fmt.Sprintf("lag was within the allowed %d in the window", allowed)}
	case st.Samples >= WarnSamples && st.LagDecreases == 0:
		return verdict{status: StatusWarn, reason: fmt.Sprintf("lag never went down in the last %s: %d to %d", window, st.LagFirst, st.Lag)}
	}
	return verdict{status: StatusOK, reason: "lag going down"}
}

// PartitionRef names a partition of a group.
type PartitionRef struct {
	Topic     string `json:"topic"`
	Partition int32  `json:"partition"`
}

// String returns "topic/partition".
func (p PartitionRef) String() string { return fmt.Sprintf("%s/%d", p.Topic, p.Partition) }

// Interval is a stretch of a group's status timeline.
type Interval struct {
	Group  store.GroupRef `json:"group"`
	From   time.Time      `json:"from"`
	To     time.Time      `json:"to"`
	Status Status         `json:"status"`
	// Partitions are the partitions at the group's status, for any status
	// worse than OK.
	Partitions []PartitionRef `json:"partitions"`
	// Reason explains the status in words, from the interval's last
	// evaluation of its first partition.
	Reason string `json:"reason"`
}

// StatusRequest asks for the status timeline of the selected groups.
type StatusRequest struct {
	Range
	// Window is the sliding window each evaluation looks back over.
	// Default 15m.
	Window time.Duration
	// AllowedLag and MinSamples are those of Rules.
	AllowedLag *int64
	MinSamples int
}

// rules returns the request's Rules, with the default window.
func (req StatusRequest) rules() (Rules, error) {
	r := Rules{Window: req.Window, AllowedLag: req.AllowedLag, MinSamples: req.MinSamples}
	if r.Window == 0 {
		r.Window = DefaultStatusWindow
	}
	return r, r.validate()
}

// validate refuses settings no evaluation can use.
func (r Rules) validate() error {
	switch {
	case r.Window <= 0:
		return fmt.Errorf("%w: window must be positive, got %s", ErrInvalidRequest, r.Window)
	case r.AllowedLag != nil && *r.AllowedLag < 0:
		return fmt.Errorf("%w: allowed lag must not be negative, got %d", ErrInvalidRequest, *r.AllowedLag)
	case r.MinSamples < 0:
		return fmt.Errorf("%w: minimum polls must not be negative, got %d", ErrInvalidRequest, r.MinSamples)
	}
	return nil
}

// DefaultStatusWindow is StatusRequest.Window's default.
const DefaultStatusWindow = 15 * time.Minute

// Status evaluates every selected partition at the last poll of each bucket
// over the sliding window, and returns each group's timeline: consecutive
// buckets with the same status and partitions merge into one interval.
func (e *Engine) Status(ctx context.Context, req StatusRequest) ([]Interval, error) {
	rules, err := req.rules()
	if err != nil {
		return nil, err
	}
	edges, _, err := req.edges()
	if err != nil {
		return nil, err
	}
	groups, err := e.resolve(ctx, req.Selection)
	if err != nil {
		return nil, err
	}
	q := e.aggregate(groups, req.Selection, store.LevelPartition, edges)
	q.Window = rules.Window
	q.Lookback = max(q.Lookback, rules.Window)
	states, err := e.partitionStates(ctx, q)
	if err != nil {
		return nil, fmt.Errorf("status: %w", err)
	}
	return Timeline(groups, states, edges, rules), nil
}

// Timeline evaluates states (as PartitionStates returns them) and merges
// each group's buckets into intervals. A bucket without a poll carries the
// previous evaluation while that poll is at most GapFactor median poll
// intervals before the bucket's end, so buckets narrower than the poll
// interval do not flicker; after that it is NODATA.
func Timeline(groups []store.GroupRef, states []store.PartitionState, edges []time.Time, rules Rules) []Interval {
	type eval struct {
		status Status
		parts  []PartitionRef
		reason string
		at     time.Time
		polled bool
		// lag is the summed lag of parts; since the earliest time their
		// progress stopped (STALL, STOP), before whether it is a lower
		// bound.
		lag    int64
		since  time.Time
		before bool
	}
	n := len(edges) - 1
	// evs[0] is the state before the range (bucket -1), evs[b+1] bucket b.
	byGroup := make(map[store.GroupRef][]eval, len(groups))
	polls := make(map[store.GroupRef][]time.Time, len(groups))
	for _, g := range groups {
		byGroup[g] = make([]eval, n+1)
	}
	for _, st := range states {
		evs, ok := byGroup[st.Group]
		if !ok || st.Bucket < -1 || st.Bucket >= n {
			continue
		}
		v := evaluate(st, rules)
		s := v.status
		ev := &evs[st.Bucket+1]
		if !ev.polled {
			polls[st.Group] = append(polls[st.Group], st.At)
		}
		ev.polled, ev.at = true, st.At
		ref := PartitionRef{Topic: st.Topic, Partition: st.Partition}
		switch {
		case s > ev.status:
			ev.status, ev.parts, ev.reason = s, []PartitionRef{ref}, v.reason
			ev.lag, ev.since, ev.before = st.Lag, v.since, v.before
		case s == ev.status:
			ev.parts = append(ev.parts, ref)
			ev.lag += st.Lag
			if v.since.Before(ev.since) {
				ev.since, ev.before = v.since, v.before
			}
		}
	}
	var out []Interval
	for _, g := range groups {
		evs := byGroup[g]
		ts := polls[g]
		slices.SortFunc(ts, func(a, b time.Time) int { return a.Compare(b) })
		pts := make([]Point, len(ts))
		for i, t := range ts {
			pts[i] = Point{T: t}
		}
		stale := GapFactor * MedianInterval(pts)
		for b := 1; b <= n; b++ {
			if prev := evs[b-1]; !evs[b].polled && prev.polled && edges[b].Sub(prev.at) <= stale {
				evs[b] = prev
			}
		}
		evs = evs[1:]
		for b := range evs {
			if evs[b].status <= StatusOK {
				evs[b].parts = nil
				evs[b].reason = "no poll in the bucket"
				if evs[b].status == StatusOK {
					evs[b].reason = "every partition OK"
				}
			}
		}
		for b := 0; b < n; {
			first := evs[b]
			iv := Interval{Group: g, From: edges[b], Status: first.status, Partitions: first.parts, Reason: first.reason}
			b++
			last := first
			for b < n && evs[b].status == first.status && slices.Equal(evs[b].parts, first.parts) {
				last = evs[b]
				b++
			}
			iv.To = edges[b]
			if first.status > StatusOK {
				iv.Reason = intervalReason(first.status, first.reason, len(first.parts), first.lag, last.lag, first.since, first.before, rules.Window)
			}
			out = append(out, iv)
		}
	}
	return out
}

// intervalReason words a stretch of a timeline at one status worse than
// OK, so that its words hold over the whole stretch: when the trouble
// began (for STALL and STOP, when progress stopped, taken from the
// stretch's first evaluation), how many partitions, and their summed lag
// at the stretch's first and last evaluations. first is the first
// evaluation's reason, for REWIND.
func intervalReason(s Status, first string, parts int, lagFrom, lagTo int64, since time.Time, before bool, window time.Duration) string {
	n := "1 partition"
	if parts != 1 {
		n = fmt.Sprintf("%d partitions", parts)
	}
	lag := fmt.Sprintf("lag %d", lagFrom)
	if lagTo != lagFrom {
		lag += fmt.Sprintf(" → %d", lagTo)
	}
	switch s {
	case StatusStall, StatusStop:
		at := since.UTC().Format(time.RFC3339)
		if before {
			at = "before " + at
		}
		return fmt.Sprintf("no consumer progress since %s: %s, %s", at, n, lag)
	case StatusWarn:
		return fmt.Sprintf("lag never went down over the last %s: %s, %s", window, n, lag)
	case StatusRewind:
		return fmt.Sprintf("%s: %s, %s", first, n, lag)
	}
	return first
}

// JoinPartitions writes partitions as "topic/0,topic/3".
func JoinPartitions(ps []PartitionRef) string {
	s := make([]string, len(ps))
	for i, p := range ps {
		s[i] = p.String()
	}
	return strings.Join(s, ",")
}
