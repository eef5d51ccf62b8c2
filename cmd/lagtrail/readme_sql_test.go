package main

import (
	"crypto/rand"
	"encoding/hex"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/lagtrail/lagtrail/internal/pgtest"
	"github.com/lagtrail/lagtrail/store"
)

// readmeSQL returns the ```sql blocks of the README section titled title.
func readmeSQL(t *testing.T, title string) []string {
	t.Helper()
	b, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	text := string(b)
	start := strings.Index(text, "\n## "+title+"\n")
	if start < 0 {
		t.Fatalf("README has no section %q", title)
	}
	text = text[start+1:]
	if end := strings.Index(text[3:], "\n## "); end >= 0 {
		text = text[:end+3]
	}
	var blocks []string
	for {
		i := strings.Index(text, "```sql\n")
		if i < 0 {
			return blocks
		}
		text = text[i+len("```sql\n"):]
		j := strings.Index(text, "```")
		blocks = append(blocks, text[:j])
		text = text[j+3:]
	}
}

// TestReadmeBIQueries runs the SQL of the README's "Connecting a BI tool"
// section: the role setup as an administrator, and every query as the BI
// login it creates, on recorded data with rollups. Each query must run with
// the reader's privileges and return rows.
func TestReadmeBIQueries(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	blocks := readmeSQL(t, "Connecting a BI tool")
	if len(blocks) < 5 {
		t.Fatalf("found %d sql blocks in the README section, want the role setup and the queries", len(blocks))
	}
	pool, url := pgtest.Pool(t)
	st, err := store.Open(ctx, store.Config{DatabaseURL: url}, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()

	// The incident hour of the examples, and the last 26 hours.
	g := store.GroupRef{Region: "cn-hangzhou", InstanceID: "alikafka-1", Group: "orders-svc"}
	var polls []*store.Poll
	add := func(at time.Time, m int) {
		if m%37 == 5 {
			polls = append(polls, &store.Poll{Group: g, StartedAt: at, SampledAt: at, ErrorCode: "Timeout", ErrorMessage: "poll timed out"})
			return
		}
		ts := store.TopicSample{Topic: "orders"}
		for p := range int32(8) {
			b := int64(1_000_000 + m*(100+int(p)*5))
			ts.Partitions = append(ts.Partitions, store.PartitionOffsets{Partition: p, BrokerOffset: b, ConsumerOffset: b - int64(m%90)*int64(p+1), LastTimestampMs: at.UnixMilli() - 3000})
		}
		polls = append(polls, &store.Poll{Group: g, StartedAt: at, SampledAt: at, OK: true, LastTimestampMs: -1, Topics: []store.TopicSample{ts}})
	}
	incident := time.Date(2025, 6, 1, 0, 0, 0, 0, time.UTC)
	for m := range 4 * 60 {
		add(incident.Add(time.Duration(m)*time.Minute), m)
	}
	recent := time.Now().UTC().Truncate(time.Minute).Add(-26 * time.Hour)
	for m := range 26 * 60 {
		add(recent.Add(time.Duration(m)*time.Minute), m)
	}
	if _, err := st.WritePolls(ctx, polls); err != nil {
		t.Fatal(err)
	}
	if _, err := st.RefreshRollups(ctx); err != nil {
		t.Fatal(err)
	}

	// Roles are cluster-wide: the example's login gets a unique name.
	suffix := make([]byte, 4)
	_, _ = rand.Read(suffix)
	login := "grafana_" + hex.EncodeToString(suffix)
	setup := strings.ReplaceAll(blocks[0], "grafana", login)
	if _, err := pool.Exec(ctx, setup); err != nil {
		t.Fatalf("README role setup: %v\n%s", err, setup)
	}
	t.Cleanup(func() {
		_, _ = pool.Exec(ctx, "DROP OWNED BY "+login+"; DROP ROLE "+login)
	})

	for i, q := range blocks[1:] {
		func() {
			tx, err := pool.Begin(ctx)
			if err != nil {
				t.Fatal(err)
			}
			defer func() { _ = tx.Rollback(ctx) }()
			if _, err := tx.Exec(ctx, "SET LOCAL ROLE "+login); err != nil {
				t.Fatal(err)
			}
			rows, err := tx.Query(ctx, q)
			if err != nil {
				t.Errorf("README query %d as %s: %v\n%s", i+1, login, err, q)
				return
			}
			got, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) ([]any, error) { return r.Values() })
			if err != nil {
				t.Errorf("README query %d: %v\n%s", i+1, err, q)
				return
			}
			if len(got) == 0 {
				t.Errorf("README query %d returned no rows\n%s", i+1, q)
			}
		}()
	}
	// The reader's login cannot touch a table.
	tx, err := pool.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = tx.Rollback(ctx) }()
	if _, err := tx.Exec(ctx, "SET LOCAL ROLE "+login); err != nil {
		t.Fatal(err)
	}
	if _, err := tx.Exec(ctx, "DELETE FROM lagtrail.raw_polls"); err == nil {
		t.Error("the BI login deleted raw polls")
	}
}
