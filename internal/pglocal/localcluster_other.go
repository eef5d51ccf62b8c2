//go:build !unix

package pglocal

import (
	"context"
	"errors"
	"log/slog"
)

// startCluster reports that local clusters need a unix system: this
// package runs initdb and postgres as unix processes.
func startCluster(context.Context, string, *slog.Logger, bool, bool) (*Server, error) {
	return nil, errors.New("local clusters are supported on unix systems only")
}
