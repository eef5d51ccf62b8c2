package query

import "github.com/lagtrail/lagtrail/store"

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
