package pglocal

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"sync"

	"github.com/jackc/pgx/v5"
)

// Server is a running PostgreSQL server that Start, StartLocal or
// StartContainer started. Call Stop when done with it.
type Server struct {
	// url is the superuser's URL of database postgres. It may hold a
	// password: never log it unredacted.
	url    *url.URL
	source string
	// dir is a local cluster's directory; empty for a container.
	dir string
	// binDir holds a local cluster's binaries.
	binDir string
	stop   func(context.Context) error
	// halt and resume stop and restart a local server's process; nil for
	// a container.
	halt, resume func(context.Context) error
	// standby starts a hot standby of a local cluster made with
	// Options.Replication; nil otherwise.
	standby func(context.Context) (*Server, error)

	stopOnce sync.Once
	stopErr  error
}

// URL returns a postgres:// URL for the superuser on database postgres,
// with sslmode=disable. It may hold a password.
func (s *Server) URL() string {
	return s.url.String()
}

// Source describes the server for messages, e.g. "local cluster from
// /usr/lib/postgresql/15/bin on 127.0.0.1:41234 in /tmp/lagtrail-pg-123".
// It holds no password.
func (s *Server) Source() string {
	return s.source
}

// Stop shuts the server down and removes its data: a local cluster's
// directory, or the container. When ctx ends first, a local server is
// killed. Later calls return the first call's result.
func (s *Server) Stop(ctx context.Context) error {
	s.stopOnce.Do(func() { s.stopErr = s.stop(ctx) })
	return s.stopErr
}

// Halt stops a local server's postgres and keeps its data, so that Resume
// starts it again on the same port: a database outage, for tests of what
// clients do meanwhile. A container cannot be halted.
func (s *Server) Halt(ctx context.Context) error {
	if s.halt == nil {
		return errors.New("halt: only a local cluster can be halted")
	}
	return s.halt(ctx)
}

// Resume starts a server that Halt stopped and waits until it accepts
// connections.
func (s *Server) Resume(ctx context.Context) error {
	if s.resume == nil {
		return errors.New("resume: only a local cluster can be resumed")
	}
	return s.resume(ctx)
}

// StartStandby starts a hot standby of this server, from the local binaries:
// a base backup streamed with pg_basebackup, then postgres on another free
// loopback port, following the primary by streaming replication. It needs a
// local cluster started with Options.Replication. Stop the standby as any
// server.
func (s *Server) StartStandby(ctx context.Context) (*Server, error) {
	if s.standby == nil {
		return nil, errors.New("start standby: only a local cluster started with Options.Replication has standbys")
	}
	return s.standby(ctx)
}

// DataDir returns a local cluster's data directory, for pg_ctl; "" for a
// container.
func (s *Server) DataDir() string {
	if s.dir == "" {
		return ""
	}
	return filepath.Join(s.dir, "data")
}

// BinDir returns the directory of a local cluster's binaries (initdb,
// postgres, pg_dump, ...); "" for a container.
func (s *Server) BinDir() string {
	return s.binDir
}

// StopCommand returns a shell command that stops a local cluster from
// another process, for a server started with Options.Detach; "" for a
// container. As root the cluster runs as the postgres user, and the
// command says so.
func (s *Server) StopCommand() string {
	if s.dir == "" {
		return ""
	}
	stop := filepath.Join(s.binDir, "pg_ctl") + " -D " + s.DataDir() + " stop"
	if os.Geteuid() == 0 {
		stop = "su " + runAsUser + " -s /bin/sh -c '" + stop + "'"
	}
	return stop + " && rm -rf " + s.dir
}

// CreateDatabase creates an empty database called name and returns the
// superuser's postgres:// URL for it.
func (s *Server) CreateDatabase(ctx context.Context, name string) (string, error) {
	conn, err := pgx.Connect(ctx, s.URL())
	if err != nil {
		return "", fmt.Errorf("connect to %s: %w", s.url.Redacted(), err)
	}
	defer conn.Close(context.WithoutCancel(ctx))
	if _, err := conn.Exec(ctx, "CREATE DATABASE "+pgx.Identifier{name}.Sanitize()); err != nil {
		return "", fmt.Errorf("create database %s: %w", name, err)
	}
	u := *s.url
	u.Path = "/" + name
	u.RawPath = ""
	return u.String(), nil
}
