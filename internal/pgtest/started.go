package pgtest

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"os"

	"github.com/lagtrail/lagtrail/internal/pglocal"
)

// fromContainer starts a PostgreSQL container when a Docker engine answers.
func fromContainer(ctx context.Context) (*server, error) {
	ps, err := pglocal.StartContainer(ctx, pglocal.Options{Image: os.Getenv(EnvPGImage), Logger: slog.Default()})
	if err != nil {
		return nil, err
	}
	return adopt(ctx, ps)
}

// fromLocalBinaries creates and starts a throwaway cluster.
func fromLocalBinaries(ctx context.Context) (*server, error) {
	opts := pglocal.Options{Logger: slog.Default()}
	if dir, ok := os.LookupEnv(EnvPGBinDir); ok {
		if dir == "" {
			return nil, fmt.Errorf("%s is set but empty, so no directory is searched", EnvPGBinDir)
		}
		opts.BinDir = dir
	}
	ps, err := pglocal.StartLocal(ctx, opts)
	if err != nil {
		return nil, err
	}
	return adopt(ctx, ps)
}

// adopt makes a server pglocal started the test binary's server, and stops
// it when it cannot be used.
func adopt(ctx context.Context, ps *pglocal.Server) (*server, error) {
	u, err := url.Parse(ps.URL())
	if err != nil {
		return nil, errors.Join(fmt.Errorf("parse server url: %w", err), ps.Stop(context.WithoutCancel(ctx)))
	}
	srv := &server{source: ps.Source(), adminURL: u, stop: ps.Stop, binDir: ps.BinDir()}
	if err := srv.connect(ctx); err != nil {
		return nil, errors.Join(err, ps.Stop(context.WithoutCancel(ctx)))
	}
	return srv, nil
}
