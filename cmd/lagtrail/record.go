package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"path/filepath"
	"strings"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/spf13/cobra"

	"github.com/lagtrail/lagtrail/ingest"
	"github.com/lagtrail/lagtrail/internal/spool"
	"github.com/lagtrail/lagtrail/store"
)

func newRecordCmd(g *globals) *cobra.Command {
	var dbURL, configPath, listen, tokenFile string
	var once, kafkaExporterNames bool
	cmd := &cobra.Command{
		Use:   "record --config FILE",
		Short: "Poll GetConsumerProgress for every configured group and store each poll",
		Long: `record polls every consumer group of the configured targets once per interval
and writes every poll, failed ones included, to PostgreSQL. It runs until
SIGINT or SIGTERM, then finishes in-flight polls and writes and exits 0.

While the database is down or refuses writes, polling goes on: polls wait in
memory and, with data_dir set, in an on-disk spool under it, and are written
in order when the database is back, also after a restart. record starts even
when the database is down if data_dir is set.

With ha.enabled, several record processes with the same config and database
share the groups through leases in the database: each group is polled by
one of them, and the groups of one that dies are taken over.

With --listen it serves Prometheus metrics on /metrics (the recorder's own
and the recorded lag under kafka-lag-exporter's names, and kafka_exporter's
with --kafka-exporter-names),
/healthz (the process runs), /readyz (the database answers and a poll
succeeded in the last three intervals), and the HTTP API and web pages of
"lagtrail serve". A listen address without a host binds to loopback.

With --once it polls every group once and exits: 0 if every poll succeeded,
1 otherwise. Credentials come from the Alibaba Cloud SDK's default chain
(ALIBABA_CLOUD_ACCESS_KEY_ID / ALIBABA_CLOUD_ACCESS_KEY_SECRET /
ALIBABA_CLOUD_SECURITY_TOKEN, profile, credentials file, ECS RAM role).`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			file, err := loadConfig(configPath)
			if err != nil {
				return err
			}
			icfg, err := file.ingestConfig()
			if err != nil {
				return usagef("config %s: %v", configPath, err)
			}
			addr, err := listenAddr(listen)
			if err != nil {
				return err
			}
			token, err := readToken(tokenFile, g.getenv)
			if err != nil {
				return err
			}
			ctx := cmd.Context()
			st, log, err := g.openRecordStore(ctx, dbURL, file)
			if err != nil {
				return err
			}
			defer st.Close()
			if file.DataDir != "" {
				sp, err := openSpool(file, log)
				if err != nil {
					return err
				}
				defer sp.Close()
				icfg.Spool = sp
			} else if !once {
				log.Warn("no data_dir: while the database is down, polls wait in memory only and a restart loses them")
			}
			if file.HA.Enabled {
				icfg.HA.Leases = st
			}
			reg := prometheus.NewRegistry()
			reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
			rec, err := ingest.New(icfg, st, log, reg)
			if err != nil {
				return usagef("config %s: %v", configPath, err)
			}
			defer rec.Close()
			if addr != "" {
				stopHTTP, err := serveRecorderHTTP(ctx, httpConfig{st: st, log: log, reg: reg, token: token, getenv: g.getenv, kafkaExporterNames: kafkaExporterNames}, addr, rec)
				if err != nil {
					return err
				}
				defer stopHTTP()
			}
			if !once {
				log.Info("recording", slog.Int("targets", len(icfg.Targets)), slog.Bool("spool", icfg.Spool != nil), slog.Bool("ha", file.HA.Enabled))
				if err := rec.Run(ctx); err != nil {
					return err
				}
				log.Info("stopped")
				return nil
			}
			res, err := rec.RunOnce(ctx)
			if err != nil {
				return fmt.Errorf("record --once: %w", err)
			}
			if res.Unwritten > 0 {
				where := "lost: no data_dir, so no spool"
				if icfg.Spool != nil {
					where = "in the spool; the next record writes them"
				}
				return exitError{code: exitFailure, msg: fmt.Sprintf("record --once: polled %d groups, but the database did not take %d polls (%s)", res.Groups, res.Unwritten, where)}
			}
			if len(res.Failed) > 0 {
				return exitError{code: exitFailure, msg: fmt.Sprintf("record --once: %d of %d groups failed: %s", len(res.Failed), res.Groups, strings.Join(res.Failed, "; "))}
			}
			fmt.Fprintf(g.stdout, "polled %d groups\n", res.Groups)
			return nil
		},
	}
	cmd.Flags().StringVar(&configPath, "config", "", "config file (required)")
	cmd.Flags().StringVar(&dbURL, "database-url", "", "PostgreSQL URL (default $"+envDatabaseURL+", then database_url of the config file)")
	cmd.Flags().BoolVar(&once, "once", false, "poll every group once and exit: 0 if all polls succeeded, 1 otherwise")
	cmd.Flags().StringVar(&listen, "listen", "", "serve /metrics, /healthz, /readyz, the API and the web pages on this address, e.g. :9464 (loopback) or 0.0.0.0:9464; off when empty")
	cmd.Flags().BoolVar(&kafkaExporterNames, "kafka-exporter-names", false, "with --listen, also export the lag under kafka_exporter's names (kafka_consumergroup_lag, ...)")
	cmd.Flags().StringVar(&tokenFile, "token-file", "", "file holding the bearer token /api/ and /metrics require with --listen (default $"+envAPIToken+"; none: no authentication)")
	return cmd
}

// openRecordStore opens the store for record. With a data_dir, a database
// that cannot be reached is not fatal: record starts and spools.
func (g *globals) openRecordStore(ctx context.Context, flagURL string, file *fileConfig) (*store.Store, *slog.Logger, error) {
	st, log, err := g.openStore(ctx, flagURL, file)
	if err == nil || file.DataDir == "" {
		return st, log, err
	}
	var ue usageError
	if errors.As(err, &ue) || errors.Is(err, store.ErrNotMigrated) || errors.Is(err, store.ErrInvalidConfig) {
		return nil, nil, err
	}
	u, uerr := databaseURL(flagURL, g.getenv, file)
	if uerr != nil {
		return nil, nil, uerr
	}
	log, lerr := g.logger()
	if lerr != nil {
		return nil, nil, lerr
	}
	st, oerr := store.OpenUnchecked(store.Config{DatabaseURL: u}, log)
	if oerr != nil {
		return nil, nil, fmt.Errorf("open store: %w", oerr)
	}
	log.Warn("database unreachable at start; recording into the spool until it answers", slog.Any("err", err))
	return st, log, nil
}

// openSpool opens the spool under the config's data_dir.
func openSpool(file *fileConfig, log *slog.Logger) (*spool.Spool, error) {
	cfg := spool.Config{Dir: filepath.Join(file.DataDir, "spool")}
	if file.Spool.MaxMB != nil {
		cfg.MaxBytes = int64(*file.Spool.MaxMB) << 20
	}
	sp, err := spool.Open(cfg, log)
	if err != nil {
		return nil, fmt.Errorf("open spool: %w", err)
	}
	if st := sp.Stats(); st.Records > 0 {
		log.Info("spool holds polls from before; writing them first", slog.Int("polls", st.Records), slog.Int64("bytes", st.Bytes))
	}
	return sp, nil
}
