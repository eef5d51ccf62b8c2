package main

import (
	"fmt"
	"log/slog"
	"strings"

	"github.com/spf13/cobra"

	"github.com/lagtrail/lagtrail/ingest"
)

func newRecordCmd(g *globals) *cobra.Command {
	var dbURL, configPath string
	var once bool
	cmd := &cobra.Command{
		Use:   "record --config FILE",
		Short: "Poll GetConsumerProgress for every configured group and store each poll",
		Long: `record polls every consumer group of the configured targets once per interval
and writes every poll, failed ones included, to PostgreSQL. It runs until
SIGINT or SIGTERM, then finishes in-flight polls and writes and exits 0.

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
			ctx := cmd.Context()
			st, log, err := g.openStore(ctx, dbURL, file)
			if err != nil {
				return err
			}
			defer st.Close()
			rec, err := ingest.New(icfg, st, log, nil)
			if err != nil {
				return usagef("config %s: %v", configPath, err)
			}
			defer rec.Close()
			if !once {
				log.Info("recording", slog.Int("targets", len(icfg.Targets)))
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
	return cmd
}
