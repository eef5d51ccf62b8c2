package store

import "fmt"

// Backlog is the rule that tells a backlog from the messages in flight of a
// consumer that keeps up: a lag is a backlog when it is more than Seconds
// of production, production counted as at least MinRate messages a second
// (so that an idle group with a few messages left still has a backlog).
// It is the one definition: query's drain, fleet and capacity figures call
// Exceeds, and the SQL of Top and CapacityProfiles evaluates the same
// expression with the fields as parameters (TestBacklogSQLMatchesExceeds).
type Backlog struct {
	Seconds float64
	MinRate float64
}

// The default rule every surface uses: a minute of production, at least
// one message a second.
const (
	DefaultBacklogSeconds = 60
	DefaultBacklogMinRate = 1
)

// DefaultBacklog is the default rule.
var DefaultBacklog = Backlog{Seconds: DefaultBacklogSeconds, MinRate: DefaultBacklogMinRate}

// Exceeds reports whether lag is a backlog at the given production rate in
// messages per second (0 when unknown).
func (b Backlog) Exceeds(lag, produce float64) bool {
	return lag > b.Seconds*max(produce, b.MinRate)
}

// orDefault returns b, or DefaultBacklog when b is the zero value.
func (b Backlog) orDefault() Backlog {
	if b == (Backlog{}) {
		return DefaultBacklog
	}
	return b
}

// backlogSQL is Exceeds in SQL, over a lag and a production rate that may
// be NULL, with the threshold and the minimum rate as parameters $s and $m:
// write it with backlogExpr.
const backlogSQL = `(%s > %s::float8 * greatest(coalesce(%s, 0)::float8, %s::float8))`

// backlogExpr returns backlogSQL over the SQL expressions lag and produce,
// with the parameters numbered seconds and minRate.
func backlogExpr(lag, produce string, seconds, minRate int) string {
	return fmt.Sprintf(backlogSQL, lag, fmt.Sprintf("$%d", seconds), produce, fmt.Sprintf("$%d", minRate))
}
