package main

import (
	"fmt"
	"time"

	"github.com/spf13/cobra"

	"github.com/lagtrail/lagtrail/internal/scenario"
	"github.com/lagtrail/lagtrail/query"
)

func newGenerateCmd(g *globals) *cobra.Command {
	var dbURL, configPath, scn, startFlag, toFlag string
	cmd := &cobra.Command{
		Use:   "generate --scenario NAME|FILE",
		Short: "Write a scenario's history straight into the database",
		Long: `generate runs a simulator scenario from --start to --to and writes every
poll record would have stored had it polled the simulated fleet at the
scenario's poll_interval: the same ids, offsets, timestamps and failed polls.
It then brings the hourly and daily rollups up to date.

--scenario takes a bundled scenario (incident, quiet, capacity) or a YAML
file. --start is the scenario's time zero: incidents happen at offsets from
it. Its default, -7d, is midnight UTC seven days ago, which is also what
simulate defaults to, so "lagtrail simulate" continues generated history
live. Writing history twice writes it once: polls are identified by group
and time.`,
		Example: `  lagtrail generate --scenario incident --database-url postgres://localhost/lagtrail
  lagtrail generate --scenario ./my-fleet.yaml --start 2025-03-03T00:00:00Z --to +30d`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if !cmd.Flag("log-level").Changed {
				g.logLevel = "warn" // partition creation, day by day, is not news here
			}
			now := time.Now().UTC()
			m, err := scenarioModel(scn, startFlag, now)
			if err != nil {
				return err
			}
			start := m.Start()
			to, err := query.ParseTime(toFlag, start)
			if err != nil {
				return usagef("--to: %v", err)
			}
			if toFlag == "now" {
				to = now
			}
			if !to.After(start) {
				return usagef("--to %s is not after --start %s", to.Format(time.RFC3339), start.Format(time.RFC3339))
			}
			if to.Sub(start) > 400*24*time.Hour {
				return usagef("--to: at most 400 days of history, got %s", to.Sub(start).Round(time.Hour))
			}
			file, err := optionalConfig(configPath)
			if err != nil {
				return err
			}
			ctx := cmd.Context()
			st, _, err := g.openStore(ctx, dbURL, file)
			if err != nil {
				return err
			}
			defer st.Close()
			line := newStatusLine(g.stderr)
			began := time.Now()
			stats, err := m.WriteHistory(ctx, st, start, to, line.show)
			if err != nil {
				return err
			}
			line.done("")
			fmt.Fprintf(g.stdout, "wrote %s polls (%s failed) with %s samples of %d groups from %s to %s in %s; %d rollup hours refreshed\n",
				thousands(stats.Polls), thousands(stats.Failed), thousands(stats.Samples), len(m.Groups()),
				start.Format(time.RFC3339), to.Format(time.RFC3339), time.Since(began).Round(100*time.Millisecond), stats.Hours)
			return nil
		},
	}
	cmd.Flags().StringVar(&scn, "scenario", "", "bundled scenario (incident, quiet, capacity) or scenario YAML file (required)")
	cmd.Flags().StringVar(&startFlag, "start", "-7d", "the scenario's time zero: RFC3339 or relative (-7d = midnight UTC 7 days ago)")
	cmd.Flags().StringVar(&toFlag, "to", "now", "end of the history: RFC3339, now, or relative to --start (+30d)")
	cmd.Flags().StringVar(&dbURL, "database-url", "", "PostgreSQL URL (default $"+envDatabaseURL+", then database_url of --config)")
	cmd.Flags().StringVar(&configPath, "config", "", "config file to take database_url from")
	_ = cmd.MarkFlagRequired("scenario")
	return cmd
}

// scenarioModel is loadScenario and scenario.New from the flags.
func scenarioModel(ref, startFlag string, now time.Time) (*scenario.Model, error) {
	s, err := loadScenario(ref)
	if err != nil {
		return nil, err
	}
	start, err := scenarioStart(startFlag, now)
	if err != nil {
		return nil, err
	}
	m, err := scenario.New(s, start)
	if err != nil {
		return nil, usagef("%v", err)
	}
	return m, nil
}
