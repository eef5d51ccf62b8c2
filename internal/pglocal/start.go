package pglocal

import (
	"context"
	"errors"
	"fmt"
)

// ErrNoServer is wrapped by Start's error when neither the local binaries
// nor Docker gave a server.
var ErrNoServer = errors.New("no postgresql server could be started")

// Start starts a throwaway server: a local cluster when the PostgreSQL
// server binaries are found (see StartLocal), else a container when a
// Docker engine answers (see StartContainer). When neither works the error
// wraps ErrNoServer, says what to install, and gives why each way failed.
func Start(ctx context.Context, opts Options) (*Server, error) {
	srv, localErr := StartLocal(ctx, opts)
	if localErr == nil {
		return srv, nil
	}
	if ctx.Err() != nil {
		return nil, localErr
	}
	opts.logger().Debug("pglocal: no local cluster; trying docker", "err", localErr)
	srv, dockerErr := StartContainer(ctx, opts)
	if dockerErr == nil {
		return srv, nil
	}
	return nil, fmt.Errorf("%w: install the PostgreSQL server binaries (Debian/Ubuntu: apt-get install postgresql) or start a Docker engine (local binaries: %w; docker: %w)",
		ErrNoServer, localErr, dockerErr)
}

// StartLocal creates a cluster with the local initdb and postgres in a new
// temp directory and starts it on a free loopback port. It first removes
// directories that earlier processes, since killed, left behind.
func StartLocal(ctx context.Context, opts Options) (*Server, error) {
	binDir, err := findBinDir(opts.BinDir)
	if err != nil {
		return nil, err
	}
	return startCluster(ctx, binDir, opts.logger(), opts.Detach, opts.Replication)
}

// StartContainer runs opts.Image (default DefaultImage) with
// testcontainers-go when a Docker engine answers a ping within two seconds.
func StartContainer(ctx context.Context, opts Options) (*Server, error) {
	return startContainer(ctx, opts.image(), opts.logger())
}
