package main

import (
	"context"
	"errors"
	"time"

	"github.com/spf13/cobra"

	"github.com/lagtrail/lagtrail/internal/cliflag"
	"github.com/lagtrail/lagtrail/query"
	"github.com/lagtrail/lagtrail/store"
)

// queryFlags are the flags every query command shares.
type queryFlags struct {
	dbURL, configPath        string
	group, region, instance  string
	topic                    string
	partition                int
	from, to, by, format     string
	step                     time.Duration
	window, horizon          time.Duration
	allowedLag               int64
	minPolls                 int
	at                       string
	tier                     string
	hasRange, hasStep, hasBy bool
	explain                  bool
	// check, when set, validates the command's own flags against now. It
	// runs with the shared checks, before the store is opened, so that a
	// bad flag exits 2 whatever the state of the database.
	check func(now time.Time) error
}

func newQueryCmd(g *globals) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "query lag|rates|drain|status|events|top|skew|fleet",
		Short: "Answer questions about the recorded history",
		Long: `query reads the recorded history and computes, in PostgreSQL, what it means.

Every command selects partitions with --group (region and instance may be
left out when the name is unambiguous; without --group every recorded group),
--topic and --partition, and prints --format table (aligned, human units),
csv (header row, RFC3339 UTC times, plain numbers) or json (one document).
Times are RFC3339, a date (2026-12-05: midnight UTC), "now", or relative to
now: -24h, -90m, -7d, -2w. Durations (--window, --step, ...) take Go's units
and d (24h) and w (7 days): 90m, 7d, 1d12h, 2w.`,
	}
	cmd.AddCommand(
		newQueryLagCmd(g), newQueryRatesCmd(g), newQueryDrainCmd(g),
		newQueryStatusCmd(g), newQueryEventsCmd(g), newQueryTopCmd(g), newQuerySkewCmd(g), newQueryFleetCmd(g),
	)
	return cmd
}

// register adds the shared flags; withRange adds --from/--to, withStep
// --step, withBy --by.
func (f *queryFlags) register(cmd *cobra.Command, withRange, withStep, withBy bool) {
	fl := cmd.Flags()
	fl.StringVar(&f.dbURL, "database-url", "", "PostgreSQL URL (default $"+envDatabaseURL+", then database_url of --config)")
	fl.StringVar(&f.configPath, "config", "", "config file, for database_url")
	fl.StringVar(&f.group, "group", "", "consumer group name (default every recorded group)")
	fl.StringVar(&f.region, "region", "", "region of the group, when its name is recorded in several")
	fl.StringVar(&f.instance, "instance", "", "instance of the group, when its name is recorded in several")
	fl.StringVar(&f.topic, "topic", "", "one topic (default every topic)")
	fl.IntVar(&f.partition, "partition", -1, "one partition (default every partition)")
	fl.StringVar(&f.format, "format", "table", "output format: table, csv or json")
	f.hasRange, f.hasStep, f.hasBy = withRange, withStep, withBy
	if withRange {
		fl.StringVar(&f.from, "from", "-24h", "start of the range: RFC3339, a date (midnight UTC), now, or relative (-24h, -7d)")
		fl.StringVar(&f.to, "to", "now", "end of the range (exclusive)")
	}
	if withStep {
		cliflag.DurationVar(fl, &f.step, "step", 0, "bucket width, e.g. 5m (default: 1m to 1d, for at most 120 buckets)")
	}
	if withBy {
		fl.StringVar(&f.by, "by", "group", "level of detail: group, topic or partition")
	}
}

// parsed is the validated form of queryFlags.
type parsed struct {
	sel      query.Selection
	from, to time.Time
	by       store.Level
}

// parse validates the shared flags against now.
func (f *queryFlags) parse(cmd *cobra.Command, now time.Time) (parsed, error) {
	var p parsed
	switch f.format {
	case "table", "csv", "json":
	default:
		return p, usagef("--format must be table, csv or json, got %q", f.format)
	}
	p.sel = query.Selection{Group: f.group, Region: f.region, Instance: f.instance, Topic: f.topic}
	if cmd.Flags().Changed("partition") {
		if f.partition < 0 || f.partition > 1<<31-1 {
			return p, usagef("--partition must be a partition number >= 0, got %d", f.partition)
		}
		n := int32(f.partition)
		p.sel.Partition = &n
	}
	if f.hasStep && cmd.Flags().Changed("step") && f.step <= 0 {
		return p, usagef("--step must be positive, got %s", f.step)
	}
	if f.hasRange {
		var err error
		if p.from, err = query.ParseTime(f.from, now); err != nil {
			return p, usagef("--from: %v", err)
		}
		if p.to, err = query.ParseTime(f.to, now); err != nil {
			return p, usagef("--to: %v", err)
		}
		if !p.from.Before(p.to) {
			return p, usagef("--from %s must be before --to %s", p.from.UTC().Format(time.RFC3339), p.to.UTC().Format(time.RFC3339))
		}
		if f.hasStep {
			// The engine cuts the same buckets; refusing too many here
			// needs no database.
			step := f.step
			if step == 0 {
				step = query.DefaultStep(p.to.Sub(p.from))
			}
			if _, err := query.Edges(p.from.UTC(), p.to.UTC(), step, store.MaxBuckets); err != nil {
				return p, usageError{err}
			}
		}
	}
	if f.hasBy {
		by, err := query.ParseLevel(f.by)
		if err != nil {
			return p, usageError{err}
		}
		p.by = by
	}
	if f.check != nil {
		if err := f.check(now); err != nil {
			return p, err
		}
	}
	return p, nil
}

// engine opens the store and returns an engine on it, and a close function.
func (f *queryFlags) engine(ctx context.Context, g *globals) (*query.Engine, func(), error) {
	file, err := optionalConfig(f.configPath)
	if err != nil {
		return nil, nil, err
	}
	st, log, release, err := g.readStore(ctx, f.dbURL, file)
	if err != nil {
		return nil, nil, err
	}
	e, err := query.New(st, query.Config{}, log)
	if err != nil {
		release()
		return nil, nil, err
	}
	return e, release, nil
}

// queryErr turns errors about the request into usage errors (exit 2).
func queryErr(err error) error {
	if errors.Is(err, query.ErrInvalidRequest) || errors.Is(err, store.ErrInvalidRange) {
		return usageError{err}
	}
	return err
}

// runQuery parses the flags, opens the engine and runs fn, which returns
// the table to print.
func runQuery(cmd *cobra.Command, g *globals, f *queryFlags, fn func(ctx context.Context, e *query.Engine, p parsed, now time.Time) (*table, error)) error {
	now := time.Now().UTC()
	p, err := f.parse(cmd, now)
	if err != nil {
		return err
	}
	e, closeStore, err := f.engine(cmd.Context(), g)
	if err != nil {
		return err
	}
	defer closeStore()
	t, err := fn(cmd.Context(), e, p, now)
	if err != nil {
		return queryErr(err)
	}
	return t.write(g.stdout, f.format)
}

// keyColumns are the key columns at level by.
func keyColumns(by store.Level) []column {
	cols := []column{{"region", kText}, {"instance", kText}, {"group", kText}}
	if by >= store.LevelTopic {
		cols = append(cols, column{"topic", kText})
	}
	if by >= store.LevelPartition {
		cols = append(cols, column{"partition", kInt})
	}
	return cols
}

func keyCells(k store.Key, by store.Level) []any {
	cells := []any{k.Group.Region, k.Group.InstanceID, k.Group.Group}
	if by >= store.LevelTopic {
		cells = append(cells, k.Topic)
	}
	if by >= store.LevelPartition {
		cells = append(cells, int64(k.Partition))
	}
	return cells
}

// Pointer helpers: nil stays nil (an empty cell), values become cells.
func i64(p *int64) any {
	if p == nil {
		return nil
	}
	return *p
}

func f64(p *float64) any {
	if p == nil {
		return nil
	}
	return *p
}

// timeLagCells returns the time lag and its kind as cells, and the table
// rendering that marks estimates (~) and lower bounds (>=).
func timeLagCells(v *float64, k store.TimeLagKind) (any, any, string) {
	if v == nil {
		return nil, nil, "-"
	}
	h := humanSeconds(*v)
	switch k {
	case store.TimeLagEstimated:
		h = "~" + h
	case store.TimeLagLowerBound:
		h = ">=" + h
	}
	return *v, k.String(), h
}

func eventsCell(ev []string) any {
	if len(ev) == 0 {
		return ""
	}
	s := ev[0]
	for _, e := range ev[1:] {
		s += ";" + e
	}
	return s
}

func rangeMeta(cmd string, h *query.History) map[string]any {
	return map[string]any{
		"query": cmd, "from": h.From, "to": h.To,
		"step_seconds": h.Step.Seconds(), "by": h.By.String(), "tier": string(h.Tier),
	}
}
