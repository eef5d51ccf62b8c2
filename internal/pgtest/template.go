package pgtest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/lagtrail/lagtrail/migrations"
)

const (
	// templatePrefix starts the name of the migrated template database.
	templatePrefix = "lagtrail_tmpl_"
	// databasePrefix starts the name of every test database.
	databasePrefix = "lagtrail_t_"
	// maxSlug bounds the part of a database name taken from the test name,
	// keeping names under PostgreSQL's 63-byte limit.
	maxSlug = 32
	// sqlstateObjectInUse is raised when the template still has sessions.
	sqlstateObjectInUse = "55006"
	// inUseRetry bounds retrying a clone whose template is still in use.
	inUseRetry = 15 * time.Second
	// templateTimeout bounds creating and migrating the template.
	templateTimeout = 2 * time.Minute
)

// template returns the migrated template database, creating it on first use.
// Every caller gets the same name or the same error.
func (s *server) template(t testing.TB) (string, error) {
	s.tmplOnce.Do(func() {
		ctx, cancel := context.WithTimeout(context.Background(), templateTimeout)
		defer cancel()
		start := time.Now()
		s.tmplName, s.tmplErr = s.createTemplate(ctx)
		if s.tmplErr == nil {
			t.Logf("pgtest: migrated template %s in %v", s.tmplName, time.Since(start).Round(time.Millisecond))
		}
	})
	return s.tmplName, s.tmplErr
}

// createTemplate makes a database, migrates it, and closes it to connections
// so it can be cloned.
func (s *server) createTemplate(ctx context.Context) (string, error) {
	name := templatePrefix + randomSuffix()
	if err := s.createDatabase(ctx, name, "template0"); err != nil {
		return "", fmt.Errorf("create template: %w", err)
	}
	if err := migrations.Up(ctx, s.databaseURL(name)); err != nil {
		return "", errors.Join(
			fmt.Errorf("migrate template %s: %w", name, err),
			s.dropDatabase(context.WithoutCancel(ctx), name))
	}
	// Nobody may connect to it any more: an open session would make every
	// clone fail.
	if _, err := s.admin.Exec(ctx, "ALTER DATABASE "+ident(name)+" WITH ALLOW_CONNECTIONS false"); err != nil {
		return "", errors.Join(
			fmt.Errorf("close template %s to connections: %w", name, err),
			s.dropDatabase(context.WithoutCancel(ctx), name))
	}
	return name, nil
}

// createDatabase creates name as a copy of template, retrying while the
// template still has sessions (a closed connection's backend can linger for
// a moment).
func (s *server) createDatabase(ctx context.Context, name, template string) error {
	sql := "CREATE DATABASE " + ident(name) + " TEMPLATE " + ident(template)
	if !s.external && s.version >= 150000 {
		// Copying files is several times faster than PostgreSQL 15's
		// default WAL_LOG strategy for small databases. It costs two
		// checkpoints, cheap on a throwaway server without fsync but not
		// something to do to a shared one.
		sql += " STRATEGY FILE_COPY"
	}
	deadline := time.Now().Add(inUseRetry)
	wait := 20 * time.Millisecond
	for {
		_, err := s.admin.Exec(ctx, sql)
		if err == nil {
			return nil
		}
		var pgErr *pgconn.PgError
		if !errors.As(err, &pgErr) || pgErr.Code != sqlstateObjectInUse || time.Now().After(deadline) {
			return fmt.Errorf("create database %s from %s: %w", name, template, err)
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("create database %s from %s: %w", name, template, errors.Join(err, ctx.Err()))
		case <-time.After(wait):
		}
		wait = min(2*wait, 500*time.Millisecond)
	}
}

// dropDatabase drops name, ending any sessions still connected to it.
func (s *server) dropDatabase(ctx context.Context, name string) error {
	if _, err := s.admin.Exec(ctx, "DROP DATABASE IF EXISTS "+ident(name)+" WITH (FORCE)"); err != nil {
		return fmt.Errorf("drop database %s: %w", name, err)
	}
	return nil
}

// databaseURL is the admin URL pointed at database name.
func (s *server) databaseURL(name string) string {
	u := *s.adminURL
	u.Path = "/" + name
	u.RawPath = ""
	return u.String()
}

// databaseName makes a unique database name that hints at the test.
func databaseName(testName string) string {
	var b strings.Builder
	underscore := false
	for _, r := range strings.ToLower(testName) {
		if b.Len() >= maxSlug {
			break
		}
		if (r >= 'a' && r <= 'z') || (r >= '0' && r <= '9') {
			b.WriteRune(r)
			underscore = false
		} else if !underscore && b.Len() > 0 {
			b.WriteByte('_')
			underscore = true
		}
	}
	slug := strings.TrimSuffix(b.String(), "_")
	if slug == "" {
		return databasePrefix + randomSuffix()
	}
	return databasePrefix + slug + "_" + randomSuffix()
}

// randomSuffix returns 12 random lowercase hex digits.
func randomSuffix() string {
	var b [6]byte
	_, _ = rand.Read(b[:]) // crypto/rand.Read never fails
	return hex.EncodeToString(b[:])
}

// ident quotes a database name for SQL.
func ident(name string) string {
	return pgx.Identifier{name}.Sanitize()
}
