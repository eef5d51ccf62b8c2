package main

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/lagtrail/lagtrail/internal/cliflag"
	"github.com/lagtrail/lagtrail/query"
	"github.com/lagtrail/lagtrail/store"
)

// historyCmd completes cmd as a command that prints History as render's
// table.
func historyCmd(g *globals, cmd *cobra.Command, render func(*query.History) *table) *cobra.Command {
	f := &queryFlags{}
	cmd.Args = cobra.NoArgs
	cmd.RunE = func(cmd *cobra.Command, _ []string) error {
		return runQuery(cmd, g, f, func(ctx context.Context, e *query.Engine, p parsed, _ time.Time) (*table, error) {
			tier := query.Tier(f.tier)
			if tier == "auto" {
				tier = query.TierAuto
			}
			h, err := e.History(ctx, query.Range{Selection: p.sel, From: p.from, To: p.to, Step: f.step, By: p.by, Tier: tier, Explain: f.explain})
			if err != nil {
				return nil, err
			}
			if f.explain {
				return planTable(h), nil
			}
			return render(h), nil
		})
	}
	f.register(cmd, true, true, true)
	cmd.Flags().StringVar(&f.tier, "tier", "auto", "where buckets are computed: auto (rollups for hour-aligned steps over 24h or more), raw or rollup")
	cmd.Flags().BoolVar(&f.explain, "explain", false, "print PostgreSQL's plan of the query, run under EXPLAIN (ANALYZE, BUFFERS), instead of its rows")
	f.check = func(time.Time) error {
		switch f.tier {
		case "auto", "raw", "rollup":
			return nil
		}
		return usagef("--tier must be auto, raw or rollup, got %q", f.tier)
	}
	return cmd
}

// planTable prints the plan of an explained History: one row per line of
// EXPLAIN's text, after the tier and buckets it read.
func planTable(h *query.History) *table {
	t := &table{meta: map[string]any{"query": "explain", "tier": string(h.Tier), "from": h.From, "to": h.To, "step_seconds": h.Step.Seconds()},
		columns: []column{{"plan", kText}}}
	t.add(fmt.Sprintf("tier %s, %d buckets of %s from %s", h.Tier, int(h.To.Sub(h.From)/h.Step), h.Step, h.From.UTC().Format(time.RFC3339)))
	for line := range strings.Lines(h.Plan) {
		t.add(strings.TrimRight(line, "\n"))
	}
	return t
}

func newQueryLagCmd(g *globals) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "lag",
		Short: "Lag and time lag per bucket",
		Long: `lag prints, per bucket [time, end) and key: lag (the sum over the selected
partitions at the bucket's last poll), lag_max (the bucket's peak),
time_lag_seconds (the largest partition time lag at that poll) and
time_lag_kind: sampled (from LastTimestamp), estimated (from when the broker
offset passed the consumer offset, interpolated between recorded polls) or
lower_bound (that happened before the recorded history). clamped counts
partition samples whose broker offset was read below the consumer offset; they
count as 0 lag. events lists the series breaks ending in the bucket.`,
	}
	return historyCmd(g, cmd, lagTable)
}

func lagTable(h *query.History) *table {
	t := &table{meta: rangeMeta("lag", h)}
	t.columns = append([]column{{"time", kTime}, {"end", kTime}}, keyColumns(h.By)...)
	t.columns = append(t.columns, []column{
		{"lag", kCount}, {"lag_max", kCount}, {"time_lag_seconds", kSeconds}, {"time_lag_kind", kText},
		{"clamped", kInt}, {"polls", kInt}, {"events", kText},
	}...)
	for _, r := range h.Rows {
		tl, kind, human := timeLagCells(r.TimeLag, r.TimeLagKind)
		cells := append([]any{r.Start, r.End}, keyCells(r.Key, h.By)...)
		cells = append(cells, i64(r.Lag), i64(r.LagMax), tl, kind, r.Clamped, int64(r.Polls), eventsCell(r.Events))
		t.add(cells...)
		t.setHuman("time_lag_seconds", human)
	}
	t.meta["events"] = eventRows(h.Events)
	return t
}

func newQueryRatesCmd(g *globals) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "rates",
		Short: "Consume, produce and net rates per bucket",
		Long: `rates prints, per bucket [time, end) and key, consume_rate, produce_rate and
net_rate (produce minus consume) in messages per second, from offset deltas
interpolated at the bucket edges; consumed and produced are the message counts,
which add up exactly across buckets. A consumer offset decrease (rewind), a
jump to the broker offset faster than the partition ever consumed (reset to
latest), a broker offset decrease (topic recreated or truncated) and a gap of
more than 3 median poll intervals are not counted: they split the series and
are listed in events (see "lagtrail query events"). Where nothing was counted
the rate is empty, not zero. covered_seconds is how much of the bucket counted
intervals span.`,
	}
	return historyCmd(g, cmd, ratesTable)
}

func ratesTable(h *query.History) *table {
	t := &table{meta: rangeMeta("rates", h)}
	t.columns = append([]column{{"time", kTime}, {"end", kTime}}, keyColumns(h.By)...)
	t.columns = append(t.columns, []column{
		{"consume_rate", kRate}, {"produce_rate", kRate}, {"net_rate", kRate},
		{"consumed", kCount}, {"produced", kCount}, {"covered_seconds", kSeconds}, {"events", kText},
	}...)
	for _, r := range h.Rows {
		cells := append([]any{r.Start, r.End}, keyCells(r.Key, h.By)...)
		cells = append(cells, f64(r.ConsumeRate), f64(r.ProduceRate), f64(r.NetRate),
			f64(r.Consumed), f64(r.Produced), r.Covered, eventsCell(r.Events))
		t.add(cells...)
	}
	t.meta["events"] = eventRows(h.Events)
	return t
}

func newQueryDrainCmd(g *globals) *cobra.Command {
	f := &queryFlags{}
	cmd := &cobra.Command{
		Use:   "drain",
		Short: "Time to drain: rates, lag slope, ETA and predicted lag over a window",
		Long: `drain prints, per key, over --window ending at --at: lag at the window's last
poll, consume_rate, produce_rate, net_rate, slope (least-squares slope of the
lag, messages/s, as PromQL deriv), eta_seconds (lag / -slope; 0 when the lag
is no backlog, at most 60 s of production at 1 message/s or more, as in
query fleet; empty when a backlog is not draining) and predicted_lag at
--horizon past --at (as predict_linear).`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			var at time.Time
			f.check = func(now time.Time) error {
				var err error
				if at, err = query.ParseTime(f.at, now); err != nil {
					return usagef("--at: %v", err)
				}
				if f.window <= 0 {
					return usagef("--window must be positive, got %s", f.window)
				}
				if f.horizon < 0 {
					return usagef("--horizon must not be negative, got %s", f.horizon)
				}
				return nil
			}
			return runQuery(cmd, g, f, func(ctx context.Context, e *query.Engine, p parsed, _ time.Time) (*table, error) {
				ds, err := e.Drain(ctx, query.DrainRequest{Selection: p.sel, By: p.by, At: at, Window: f.window, Horizon: f.horizon})
				if err != nil {
					return nil, err
				}
				return drainTable(ds, p.by, at, f.window, f.horizon), nil
			})
		},
	}
	f.register(cmd, false, false, true)
	cmd.Flags().StringVar(&f.at, "at", "now", "end of the window: RFC3339, a date (midnight UTC), now, or relative (-1h)")
	cliflag.DurationVar(cmd.Flags(), &f.window, "window", query.DefaultDrainWindow, "window the rates and slope are computed over")
	cliflag.DurationVar(cmd.Flags(), &f.horizon, "horizon", query.DefaultHorizon, "how far past --at predicted_lag looks")
	return cmd
}

func drainTable(ds []query.Drain, by store.Level, at time.Time, window, horizon time.Duration) *table {
	t := &table{meta: map[string]any{
		"query": "drain", "at": at, "window_seconds": window.Seconds(),
		"horizon_seconds": horizon.Seconds(), "by": by.String(),
	}}
	t.columns = append(keyColumns(by), []column{
		{"at", kTime}, {"lag_at", kTime}, {"lag", kCount}, {"time_lag_seconds", kSeconds}, {"time_lag_kind", kText},
		{"consume_rate", kRate}, {"produce_rate", kRate}, {"net_rate", kRate}, {"slope", kRate},
		{"eta_seconds", kSeconds}, {"predicted_lag", kCount},
	}...)
	for _, d := range ds {
		tl, kind, human := timeLagCells(d.TimeLag, d.TimeLagKind)
		var eta, lagAt any
		if d.ETA != nil {
			eta = d.ETA.Seconds()
		}
		if d.LagAt != nil {
			lagAt = *d.LagAt
		}
		cells := append(keyCells(d.Key, by), d.At, lagAt, i64(d.Lag), tl, kind,
			f64(d.ConsumeRate), f64(d.ProduceRate), f64(d.NetRate), f64(d.Slope), eta, f64(d.PredictedLag))
		t.add(cells...)
		t.setHuman("time_lag_seconds", human)
	}
	return t
}

func newQueryStatusCmd(g *globals) *cobra.Command {
	f := &queryFlags{}
	cmd := &cobra.Command{
		Use:   "status",
		Short: "Burrow-style status timeline per group",
		Long: `status evaluates every selected partition at the last poll of each bucket over
a sliding --window and prints each group's timeline: intervals [from, to) with
the group's status (the worst of its partitions), the partitions at that
status, and the reason. The rules are Burrow's evaluator's, ported to polled
offsets (README.md, "query status"). Progress is timed from the later of the
offset's last change and the last poll with no lag. Statuses, best to worst:

  NODATA  no poll in the bucket
  OK      lag at most the allowed lag (--allowed-lag, else the group's
          targets[].allowed_lag in the recorder's config, else 0), fewer
          than --min-polls polls in the window, the lag was within the
          allowed lag in the window, or it went down
  WARN    the lag never went down in the window
  REWIND  the consumer offset went back and is still short of where it was
  STALL   lag, and no progress for 3 polls spanning 10s or more
  STOP    lag, and no progress for longer than the window, or longer than
          the window saw progress before it`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			f.check = func(time.Time) error {
				switch {
				case f.window <= 0:
					return usagef("--window must be positive, got %s", f.window)
				case f.allowedLag < 0:
					return usagef("--allowed-lag must not be negative, got %d", f.allowedLag)
				case f.minPolls < 1:
					return usagef("--min-polls must be at least 1, got %d", f.minPolls)
				}
				return nil
			}
			// Without --allowed-lag, each group has its own, from the
			// recorder's config.
			var allowed *int64
			if cmd.Flags().Changed("allowed-lag") {
				allowed = &f.allowedLag
			}
			return runQuery(cmd, g, f, func(ctx context.Context, e *query.Engine, p parsed, _ time.Time) (*table, error) {
				ivs, err := e.Status(ctx, query.StatusRequest{
					Range:  query.Range{Selection: p.sel, From: p.from, To: p.to, Step: f.step},
					Window: f.window, AllowedLag: allowed, MinSamples: f.minPolls,
				})
				if err != nil {
					return nil, err
				}
				return statusTable(ivs, p.from, p.to, f.window), nil
			})
		},
	}
	f.register(cmd, true, true, false)
	cliflag.DurationVar(cmd.Flags(), &f.window, "window", query.DefaultStatusWindow, "sliding window each evaluation looks back over")
	cmd.Flags().Int64Var(&f.allowedLag, "allowed-lag", 0, "lag a partition may have and still count as caught up (Burrow's allowed-lag), for every group (default: each group's targets[].allowed_lag in the recorder's config, else 0)")
	cmd.Flags().IntVar(&f.minPolls, "min-polls", query.DefaultMinSamples, "polls the window must hold before any status worse than OK")
	return cmd
}

func statusTable(ivs []query.Interval, from, to time.Time, window time.Duration) *table {
	t := &table{meta: map[string]any{"query": "status", "from": from.UTC(), "to": to.UTC(), "window_seconds": window.Seconds()}}
	t.columns = []column{
		{"region", kText}, {"instance", kText}, {"group", kText},
		{"from", kTime}, {"to", kTime}, {"status", kText}, {"partitions", kText}, {"reason", kText},
	}
	for _, iv := range ivs {
		t.add(iv.Group.Region, iv.Group.InstanceID, iv.Group.Group, iv.From, iv.To,
			iv.Status.String(), query.JoinPartitions(iv.Partitions), iv.Reason)
	}
	return t
}

func newQueryEventsCmd(g *globals) *cobra.Command {
	f := &queryFlags{}
	cmd := &cobra.Command{
		Use:   "events",
		Short: "Series breaks: rewinds, resets to latest, broker offset decreases, gaps",
		Long: `events lists every break in the selected series between --from and --to,
one row per topic and pair of polls: kind (rewind, reset_to_latest,
broker_decrease, gap), the polls it lies between (from, to), the partitions,
and their consumer and broker offsets before and after, summed.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return runQuery(cmd, g, f, func(ctx context.Context, e *query.Engine, p parsed, _ time.Time) (*table, error) {
				ev, err := e.Events(ctx, query.Range{Selection: p.sel, From: p.from, To: p.to})
				if err != nil {
					return nil, err
				}
				t := eventsTable(ev)
				t.meta = map[string]any{"query": "events", "from": p.from.UTC(), "to": p.to.UTC()}
				return t, nil
			})
		},
	}
	f.register(cmd, true, false, false)
	return cmd
}

func eventsTable(ev []store.Event) *table {
	t := &table{columns: []column{
		{"from", kTime}, {"to", kTime}, {"region", kText}, {"instance", kText}, {"group", kText}, {"topic", kText},
		{"kind", kText}, {"partitions", kText},
		{"consumer_from", kInt}, {"consumer_to", kInt}, {"broker_from", kInt}, {"broker_to", kInt},
	}}
	for _, e := range ev {
		parts := ""
		for i, p := range e.Partitions {
			if i > 0 {
				parts += ","
			}
			parts += fmt.Sprint(p)
		}
		t.add(e.From, e.To, e.Group.Region, e.Group.InstanceID, e.Group.Group, e.Topic, e.Kind, parts,
			e.ConsumerFrom, e.ConsumerTo, e.BrokerFrom, e.BrokerTo)
	}
	return t
}

// eventRows returns events as JSON objects with the columns of the events
// command.
func eventRows(ev []store.Event) []map[string]any {
	t := eventsTable(ev)
	out := make([]map[string]any, len(t.rows))
	for i, r := range t.rows {
		m := make(map[string]any, len(r))
		for j, v := range r {
			m[t.columns[j].name] = jsonValue(v)
		}
		out[i] = m
	}
	return out
}
