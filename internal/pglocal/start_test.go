package pglocal

import (
	"context"
	"errors"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

// requireLocalBinaries returns the dir of initdb and postgres, or skips t
// (fails it with LAGTRAIL_REQUIRE_DB=1, as CI sets).
func requireLocalBinaries(t *testing.T) string {
	t.Helper()
	dir, err := findBinDir("")
	if err == nil {
		return dir
	}
	if os.Getenv("LAGTRAIL_REQUIRE_DB") == "1" {
		t.Fatalf("no PostgreSQL server binaries: %v", err)
	}
	t.Skipf("no PostgreSQL server binaries: %v", err)
	return ""
}

// queryOne connects to url and returns the database's name after checking
// that SELECT 1 answers 1.
func queryOne(t *testing.T, url string) string {
	t.Helper()
	conn, err := pgx.Connect(t.Context(), url)
	if err != nil {
		t.Fatalf("connect: %v", err)
	}
	defer conn.Close(context.Background())
	var one int
	var db string
	if err := conn.QueryRow(t.Context(), "SELECT 1, current_database()").Scan(&one, &db); err != nil {
		t.Fatalf("SELECT 1: %v", err)
	}
	if one != 1 {
		t.Fatalf("SELECT 1 = %d", one)
	}
	return db
}

// exercise checks srv answers queries and makes databases, then stops it
// with ctx and checks it is gone.
func exercise(t *testing.T, srv *Server, stopCtx context.Context) {
	t.Helper()
	t.Logf("started %s", srv.Source())
	if strings.Contains(srv.Source(), "password") {
		t.Errorf("Source() = %q shows a password", srv.Source())
	}
	if db := queryOne(t, srv.URL()); db != "postgres" {
		t.Errorf("URL() is for database %q, want postgres", db)
	}
	url, err := srv.CreateDatabase(t.Context(), "Demo DB")
	if err != nil {
		t.Fatalf("CreateDatabase: %v", err)
	}
	if db := queryOne(t, url); db != "Demo DB" {
		t.Errorf("CreateDatabase URL is for database %q, want \"Demo DB\"", db)
	}
	if _, err := srv.CreateDatabase(t.Context(), "Demo DB"); err == nil {
		t.Error("creating the same database twice did not fail")
	}

	if err := srv.Stop(stopCtx); err != nil {
		t.Fatalf("Stop: %v", err)
	}
	if err := srv.Stop(stopCtx); err != nil {
		t.Errorf("second Stop: %v", err)
	}
	if srv.dir != "" {
		if _, err := os.Stat(srv.dir); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("cluster dir %s after Stop: %v, want it gone", srv.dir, err)
		}
	}
	ctx, cancel := context.WithTimeout(t.Context(), 5*time.Second)
	defer cancel()
	if conn, err := pgx.Connect(ctx, srv.URL()); err == nil {
		_ = conn.Close(ctx)
		t.Error("the server still accepts connections after Stop")
	}
}

func TestStart(t *testing.T) {
	t.Parallel()
	requireLocalBinaries(t)
	srv, err := Start(t.Context(), Options{})
	if err != nil {
		t.Fatalf("Start: %v", err)
	}
	t.Cleanup(func() { _ = srv.Stop(context.Background()) })
	if srv.dir == "" {
		t.Fatalf("Start with local binaries gave %s, want a local cluster", srv.Source())
	}
	if !strings.HasPrefix(srv.URL(), "postgres://postgres@127.0.0.1:") || !strings.HasSuffix(srv.URL(), "/postgres?sslmode=disable") {
		t.Errorf("URL() = %q", srv.URL())
	}
	exercise(t, srv, context.Background())
}

// TestStartLocalStopCancelled starts from an explicit BinDir and stops
// with a context already done, which kills the server at once.
func TestStartLocalStopCancelled(t *testing.T) {
	t.Parallel()
	dir := requireLocalBinaries(t)
	srv, err := StartLocal(t.Context(), Options{BinDir: dir})
	if err != nil {
		t.Fatalf("StartLocal: %v", err)
	}
	t.Cleanup(func() { _ = srv.Stop(context.Background()) })
	if !strings.Contains(srv.Source(), dir) {
		t.Errorf("Source() = %q does not name bin dir %s", srv.Source(), dir)
	}
	done, cancel := context.WithCancel(context.Background())
	cancel()
	exercise(t, srv, done)
}

func TestStartContainer(t *testing.T) {
	t.Parallel()
	srv, err := StartContainer(t.Context(), Options{})
	if err != nil {
		t.Skipf("no container: %v", err)
	}
	t.Cleanup(func() { _ = srv.Stop(context.Background()) })
	exercise(t, srv, context.Background())
}

// TestStartNothing checks the one error Start gives when there are no
// binaries and no Docker engine.
func TestStartNothing(t *testing.T) {
	t.Parallel()
	srv, err := Start(t.Context(), Options{BinDir: t.TempDir()})
	if err == nil {
		_ = srv.Stop(context.Background())
		t.Skipf("a Docker engine answered (%s); cannot test the error", srv.Source())
	}
	if !errors.Is(err, ErrNoServer) {
		t.Errorf("error does not wrap ErrNoServer: %v", err)
	}
	msg := err.Error()
	for _, want := range []string{
		"install the PostgreSQL server binaries",
		"apt-get install postgresql",
		"or start a Docker engine",
		"local binaries: bin dir ",
		"no initdb",
		"; docker: ",
	} {
		if !strings.Contains(msg, want) {
			t.Errorf("error does not say %q:\n%s", want, msg)
		}
	}
	t.Logf("error: %v", err)
}
