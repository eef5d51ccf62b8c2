package pglocal

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"os"
	"time"

	"github.com/testcontainers/testcontainers-go"
	tcpostgres "github.com/testcontainers/testcontainers-go/modules/postgres"
)

const (
	// dockerProbeTimeout bounds finding and pinging a Docker engine, so a
	// machine with only the docker CLI does not wait.
	dockerProbeTimeout = 2 * time.Second
	// defaultDockerSocket is where a Docker engine listens by default.
	defaultDockerSocket = "/var/run/docker.sock"
)

// startContainer starts a PostgreSQL container when a Docker engine answers.
func startContainer(ctx context.Context, image string, log *slog.Logger) (*Server, error) {
	if err := probeDocker(ctx, log); err != nil {
		return nil, err
	}
	ctr, connStr, err := runContainer(ctx, image, log)
	if err != nil {
		return nil, err
	}
	stop := func(ctx context.Context) error {
		return safely("terminate container", func() error {
			return testcontainers.TerminateContainer(ctr, testcontainers.StopContext(ctx))
		})
	}
	u, err := url.Parse(connStr)
	if err != nil {
		return nil, errors.Join(fmt.Errorf("container connection string: %w", err), stop(context.WithoutCancel(ctx)))
	}
	return &Server{url: u, source: fmt.Sprintf("container %s at %s", image, u.Redacted()), stop: stop}, nil
}

// probeDocker checks, quickly, that a Docker engine answers. testcontainers
// finds the engine the same way it will when starting the container; the
// probe runs in its own goroutine so neither a hang nor a panic inside the
// Docker client can reach the caller.
func probeDocker(ctx context.Context, log *slog.Logger) error {
	ctx, cancel := context.WithTimeout(ctx, dockerProbeTimeout)
	defer cancel()
	result := make(chan error, 1)
	go func() {
		result <- safely("docker probe", func() error {
			// Finds the engine (DOCKER_HOST, ~/.testcontainers.properties,
			// default and rootless sockets) within ctx; fails fast when
			// there is none.
			cli, err := testcontainers.NewDockerClientWithOpts(ctx)
			if err != nil {
				return fmt.Errorf("find docker engine (DOCKER_HOST=%q, %s): %w", os.Getenv("DOCKER_HOST"), socketState(), err)
			}
			_ = cli.Close()
			provider, err := testcontainers.NewDockerProvider(testcontainers.WithLogger(tcLogger{log}))
			if err != nil {
				return fmt.Errorf("docker provider: %w", err)
			}
			// Health pings the engine and closes the provider.
			if err := provider.Health(ctx); err != nil {
				return fmt.Errorf("ping docker engine: %w", err)
			}
			return nil
		})
	}()
	select {
	case err := <-result:
		return err
	case <-ctx.Done():
		return fmt.Errorf("docker engine did not answer within %v", dockerProbeTimeout)
	}
}

// socketState describes the default Docker socket for messages.
func socketState() string {
	if _, err := os.Stat(defaultDockerSocket); err != nil {
		return "no " + defaultDockerSocket
	}
	return defaultDockerSocket + " exists"
}

// runContainer starts the container and returns it with its connection
// string. testcontainers' own panics become errors.
func runContainer(ctx context.Context, image string, log *slog.Logger) (ctr *tcpostgres.PostgresContainer, connStr string, err error) {
	err = safely("start container", func() error {
		args := []string{"postgres"}
		for _, s := range serverSettings {
			args = append(args, "-c", s)
		}
		var runErr error
		ctr, runErr = tcpostgres.Run(ctx, image,
			tcpostgres.WithDatabase("postgres"),
			testcontainers.WithCmd(args...),
			testcontainers.WithLogger(tcLogger{log}),
			tcpostgres.BasicWaitStrategies(),
		)
		if runErr != nil {
			return fmt.Errorf("run %s: %w", image, runErr)
		}
		connStr, runErr = ctr.ConnectionString(ctx, "sslmode=disable")
		if runErr != nil {
			return fmt.Errorf("container connection string: %w", runErr)
		}
		return nil
	})
	if err != nil {
		if ctr != nil {
			err = errors.Join(err, safely("terminate container", func() error { return testcontainers.TerminateContainer(ctr) }))
		}
		return nil, "", err
	}
	return ctr, connStr, nil
}

// safely runs fn, turning a panic into an error.
func safely(what string, fn func() error) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("%s: panic: %v", what, r)
		}
	}()
	return fn()
}

// tcLogger sends testcontainers' messages to a slog.Logger at debug level.
type tcLogger struct {
	log *slog.Logger
}

// Printf implements testcontainers' log.Logger.
func (l tcLogger) Printf(format string, v ...any) {
	l.log.Debug("testcontainers: " + fmt.Sprintf(format, v...))
}
