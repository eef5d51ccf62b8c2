// Package pgtest gives every database test a fresh PostgreSQL database with
// lagtrail's schema already applied.
//
// A test package wires it up once:
//
//	func TestMain(m *testing.M) { pgtest.Main(m) }
//
// and each test then asks for its own database:
//
//	url := pgtest.URL(t)            // migrated database, dropped at cleanup
//	pool, url := pgtest.Pool(t)     // the same plus a pgxpool.Pool
//	url := pgtest.EmptyURL(t)       // database without migrations
//	url := pgtest.Shared(t, key, fill) // filled once per binary; read only
//
// The first request in a test binary finds a server, trying in order:
//
//  1. LAGTRAIL_TEST_DATABASE_URL, a postgres:// URL of a server on which the
//     user may CREATE DATABASE (PostgreSQL 13 or later).
//  2. A container started with testcontainers-go, when a Docker engine
//     answers a ping within a few seconds. LAGTRAIL_TEST_PG_IMAGE overrides
//     the image (default postgres:16-alpine).
//  3. A throwaway cluster made with the local initdb and postgres binaries,
//     looked up in LAGTRAIL_TEST_PG_BINDIR when that is set (and only
//     there), else on PATH, else under /usr/lib/postgresql/*/bin (highest
//     version). As root the cluster runs as the "postgres" OS user. It
//     listens on a random loopback port with durability turned off, and Main
//     stops it and removes its directory. If the test binary is killed, the
//     kernel stops the server (Linux parent-death signal) and the next run
//     removes the directory.
//
// It then creates one template database, lagtrail_tmpl_<random>, and migrates
// it once; every URL call clones it with CREATE DATABASE ... TEMPLATE, which
// takes milliseconds. Test databases are dropped WITH (FORCE) at cleanup.
//
// Shared databases are filled once per binary. On a local cluster they are
// also dumped with pg_dump to a cache directory (LAGTRAIL_TEST_CACHE, by
// default lagtrail-testcache-<uid> under the system temp dir; "off" turns
// it off), keyed by the Shared key and a hash of the module's source files:
// the other test binaries of a run restore the dump instead of filling
// again, waiting on a file lock while one of them fills. Dumps of other
// source are removed after an hour unused.
//
// Main lets at least 8 parallel tests run at once unless -parallel is
// given: database tests mostly wait, so GOMAXPROCS slots leave a 2-core
// machine idle. MainParallel lets a package whose tests wait on child
// processes for minutes ask for more.
//
// When no server can be found the test is skipped with a message naming the
// three options and why each failed; with LAGTRAIL_REQUIRE_DB=1 it fails
// instead (use that in CI).
//
// Starting a container or a local cluster is left to internal/pglocal.
//
// This package may import the standard library, pgx, lagtrail/internal/pglocal
// and lagtrail/migrations, and nothing else. Only test code may import it.
package pgtest
