package migrations_test

import (
	"context"
	"errors"
	"testing"

	"github.com/jackc/pgx/v5"

	"github.com/lagtrail/lagtrail/internal/pgtest"
	"github.com/lagtrail/lagtrail/migrations"
)

func TestMain(m *testing.M) { pgtest.Main(m) }

// objects counts lagtrail's tables, views and functions, excluding
// golang-migrate's version table.
func objects(t *testing.T, url string) int {
	t.Helper()
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	var n int
	err = conn.QueryRow(ctx, `
SELECT (SELECT count(*) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
        WHERE n.nspname = 'lagtrail' AND c.relkind IN ('r','p','v') AND c.relname <> 'schema_migrations')
     + (SELECT count(*) FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace WHERE n.nspname = 'lagtrail')`).Scan(&n)
	if err != nil {
		t.Fatal(err)
	}
	return n
}

func TestUpDownUp(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	url := pgtest.EmptyURL(t)
	latest, err := migrations.Latest()
	if err != nil || latest < 1 {
		t.Fatalf("Latest() = %d, %v", latest, err)
	}
	check := func(step string, wantVersion uint, wantObjects bool) {
		t.Helper()
		v, dirty, err := migrations.Version(ctx, url)
		if err != nil || dirty || v != wantVersion {
			t.Fatalf("%s: version %d dirty %v err %v, want %d clean", step, v, dirty, err, wantVersion)
		}
		if n := objects(t, url); (n > 0) != wantObjects {
			t.Fatalf("%s: %d lagtrail objects, want objects present = %v", step, n, wantObjects)
		}
	}
	check("fresh", 0, false)
	if err := migrations.Up(ctx, url); err != nil {
		t.Fatalf("up: %v", err)
	}
	check("up", latest, true)
	if err := migrations.Up(ctx, url); err != nil {
		t.Fatalf("up when current: %v", err)
	}
	check("up again is a no-op", latest, true)
	if err := migrations.Down(ctx, url, 0); err != nil {
		t.Fatalf("down: %v", err)
	}
	check("down", 0, false)
	if err := migrations.Up(ctx, url); err != nil {
		t.Fatalf("up after down: %v", err)
	}
	check("up after down", latest, true)
	if err := migrations.Down(ctx, url, 1); err != nil {
		t.Fatalf("down 1: %v", err)
	}
	check("down 1", latest-1, latest > 1)
}

func TestBadInput(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	if err := migrations.Up(ctx, "host=localhost dbname=x"); !errors.Is(err, migrations.ErrNotURL) {
		t.Errorf("Up(keyword DSN) = %v, want ErrNotURL", err)
	}
	if err := migrations.Down(ctx, "postgres://127.0.0.1:1/x", -1); err == nil {
		t.Error("Down with negative steps succeeded")
	}
}
