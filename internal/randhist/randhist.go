package randhist

import (
	"math/rand/v2"
	"time"

	"github.com/lagtrail/lagtrail/store"
)

// Kind is how a random group behaves.
type Kind int

// The kinds of group.
const (
	// Idle partitions get a message now and then, consumed by the next
	// poll or so.
	Idle Kind = iota
	// Steady consumers keep up with steady production.
	Steady
	// Troubled consumers stall, rewind, reset to latest, and see the
	// broker offset go back.
	Troubled
	// Falling consumers consume less than is produced.
	Falling
	// Bunched groups are polled every second; their consumers commit
	// every 5 polls, and in the second half of the history skip a quarter
	// of the commits.
	Bunched
)

// Kinds lists every kind.
var Kinds = []Kind{Idle, Steady, Troubled, Falling, Bunched}

// String names the kind.
func (k Kind) String() string {
	return [...]string{"idle", "steady", "troubled", "falling", "bunched"}[k]
}

// Config shapes a history.
type Config struct {
	// Partitions of topic "t". Default 1.
	Partitions int
	// MinPolls and MaxPolls bound the number of polls (defaults 20 and
	// 55); Bunched groups have three times as many.
	MinPolls, MaxPolls int
	// MaxGap is the longest gap, in whole minutes, that a poll of a group
	// polled every minute may follow, once in about 25 polls. Default 3m.
	MaxGap time.Duration
}

// Polls returns the polls of group g of kind kind from start: a minute
// apart give or take 2 s, or a second apart give or take 100 ms for
// Bunched, with gaps; timestamps in microseconds, as the database keeps
// them.
func Polls(rng *rand.Rand, g store.GroupRef, kind Kind, start time.Time, c Config) []*store.Poll {
	if c.Partitions <= 0 {
		c.Partitions = 1
	}
	if c.MinPolls <= 0 {
		c.MinPolls = 20
	}
	if c.MaxPolls <= c.MinPolls {
		c.MaxPolls = max(c.MinPolls+1, 55)
	}
	if c.MaxGap < time.Minute {
		c.MaxGap = 3 * time.Minute
	}
	type part struct {
		b, c    int64
		stalled int
	}
	parts := make([]part, c.Partitions)
	for p := range parts {
		parts[p] = part{b: 10_000, c: 10_000 - int64(rng.IntN(3)*100)}
	}
	step, jitter, n := time.Minute, 4000, c.MinPolls+rng.IntN(c.MaxPolls-c.MinPolls)
	if kind == Bunched {
		step, jitter, n = time.Second, 200, 3*n
	}
	var polls []*store.Poll
	at := start
	for i := range n {
		at = at.Add(step + time.Duration(rng.IntN(jitter)-jitter/2)*time.Millisecond).Truncate(time.Microsecond)
		if kind != Bunched && rng.IntN(25) == 0 {
			at = at.Add(time.Duration(1+rng.IntN(int(c.MaxGap/time.Minute))) * time.Minute)
		}
		ts := store.TopicSample{Topic: "t"}
		for p := range parts {
			pt := &parts[p]
			switch kind {
			case Idle:
				if rng.IntN(6) == 0 {
					pt.b++
				}
				if rng.IntN(3) > 0 {
					pt.c = pt.b
				}
			case Steady:
				pt.b += int64(40 + rng.IntN(40))
				pt.c = min(pt.b, pt.c+int64(30+rng.IntN(60)))
			case Falling:
				pt.b += int64(60 + rng.IntN(20))
				pt.c += int64(20 + rng.IntN(30))
			case Bunched:
				pt.b += int64(8 + rng.IntN(5))
				if i%5 == 4 && (i < n/2 || rng.IntN(4) > 0) {
					pt.c = pt.b - int64(rng.IntN(4))
				}
			default:
				pt.b += int64(rng.IntN(80))
				switch r := rng.IntN(100); {
				case pt.stalled > 0:
					pt.stalled--
				case r < 8:
					pt.stalled = 2 + rng.IntN(20)
				case r < 12 && pt.c > 500:
					pt.c -= int64(1 + rng.IntN(400))
				case r < 13:
					pt.c = pt.b
				case r < 14:
					pt.b -= int64(rng.IntN(100))
					pt.c = min(pt.c, pt.b)
				default:
					pt.c = min(pt.b, pt.c+int64(rng.IntN(90)))
				}
			}
			ts.Partitions = append(ts.Partitions, store.PartitionOffsets{Partition: int32(p), BrokerOffset: pt.b, ConsumerOffset: pt.c, LastTimestampMs: -1})
		}
		polls = append(polls, &store.Poll{Group: g, StartedAt: at.Add(-time.Millisecond), SampledAt: at, Duration: time.Millisecond, OK: true, LastTimestampMs: -1, Topics: []store.TopicSample{ts}})
	}
	return polls
}
