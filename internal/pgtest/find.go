package pgtest

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
)

// discoverTimeout bounds finding or starting a server, including pulling a
// container image.
const discoverTimeout = 5 * time.Minute

// server is the PostgreSQL server this test binary uses.
type server struct {
	// source says where the server came from, for messages.
	source string
	// adminURL is a postgres:// URL of a database to run CREATE/DROP
	// DATABASE from. It may hold a password: never log it unredacted.
	adminURL *url.URL
	admin    *pgxpool.Pool
	// external is true when the server outlives the test binary, so the
	// template must be dropped at teardown.
	external bool
	// stop shuts down a server this binary started; nil otherwise.
	stop func(context.Context) error
	// version is server_version_num, e.g. 150004.
	version int
	// binDir holds the binaries of a local cluster this binary started,
	// pg_dump among them; "" otherwise.
	binDir string

	tmplOnce sync.Once
	tmplName string
	tmplErr  error
}

var (
	mainCalled atomic.Bool

	serverMu   sync.Mutex
	serverDone bool
	serverVal  *server
	serverErr  error
)

// getServer finds the server on first use and returns the same server, or
// the same error, to every later caller.
func getServer(t testing.TB) (*server, error) {
	serverMu.Lock()
	defer serverMu.Unlock()
	if !serverDone {
		serverDone = true
		if !mainCalled.Load() {
			t.Log("pgtest: pgtest.Main is not called from TestMain; a server started here is only stopped when the test binary exits")
		}
		ctx, cancel := context.WithTimeout(context.Background(), discoverTimeout)
		defer cancel()
		start := time.Now()
		serverVal, serverErr = discover(ctx, t)
		if serverErr == nil {
			t.Logf("pgtest: using %s (ready in %v)", serverVal.source, time.Since(start).Round(time.Millisecond))
		}
	}
	return serverVal, serverErr
}

// attempt records why one way of finding a server did not work.
type attempt struct {
	option string
	err    error
}

// noServerError says that no way of finding a server worked. Tests skip on
// it unless LAGTRAIL_REQUIRE_DB=1.
type noServerError struct {
	attempts []attempt
}

func (e *noServerError) Error() string {
	var b strings.Builder
	b.WriteString("pgtest: no PostgreSQL server for database tests; provide one of:")
	for i, a := range e.attempts {
		fmt.Fprintf(&b, "\n  %d. %s\n     -> %v", i+1, a.option, a.err)
	}
	return b.String()
}

func (e *noServerError) Unwrap() []error {
	errs := make([]error, len(e.attempts))
	for i, a := range e.attempts {
		errs[i] = a.err
	}
	return errs
}

// errNotSet marks an option that was not configured.
var errNotSet = errors.New("not set")

// discover tries each way of getting a server in turn.
func discover(ctx context.Context, t testing.TB) (*server, error) {
	none := &noServerError{}
	options := []struct {
		option string
		try    func(context.Context) (*server, error)
	}{
		{EnvDatabaseURL + "=postgres://user:password@host:5432/postgres (the user needs CREATEDB; PostgreSQL 13+)", fromEnv},
		{"a running Docker engine, for a testcontainers-go PostgreSQL container", fromContainer},
		{"PostgreSQL server binaries (initdb, postgres) on PATH, under /usr/lib/postgresql/*/bin, or in " + EnvPGBinDir + " (e.g. apt-get install postgresql)", fromLocalBinaries},
	}
	for _, o := range options {
		srv, err := o.try(ctx)
		if err == nil {
			return srv, nil
		}
		if !errors.Is(err, errNotSet) {
			t.Logf("pgtest: %s: %v", o.option, err)
		}
		none.attempts = append(none.attempts, attempt{option: o.option, err: err})
	}
	return nil, none
}

// fromEnv uses the server named by LAGTRAIL_TEST_DATABASE_URL.
func fromEnv(ctx context.Context) (*server, error) {
	raw := os.Getenv(EnvDatabaseURL)
	if raw == "" {
		return nil, errNotSet
	}
	u, err := url.Parse(raw)
	if err != nil || (u.Scheme != "postgres" && u.Scheme != "postgresql") {
		// Do not echo the value: it may hold a password.
		return nil, fmt.Errorf("%s is not a postgres:// URL", EnvDatabaseURL)
	}
	srv := &server{source: EnvDatabaseURL + " " + u.Redacted(), adminURL: u, external: true}
	if err := srv.connect(ctx); err != nil {
		return nil, err
	}
	return srv, nil
}

// connect opens the admin pool and checks the server is new enough.
func (s *server) connect(ctx context.Context) error {
	cfg, err := pgxpool.ParseConfig(s.adminURL.String())
	if err != nil {
		return fmt.Errorf("parse admin url %s: %w", s.adminURL.Redacted(), err)
	}
	cfg.MaxConns = 8
	cfg.MinConns = 0
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return fmt.Errorf("connect to %s: %w", s.adminURL.Redacted(), err)
	}
	var version int
	if err := pool.QueryRow(ctx, "SELECT current_setting('server_version_num')::int").Scan(&version); err != nil {
		pool.Close()
		return fmt.Errorf("connect to %s: %w", s.adminURL.Redacted(), err)
	}
	if version < 130000 {
		pool.Close()
		return fmt.Errorf("server %s is version %d; pgtest needs PostgreSQL 13 or later", s.adminURL.Redacted(), version)
	}
	s.admin = pool
	s.version = version
	return nil
}

// teardown drops what this binary left on an external server and stops a
// server it started.
func teardown(ctx context.Context) error {
	serverMu.Lock()
	defer serverMu.Unlock()
	srv := serverVal
	serverVal, serverErr, serverDone = nil, nil, false
	if srv == nil {
		return nil
	}
	var errs []error
	if srv.external {
		errs = append(errs, dropShared(ctx, srv)...)
	}
	if srv.external && srv.tmplName != "" {
		if err := srv.dropDatabase(ctx, srv.tmplName); err != nil {
			errs = append(errs, err)
		}
	}
	if srv.admin != nil {
		srv.admin.Close()
	}
	if srv.stop != nil {
		if err := srv.stop(ctx); err != nil {
			errs = append(errs, fmt.Errorf("stop %s: %w", srv.source, err))
		}
	}
	return errors.Join(errs...)
}
