package pgtest

import (
	"context"
	"fmt"
	"net/url"
	"os"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/lagtrail/lagtrail/internal/pglocal"
	"github.com/lagtrail/lagtrail/migrations"
)

// replicaCatchUp bounds the wait for the standby to replay what the primary
// wrote: far longer than streaming a test database takes on a loaded
// machine.
const replicaCatchUp = 5 * time.Minute

// Replica starts a primary and a hot standby of it of t's own, from the
// local binaries, with one migrated database that fill writes on the
// primary, waits until the standby has replayed it, and returns the URLs of
// the database on both. Both servers are stopped at cleanup. Without local
// binaries t is skipped, or fails when LAGTRAIL_REQUIRE_DB=1.
func Replica(t testing.TB, fill func(ctx context.Context, url string) error) (primaryURL, standbyURL string) {
	t.Helper()
	ctx := context.Background()
	fail := func(format string, args ...any) {
		t.Helper()
		t.Fatalf("pgtest: replica: "+format, args...)
	}
	primary, err := pglocal.StartLocal(ctx, pglocal.Options{Replication: true})
	if err != nil {
		if os.Getenv(EnvRequireDB) != "1" {
			t.Skipf("pgtest: replica: start primary: %v\nset %s=1 to make this a failure instead of a skip", err, EnvRequireDB)
		}
		fail("start primary: %v", err)
	}
	t.Cleanup(func() { _ = primary.Stop(context.Background()) })
	primaryURL, err = primary.CreateDatabase(ctx, "lagtrail")
	if err != nil {
		fail("%v", err)
	}
	if err := migrations.Up(ctx, primaryURL); err != nil {
		fail("migrate: %v", err)
	}
	if err := fill(ctx, primaryURL); err != nil {
		fail("fill: %v", err)
	}

	standby, err := primary.StartStandby(ctx)
	if err != nil {
		fail("%v", err)
	}
	t.Cleanup(func() { _ = standby.Stop(context.Background()) })
	u, err := url.Parse(standby.URL())
	if err != nil {
		fail("%v", err)
	}
	u.Path = "/lagtrail"
	standbyURL = u.String()
	if err := waitReplayed(ctx, primaryURL, standbyURL); err != nil {
		fail("%v", err)
	}
	return primaryURL, standbyURL
}

// waitReplayed waits until the standby has replayed the primary's WAL up to
// its position now.
func waitReplayed(ctx context.Context, primaryURL, standbyURL string) error {
	ctx, cancel := context.WithTimeout(ctx, replicaCatchUp)
	defer cancel()
	var lsn string
	if err := queryOne(ctx, primaryURL, `SELECT pg_current_wal_lsn()::text`, &lsn); err != nil {
		return fmt.Errorf("primary's WAL position: %w", err)
	}
	for {
		var done bool
		err := queryOne(ctx, standbyURL, `SELECT pg_last_wal_replay_lsn() >= $1::pg_lsn`, &done, lsn)
		if err == nil && done {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("the standby did not replay the primary's WAL up to %s in %s (last error: %v)", lsn, replicaCatchUp, err)
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// queryOne scans the one value of a one-row query.
func queryOne(ctx context.Context, dbURL, sql string, dst any, args ...any) error {
	conn, err := pgx.Connect(ctx, dbURL)
	if err != nil {
		return err
	}
	defer conn.Close(context.WithoutCancel(ctx))
	return conn.QueryRow(ctx, sql, args...).Scan(dst)
}
