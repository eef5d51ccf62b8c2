package main

import (
	"bytes"
	"context"
	"strings"
	"testing"
	"time"

	"github.com/lagtrail/lagtrail/internal/pgtest"
	"github.com/lagtrail/lagtrail/store"
)

// The fixture history the query tests read: group billing of instance
// alikafka-a in cn-hangzhou, topic orders with two partitions, polled every
// minute from fixtureStart for fixturePolls polls.
//
// Partition 0 shows its LastTimestamp. It produces and consumes 10/s with a
// lag of 600 (60 s), except that its consumer stalls at polls 20..24
// (offset unchanged since poll 19), half catches up at poll 25 and is back
// to a lag of 600 at poll 26.
//
// Partition 1 hides its LastTimestamp. It produces 5/s. Its consumer is
// caught up until poll 9; at poll 10 the broker offset is read 3 below the
// consumer offset (a clamped sample); from poll 11 it consumes 4/s, so its
// lag grows by 60 a poll; at poll 30 it rewinds by 1000 messages.
var (
	fixtureStart = time.Date(2025, 3, 14, 0, 0, 0, 0, time.UTC)
	fixtureGroup = store.GroupRef{Region: "cn-hangzhou", InstanceID: "alikafka-a", Group: "billing"}
)

const (
	fixturePolls = 40
	fixtureTopic = "orders"
	// The fixture's interesting polls.
	stallFrom, stallTo = 20, 24 // partition 0's consumer offset is that of poll 19
	clampPoll          = 10     // partition 1's broker offset below its consumer offset
	rewindPoll         = 30     // partition 1's consumer offset goes back
	rewindBy           = 1000
)

// fixtureOffsets returns the broker and consumer offsets and the
// LastTimestamp (Unix ms, -1 hidden) of partition p at poll i.
func fixtureOffsets(p int32, i int) (broker, consumer, lastTsMs int64) {
	at := fixtureStart.Add(time.Duration(i) * time.Minute)
	if p == 0 {
		broker = 100000 + 600*int64(i)
		consumer = broker - 600
		switch {
		case i >= stallFrom && i <= stallTo:
			consumer = 100000 + 600*(stallFrom-1) - 600
		case i == stallTo+1:
			consumer = broker - 1200
		}
		// The last consumed message was produced lag/10 s before the poll.
		return broker, consumer, at.UnixMilli() - (broker-consumer)*100
	}
	broker = 50000 + 300*int64(i)
	switch {
	case i < clampPoll:
		consumer = broker
	case i == clampPoll:
		consumer = broker + 3
	default:
		consumer = 50000 + 300*(clampPoll+1) + 240*int64(i-clampPoll-1)
		if i >= rewindPoll {
			consumer -= rewindBy
		}
	}
	return broker, consumer, -1
}

// writeFixture writes the fixture history into the migrated database at
// dbURL.
func writeFixture(t *testing.T, dbURL string) {
	t.Helper()
	st := openStore(t, dbURL)
	for i := range fixturePolls {
		at := fixtureStart.Add(time.Duration(i) * time.Minute)
		ts := store.TopicSample{Topic: fixtureTopic}
		var total int64
		for p := range int32(2) {
			b, c, lt := fixtureOffsets(p, i)
			ts.Partitions = append(ts.Partitions, store.PartitionOffsets{Partition: p, BrokerOffset: b, ConsumerOffset: c, LastTimestampMs: lt})
			total += max(b-c, 0)
		}
		writePoll(t, st, &store.Poll{
			Group: fixtureGroup, StartedAt: at.Add(-200 * time.Millisecond), SampledAt: at,
			Duration: 200 * time.Millisecond, OK: true, RequestID: "req-" + at.Format("1504"),
			TotalDiff: total, LastTimestampMs: -1, Topics: []store.TopicSample{ts},
		})
	}
}

func openStore(t *testing.T, dbURL string) *store.Store {
	t.Helper()
	st, err := store.Open(context.Background(), store.Config{DatabaseURL: dbURL}, nil)
	if err != nil {
		t.Fatalf("open store: %v", err)
	}
	t.Cleanup(st.Close)
	return st
}

func writePoll(t *testing.T, st *store.Store, p *store.Poll) {
	t.Helper()
	if err := st.WritePoll(context.Background(), p); err != nil {
		t.Fatalf("WritePoll %s at %s: %v", p.Group.Group, p.SampledAt.Format(time.RFC3339), err)
	}
}

// fixtureURL returns the URL of a fresh migrated database holding the
// fixture history.
func fixtureURL(t *testing.T) string {
	t.Helper()
	u := pgtest.URL(t)
	writeFixture(t, u)
	return u
}

// cliResult is what one in-process run of the command printed.
type cliResult struct {
	code           int
	stdout, stderr string
}

// runCLI runs the command in-process with an empty environment.
func runCLI(t *testing.T, args ...string) cliResult {
	t.Helper()
	var stdout, stderr bytes.Buffer
	code := run(context.Background(), args, &stdout, &stderr, func(string) string { return "" })
	return cliResult{code: code, stdout: stdout.String(), stderr: stderr.String()}
}

// oneErrorLine checks that stderr is exactly one "lagtrail: ..." line and
// returns it.
func oneErrorLine(t *testing.T, stderr string) string {
	t.Helper()
	lines := strings.Split(strings.TrimRight(stderr, "\n"), "\n")
	if len(lines) != 1 || !strings.HasPrefix(lines[0], "lagtrail: ") || !strings.HasSuffix(stderr, "\n") {
		t.Errorf("stderr is not one 'lagtrail: ...' line:\n%s", stderr)
	}
	return lines[0]
}
