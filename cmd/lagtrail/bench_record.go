package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"time"

	"github.com/spf13/cobra"

	"github.com/lagtrail/lagtrail/ingest"
	"github.com/lagtrail/lagtrail/internal/cliflag"
	"github.com/lagtrail/lagtrail/store"
)

// recordBenchFlags are the flags of bench record.
type recordBenchFlags struct {
	dbURL, format      string
	groups, partitions int
	regions, baseline  int
	interval, duration time.Duration
	rps                float64
}

func newBenchRecordCmd(g *globals) *cobra.Command {
	f := &recordBenchFlags{}
	cmd := &cobra.Command{
		Use:   "record [--database-url URL] [--groups 10000 --partitions 32 --interval 60s --regions 4 --duration 3m]",
		Short: "Run the real recorder against a simulated fleet and measure punctuality, request rate, CPU and write latency",
		Long: `record starts a simulated alikafka endpoint in this process, serving --groups
consumer groups of --partitions partitions each (one or two topics per group),
spread evenly over --regions regions of one instance each. It then runs this
binary's own 'lagtrail record' as a child process against it and against
--database-url, with every group listed in the config (no discovery calls),
and measures, after a warm-up of one interval, for --duration:

  punctuality   every GetConsumerProgress request's lateness: its arrival at
                the endpoint minus the slot it was due at (each group's
                fixed phase within the interval); the share within 10% of
                the interval, p50/p99/max, and every slot that lies wholly
                in the window polled exactly once (missing, doubled)
  request rate  per region, the most requests in any sliding 1-second
                window of the whole run and the mean rate of the window,
                against --requests-per-second and the API quota (100/s)
  CPU           the recorder process's user+system CPU seconds per 1,000
                polls, over its whole life (warm-up and shutdown included)
                and, from its process_cpu_seconds_total, over the window
  writes        p50/p99 of lagtrail_write_duration_seconds in the window
                (interpolated within histogram buckets), polls per write,
                samples written per second

With --baseline-groups N (default 1000; 0 skips it) a first, smaller run with
the same settings comes before the main one, and every figure is also given
as a ratio of the main run to it.

The API quota is 100 GetConsumerProgress requests/s per region and account,
and the recorder stays under --requests-per-second (default 50) per region.
10,000 groups every 60s need 167 requests/s: one region cannot do it, which
is why the default spreads them over 4 (42/s each). When groups per region
divided by the interval exceeds the limit, the run still goes ahead and the
report says so: the polls then cannot be punctual.

Use a scratch database, migrated with lagtrail migrate up: record refuses a
database whose lagtrail schema already holds polls, and leaves the polls the
runs wrote there. The recorder gets a random AccessKey for the run through
its environment, and a temporary data_dir (spool).`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return runBenchRecord(cmd, g, f)
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&f.dbURL, "database-url", "", "PostgreSQL URL of a scratch database (default $"+envDatabaseURL+")")
	fl.IntVar(&f.groups, "groups", 10_000, "consumer groups in the simulated fleet")
	fl.IntVar(&f.partitions, "partitions", 32, "partitions per group, over one or two topics")
	cliflag.DurationVar(fl, &f.interval, "interval", time.Minute, "the recorder's poll interval")
	fl.IntVar(&f.regions, "regions", 4, "regions the groups are spread over evenly; each has its own request limit")
	fl.Float64Var(&f.rps, "requests-per-second", ingest.DefaultRequestsPerSecond, "the recorder's limit per region (at most the API quota, 100)")
	cliflag.DurationVar(fl, &f.duration, "duration", 3*time.Minute, "measured time, after a warm-up of one interval")
	fl.IntVar(&f.baseline, "baseline-groups", 1000, "groups of a first, smaller run with the same settings, to compare with; 0 skips it")
	fl.StringVar(&f.format, "format", "table", "output: table or json")
	return cmd
}

// Bounds of bench record's flags.
const (
	maxBenchGroups     = 100_000
	maxBenchPartitions = 1000
)

// validate checks the flags and returns one clear error for the first
// problem.
func (f *recordBenchFlags) validate() error {
	switch {
	case f.format != "table" && f.format != "json":
		return usagef("--format: %q is not table or json", f.format)
	case f.groups < 1 || f.groups > maxBenchGroups:
		return usagef("--groups must be between 1 and %d, got %d", maxBenchGroups, f.groups)
	case f.partitions < 1 || f.partitions > maxBenchPartitions:
		return usagef("--partitions must be between 1 and %d, got %d", maxBenchPartitions, f.partitions)
	case f.regions < 1 || f.regions > f.groups:
		return usagef("--regions must be between 1 and --groups (%d), got %d", f.groups, f.regions)
	case f.interval < time.Second || f.interval > time.Hour:
		return usagef("--interval must be between 1s and 1h, got %s", f.interval)
	case f.interval%time.Millisecond != 0:
		return usagef("--interval must be whole milliseconds, got %s", f.interval)
	case math.IsNaN(f.rps) || f.rps <= 0 || f.rps > ingest.MaxRequestsPerSecond:
		return usagef("--requests-per-second must be in (0, %d], got %g", ingest.MaxRequestsPerSecond, f.rps)
	case f.duration < f.interval:
		return usagef("--duration must be at least one --interval (%s), got %s", f.interval, f.duration)
	case f.duration > 24*time.Hour:
		return usagef("--duration must be at most 24h, got %s", f.duration)
	case f.baseline < 0 || f.baseline > f.groups:
		return usagef("--baseline-groups must be between 0 and --groups (%d), got %d", f.groups, f.baseline)
	case f.baseline > 0 && f.baseline < f.regions:
		return usagef("--baseline-groups must be 0 or at least --regions (%d), got %d", f.regions, f.baseline)
	}
	return nil
}

// recordBenchReport is the output of bench record.
type recordBenchReport struct {
	Settings recordBenchSettings `json:"settings"`
	Run      *recordRunFigures   `json:"run"`
	Baseline *recordRunFigures   `json:"baseline,omitempty"`
	// Ratios are run/baseline of the figures of the table, by name.
	Ratios map[string]float64 `json:"ratios_run_over_baseline,omitempty"`
	// Punctual and RateWithinLimit are the main run's verdicts.
	Punctual        bool `json:"punctual"`
	RateWithinLimit bool `json:"rate_within_limit"`
	// Notes are things the reader must know to judge the figures.
	Notes []string `json:"notes"`
}

// recordBenchSettings are the settings both runs share.
type recordBenchSettings struct {
	Groups            int     `json:"groups"`
	BaselineGroups    int     `json:"baseline_groups"`
	Partitions        int     `json:"partitions"`
	Regions           int     `json:"regions"`
	IntervalSeconds   float64 `json:"interval_seconds"`
	WarmupSeconds     float64 `json:"warmup_seconds"`
	DurationSeconds   float64 `json:"duration_seconds"`
	LimitPerRegion    float64 `json:"limit_requests_per_second_per_region"`
	QuotaPerRegion    float64 `json:"api_quota_requests_per_second_per_region"`
	ToleranceSeconds  float64 `json:"punctuality_tolerance_seconds"`
	NeededPerRegion   float64 `json:"needed_requests_per_second_per_region"`
	OverLimit         bool    `json:"needed_over_limit"`
	RecorderBinary    string  `json:"recorder_binary"`
	AccessKeyIDForRun string  `json:"access_key_id"`
}

func runBenchRecord(cmd *cobra.Command, g *globals, f *recordBenchFlags) error {
	if err := f.validate(); err != nil {
		return err
	}
	u, err := databaseURL(f.dbURL, g.getenv, nil)
	if err != nil {
		return err
	}
	ctx := cmd.Context()
	st, err := store.Open(ctx, store.Config{DatabaseURL: u, MaxConns: 1}, nil)
	if err != nil {
		return fmt.Errorf("open store: %w", err)
	}
	held, err := st.HoldsPolls(ctx)
	st.Close()
	if err != nil {
		return err
	}
	if held {
		return errors.New("this database's lagtrail schema already holds polls, and the benchmark's recorder would write among them: " +
			"run bench record against a scratch database (createdb, then lagtrail migrate up --database-url URL)")
	}
	b, err := newRecordBench(f, u, g.stderr)
	if err != nil {
		return err
	}
	rep := &recordBenchReport{Settings: b.settings()}
	if rep.Settings.OverLimit {
		b.progress("WARNING: %.1f requests/s per region are needed, over the limit of %g/s: the recorder cannot be punctual", rep.Settings.NeededPerRegion, f.rps)
	}
	if f.baseline > 0 {
		if rep.Baseline, err = b.run(ctx, "baseline", f.baseline); err != nil {
			return err
		}
	}
	if rep.Run, err = b.run(ctx, "run", f.groups); err != nil {
		return err
	}
	rep.Punctual, rep.RateWithinLimit = rep.Run.Punctual, rep.Run.RateWithinLimit
	rep.Ratios = recordRatios(rep.Run, rep.Baseline)
	rep.Notes = recordNotes(rep)
	if f.format == "json" {
		enc := json.NewEncoder(g.stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(rep)
	}
	return writeRecordBenchTable(g.stdout, rep)
}

// recordNotes says what the reader must know to judge the report.
func recordNotes(rep *recordBenchReport) []string {
	s := rep.Settings
	notes := []string{
		"lateness is the request's arrival at the simulated endpoint minus its slot (ingest.Slot), so it includes the rate limiter's and the SDK's waits",
		"the rate verdict is on calls sent (the stored polls' started_at, which the recorder's limiter governs); arrivals at the endpoint can bunch above it when the endpoint's process stalls and then accepts queued connections together",
		"CPU per 1,000 polls over the recorder's whole life counts every answered poll of the run, warm-up included, against all its CPU (start-up and shutdown included)",
		"write latencies are interpolated within the buckets of lagtrail_write_duration_seconds, as histogram_quantile does",
		"the simulator, the analysis and PostgreSQL share this machine's CPUs with the recorder; see the machine figures",
	}
	if s.OverLimit {
		notes = append(notes, fmt.Sprintf("%.1f requests/s per region are needed and the limit is %g/s per region (API quota %g/s): spread the groups over more regions, or lengthen the interval",
			s.NeededPerRegion, s.LimitPerRegion, s.QuotaPerRegion))
	}
	if s.NeededPerRegion*float64(s.Regions) > s.QuotaPerRegion && s.Regions > 0 {
		notes = append(notes, fmt.Sprintf("the fleet needs %.0f requests/s in all, more than one region's API quota of %g/s: it has to be spread over regions (here %d)",
			s.NeededPerRegion*float64(s.Regions), s.QuotaPerRegion, s.Regions))
	}
	for _, r := range []*recordRunFigures{rep.Baseline, rep.Run} {
		if r == nil {
			continue
		}
		if r.Log.SecretLeaked {
			notes = append(notes, r.Label+": THE RECORDER PRINTED THE ACCESSKEY SECRET (redacted from this report)")
		}
		if r.Log.Warnings+r.Log.Errors > 0 {
			notes = append(notes, fmt.Sprintf("%s: the recorder logged %d warnings and %d errors", r.Label, r.Log.Warnings, r.Log.Errors))
		}
		if r.Writes.Dropped > 0 || r.Writes.Errors > 0 {
			notes = append(notes, fmt.Sprintf("%s: %d write errors and %d dropped polls in the window", r.Label, r.Writes.Errors, r.Writes.Dropped))
		}
	}
	return notes
}
