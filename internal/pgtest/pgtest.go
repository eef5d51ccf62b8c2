package pgtest

import (
	"context"
	"errors"
	"flag"
	"log/slog"
	"os"
	"strconv"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
)

// Environment variables read by this package.
const (
	// EnvDatabaseURL names a postgres:// URL of a server on which the user
	// may create databases. When set it is tried first.
	EnvDatabaseURL = "LAGTRAIL_TEST_DATABASE_URL"
	// EnvRequireDB, when "1", turns "no server found" from a skip into a
	// test failure.
	EnvRequireDB = "LAGTRAIL_REQUIRE_DB"
	// EnvPGBinDir, when set, is the only directory searched for initdb and
	// postgres; PATH and /usr/lib/postgresql are then not searched. Point it
	// at a directory without them to turn the local cluster off.
	EnvPGBinDir = "LAGTRAIL_TEST_PG_BINDIR"
	// EnvPGImage overrides the container image used with testcontainers-go.
	EnvPGImage = "LAGTRAIL_TEST_PG_IMAGE"
)

// cleanupTimeout bounds dropping one test database.
const cleanupTimeout = 30 * time.Second

// minParallel is the fewest parallel tests Main lets a binary run at once
// when -test.parallel is not given.
const minParallel = 8

// Main runs the tests of a package and afterwards stops any PostgreSQL
// server this package started (and removes its temp dir). Use:
//
//	func TestMain(m *testing.M) { pgtest.Main(m) }
//
// Unless -parallel is given, it lets at least 8 parallel tests run at once
// rather than go test's GOMAXPROCS: database tests spend most of their
// time waiting on the server, child processes and timers, so on a 2-core
// machine two slots leave the CPUs idle while tests queue.
func Main(m *testing.M) { MainParallel(m, minParallel) }

// MainParallel is Main letting at least n parallel tests run at once, for
// a package whose tests mostly wait on child processes and timers: with
// too few slots, those that start last wait minutes for one, and the
// package takes as long as its last test's wait plus its run.
func MainParallel(m *testing.M, n int) {
	mainCalled.Store(true)
	raiseParallel(max(n, minParallel))
	code := m.Run()
	if err := teardown(context.Background()); err != nil {
		// A teardown error leaks a server or directory but does not make
		// the tests wrong; report it loudly without failing the run.
		slog.Error("pgtest: teardown", "err", err)
	}
	os.Exit(code)
}

// URL returns the postgres:// URL of a fresh database cloned from a migrated
// template database. The database is dropped at test cleanup. When no server
// can be found it calls t.Skip with a message saying how to provide one —
// unless LAGTRAIL_REQUIRE_DB=1, then t.Fatal.
func URL(t testing.TB) string {
	t.Helper()
	srv := requireServer(t)
	tmpl, err := srv.template(t)
	if err != nil {
		t.Fatalf("pgtest: %v", err)
	}
	return newDatabase(t, srv, tmpl)
}

// Pool is URL plus a *pgxpool.Pool on that database, closed at cleanup.
// Its sessions run with jit off, as the store's do.
func Pool(t testing.TB) (*pgxpool.Pool, string) {
	t.Helper()
	url := URL(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cfg, err := pgxpool.ParseConfig(url)
	if err != nil {
		t.Fatalf("pgtest: parse pool url: %v", err)
	}
	// As lagtrail's store does (store.Open): JIT compiling its
	// aggregate queries costs seconds and saves nothing, and a test that
	// explains or runs the store's SQL on this pool should see what the
	// store gets.
	cfg.ConnConfig.RuntimeParams["jit"] = "off"
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		t.Fatalf("pgtest: open pool: %v", err)
	}
	// Registered after the drop, so it runs before it.
	t.Cleanup(pool.Close)
	if err := pool.Ping(ctx); err != nil {
		t.Fatalf("pgtest: ping pool: %v", err)
	}
	return pool, url
}

// EmptyURL returns the postgres:// URL of a fresh database with NO
// migrations applied, for migration up/down tests. It is dropped at test
// cleanup and follows the same skip rules as URL.
func EmptyURL(t testing.TB) string {
	t.Helper()
	srv := requireServer(t)
	return newDatabase(t, srv, "template0")
}

// requireServer returns the test binary's server, or skips or fails t.
func requireServer(t testing.TB) *server {
	t.Helper()
	srv, err := getServer(t)
	if err == nil {
		return srv
	}
	var none *noServerError
	if !errors.As(err, &none) {
		t.Fatalf("pgtest: %v", err)
	}
	if os.Getenv(EnvRequireDB) == "1" {
		t.Fatalf("%v\n%s=1 is set, so this is a failure, not a skip", err, EnvRequireDB)
	}
	t.Skipf("%v\nset %s=1 to make this a failure instead of a skip", err, EnvRequireDB)
	return nil
}

// newDatabase creates a database for t from template and drops it at cleanup.
func newDatabase(t testing.TB, srv *server, template string) string {
	t.Helper()
	name := databaseName(t.Name())
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := srv.createDatabase(ctx, name, template); err != nil {
		t.Fatalf("pgtest: %v", err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), cleanupTimeout)
		defer cancel()
		if err := srv.dropDatabase(ctx, name); err != nil {
			t.Errorf("pgtest: %v", err)
		}
	})
	return srv.databaseURL(name)
}

// raiseParallel sets -test.parallel to at least n unless the command line
// sets it.
func raiseParallel(n int) {
	if !flag.Parsed() {
		flag.Parse()
	}
	f := flag.Lookup("test.parallel")
	if f == nil {
		return
	}
	given := false
	flag.Visit(func(v *flag.Flag) { given = given || v.Name == f.Name })
	if cur, err := strconv.Atoi(f.Value.String()); given || err != nil || cur >= n {
		return
	}
	_ = f.Value.Set(strconv.Itoa(n)) // an int flag takes any decimal
}
