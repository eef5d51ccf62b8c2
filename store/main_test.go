package store_test

import (
	"context"
	"flag"
	"fmt"
	"log/slog"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/lagtrail/lagtrail/internal/pgtest"
	"github.com/lagtrail/lagtrail/store"
)

var update = flag.Bool("update", false, "rewrite the golden files under testdata/")

func TestMain(m *testing.M) { pgtest.Main(m) }

// newStore opens a Store on a fresh migrated database and returns it with a
// pool on the same database for checks in SQL.
func newStore(t testing.TB) (*store.Store, *pgxpool.Pool) {
	t.Helper()
	pool, url := pgtest.Pool(t)
	s, err := store.Open(t.Context(), store.Config{DatabaseURL: url}, testLogger(t))
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(s.Close)
	return s, pool
}

func testLogger(t testing.TB) *slog.Logger {
	return slog.New(slog.NewTextHandler(t.Output(), &slog.HandlerOptions{Level: slog.LevelDebug}))
}

// day0 is the UTC day most test polls fall on.
var day0 = time.Date(2025, 3, 14, 0, 0, 0, 0, time.UTC)

var testGroup = store.GroupRef{Region: "cn-hangzhou", InstanceID: "alikafka-pre-cn-1", Group: "billing"}

// okPoll returns a successful poll of g sampled at at, with topics topics of
// parts partitions each. Offsets depend on the topic, partition and time so
// that different polls store different values.
func okPoll(g store.GroupRef, at time.Time, topics, parts int) *store.Poll {
	p := &store.Poll{
		Group:           g,
		StartedAt:       at.Add(-150 * time.Millisecond),
		SampledAt:       at,
		Duration:        150 * time.Millisecond,
		OK:              true,
		RequestID:       "req-" + at.Format("150405.000000"),
		TotalDiff:       int64(topics * parts),
		LastTimestampMs: at.UnixMilli() - 1000,
	}
	base := at.Unix() % 100000
	for ti := range topics {
		ts := store.TopicSample{Topic: fmt.Sprintf("topic-%02d", ti)}
		for pi := range parts {
			broker := base*1000 + int64(ti*1000+pi*10)
			ts.Partitions = append(ts.Partitions, store.PartitionOffsets{
				Partition:       int32(pi),
				BrokerOffset:    broker,
				ConsumerOffset:  broker - 1,
				LastTimestampMs: at.UnixMilli() - int64(pi),
			})
		}
		p.Topics = append(p.Topics, ts)
	}
	return p
}

// count returns the number of rows of a lagtrail table or view.
func count(t testing.TB, pool *pgxpool.Pool, relation string) int {
	t.Helper()
	var n int
	// relation is a constant of the calling test, never user input.
	if err := pool.QueryRow(context.Background(), "SELECT count(*) FROM lagtrail."+relation).Scan(&n); err != nil {
		t.Fatalf("count %s: %v", relation, err)
	}
	return n
}

// allRelations are the tables and views whose row counts describe everything
// the store wrote.
var allRelations = []string{
	"regions", "instances", "consumer_groups", "topics",
	"raw_polls", "rebalance_log",
	"partition_offsets", "polls", "rebalances",
}

// counts returns the row count of every relation in allRelations.
func counts(t testing.TB, pool *pgxpool.Pool) map[string]int {
	t.Helper()
	m := make(map[string]int, len(allRelations))
	for _, r := range allRelations {
		m[r] = count(t, pool, r)
	}
	return m
}

func ptr[T any](v T) *T { return &v }
