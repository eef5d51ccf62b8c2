package main

import (
	"fmt"
	"strconv"

	"github.com/spf13/cobra"

	"github.com/lagtrail/lagtrail/migrations"
)

func newMigrateCmd(g *globals) *cobra.Command {
	var dbURL, configPath string
	cmd := &cobra.Command{
		Use:   "migrate up|down [N]|version",
		Short: "Apply, revert or show the database schema version",
		Long: `migrate manages lagtrail's schema in PostgreSQL.

  up         apply every pending migration
  down [N]   revert the last N migrations (all of them without N)
  version    print the applied and the latest known version`,
		Args: cobra.RangeArgs(1, 2),
		RunE: func(cmd *cobra.Command, args []string) error {
			file, err := optionalConfig(configPath)
			if err != nil {
				return err
			}
			u, err := databaseURL(dbURL, g.getenv, file)
			if err != nil {
				return err
			}
			ctx := cmd.Context()
			switch args[0] {
			case "up":
				if len(args) > 1 {
					return usagef("migrate up takes no argument")
				}
				if err := migrations.Up(ctx, u); err != nil {
					return err
				}
			case "down":
				steps := 0
				if len(args) > 1 {
					n, err := strconv.Atoi(args[1])
					if err != nil || n < 1 {
						return usagef("migrate down: N must be a whole number >= 1, got %q", args[1])
					}
					steps = n
				}
				if err := migrations.Down(ctx, u, steps); err != nil {
					return err
				}
			case "version":
				if len(args) > 1 {
					return usagef("migrate version takes no argument")
				}
			default:
				return usagef("migrate: unknown action %q; want up, down or version", args[0])
			}
			v, dirty, err := migrations.Version(ctx, u)
			if err != nil {
				return err
			}
			latest, err := migrations.Latest()
			if err != nil {
				return err
			}
			state := ""
			if dirty {
				state = " (dirty: a migration failed half-way; fix it by hand)"
			}
			fmt.Fprintf(g.stdout, "schema version %d of %d%s\n", v, latest, state)
			return nil
		},
	}
	cmd.Flags().StringVar(&dbURL, "database-url", "", "PostgreSQL URL (default $"+envDatabaseURL+", then database_url of --config)")
	cmd.Flags().StringVar(&configPath, "config", "", "config file to take database_url from")
	return cmd
}
