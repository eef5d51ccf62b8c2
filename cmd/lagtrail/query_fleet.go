package main

import (
	"context"
	"time"

	"github.com/spf13/cobra"

	"github.com/lagtrail/lagtrail/query"
)

func newQueryFleetCmd(g *globals) *cobra.Command {
	f := &queryFlags{}
	cmd := &cobra.Command{
		Use:   "fleet",
		Short: "Every group now: status, lag, time lag, rates and drain ETA",
		Long: `fleet prints one row per recorded group (of --region and --instance when
given), as it stands at its last successful poll, in one SQL statement over
the lagtrail.group_status view:

  status            NODATA, OK, WARN, REWIND, STALL or STOP: the worst of the
                    group's partitions, by the rules of "lagtrail query
                    status" over a 15-minute window; NODATA when the last
                    successful poll is more than 3 median poll intervals old
                    or there is none
  partitions        the partitions at that status, when worse than OK
  reason            why, in words
  lag, lag_at       total lag at the last successful poll, and its time
  time_lag_seconds  the largest partition time lag then, and time_lag_kind
  consume_rate, produce_rate, slope
                    messages/s over the 15 minutes before lag_at ("lagtrail
                    query drain --window 15m")
  eta_seconds       lag / -slope; 0 when the lag is no backlog (at most 60 s
                    of production at 1 message/s or more, as in "query
                    drain" and "query top"); empty when it is not draining
  last_poll_at, last_poll_ok, last_error
                    the group's last poll, successful or not

Groups are ordered by region, instance and name.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return runQuery(cmd, g, f, func(ctx context.Context, e *query.Engine, _ parsed, now time.Time) (*table, error) {
				gs, err := e.Fleet(ctx, query.FleetRequest{Region: f.region, Instance: f.instance})
				if err != nil {
					return nil, err
				}
				return fleetTable(gs, now), nil
			})
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&f.dbURL, "database-url", "", "PostgreSQL URL (default $"+envDatabaseURL+", then database_url of --config)")
	fl.StringVar(&f.configPath, "config", "", "config file, for database_url")
	fl.StringVar(&f.region, "region", "", "only the groups of this region")
	fl.StringVar(&f.instance, "instance", "", "only the groups of this instance")
	fl.StringVar(&f.format, "format", "table", "output format: table, csv or json")
	return cmd
}

func fleetTable(gs []query.FleetGroup, now time.Time) *table {
	t := &table{meta: map[string]any{"query": "fleet", "at": now}}
	t.columns = []column{
		{"region", kText}, {"instance", kText}, {"group", kText},
		{"status", kText}, {"partitions", kText}, {"reason", kText},
		{"lag", kCount}, {"lag_at", kTime}, {"time_lag_seconds", kSeconds}, {"time_lag_kind", kText},
		{"consume_rate", kRate}, {"produce_rate", kRate}, {"slope", kRate}, {"eta_seconds", kSeconds},
		{"partition_count", kInt}, {"last_poll_at", kTime}, {"last_poll_ok", kText}, {"last_error", kText},
	}
	for _, r := range gs {
		var lagAt, kind any
		if r.LagAt != nil {
			lagAt = *r.LagAt
		}
		if r.TimeLagKind != "" {
			kind = r.TimeLagKind
		}
		t.add(r.Group.Region, r.Group.InstanceID, r.Group.Group, r.Status, r.Partitions, r.Reason,
			i64(r.Lag), lagAt, f64(r.TimeLag), kind,
			f64(r.ConsumeRate), f64(r.ProduceRate), f64(r.Slope), f64(r.ETA),
			int64(r.PartitionCount), r.LastPollAt, r.LastPollOK, r.LastError)
		if r.Lag != nil && r.ETA == nil {
			t.setHuman("eta_seconds", "never")
		}
	}
	return t
}
