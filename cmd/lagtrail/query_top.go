package main

import (
	"context"
	"fmt"
	"time"

	"github.com/spf13/cobra"

	"github.com/lagtrail/lagtrail/internal/cliflag"
	"github.com/lagtrail/lagtrail/query"
	"github.com/lagtrail/lagtrail/store"
)

func newQueryTopCmd(g *globals) *cobra.Command {
	f := &queryFlags{}
	var by string
	var n int
	cmd := &cobra.Command{
		Use:   "top",
		Short: "Rank every group by lag, lag growth, time lag, drain ETA or stall over a window",
		Long: `top ranks every recorded group with a poll in the window [--at - --window,
--at) by one figure, computed in PostgreSQL from the hourly rollups, and prints
the first -n with the other figures as context and each group's status at --at:

  lag                   total lag (messages) at the group's last poll in the window
  lag_growth            that lag minus the lag at its first poll (messages)
  time_lag_max_seconds  the largest time lag in the window; empty (hidden) when
                        the API hides the group's timestamps; ranked last
  eta_seconds           seconds to drain the lag at the window's net rate,
                        lag / (consume_rate - produce_rate); empty (never) when
                        the lag is not draining, which ranks first; 0 when
                        the lag is no backlog (at most 60 s of production),
                        which ranks last
  stall_seconds         the longest time one partition spent with lag and no
                        consumer progress in the window (stalled_partitions:
                        how many stalled at all, stall_partition: the longest)

The rollups are hourly: the window starts at the hour of --at - --window, and
an hour not over by --at is read only if it holds no poll at or after --at (with
--at now, the current hour as far as it is rolled up). lag_at says when the lag
was sampled. status is the group's Burrow-style status at --at, as "lagtrail
query status" evaluates it.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			var req query.TopRequest
			f.check = func(now time.Time) error {
				at, err := query.ParseTime(f.at, now)
				if err != nil {
					return usagef("--at: %v", err)
				}
				req = query.TopRequest{By: store.TopBy(by), N: n, Window: f.window, At: at, Region: f.region, Instance: f.instance}
				if err := req.Validate(); err != nil {
					return usageError{err}
				}
				return nil
			}
			return runQuery(cmd, g, f, func(ctx context.Context, e *query.Engine, _ parsed, _ time.Time) (*table, error) {
				top, err := e.Top(ctx, req)
				if err != nil {
					return nil, err
				}
				return topTable(top), nil
			})
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&f.dbURL, "database-url", "", "PostgreSQL URL (default $"+envDatabaseURL+", then database_url of --config)")
	fl.StringVar(&f.configPath, "config", "", "config file, for database_url")
	fl.StringVar(&f.region, "region", "", "rank only the groups of this region")
	fl.StringVar(&f.instance, "instance", "", "rank only the groups of this instance")
	fl.StringVar(&f.format, "format", "table", "output format: table, csv or json")
	fl.StringVar(&by, "by", string(store.TopByLag), "figure to rank by: lag, growth, time-lag, eta or stall")
	fl.IntVarP(&n, "limit", "n", query.DefaultTopN, fmt.Sprintf("how many groups to print, 1 to %d", store.MaxTopLimit))
	cliflag.DurationVar(fl, &f.window, "window", query.DefaultTopWindow, "length of the window ending at --at (at least 1h)")
	fl.StringVar(&f.at, "at", "now", "end of the window: RFC3339, a date (midnight UTC), now, or relative (-1h)")
	return cmd
}

// topFigures are the figure columns of top, in the order they follow the
// ranked one.
var topFigures = []struct {
	by  store.TopBy
	col column
}{
	{store.TopByLag, column{"lag", kCount}},
	{store.TopByGrowth, column{"lag_growth", kCount}},
	{store.TopByTimeLag, column{"time_lag_max_seconds", kSeconds}},
	{store.TopByETA, column{"eta_seconds", kSeconds}},
	{store.TopByStall, column{"stall_seconds", kSeconds}},
}

// topTable prints the ranked groups: rank and names, the figure ranked by,
// the other figures, then stall details, status and when the lag was read.
func topTable(top *query.Top) *table {
	t := &table{meta: map[string]any{
		"query": "top", "by": string(top.By), "from": top.From, "at": top.At,
		"window_seconds": top.Window.Seconds(), "status_window_seconds": top.StatusWindow.Seconds(),
	}}
	order := make([]int, 0, len(topFigures))
	for i, fg := range topFigures {
		if fg.by == top.By {
			order = append([]int{i}, order...)
		} else {
			order = append(order, i)
		}
	}
	t.columns = []column{{"rank", kInt}, {"region", kText}, {"instance", kText}, {"group", kText}}
	for _, i := range order {
		t.columns = append(t.columns, topFigures[i].col)
	}
	t.columns = append(t.columns, column{"stalled_partitions", kInt}, column{"stall_partition", kText},
		column{"status", kText}, column{"lag_at", kTime})
	for _, r := range top.Rows {
		figures := map[store.TopBy]any{
			store.TopByLag: r.Lag, store.TopByGrowth: r.Growth, store.TopByTimeLag: f64(r.TimeLagMax),
			store.TopByETA: f64(r.ETA), store.TopByStall: f64(r.Stall),
		}
		cells := []any{int64(r.Rank), r.Group.Region, r.Group.InstanceID, r.Group.Group}
		for _, i := range order {
			cells = append(cells, figures[topFigures[i].by])
		}
		var stallPart any
		if r.StallTopic != "" {
			stallPart = fmt.Sprintf("%s/%d", r.StallTopic, r.StallPartition)
		}
		cells = append(cells, int64(r.StalledPartitions), stallPart, r.Status.String(), r.LagAt)
		t.add(cells...)
		if r.TimeLagMax == nil {
			t.setHuman("time_lag_max_seconds", "hidden")
		}
		if r.ETA == nil {
			t.setHuman("eta_seconds", "never")
		}
	}
	return t
}
