package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/lagtrail/lagtrail/internal/benchgen"
	"github.com/lagtrail/lagtrail/internal/cliflag"
	"github.com/lagtrail/lagtrail/query"
	"github.com/lagtrail/lagtrail/store"
)

func newBenchCmd(g *globals) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "bench",
		Short: "Measure lagtrail on this machine",
		Args:  cobra.NoArgs,
	}
	cmd.AddCommand(newBenchStorageCmd(g))
	cmd.AddCommand(newBenchRecordCmd(g))
	cmd.AddCommand(newBenchWebCmd(g))
	return cmd
}

// benchFlags are the flags of bench storage.
type benchFlags struct {
	dbURL, scale, format string
	groups, partitions   int
	days                 int
	interval             time.Duration
	seed                 uint64
	singlePolls, runs    int
	keepBaseline         bool
}

// benchScales are the presets of --scale.
var benchScales = map[string]struct{ groups, partitions, days int }{
	"small": {20, 12, 1},
	"full":  {100, 12, 7},
}

func newBenchStorageCmd(g *globals) *cobra.Command {
	f := &benchFlags{}
	cmd := &cobra.Command{
		Use:   "storage [--database-url URL] [--scale small|full] [--groups N --partitions N --days N --interval 1m]",
		Short: "Compare lagtrail's store with a one-row-per-sample table on the same generated history",
		Long: `storage generates a deterministic history of polls (one topic per group, every
group polled every --interval) and loads it into lagtrail's store and into a
baseline: one row per partition sample in a daily-partitioned table with
PRIMARY KEY (group, sampled_at, topic, partition), in schema lagtrail_bench.
Each store gets one connection; the loads and queries run one after another.

It prints, for each store: bytes per sample on disk (indexes included; for
lagtrail the raw tier, with the rest of schema lagtrail apart), ingest
samples/s (lagtrail: one WritePolls per round of polls, and one WritePoll per
poll on a subset; baseline: one COPY per round), and the median latency of
three queries over 5 runs after a warm-up:
  Q1  one group's lag over the whole history at 5-minute steps
  Q2  the 10 groups whose lag grew fastest over the last 24 hours
  Q3  one group's hourly consumption and production rates over 30 days

--scale small is 20 groups x 12 partitions x 1 day at 1m (345,600 samples);
--scale full is 100 x 12 x 7 days (12,096,000 samples, 10 to 20 minutes).
--groups, --partitions, --days and --interval override the preset.

Use a scratch database, migrated with lagtrail migrate up: storage refuses a
database whose lagtrail schema already holds polls, and leaves its generated
history there. It drops lagtrail_bench at the end unless --keep-baseline.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return runBenchStorage(cmd, g, f)
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&f.dbURL, "database-url", "", "PostgreSQL URL of a scratch database (default $"+envDatabaseURL+")")
	fl.StringVar(&f.scale, "scale", "small", "preset: small (20 groups, 1 day) or full (100 groups, 7 days)")
	fl.IntVar(&f.groups, "groups", 0, "consumer groups, one topic each (overrides --scale)")
	fl.IntVar(&f.partitions, "partitions", 0, "partitions per topic (overrides --scale)")
	fl.IntVar(&f.days, "days", 0, "days of history (overrides --scale)")
	cliflag.DurationVar(fl, &f.interval, "interval", time.Minute, "time between polls of a group")
	fl.Uint64Var(&f.seed, "seed", 1, "seed of the generated history")
	fl.IntVar(&f.singlePolls, "single-polls", 2000, "polls written one per WritePoll call after the history")
	fl.IntVar(&f.runs, "runs", 5, "timed runs of each query, after one warm-up")
	fl.StringVar(&f.format, "format", "table", "output: table or json")
	fl.BoolVar(&f.keepBaseline, "keep-baseline", false, "keep schema lagtrail_bench at the end")
	return cmd
}

// benchConfig validates the flags and returns the generator's config.
func (f *benchFlags) benchConfig() (benchgen.Config, error) {
	preset, ok := benchScales[f.scale]
	if !ok {
		return benchgen.Config{}, usagef("--scale: %q is not small or full", f.scale)
	}
	if f.format != "table" && f.format != "json" {
		return benchgen.Config{}, usagef("--format: %q is not table or json", f.format)
	}
	groups, parts, days := preset.groups, preset.partitions, preset.days
	for _, o := range []struct {
		name string
		v    int
		dst  *int
	}{{"groups", f.groups, &groups}, {"partitions", f.partitions, &parts}, {"days", f.days, &days}} {
		if o.v < 0 {
			return benchgen.Config{}, usagef("--%s must be positive, got %d", o.name, o.v)
		}
		if o.v > 0 {
			*o.dst = o.v
		}
	}
	switch {
	case days > 90:
		return benchgen.Config{}, usagef("--days: at most 90, got %d", days)
	case f.interval < time.Second || f.interval > 24*time.Hour:
		return benchgen.Config{}, usagef("--interval must be between 1s and 24h, got %s", f.interval)
	case f.singlePolls < 0:
		return benchgen.Config{}, usagef("--single-polls must not be negative, got %d", f.singlePolls)
	case f.runs < 1:
		return benchgen.Config{}, usagef("--runs must be at least 1, got %d", f.runs)
	}
	return benchgen.Config{
		Groups: groups, Partitions: parts, Interval: f.interval, Seed: f.seed,
		Rounds: int(time.Duration(days) * 24 * time.Hour / f.interval),
	}, nil
}

// benchFigures is what bench storage measured of one store. Zero values
// that do not apply are left out of the JSON.
type benchFigures struct {
	Samples         int64              `json:"samples"`
	Bytes           int64              `json:"bytes"`
	BytesPerSample  float64            `json:"bytes_per_sample"`
	OtherBytes      int64              `json:"other_bytes,omitempty"`
	OtherPerSample  float64            `json:"other_bytes_per_sample,omitempty"`
	IngestPerSec    float64            `json:"ingest_samples_per_s"`
	IngestSeconds   float64            `json:"ingest_seconds"`
	SinglePerSec    float64            `json:"single_poll_samples_per_s,omitempty"`
	SingleSamples   int64              `json:"single_poll_samples,omitempty"`
	QueryMedianMs   map[string]float64 `json:"query_median_ms"`
	QueryResultRows map[string]int     `json:"query_result_rows"`
}

// benchReport is the output of bench storage.
type benchReport struct {
	Groups        int           `json:"groups"`
	Partitions    int           `json:"partitions"`
	Rounds        int           `json:"rounds"`
	Interval      string        `json:"interval"`
	Seed          uint64        `json:"seed"`
	From          time.Time     `json:"from"`
	To            time.Time     `json:"to"`
	Samples       int64         `json:"samples"`
	ServerVersion string        `json:"server_version"`
	RollupSeconds float64       `json:"rollup_refresh_seconds"`
	RollupHours   int           `json:"rollup_refresh_group_hours"`
	Runs          int           `json:"runs"`
	Q1Agree       int           `json:"q1_buckets_equal"`
	Q1Buckets     int           `json:"q1_buckets_with_lag"`
	Lagtrail      *benchFigures `json:"lagtrail"`
	Baseline      *benchFigures `json:"baseline"`
}

func runBenchStorage(cmd *cobra.Command, g *globals, f *benchFlags) error {
	cfg, err := f.benchConfig()
	if err != nil {
		return err
	}
	gen, err := benchgen.New(cfg)
	if err != nil {
		return usagef("%v", err)
	}
	cfg = gen.Config()
	u, err := databaseURL(f.dbURL, g.getenv, nil)
	if err != nil {
		return err
	}
	log, err := g.logger()
	if err != nil {
		return err
	}
	ctx := cmd.Context()
	progress := func(format string, args ...any) {
		fmt.Fprintf(g.stderr, "bench: "+format+"\n", args...)
	}
	st, err := store.Open(ctx, store.Config{DatabaseURL: u, MaxConns: 1}, log)
	if err != nil {
		return fmt.Errorf("open store: %w", err)
	}
	defer st.Close()
	held, err := st.HoldsPolls(ctx)
	if err != nil {
		return err
	}
	if held {
		return errors.New("this database's lagtrail schema already holds polls, and the benchmark's generated history would mix with them: " +
			"run bench storage against a scratch database (createdb, then lagtrail migrate up --database-url URL)")
	}

	// Partitions for the history, and for the single-poll rounds after it.
	singleRounds := (f.singlePolls + cfg.Groups - 1) / cfg.Groups
	lastAt := gen.Time(cfg.Rounds + singleRounds)
	days := int(lastAt.Sub(cfg.Start)/(24*time.Hour)) + 1
	if _, err := st.EnsurePartitions(ctx, cfg.Start, days); err != nil {
		return err
	}
	historyDays := int((gen.End().Sub(cfg.Start)-1)/(24*time.Hour)) + 1
	base, err := store.CreateBaseline(ctx, u, cfg.Start, historyDays)
	if err != nil {
		return err
	}
	defer func() {
		if !f.keepBaseline {
			if err := base.Drop(context.WithoutCancel(ctx)); err != nil {
				progress("%v", err)
			}
		}
		base.Close(context.WithoutCancel(ctx))
	}()
	version, err := base.ServerVersion(ctx)
	if err != nil {
		return err
	}

	rep := &benchReport{
		Groups: cfg.Groups, Partitions: cfg.Partitions, Rounds: cfg.Rounds, Interval: cfg.Interval.String(),
		Seed: cfg.Seed, From: cfg.Start, To: gen.End(), Samples: gen.Samples(), ServerVersion: version, Runs: f.runs,
		Lagtrail: &benchFigures{}, Baseline: &benchFigures{},
	}
	progress("%d groups x %d partitions x %d rounds at %s = %s samples, from %s",
		cfg.Groups, cfg.Partitions, cfg.Rounds, cfg.Interval, thousands(rep.Samples), cfg.Start.Format(time.RFC3339))

	// Loads: the same rounds into each store, one write per round. Only the
	// time spent in the writes counts, not generating the rounds.
	load := func(name string, fig *benchFigures, write func([]*store.Poll) (int64, error)) error {
		var spent time.Duration
		step := max(1, cfg.Rounds/10)
		for i := range cfg.Rounds {
			polls := gen.Round(i)
			t0 := time.Now()
			n, err := write(polls)
			spent += time.Since(t0)
			if err != nil {
				return fmt.Errorf("load %s, round %d: %w", name, i, err)
			}
			fig.Samples += n
			if (i+1)%step == 0 || i+1 == cfg.Rounds {
				progress("load %s: round %d/%d, %s samples/s", name, i+1, cfg.Rounds, thousands(int64(perSecond(fig.Samples, spent))))
			}
		}
		fig.IngestSeconds = spent.Seconds()
		fig.IngestPerSec = perSecond(fig.Samples, spent)
		return nil
	}
	if err := load("lagtrail", rep.Lagtrail, func(polls []*store.Poll) (int64, error) {
		var samples int64
		for _, p := range polls {
			samples += int64(p.PartitionCount())
		}
		n, err := st.WritePolls(ctx, polls)
		if err == nil && n != len(polls) {
			err = fmt.Errorf("stored %d of %d polls", n, len(polls))
		}
		return samples, err
	}); err != nil {
		return err
	}
	if err := load("baseline", rep.Baseline, func(polls []*store.Poll) (int64, error) {
		return base.CopyPolls(ctx, polls)
	}); err != nil {
		return err
	}
	if rep.Lagtrail.Samples != rep.Samples || rep.Baseline.Samples != rep.Samples {
		return fmt.Errorf("loaded %d samples into lagtrail and %d into the baseline, want %d",
			rep.Lagtrail.Samples, rep.Baseline.Samples, rep.Samples)
	}

	// The rollups catch up with the whole history, as a recorder does after
	// an outage; the time is reported, not counted as ingest.
	progress("refresh the rollups")
	t0 := time.Now()
	rolled, err := st.RefreshRollups(ctx)
	if err != nil {
		return err
	}
	rep.RollupSeconds, rep.RollupHours = time.Since(t0).Seconds(), rolled.Hours

	progress("vacuum and analyze both stores")
	if err := st.VacuumRawTier(ctx); err != nil {
		return err
	}
	if err := base.Vacuum(ctx); err != nil {
		return err
	}
	if err := benchSizes(ctx, st, base, rep); err != nil {
		return err
	}

	eng, err := query.New(st, query.Config{}, log)
	if err != nil {
		return err
	}
	if err := benchQueries(ctx, f.runs, gen, st, eng, base, rep, progress); err != nil {
		return err
	}

	// One poll per WritePoll call, as the recorder writes, on rounds after
	// the history so that the figures above are not disturbed.
	if f.singlePolls > 0 {
		var polls []*store.Poll
		for i := cfg.Rounds; len(polls) < f.singlePolls; i++ {
			polls = append(polls, gen.Round(i)...)
		}
		polls = polls[:f.singlePolls]
		progress("write %d polls one per call", len(polls))
		var spent time.Duration
		for _, p := range polls {
			t0 := time.Now()
			if err := st.WritePoll(ctx, p); err != nil {
				return fmt.Errorf("single-poll writes: %w", err)
			}
			spent += time.Since(t0)
			rep.Lagtrail.SingleSamples += int64(p.PartitionCount())
		}
		rep.Lagtrail.SinglePerSec = perSecond(rep.Lagtrail.SingleSamples, spent)
	}

	if f.format == "json" {
		enc := json.NewEncoder(g.stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(rep)
	}
	return writeBenchTable(g.stdout, rep)
}

func benchSizes(ctx context.Context, st *store.Store, base *store.Baseline, rep *benchReport) error {
	raw, err := st.RawTierSize(ctx)
	if err != nil {
		return err
	}
	total, err := st.SchemaSize(ctx)
	if err != nil {
		return err
	}
	bb, err := base.Size(ctx)
	if err != nil {
		return err
	}
	n := float64(rep.Samples)
	rep.Lagtrail.Bytes, rep.Lagtrail.BytesPerSample = raw, float64(raw)/n
	rep.Lagtrail.OtherBytes, rep.Lagtrail.OtherPerSample = total-raw, float64(total-raw)/n
	rep.Baseline.Bytes, rep.Baseline.BytesPerSample = bb, float64(bb)/n
	return nil
}

// benchQueries times Q1 to Q3 on both stores and checks that the two
// stores' Q1 lags agree.
func benchQueries(ctx context.Context, runs int, gen *benchgen.Generator, st *store.Store, eng *query.Engine,
	base *store.Baseline, rep *benchReport, progress func(string, ...any)) error {
	group := gen.Group(0).Group
	from, to := rep.From, rep.To
	day, month := to.Add(-24*time.Hour), to.Add(-30*24*time.Hour)

	var hist *query.History
	var lags []store.BaselineLag
	queries := []struct {
		name string
		fig  *benchFigures
		run  func() (int, error)
	}{
		{"Q1", rep.Lagtrail, func() (int, error) {
			h, err := eng.History(ctx, query.Range{Selection: query.Selection{Group: group}, From: from, To: to, Step: 5 * time.Minute, By: store.LevelGroup})
			if err != nil {
				return 0, err
			}
			hist = h
			return len(h.Rows), nil
		}},
		{"Q1", rep.Baseline, func() (int, error) {
			l, err := base.GroupLag(ctx, group, from, to, 5*time.Minute)
			lags = l
			return len(l), err
		}},
		{"Q2", rep.Lagtrail, func() (int, error) { return projectTopGrowth(ctx, st, eng, day, to) }},
		{"Q2", rep.Baseline, func() (int, error) {
			top, err := base.TopGrowth(ctx, day, to, 10)
			return len(top), err
		}},
		{"Q3", rep.Lagtrail, func() (int, error) { return projectHourlyRates(ctx, st, eng, group, month, to) }},
		{"Q3", rep.Baseline, func() (int, error) {
			r, err := base.HourlyRates(ctx, group, month, to)
			return len(r), err
		}},
	}
	for _, q := range queries {
		who := "lagtrail"
		if q.fig == rep.Baseline {
			who = "baseline"
		}
		var rows int
		times, err := timeRuns(runs, func() (err error) {
			rows, err = q.run()
			return err
		})
		if err != nil {
			return fmt.Errorf("%s on %s: %w", q.name, who, err)
		}
		med := medianMs(times)
		if q.fig.QueryMedianMs == nil {
			q.fig.QueryMedianMs, q.fig.QueryResultRows = map[string]float64{}, map[string]int{}
		}
		q.fig.QueryMedianMs[q.name], q.fig.QueryResultRows[q.name] = med, rows
		progress("%s on %s: median %.1f ms, %d rows", q.name, who, med, rows)
	}

	// Q1's answers: the group's lag at its last poll of each bucket.
	want := map[int64]int64{}
	for _, l := range lags {
		want[l.Bucket.Unix()] = l.Lag
	}
	for _, r := range hist.Rows {
		if r.Lag == nil {
			continue
		}
		rep.Q1Buckets++
		if v, ok := want[r.Start.Unix()]; ok && v == *r.Lag {
			rep.Q1Agree++
		}
	}
	if len(lags) > rep.Q1Buckets {
		rep.Q1Buckets = len(lags)
	}
	return nil
}

func perSecond(n int64, d time.Duration) float64 {
	if d <= 0 {
		return 0
	}
	return float64(n) / d.Seconds()
}

// writeBenchTable writes the report as an aligned table.
func writeBenchTable(w io.Writer, rep *benchReport) error {
	lt, bl := rep.Lagtrail, rep.Baseline
	fmt.Fprintf(w, "lagtrail bench storage: %d groups x %d partitions x %d polls (every %s, %s to %s) = %s samples, seed %d\n",
		rep.Groups, rep.Partitions, rep.Rounds, rep.Interval, rep.From.Format(time.RFC3339), rep.To.Format(time.RFC3339), thousands(rep.Samples), rep.Seed)
	fmt.Fprintf(w, "PostgreSQL %s; one connection per store; ingest counts time in writes only; query times are medians of %d runs after a warm-up\n\n", rep.ServerVersion, rep.Runs)
	row := func(label, a, b, ratio string) { fmt.Fprintf(w, "%-50s %14s %14s %18s\n", label, a, b, ratio) }
	ratio := func(a, b float64) string {
		if b == 0 {
			return "-"
		}
		return fmt.Sprintf("%.2f", a/b)
	}
	num := func(x float64, prec int) string { return fmt.Sprintf("%.*f", prec, x) }
	ms := func(f *benchFigures, q string) float64 { return f.QueryMedianMs[q] }
	row("figure", "lagtrail", "baseline", "lagtrail/baseline")
	row("samples stored", thousands(lt.Samples), thousands(bl.Samples), "")
	row("bytes/sample (lagtrail: raw tier)", num(lt.BytesPerSample, 1), num(bl.BytesPerSample, 1), ratio(lt.BytesPerSample, bl.BytesPerSample))
	row("disk (lagtrail: raw tier)", megabytes(lt.Bytes), megabytes(bl.Bytes), ratio(float64(lt.Bytes), float64(bl.Bytes)))
	row("bytes/sample, rest of schema lagtrail", num(lt.OtherPerSample, 1), "-", "")
	row("ingest samples/s, one write per round", thousands(int64(lt.IngestPerSec)), thousands(int64(bl.IngestPerSec)), ratio(lt.IngestPerSec, bl.IngestPerSec))
	if lt.SingleSamples > 0 {
		row(fmt.Sprintf("ingest samples/s, WritePoll per poll (%d polls)", lt.SingleSamples/int64(rep.Partitions)),
			thousands(int64(lt.SinglePerSec)), "-", "")
	}
	row(fmt.Sprintf("rollup catch-up, %d group-hours (s)", rep.RollupHours), num(rep.RollupSeconds, 1), "-", "")
	for _, q := range []struct{ name, label string }{
		{"Q1", "Q1 group lag, whole history at 5m, raw (ms)"},
		{"Q2", "Q2 fleet top-10 lag growth, 24h, rollups (ms)"},
		{"Q3", "Q3 group hourly rates, 30d, rollups (ms)"},
	} {
		row(q.label, num(ms(lt, q.name), 1), num(ms(bl, q.name), 1), ratio(ms(lt, q.name), ms(bl, q.name)))
	}
	var rows []string
	for _, q := range []string{"Q1", "Q2", "Q3"} {
		rows = append(rows, fmt.Sprintf("%s %d/%d", q, lt.QueryResultRows[q], bl.QueryResultRows[q]))
	}
	_, err := fmt.Fprintf(w, "\nresult rows (lagtrail/baseline): %s; Q1 lag equal in %d of %d buckets\n",
		strings.Join(rows, ", "), rep.Q1Agree, rep.Q1Buckets)
	return err
}

func megabytes(n int64) string {
	return fmt.Sprintf("%.1f MB", float64(n)/(1<<20))
}
