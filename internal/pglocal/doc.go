// Package pglocal starts a throwaway PostgreSQL server: a cluster made with
// the local initdb and postgres binaries, or a container started with
// testcontainers-go when a Docker engine answers. The test helper
// internal/pgtest and `lagtrail demo` use it.
//
//	srv, err := pglocal.Start(ctx, pglocal.Options{})
//	if err != nil { ... }   // says what to install, and why each way failed
//	defer srv.Stop(context.WithoutCancel(ctx))
//	url, err := srv.CreateDatabase(ctx, "lagtrail")
//
// Start tries the local binaries first (about a second), then Docker.
// StartLocal and StartContainer try one way each.
//
// A local cluster is made in a new directory lagtrail-pg-* under the
// system temp dir, with initdb and postgres taken from Options.BinDir when
// that is set (and only there), else from PATH, else from the highest
// version under /usr/lib/postgresql/*/bin. As root it runs as the
// "postgres" OS user, which must exist: initdb and postgres refuse root.
// It listens on a random loopback port, with trust authentication for the
// superuser "postgres". If this process dies without calling Stop, Linux
// stops the server (parent-death signal) and the next local start removes
// the directory.
//
// Both kinds run with durability turned off (no fsync, no full page writes,
// minimal WAL): a crash loses the data, which Stop removes anyway. Nothing
// here is meant for data worth keeping.
//
// # Imports
//
// This package may import the standard library, pgx, and testcontainers-go
// with its postgres module, and no lagtrail package. It reads no lagtrail
// configuration: the caller passes what it needs in Options. (testcontainers
// finds the Docker engine from Docker's own settings, such as
// DOCKER_HOST, which error messages name.)
package pglocal
