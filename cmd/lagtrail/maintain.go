package main

import (
	"fmt"
	"strings"
	"time"

	"github.com/spf13/cobra"
)

func newMaintainCmd(g *globals) *cobra.Command {
	var dbURL, configPath string
	cmd := &cobra.Command{
		Use:   "maintain [--config FILE] [--database-url URL]",
		Short: "Run storage upkeep once: make partitions ahead, refresh rollups, drop expired data",
		Long: `maintain does what record does every storage.upkeep_interval: it makes the
daily partitions for today and storage.partitions_ahead_days days after (and
the monthly partitions of the hourly rollups), brings the hourly and daily
rollups up to date, and drops whole partitions older than their tier's
retention: raw days after storage.raw_retention_days, hourly rollup months
after storage.hourly_retention_days. Daily rollups are kept.

Only one process per database does upkeep. If a running recorder holds the
upkeep lock, maintain says so and exits 0 without doing anything: the recorder
does it.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			file, err := optionalConfig(configPath)
			if err != nil {
				return err
			}
			up, err := file.upkeepConfig()
			if err != nil {
				return usagef("config %s: %v", configPath, err)
			}
			ctx := cmd.Context()
			st, _, err := g.openStore(ctx, dbURL, file)
			if err != nil {
				return err
			}
			defer st.Close()
			res, err := st.Upkeep(ctx, up, time.Now().UTC())
			if err != nil {
				return err
			}
			if !res.Leader {
				fmt.Fprintln(g.stdout, "upkeep skipped: another lagtrail process holds the upkeep lock and does it")
				return nil
			}
			dropped := "none"
			if len(res.Dropped) > 0 {
				dropped = strings.Join(res.Dropped, ", ")
			}
			fmt.Fprintf(g.stdout, "upkeep done: %d partitions created; %d rollup hours refreshed; %d groups' now-state refreshed; dropped: %s\n",
				res.Created, res.Rollups.Hours, res.Now.Groups, dropped)
			return nil
		},
	}
	cmd.Flags().StringVar(&dbURL, "database-url", "", "PostgreSQL URL (default $"+envDatabaseURL+", then database_url of --config)")
	cmd.Flags().StringVar(&configPath, "config", "", "config file, for database_url and storage settings")
	return cmd
}
