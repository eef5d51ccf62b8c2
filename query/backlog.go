package query

import (
	"time"

	"github.com/lagtrail/lagtrail/store"
)

// BacklogSeconds is how far behind, in seconds of current production, a
// group must be for its lag to be a backlog: store.DefaultBacklog's, the
// one rule every surface applies (IsBacklog).
const BacklogSeconds = store.DefaultBacklogSeconds

// IsBacklog reports whether lag is a backlog at the production rate
// produce (messages per second; nil when unknown): store.DefaultBacklog.
func IsBacklog(lag int64, produce *float64) bool {
	p := 0.0
	if produce != nil {
		p = *produce
	}
	return store.DefaultBacklog.Exceeds(float64(lag), p)
}

// JudgeDrain is the one drain rule of every surface (query drain, the fleet
// and its page, the demo): whether lag is a backlog at production rate
// produce (IsBacklog), and its ETA: 0 without a backlog (the consumer keeps
// up), lag / -slope while a backlog drains at slope messages per second
// (DrainETA), nil when a backlog is not draining or slope is unknown.
func JudgeDrain(lag int64, produce, slope *float64) (backlog bool, eta *time.Duration) {
	if !IsBacklog(lag, produce) {
		zero := time.Duration(0)
		return false, &zero
	}
	if slope != nil {
		if d, ok := DrainETA(float64(lag), *slope); ok {
			return true, &d
		}
	}
	return true, nil
}
