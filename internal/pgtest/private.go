package pgtest

import (
	"context"
	"os"
	"testing"

	"github.com/lagtrail/lagtrail/internal/pglocal"
	"github.com/lagtrail/lagtrail/migrations"
)

// Private starts a PostgreSQL server of t's own from the local binaries,
// with one migrated database, and returns the server and that database's
// URL. The server is stopped at cleanup. Unlike URL's shared server it can
// be halted and resumed (pglocal.Server.Halt), for outage tests. Without
// local binaries t is skipped, or fails when LAGTRAIL_REQUIRE_DB=1.
func Private(t testing.TB) (*pglocal.Server, string) {
	t.Helper()
	ctx := context.Background()
	srv, err := pglocal.StartLocal(ctx, pglocal.Options{})
	if err != nil {
		if os.Getenv(EnvRequireDB) == "1" {
			t.Fatalf("pgtest: private server: %v", err)
		}
		t.Skipf("pgtest: private server: %v\nset %s=1 to make this a failure instead of a skip", err, EnvRequireDB)
	}
	t.Cleanup(func() { _ = srv.Stop(context.Background()) })
	url, err := srv.CreateDatabase(ctx, "lagtrail")
	if err != nil {
		t.Fatalf("pgtest: private server: %v", err)
	}
	if err := migrations.Up(ctx, url); err != nil {
		t.Fatalf("pgtest: private server: migrate: %v", err)
	}
	return srv, url
}
