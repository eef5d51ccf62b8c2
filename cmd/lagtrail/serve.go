package main

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/spf13/cobra"

	"github.com/lagtrail/lagtrail/internal/cliflag"
)

// serveFlags are the flags of serve.
type serveFlags struct {
	listen, dbURL, configPath, tokenFile string
	timeout                              time.Duration
	kafkaExporterNames                   bool
}

func newServeCmd(g *globals) *cobra.Command {
	f := &serveFlags{}
	cmd := &cobra.Command{
		Use:   "serve [--listen 127.0.0.1:8080] [--database-url URL] [--token-file FILE]",
		Short: "Serve the HTTP API, the web pages and the lag metrics",
		Long: `serve answers over HTTP from the recorded history, until SIGINT or SIGTERM:

  /                 the fleet: every group's status, lag, time lag and ETA
  /group?group=G    a group's lag by partition, rates, time lag and status
  /incident?group=G the incident report of a window
  /api/v1/NAME      the query and report commands as JSON or CSV: fleet,
                    lag, rates, drain, status, events, top, skew, capacity,
                    incident and export, with the commands' flags as query
                    parameters (/api/v1/openapi.json describes them)
  /metrics          the recorded lag as kafka-lag-exporter names it (and as
                    kafka_exporter does, with --kafka-exporter-names), and
                    the server's own metrics
  /healthz, /readyz the process runs; the database answers

It binds to loopback unless --listen names another address. With a token
(--token-file, or $` + envAPIToken + `) /api/ and /metrics require the header
"Authorization: Bearer TOKEN"; the pages ask for it. "lagtrail record
--listen" serves the same.`,
		Example: `  lagtrail serve --database-url postgres://localhost/lagtrail
  curl 'http://127.0.0.1:8080/api/v1/lag?group=payments-ledger&from=-6h&format=csv'`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error { return runServe(cmd, g, f) },
	}
	fl := cmd.Flags()
	fl.StringVar(&f.listen, "listen", "127.0.0.1:8080", "address to serve on; a missing host means loopback")
	fl.StringVar(&f.dbURL, "database-url", "", "PostgreSQL URL (default $"+envDatabaseURL+", then database_url of --config)")
	fl.StringVar(&f.configPath, "config", "", "config file, for database_url")
	fl.StringVar(&f.tokenFile, "token-file", "", "file holding the bearer token /api/ and /metrics require (default $"+envAPIToken+"; none: no authentication)")
	cliflag.DurationVar(fl, &f.timeout, "request-timeout", defaultRequestTimeout, "longest an API request may run")
	fl.BoolVar(&f.kafkaExporterNames, "kafka-exporter-names", false, "also export the lag under kafka_exporter's names (kafka_consumergroup_lag, kafka_consumergroup_lag_sum, ...)")
	return cmd
}

func runServe(cmd *cobra.Command, g *globals, f *serveFlags) error {
	addr, err := listenAddr(f.listen)
	if err != nil {
		return err
	}
	if addr == "" {
		return usagef("--listen must name an address, e.g. 127.0.0.1:8080")
	}
	if f.timeout <= 0 {
		return usagef("--request-timeout must be positive, got %s", f.timeout)
	}
	token, err := readToken(f.tokenFile, g.getenv)
	if err != nil {
		return err
	}
	file, err := optionalConfig(f.configPath)
	if err != nil {
		return err
	}
	ctx := cmd.Context()
	st, log, err := g.openStore(ctx, f.dbURL, file)
	if err != nil {
		return err
	}
	defer st.Close()
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	stop, bound, err := listenHandler(ctx, httpConfig{
		st: st, log: log, reg: reg, token: token, timeout: f.timeout, getenv: g.getenv, kafkaExporterNames: f.kafkaExporterNames,
		ready: func(ctx context.Context) string { return databaseReady(ctx, st) },
	}, addr)
	if err != nil {
		return err
	}
	defer stop()
	log.Info("serving", slog.String("addr", bound), slog.String("url", "http://"+bound+"/"), slog.Bool("token", token != ""))
	fmt.Fprintf(g.stderr, "lagtrail: serving on http://%s/\n", bound)
	<-ctx.Done()
	log.Info("stopping")
	return nil
}
