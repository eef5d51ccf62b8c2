package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"slices"
	"strconv"
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
	// shared, when set, is the store every reading command uses instead of
	// opening its own: the HTTP API runs the query and report commands on
	// the server's one pool. log goes with it.
	shared    *store.Store
	sharedLog *slog.Logger
}

func newRootCmd(stdout, stderr io.Writer, getenv func(string) string) *cobra.Command {
	return newRootCmdWith(&globals{stdout: stdout, stderr: stderr, getenv: getenv})
}

// newRootCmdWith returns the command tree sharing g: the HTTP API builds
// one per request, with the request's writer and the server's store.
func newRootCmdWith(g *globals) *cobra.Command {
	root := &cobra.Command{
		Use:           "lagtrail",
		Short:         "Record and query the history of alikafka consumer-group progress",
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.SetOut(g.stdout)
	root.SetErr(g.stderr)
	root.PersistentFlags().StringVar(&g.logLevel, "log-level", "info", "log level: debug, info, warn or error")
	root.PersistentFlags().StringVar(&g.logFormat, "log-format", "text", "log format: text or json")
	root.AddCommand(newMigrateCmd(g), newRecordCmd(g), newSimulateCmd(g), newGenerateCmd(g), newDemoCmd(g), newQueryCmd(g), newReportCmd(g), newMaintainCmd(g), newExportCmd(g), newBenchCmd(g), newConfigCmd(g), newServeCmd(g))
	guardGroups(root)
	return root
}

// guardGroups makes every command under c (c included) that only groups
// others refuse an argument that names none of them, with exit status 2:
// left to cobra, "lagtrail query lags" prints the help and exits 0. Such a
// command prints its help when given no argument, as before.
func guardGroups(c *cobra.Command) {
	for _, sub := range c.Commands() {
		guardGroups(sub)
	}
	if !c.HasSubCommands() || c.Runnable() {
		return
	}
	c.SuggestionsMinimumDistance = 2
	c.Args = unknownCommand
	c.RunE = func(cmd *cobra.Command, _ []string) error { return cmd.Help() }
	// A flag of the command meant ("lagtrail query lags --window 7d")
	// fails to parse before the arguments are checked: name the command.
	c.SetFlagErrorFunc(func(cmd *cobra.Command, err error) error {
		if args := cmd.Flags().Args(); cmd.HasSubCommands() && len(args) > 0 {
			return unknownCommand(cmd, args)
		}
		return err
	})
}

// unknownCommand refuses args, given to a command that only groups others,
// naming the first and the subcommands it is near.
func unknownCommand(cmd *cobra.Command, args []string) error {
	if len(args) == 0 {
		return nil
	}
	var near []string
	for _, s := range cmd.SuggestionsFor(args[0]) {
		if q := strconv.Quote(s); !slices.Contains(near, q) {
			near = append(near, q)
		}
	}
	if len(near) == 0 {
		return usagef("unknown command %q for %q; see %s --help", args[0], cmd.CommandPath(), cmd.CommandPath())
	}
	return usagef("unknown command %q for %q; did you mean %s?", args[0], cmd.CommandPath(), orList(near))
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

// readStore returns the store a reading command (query, report, export)
// uses, and the function that releases it: the shared store of the HTTP
// API, which stays open, or one opened at the URL chosen from flagURL, the
// environment and file.
func (g *globals) readStore(ctx context.Context, flagURL string, file *fileConfig) (*store.Store, *slog.Logger, func(), error) {
	if g.shared != nil {
		return g.shared, g.sharedLog, func() {}, nil
	}
	st, log, err := g.openStore(ctx, flagURL, file)
	if err != nil {
		return nil, nil, nil, err
	}
	return st, log, st.Close, nil
}
