package pglocal

import (
	"context"
	"errors"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
)

// TestStandbyFollowsThePrimary starts a primary made for replication and a
// hot standby of it, and checks that the standby answers reads, refuses
// writes, and sees what the primary writes after it started.
func TestStandbyFollowsThePrimary(t *testing.T) {
	t.Parallel()
	requireLocalBinaries(t)
	ctx := t.Context()
	primary, err := StartLocal(ctx, Options{Replication: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = primary.Stop(context.Background()) })
	dbURL, err := primary.CreateDatabase(ctx, "replicated")
	if err != nil {
		t.Fatal(err)
	}
	exec := func(u, sql string) error {
		conn, err := pgx.Connect(ctx, u)
		if err != nil {
			return err
		}
		defer conn.Close(context.Background())
		_, err = conn.Exec(ctx, sql)
		return err
	}
	if err := exec(dbURL, "CREATE TABLE t AS SELECT 1 AS v"); err != nil {
		t.Fatal(err)
	}

	standby, err := primary.StartStandby(ctx)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = standby.Stop(context.Background()) })
	if !strings.Contains(standby.Source(), "hot standby") {
		t.Errorf("standby source %q does not say it is a standby", standby.Source())
	}
	su, err := url.Parse(standby.URL())
	if err != nil {
		t.Fatal(err)
	}
	su.Path = "/replicated"
	standbyURL := su.String()

	var inRecovery bool
	conn, err := pgx.Connect(ctx, standbyURL)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(context.Background())
	if err := conn.QueryRow(ctx, "SELECT pg_is_in_recovery()").Scan(&inRecovery); err != nil || !inRecovery {
		t.Fatalf("standby: pg_is_in_recovery() = %v, %v; want true", inRecovery, err)
	}
	var pgErr *pgconn.PgError
	if err := exec(standbyURL, "INSERT INTO t VALUES (2)"); !errors.As(err, &pgErr) || pgErr.Code != "25006" {
		t.Errorf("write on the standby: %v; want SQLSTATE 25006 (read-only transaction)", err)
	}

	// A row written on the primary now reaches the standby. The deadline
	// is far beyond what streaming takes on a loaded machine.
	if err := exec(dbURL, "INSERT INTO t VALUES (3)"); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(2 * time.Minute)
	for {
		var n int
		if err := conn.QueryRow(ctx, "SELECT count(*) FROM t WHERE v = 3").Scan(&n); err != nil {
			t.Fatal(err)
		}
		if n == 1 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the primary's row did not reach the standby in 2 minutes")
		}
		time.Sleep(50 * time.Millisecond)
	}

	if _, err := (&Server{}).StartStandby(ctx); err == nil {
		t.Error("StartStandby on a server without replication succeeded; want an error")
	}
}
