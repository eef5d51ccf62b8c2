package main

import (
	"fmt"
	"io"
	"math"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/lagtrail/lagtrail/internal/cliflag"
	"github.com/lagtrail/lagtrail/query"
)

// skewFlags are query skew's own flags.
type skewFlags struct {
	hotFactor, hotMinRate float64
	stuckMinGrowth        time.Duration
}

func newQuerySkewCmd(g *globals) *cobra.Command {
	f := &queryFlags{}
	var sf skewFlags
	cmd := &cobra.Command{
		Use:   "skew --group G",
		Short: "How a group's lag and traffic are spread over its partitions; hot and stuck partitions",
		Long: `skew compares the partitions of one consumer group over --window ending at
--at: per partition, the lag at the window's end and its share of the group's
lag, the production and consumption rates and their shares, the production
rate over the topic's median (produce_vs_median), lag_change (produced minus
consumed: how much the backlog grew), growth_seconds (lag_change in seconds of
the partition's own production) and slope (least-squares slope of the lag).

A partition is hot when it produces more than --hot-factor times the median
production rate of its topic's partitions, and at least --hot-min-rate.
It is stuck when its lag slope is positive and its lag grew by at least
--stuck-min-growth of its own production (and 100 messages), while the median
growth of the group's other partitions stayed under half of that: they drained
or held. A whole group falling behind has no stuck partition (see drain and
status). Each flag comes with its reason. Per topic and for the group, the
max/median ratios of lag, production and consumption say how uneven they are.

The window is aggregated in PostgreSQL from the raw samples, in one bucket per
partition. --topic narrows the group to one topic's partitions; shares and
ratios are then over those.`,
		Args: cobra.NoArgs,
	}
	f.register(cmd, false, false, false)
	cmd.Flags().Lookup("group").Usage = "consumer group name (required)"
	// Registered with the shared flags, refused by skew: hide it.
	if err := cmd.Flags().MarkHidden("partition"); err != nil {
		panic(err)
	}
	cmd.Flags().StringVar(&f.at, "at", "now", "end of the window (exclusive): RFC3339, a date (midnight UTC), now, or relative (-1h)")
	cliflag.DurationVar(cmd.Flags(), &f.window, "window", query.DefaultSkewWindow, "length of the window the partitions are compared over")
	cmd.Flags().Float64Var(&sf.hotFactor, "hot-factor", query.DefaultHotFactor, "hot: production above this many times the topic's median partition (> 1)")
	cmd.Flags().Float64Var(&sf.hotMinRate, "hot-min-rate", query.DefaultHotMinRate, "hot: never below this production rate, messages/s")
	cliflag.DurationVar(cmd.Flags(), &sf.stuckMinGrowth, "stuck-min-growth", query.DefaultStuckMinGrowth, "stuck: the lag grew by at least this long of the partition's production")
	cmd.RunE = func(cmd *cobra.Command, _ []string) error {
		var at time.Time
		f.check = func(now time.Time) error {
			var err error
			switch {
			case f.group == "":
				return usagef("--group is required: skew compares the partitions of one consumer group")
			case cmd.Flags().Changed("partition"):
				return usagef("--partition does not apply to skew, which compares the partitions of a group")
			}
			if at, err = query.ParseTime(f.at, now); err != nil {
				return usagef("--at: %v", err)
			}
			switch {
			case f.window <= 0:
				return usagef("--window must be positive, got %s", f.window)
			case math.IsNaN(sf.hotFactor) || math.IsInf(sf.hotFactor, 0) || sf.hotFactor <= 1:
				return usagef("--hot-factor must be greater than 1, got %v", sf.hotFactor)
			case math.IsNaN(sf.hotMinRate) || math.IsInf(sf.hotMinRate, 0) || sf.hotMinRate <= 0:
				return usagef("--hot-min-rate must be positive, got %v", sf.hotMinRate)
			case sf.stuckMinGrowth <= 0:
				return usagef("--stuck-min-growth must be positive, got %s", sf.stuckMinGrowth)
			}
			return nil
		}
		p, err := f.parse(cmd, time.Now().UTC())
		if err != nil {
			return err
		}
		e, closeStore, err := f.engine(cmd.Context(), g)
		if err != nil {
			return err
		}
		defer closeStore()
		s, err := e.Skew(cmd.Context(), query.SkewRequest{
			Selection: p.sel, At: at, Window: f.window,
			SkewConfig: query.SkewConfig{HotFactor: sf.hotFactor, HotMinRate: sf.hotMinRate, StuckMinGrowth: sf.stuckMinGrowth},
		})
		if err != nil {
			return queryErr(err)
		}
		return writeSkew(g.stdout, s, f.format)
	}
	return cmd
}

// writeSkew prints s: CSV is one row per partition; JSON adds the
// parameters, totals and ratios; the table adds a line naming the group
// and window, the ratios and the reasons for each flag.
func writeSkew(w io.Writer, s *query.Skew, format string) error {
	if format != "table" {
		return skewTable(s).write(w, format)
	}
	if _, err := fmt.Fprintf(w, "%s/%s/%s, %s to %s UTC (%s)\n\n", s.Group.Region, s.Group.InstanceID, s.Group.Group,
		s.From.UTC().Format("2006-01-02 15:04:05"), s.To.UTC().Format("2006-01-02 15:04:05"), humanSeconds(s.To.Sub(s.From).Seconds())); err != nil {
		return err
	}
	if err := skewHumanTable(s).writeTable(w); err != nil {
		return err
	}
	if _, err := io.WriteString(w, "\n"); err != nil {
		return err
	}
	if err := skewRatioTable(s).writeTable(w); err != nil {
		return err
	}
	var reasons []string
	for _, p := range s.Partitions {
		if p.Hot {
			reasons = append(reasons, fmt.Sprintf("%s/%d hot: %s", p.Topic, p.Partition, p.HotReason))
		}
		if p.Stuck {
			reasons = append(reasons, fmt.Sprintf("%s/%d stuck: %s", p.Topic, p.Partition, p.StuckReason))
		}
	}
	switch {
	case len(s.Partitions) == 0:
		reasons = []string{"no samples of the group in the window"}
	case len(reasons) == 0:
		reasons = []string{"no partition is hot or stuck"}
	}
	_, err := fmt.Fprintf(w, "\n%s\n", strings.Join(reasons, "\n"))
	return err
}

// skewTable is the CSV and JSON form: one row per partition.
func skewTable(s *query.Skew) *table {
	t := &table{meta: map[string]any{
		"query": "skew", "region": s.Group.Region, "instance": s.Group.InstanceID, "group": s.Group.Group,
		"at": s.To, "from": s.From, "to": s.To, "window_seconds": s.To.Sub(s.From).Seconds(), "tier": string(query.TierRaw),
		"hot_factor": s.Config.HotFactor, "hot_min_rate": s.Config.HotMinRate,
		"stuck_min_growth_seconds": s.Config.StuckMinGrowth.Seconds(), "stuck_min_lag": s.Config.StuckMinLag,
		"lag": s.Lag, "produce_rate": s.ProduceRate, "consume_rate": s.ConsumeRate,
		"ratios": skewRatios(s),
	}}
	t.columns = []column{
		{"region", kText}, {"instance", kText}, {"group", kText}, {"topic", kText}, {"partition", kInt},
		{"polls", kInt}, {"lag", kCount}, {"lag_share", kText},
		{"produce_rate", kRate}, {"produce_share", kText}, {"consume_rate", kRate}, {"consume_share", kText},
		{"produce_vs_median", kText}, {"lag_change", kCount}, {"growth_seconds", kSeconds}, {"slope", kRate},
		{"hot", kText}, {"stuck", kText}, {"hot_reason", kText}, {"stuck_reason", kText}, {"events", kText},
	}
	for _, p := range s.Partitions {
		t.add(p.Group.Region, p.Group.InstanceID, p.Group.Group, p.Topic, int64(p.Partition),
			int64(p.Polls), i64(p.Lag), f64(p.LagShare),
			f64(p.ProduceRate), f64(p.ProduceShare), f64(p.ConsumeRate), f64(p.ConsumeShare),
			f64(p.ProduceVsMedian), f64(p.LagChange), f64(p.GrowthSeconds), f64(p.Slope),
			p.Hot, p.Stuck, p.HotReason, p.StuckReason, eventsCell(p.Events))
	}
	return t
}

// skewRatios is the JSON form of the spreads: the group's and each
// topic's.
func skewRatios(s *query.Skew) map[string]any {
	topics := make([]map[string]any, len(s.Topics))
	for i, sp := range s.Topics {
		topics[i] = skewSpreadJSON(sp)
	}
	return map[string]any{"group": skewSpreadJSON(s.Total), "topics": topics}
}

func skewSpreadJSON(sp query.SkewSpread) map[string]any {
	m := map[string]any{"partitions": sp.Partitions}
	if sp.Topic != "" {
		m["topic"] = sp.Topic
	}
	for name, ps := range map[string]query.PartitionSpread{"lag": sp.Lag, "produce_rate": sp.Produce, "consume_rate": sp.Consume} {
		v := map[string]any{"n": ps.N, "median": nil, "max": nil, "max_topic": nil, "max_partition": nil, "ratio": jsonValue(f64(ps.Ratio))}
		if ps.N > 0 {
			v["median"], v["max"] = jsonValue(ps.Median), jsonValue(ps.Max)
			v["max_topic"], v["max_partition"] = ps.MaxTopic, ps.MaxPartition
		}
		m[name] = v
	}
	return m
}

// skewHumanTable is the table form of the partitions: human units, shares
// in percent, and a flags column.
func skewHumanTable(s *query.Skew) *table {
	t := &table{columns: []column{
		{"topic", kText}, {"partition", kInt}, {"lag", kCount}, {"lag%", kText},
		{"produce", kRate}, {"produce%", kText}, {"consume", kRate}, {"consume%", kText},
		{"vs_median", kText}, {"lag_change", kCount}, {"slope", kRate}, {"flags", kText},
	}}
	for _, p := range s.Partitions {
		var flags []string
		if p.Hot {
			flags = append(flags, "HOT")
		}
		if p.Stuck {
			flags = append(flags, "STUCK")
		}
		vs := "-"
		if p.ProduceVsMedian != nil {
			vs = strconv.FormatFloat(*p.ProduceVsMedian, 'f', 2, 64) + "x"
		}
		// Whole messages, and slopes to the hundredth: 0/s rather than -0.00/s.
		var change, slope any
		if p.LagChange != nil {
			change = math.Round(*p.LagChange)
		}
		if p.Slope != nil {
			slope = math.Round(*p.Slope*100) / 100
		}
		t.add(p.Topic, int64(p.Partition), i64(p.Lag), skewPercentCell(p.LagShare),
			f64(p.ProduceRate), skewPercentCell(p.ProduceShare), f64(p.ConsumeRate), skewPercentCell(p.ConsumeShare),
			vs, change, slope, strings.Join(flags, " "))
	}
	return t
}

func skewPercentCell(v *float64) string {
	if v == nil {
		return "-"
	}
	return strconv.FormatFloat(100**v, 'f', 1, 64) + "%"
}

// skewRatioTable is the table form of the spreads: a row per topic, then
// the group's.
func skewRatioTable(s *query.Skew) *table {
	t := &table{columns: []column{
		{"scope", kText}, {"partitions", kInt},
		{"lag_max/median", kText}, {"produce_max/median", kText}, {"consume_max/median", kText},
	}}
	add := func(scope string, sp query.SkewSpread) {
		t.add(scope, int64(sp.Partitions), skewRatioCell(sp.Lag, kCount), skewRatioCell(sp.Produce, kRate), skewRatioCell(sp.Consume, kRate))
	}
	for _, sp := range s.Topics {
		add("topic "+sp.Topic, sp)
	}
	add("group", s.Total)
	return t
}

// skewRatioCell writes a spread as "4.01x (max 147/s at clicks/3, median
// 36.7/s)".
func skewRatioCell(ps query.PartitionSpread, k kind) string {
	if ps.N == 0 {
		return "-"
	}
	ratio := "-"
	if ps.Ratio != nil {
		ratio = strconv.FormatFloat(*ps.Ratio, 'f', 2, 64) + "x"
	}
	return fmt.Sprintf("%s (max %s at %s/%d, median %s)", ratio, human(ps.Max, k), ps.MaxTopic, ps.MaxPartition, human(ps.Median, k))
}
