package pglocal

import "log/slog"

// DefaultImage is the container image StartContainer runs when
// Options.Image is empty.
const DefaultImage = "postgres:16-alpine"

// Options say how to start a server. The zero value is ready to use.
type Options struct {
	// BinDir, when not empty, is the only directory searched for initdb
	// and postgres. When empty they are looked for on PATH, then under
	// /usr/lib/postgresql/*/bin (highest version first).
	BinDir string
	// Image is the container image for StartContainer; empty means
	// DefaultImage.
	Image string
	// Detach lets a local cluster outlive this process: without it, Linux
	// stops the server when this process dies. Stop still stops it; the
	// caller that skips Stop must tell the user how (see Server.DataDir).
	Detach bool
	// Logger receives debug records, testcontainers' messages among them.
	// Nil discards them.
	Logger *slog.Logger
	// Replication makes a local cluster that can feed hot standbys
	// (Server.StartStandby): WAL level replica, with WAL senders.
	Replication bool
}

// image returns the container image to run.
func (o Options) image() string {
	if o.Image == "" {
		return DefaultImage
	}
	return o.Image
}

// logger returns the logger to use, never nil.
func (o Options) logger() *slog.Logger {
	if o.Logger == nil {
		return slog.New(slog.DiscardHandler)
	}
	return o.Logger
}

// settings returns the server settings of a local cluster: serverSettings,
// with WAL for streaming replication when replication is set.
func settings(replication bool) []string {
	if !replication {
		return serverSettings
	}
	out := make([]string, 0, len(serverSettings))
	for _, s := range serverSettings {
		switch s {
		case "wal_level=minimal":
			s = "wal_level=replica"
		case "max_wal_senders=0":
			s = "max_wal_senders=4"
		}
		out = append(out, s)
	}
	return out
}

// serverSettings make a throwaway server fast; durability does not matter.
// JIT is off for every session, as lagtrail's store turns it off for its
// own: compiling the schema's aggregate queries costs seconds and saves
// nothing, also for the views and dashboard queries tests run directly.
var serverSettings = []string{
	"jit=off",
	"fsync=off",
	"synchronous_commit=off",
	"full_page_writes=off",
	"max_connections=200",
	"wal_level=minimal",
	"max_wal_senders=0",
	"autovacuum=off",
	"shared_buffers=64MB",
	"checkpoint_timeout=1h",
	"max_wal_size=4GB",
	"log_min_messages=warning",
	"log_checkpoints=off",
}
