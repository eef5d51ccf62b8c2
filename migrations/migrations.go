package migrations

import (
	"context"
	"embed"
	"errors"
	"fmt"
	"net/url"
	"strings"

	"github.com/golang-migrate/migrate/v4"
	_ "github.com/golang-migrate/migrate/v4/database/pgx/v5" // registers the pgx5:// driver
	"github.com/golang-migrate/migrate/v4/source/iofs"
	"github.com/jackc/pgx/v5"
)

//go:embed *.sql
var files embed.FS

// Schema is the PostgreSQL schema that holds every lagtrail object.
const Schema = "lagtrail"

// ErrNotURL is returned when the database address is not a postgres:// or
// postgresql:// URL, the only form golang-migrate accepts.
var ErrNotURL = errors.New("database url must start with postgres:// or postgresql://")

// Up applies every migration not yet applied. It is a no-op when the schema
// is current.
func Up(ctx context.Context, databaseURL string) error {
	return run(ctx, databaseURL, func(m *migrate.Migrate) error { return m.Up() })
}

// Down reverts the last steps migrations, or all of them when steps is 0.
// The lagtrail schema itself and its version table remain.
func Down(ctx context.Context, databaseURL string, steps int) error {
	if steps < 0 {
		return fmt.Errorf("migrate down: steps must be >= 0, got %d", steps)
	}
	return run(ctx, databaseURL, func(m *migrate.Migrate) error {
		if steps == 0 {
			return m.Down()
		}
		return m.Steps(-steps)
	})
}

// To migrates up or down to the given version; 0 reverts every migration.
// Tests use it to load data written by an older schema.
func To(ctx context.Context, databaseURL string, version uint) error {
	if version == 0 {
		return Down(ctx, databaseURL, 0)
	}
	return run(ctx, databaseURL, func(m *migrate.Migrate) error { return m.Migrate(version) })
}

// Version reports the applied version, 0 when none is, and whether a failed
// migration left the schema dirty.
func Version(ctx context.Context, databaseURL string) (version uint, dirty bool, err error) {
	err = run(ctx, databaseURL, func(m *migrate.Migrate) error {
		var verr error
		version, dirty, verr = m.Version()
		if errors.Is(verr, migrate.ErrNilVersion) {
			return nil
		}
		return verr
	})
	return version, dirty, err
}

// Latest returns the highest migration version embedded in this binary.
func Latest() (uint, error) {
	entries, err := files.ReadDir(".")
	if err != nil {
		return 0, fmt.Errorf("read embedded migrations: %w", err)
	}
	var latest uint
	for _, e := range entries {
		var v uint
		if _, err := fmt.Sscanf(e.Name(), "%d_", &v); err == nil && v > latest {
			latest = v
		}
	}
	return latest, nil
}

func run(ctx context.Context, databaseURL string, fn func(*migrate.Migrate) error) error {
	driverURL, err := driverURL(databaseURL)
	if err != nil {
		return err
	}
	if err := ensureSchema(ctx, databaseURL); err != nil {
		return err
	}
	src, err := iofs.New(files, ".")
	if err != nil {
		return fmt.Errorf("open embedded migrations: %w", err)
	}
	m, err := migrate.NewWithSourceInstance("iofs", src, driverURL)
	if err != nil {
		return fmt.Errorf("open migrator: %w", err)
	}
	defer m.Close()
	// golang-migrate has no context support; stop it between steps.
	done := make(chan struct{})
	defer close(done)
	go func() {
		select {
		case <-ctx.Done():
			select {
			case m.GracefulStop <- true:
			default:
			}
		case <-done:
		}
	}()
	if err := fn(m); err != nil && !errors.Is(err, migrate.ErrNoChange) {
		return fmt.Errorf("migrate: %w", err)
	}
	return nil
}

// ensureSchema creates the lagtrail schema, which must exist before
// golang-migrate can create its version table inside it.
func ensureSchema(ctx context.Context, databaseURL string) error {
	conn, err := pgx.Connect(ctx, databaseURL)
	if err != nil {
		return fmt.Errorf("connect: %w", err)
	}
	defer conn.Close(context.WithoutCancel(ctx))
	if _, err := conn.Exec(ctx, "CREATE SCHEMA IF NOT EXISTS "+Schema); err != nil {
		return fmt.Errorf("create schema %s: %w", Schema, err)
	}
	return nil
}

// driverURL turns a postgres:// URL into the pgx5:// form golang-migrate's
// pgx/v5 driver registers, with the version table inside the lagtrail schema.
func driverURL(databaseURL string) (string, error) {
	u, err := url.Parse(databaseURL)
	if err != nil || (u.Scheme != "postgres" && u.Scheme != "postgresql") {
		return "", ErrNotURL
	}
	// pgx, like libpq, ends the user info at the first '@', net/url at the
	// last: the rest of such a password would be printed as a host name.
	_, rest, _ := strings.Cut(databaseURL, "://")
	if authority, _, _ := strings.Cut(rest, "/"); strings.Count(authority, "@") > 1 {
		return "", errors.New("the user or password of the database url holds a raw '@' (value not shown); write it as %40")
	}
	u.Scheme = "pgx5"
	q := u.Query()
	q.Set("x-migrations-table", `"`+Schema+`"."schema_migrations"`)
	q.Set("x-migrations-table-quoted", "1")
	u.RawQuery = q.Encode()
	return u.String(), nil
}
