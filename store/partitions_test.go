package store_test

import (
	"bytes"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/lagtrail/lagtrail/internal/pgtest"
	"github.com/lagtrail/lagtrail/store"
)

func TestEnsurePartitions(t *testing.T) {
	t.Parallel()
	s, pool := newStore(t)
	// Steps run in order on one database; each says how many partition
	// tables (1 per new day, and 2 per new month for the hourly rollups) the call creates.
	steps := []struct {
		name    string
		from    time.Time
		days    int
		want    int
		wantErr string
	}{
		{"three new days", day0, 3, 5, ""},
		{"same days again", day0, 3, 0, ""},
		{"late in the day, other zone", day0.Add(23*time.Hour + 59*time.Minute).In(time.FixedZone("UTC+8", 8*3600)), 1, 0, ""},
		{"overlap adds two days", day0.AddDate(0, 0, 2), 3, 2, ""},
		{"zero days", day0, 0, 0, "days must be between 1 and 366"},
		{"too many days", day0, 367, 0, "days must be between 1 and 366"},
		{"zero from", time.Time{}, 1, 0, "from is zero"},
	}
	for _, st := range steps {
		got, err := s.EnsurePartitions(t.Context(), st.from, st.days)
		switch {
		case st.wantErr != "":
			if err == nil || !strings.Contains(err.Error(), st.wantErr) {
				t.Errorf("%s: error = %v, want one containing %q", st.name, err, st.wantErr)
			}
		case err != nil:
			t.Errorf("%s: %v", st.name, err)
		case got != st.want:
			t.Errorf("%s: created = %d, want %d", st.name, got, st.want)
		}
	}
	var names []string
	err := pool.QueryRow(t.Context(), `
SELECT array_agg(c.relname::text ORDER BY c.relname)
FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
WHERE c.relkind = 'r'`).Scan(&names)
	if err != nil {
		t.Fatal(err)
	}
	want := []string{
		"group_hourly_20250301", "partition_hourly_20250301",
		"raw_polls_20250314", "raw_polls_20250315", "raw_polls_20250316", "raw_polls_20250317", "raw_polls_20250318",
	}
	if strings.Join(names, ",") != strings.Join(want, ",") {
		t.Errorf("partitions = %v, want %v", names, want)
	}
}

// syncBuffer is a bytes.Buffer safe for a logger used by several goroutines.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.String()
}

func TestWritePollCreatesMissingPartition(t *testing.T) {
	t.Parallel()
	pool, url := pgtest.Pool(t)
	var logs syncBuffer
	s, err := store.Open(t.Context(), store.Config{DatabaseURL: url},
		slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelInfo})))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()

	tests := []struct {
		name string
		// prepare runs before the write.
		prepare       func(t *testing.T)
		at            time.Time
		wantLogged    bool
		wantPartition string
	}{
		{name: "no partition yet", at: day0.AddDate(1, 0, 0).Add(23*time.Hour + 59*time.Minute + 59*time.Second),
			wantLogged: true, wantPartition: "raw_polls_20260314"},
		{name: "partition exists", at: day0.AddDate(1, 0, 0).Add(time.Hour), wantPartition: "raw_polls_20260314"},
		{name: "partition dropped", at: day0.AddDate(2, 0, 0),
			prepare: func(t *testing.T) {
				if _, err := s.EnsurePartitions(t.Context(), day0.AddDate(2, 0, 0), 1); err != nil {
					t.Fatal(err)
				}
				if _, err := pool.Exec(t.Context(), `DROP TABLE lagtrail.raw_polls_20270314`); err != nil {
					t.Fatal(err)
				}
			},
			wantLogged: true, wantPartition: "raw_polls_20270314"},
	}
	for _, tt := range tests { // sequential: they share the log buffer
		t.Run(tt.name, func(t *testing.T) {
			if tt.prepare != nil {
				tt.prepare(t)
			}
			before := len(logs.String())
			p := okPoll(testGroup, tt.at, 2, 12)
			if err := s.WritePoll(t.Context(), p); err != nil {
				t.Fatalf("WritePoll: %v", err)
			}
			got, err := s.ReadPartitionOffsets(t.Context(), store.Range{From: tt.at, To: tt.at.Add(time.Microsecond)})
			if err != nil {
				t.Fatal(err)
			}
			if len(got) != 24 {
				t.Errorf("stored %d partition samples, want 24", len(got))
			}
			logged := strings.Contains(logs.String()[before:], "no partition for polls")
			if logged != tt.wantLogged {
				t.Errorf("logged creation = %v, want %v; logs:\n%s", logged, tt.wantLogged, logs.String()[before:])
			}
			var exists bool
			if err := pool.QueryRow(t.Context(), `SELECT to_regclass('lagtrail.' || $1) IS NOT NULL`,
				tt.wantPartition).Scan(&exists); err != nil {
				t.Fatal(err)
			}
			if !exists {
				t.Errorf("partition %s does not exist", tt.wantPartition)
			}
		})
	}
	if n := count(t, pool, "raw_polls"); n != 3 {
		t.Errorf("raw_polls rows = %d, want 3", n)
	}
}
