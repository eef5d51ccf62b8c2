package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"strings"

	"github.com/spf13/cobra"

	"github.com/lagtrail/lagtrail/store"
)

// globals holds what every command shares.
type globals struct {
	stdout, stderr io.Writer
	getenv         func(string) string
	logLevel       string
	logFormat      string
}

func newRootCmd(stdout, stderr io.Writer, getenv func(string) string) *cobra.Command {
	g := &globals{stdout: stdout, stderr: stderr, getenv: getenv}
	root := &cobra.Command{
		Use:           "lagtrail",
		Short:         "Record and query the history of alikafka consumer-group progress",
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.SetOut(stdout)
	root.SetErr(stderr)
	root.PersistentFlags().StringVar(&g.logLevel, "log-level", "info", "log level: debug, info, warn or error")
	root.PersistentFlags().StringVar(&g.logFormat, "log-format", "text", "log format: text or json")
	root.AddCommand(newMigrateCmd(g), newRecordCmd(g), newSimulateCmd(g), newGenerateCmd(g), newDemoCmd(g), newQueryCmd(g), newReportCmd(g), newMaintainCmd(g), newExportCmd(g), newBenchCmd(g), newConfigCmd(g))
	return root
}

// logger builds the process logger on stderr from the global flags.
func (g *globals) logger() (*slog.Logger, error) {
	var level slog.Level
	if err := level.UnmarshalText([]byte(g.logLevel)); err != nil {
		return nil, usagef("--log-level: %q is not one of debug, info, warn, error", g.logLevel)
	}
	opts := &slog.HandlerOptions{Level: level}
	switch strings.ToLower(g.logFormat) {
	case "text":
		return slog.New(slog.NewTextHandler(g.stderr, opts)), nil
	case "json":
		return slog.New(slog.NewJSONHandler(g.stderr, opts)), nil
	default:
		return nil, usagef("--log-format: %q is not text or json", g.logFormat)
	}
}

// openStore opens the store at the database URL chosen from flagURL, the
// environment and file (which may be nil), logging with the global flags.
func (g *globals) openStore(ctx context.Context, flagURL string, file *fileConfig) (*store.Store, *slog.Logger, error) {
	u, err := databaseURL(flagURL, g.getenv, file)
	if err != nil {
		return nil, nil, err
	}
	log, err := g.logger()
	if err != nil {
		return nil, nil, err
	}
	st, err := store.Open(ctx, store.Config{DatabaseURL: u}, log)
	if err != nil {
		return nil, nil, fmt.Errorf("open store: %w", err)
	}
	return st, log, nil
}
