package pgtest_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/lagtrail/lagtrail/internal/pgtest"
	"github.com/lagtrail/lagtrail/migrations"
)

func TestMain(m *testing.M) { pgtest.Main(m) }

func connect(t *testing.T, url string) *pgx.Conn {
	t.Helper()
	conn, err := pgx.Connect(t.Context(), url)
	if err != nil {
		t.Fatalf("connect: %v", err)
	}
	t.Cleanup(func() { _ = conn.Close(context.Background()) })
	return conn
}

func currentDatabase(t *testing.T, conn *pgx.Conn) string {
	t.Helper()
	var name string
	if err := conn.QueryRow(t.Context(), "SELECT current_database()").Scan(&name); err != nil {
		t.Fatalf("current_database: %v", err)
	}
	return name
}

func TestURLIsMigrated(t *testing.T) {
	start := time.Now()
	url := pgtest.URL(t)
	t.Logf("first URL call took %v", time.Since(start))
	conn := connect(t, url)
	var n int64
	if err := conn.QueryRow(t.Context(), "SELECT count(*) FROM lagtrail.partition_offsets").Scan(&n); err != nil {
		t.Fatalf("query partition_offsets: %v", err)
	}
	if n != 0 {
		t.Errorf("partition_offsets has %d rows in a fresh database, want 0", n)
	}
	latest, err := migrations.Latest()
	if err != nil {
		t.Fatal(err)
	}
	v, dirty, err := migrations.Version(t.Context(), url)
	if err != nil {
		t.Fatal(err)
	}
	if v != latest || dirty {
		t.Errorf("version = %d dirty=%v, want %d clean", v, dirty, latest)
	}

	start = time.Now()
	_ = pgtest.URL(t)
	t.Logf("later URL call (clone) took %v", time.Since(start))
}

func TestURLsAreIsolated(t *testing.T) {
	a := connect(t, pgtest.URL(t))
	b := connect(t, pgtest.URL(t))
	if da, db := currentDatabase(t, a), currentDatabase(t, b); da == db {
		t.Fatalf("both URLs point at database %s", da)
	}
	if _, err := a.Exec(t.Context(), "INSERT INTO lagtrail.regions (name) VALUES ('eu-central-1')"); err != nil {
		t.Fatalf("insert: %v", err)
	}
	var inA, inB int
	if err := a.QueryRow(t.Context(), "SELECT count(*) FROM lagtrail.regions").Scan(&inA); err != nil {
		t.Fatal(err)
	}
	if err := b.QueryRow(t.Context(), "SELECT count(*) FROM lagtrail.regions").Scan(&inB); err != nil {
		t.Fatal(err)
	}
	if inA != 1 || inB != 0 {
		t.Fatalf("regions: %d rows in a, %d in b; want 1 and 0", inA, inB)
	}
}

func TestPool(t *testing.T) {
	pool, url := pgtest.Pool(t)
	if url == "" {
		t.Fatal("empty url")
	}
	var n int
	if err := pool.QueryRow(t.Context(), "SELECT count(*) FROM lagtrail.regions").Scan(&n); err != nil {
		t.Fatalf("query via pool: %v", err)
	}
}

// lagtrailRelations counts tables and views in the lagtrail schema, other
// than golang-migrate's version table.
func lagtrailRelations(t *testing.T, url string) int {
	t.Helper()
	conn := connect(t, url)
	var n int
	err := conn.QueryRow(t.Context(), `
		SELECT count(*) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
		WHERE n.nspname = 'lagtrail' AND c.relkind IN ('r', 'p', 'v', 'm')
		  AND c.relname <> 'schema_migrations'`).Scan(&n)
	if err != nil {
		t.Fatalf("count relations: %v", err)
	}
	return n
}

func schemaExists(t *testing.T, url string) bool {
	t.Helper()
	conn := connect(t, url)
	var ok bool
	if err := conn.QueryRow(t.Context(), "SELECT EXISTS (SELECT 1 FROM pg_namespace WHERE nspname = 'lagtrail')").Scan(&ok); err != nil {
		t.Fatal(err)
	}
	return ok
}

func TestEmptyURLUpDownUp(t *testing.T) {
	url := pgtest.EmptyURL(t)
	ctx := t.Context()
	if n := lagtrailRelations(t, url); n != 0 {
		t.Fatalf("empty database has %d lagtrail tables/views", n)
	}
	latest, err := migrations.Latest()
	if err != nil {
		t.Fatal(err)
	}
	wantVersion := func(want uint) {
		t.Helper()
		v, dirty, err := migrations.Version(ctx, url)
		if err != nil {
			t.Fatalf("version: %v", err)
		}
		if v != want || dirty {
			t.Fatalf("version = %d dirty=%v, want %d clean", v, dirty, want)
		}
	}

	if err := migrations.Up(ctx, url); err != nil {
		t.Fatalf("up: %v", err)
	}
	wantVersion(latest)
	if n := lagtrailRelations(t, url); n == 0 {
		t.Fatal("no lagtrail tables after up")
	}

	if err := migrations.Down(ctx, url, 0); err != nil {
		t.Fatalf("down: %v", err)
	}
	wantVersion(0)
	if n := lagtrailRelations(t, url); n != 0 {
		t.Fatalf("%d lagtrail tables/views left after down", n)
	}
	if !schemaExists(t, url) {
		t.Fatal("down removed the lagtrail schema")
	}

	if err := migrations.Up(ctx, url); err != nil {
		t.Fatalf("up again: %v", err)
	}
	wantVersion(latest)
}

func TestParallel(t *testing.T) {
	const n = 12
	names := make(chan string, n)
	t.Run("group", func(t *testing.T) {
		for i := range n {
			t.Run(fmt.Sprintf("db%02d", i), func(t *testing.T) {
				t.Parallel()
				conn := connect(t, pgtest.URL(t))
				names <- currentDatabase(t, conn)
				// Each database is private: a row written here is the
				// only one.
				if _, err := conn.Exec(t.Context(), "INSERT INTO lagtrail.regions (name) VALUES ($1)", t.Name()); err != nil {
					t.Fatal(err)
				}
				var count int
				if err := conn.QueryRow(t.Context(), "SELECT count(*) FROM lagtrail.regions").Scan(&count); err != nil {
					t.Fatal(err)
				}
				if count != 1 {
					t.Errorf("%d regions, want 1", count)
				}
			})
		}
	})
	close(names)
	seen := map[string]bool{}
	for name := range names {
		if seen[name] {
			t.Errorf("database %s handed out twice", name)
		}
		seen[name] = true
	}
	if len(seen) != n && !t.Failed() && !t.Skipped() {
		t.Errorf("got %d databases, want %d", len(seen), n)
	}
}
