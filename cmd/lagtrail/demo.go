package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/aliyun/alibaba-cloud-sdk-go/sdk/auth/credentials"
	"github.com/spf13/cobra"

	"github.com/lagtrail/lagtrail/ingest"
	"github.com/lagtrail/lagtrail/internal/alisim"
	"github.com/lagtrail/lagtrail/internal/cliflag"
	"github.com/lagtrail/lagtrail/internal/pglocal"
	"github.com/lagtrail/lagtrail/internal/scenario"
	"github.com/lagtrail/lagtrail/migrations"
	"github.com/lagtrail/lagtrail/store"
)

// demoFlags are lagtrail demo's flags.
type demoFlags struct {
	dbURL, scenario, out string
	live, interval       time.Duration
	days                 int
	keep                 bool
}

func newDemoCmd(g *globals) *cobra.Command {
	f := &demoFlags{}
	cmd := &cobra.Command{
		Use:   "demo",
		Short: "Show lagtrail's whole job on a simulated fleet, with no account and no setup",
		Long: `demo runs lagtrail end to end on a simulated alikafka fleet:

  1. a database: --database-url when given; otherwise a throwaway PostgreSQL
     from the local server binaries, or else in Docker when an engine
     answers
  2. migrate it
  3. generate --days days of history (7 unless told) from the bundled
     incident scenario (a night-time stall of payments-ledger), starting at
     midnight UTC that many days ago
  4. serve the scenario on a loopback port and record it live for --live
  5. print a report: the fleet now, the incident group's status timeline,
     lag, rates and time to drain, a capacity line per group, and the
     report's findings checked against the scenario; charts go to --out

It leaves nothing running. With --keep the throwaway database stays up and
demo prints its URL and commands to try next.`,
		Example: `  lagtrail demo
  lagtrail demo --keep --out /tmp/charts
  lagtrail demo --database-url postgres://localhost/lagtrail_demo --scenario capacity`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if f.live < 0 || f.live > time.Hour {
				return usagef("--live %s: want 0 to 1h", f.live)
			}
			if f.interval < time.Second || f.interval > time.Minute {
				return usagef("--interval %s: want 1s to 1m", f.interval)
			}
			if f.out == "" {
				return usagef("--out: empty; name a folder for the charts")
			}
			if f.days < 1 || f.days > 31 {
				return usagef("--days %d: want 1 to 31", f.days)
			}
			if !cmd.Flag("log-level").Changed {
				g.logLevel = "warn" // the steps say what is going on
			}
			return runDemo(cmd.Context(), g, f)
		},
	}
	cmd.Flags().StringVar(&f.dbURL, "database-url", "", "use this PostgreSQL database instead of a throwaway one (it is migrated and written to)")
	cmd.Flags().StringVar(&f.scenario, "scenario", "incident", "bundled scenario (incident, quiet, capacity) or scenario YAML file")
	cmd.Flags().StringVar(&f.out, "out", "lagtrail-demo", "folder for the charts")
	cmd.Flags().IntVar(&f.days, "days", 7, "days of history to generate before recording live, from midnight UTC that many days ago")
	cliflag.DurationVar(cmd.Flags(), &f.live, "live", 20*time.Second, "how long to record the simulator live")
	cliflag.DurationVar(cmd.Flags(), &f.interval, "interval", 5*time.Second, "poll interval while recording live")
	cmd.Flags().BoolVar(&f.keep, "keep", false, "leave the throwaway database running and print how to use and stop it")
	return cmd
}

// demoStep prints the demo's progress: each step on its own line on
// stderr, with how long it took.
type demoStep struct {
	line  *statusLine
	began time.Time
	n     int
}

func (s *demoStep) start(what string) {
	s.n++
	s.began = time.Now()
	s.line.done(fmt.Sprintf("[%d/5] %s", s.n, what))
}

func (s *demoStep) finish(what string) {
	s.line.done(fmt.Sprintf("      %s (%s)", what, time.Since(s.began).Round(100*time.Millisecond)))
}

func runDemo(ctx context.Context, g *globals, f *demoFlags) (err error) {
	log, err := g.logger()
	if err != nil {
		return err
	}
	now := time.Now().UTC()
	model, err := scenarioModel(f.scenario, fmt.Sprintf("-%dd", f.days), now)
	if err != nil {
		return err
	}
	if err := incidentsInHistory(model, now, f.days); err != nil {
		return err
	}
	began := time.Now()
	step := &demoStep{line: newStatusLine(g.stderr)}

	step.start("database")
	dbURL := f.dbURL
	var srv *pglocal.Server
	if dbURL == "" {
		srv, err = pglocal.Start(ctx, pglocal.Options{Detach: f.keep, Logger: log})
		if err != nil {
			return fmt.Errorf("demo needs PostgreSQL: pass --database-url, or %w", err)
		}
		defer func() {
			if f.keep && err == nil {
				return
			}
			sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
			defer cancel()
			if serr := srv.Stop(sctx); serr != nil {
				err = errors.Join(err, fmt.Errorf("stop the demo database: %w", serr))
			}
		}()
		if dbURL, err = srv.CreateDatabase(ctx, "lagtrail"); err != nil {
			return err
		}
		step.finish("started a throwaway " + srv.Source())
	} else {
		step.finish("using --database-url")
	}

	step.start("migrate")
	if err := migrations.Up(ctx, dbURL); err != nil {
		return err
	}
	st, err := store.Open(ctx, store.Config{DatabaseURL: dbURL}, log)
	if err != nil {
		return fmt.Errorf("open store: %w", err)
	}
	defer st.Close()
	step.finish("schema up to date")

	step.start(fmt.Sprintf("generate history: scenario %s from %s to now", model.Scenario().Name, model.Start().Format("2006-01-02 15:04 MST")))
	histEnd := now.Truncate(model.PollInterval())
	stats, err := model.WriteHistory(ctx, st, model.Start(), histEnd, step.line.show)
	if err != nil {
		return err
	}
	step.finish(fmt.Sprintf("%s polls (%s failed), %s partition samples, %d rollup hours",
		thousands(stats.Polls), thousands(stats.Failed), thousands(stats.Samples), stats.Hours))

	step.start(fmt.Sprintf("record the simulator live for %s, polling every %s", f.live, f.interval))
	polls, err := recordLive(ctx, log, st, model, f)
	if err != nil {
		return err
	}
	step.finish(fmt.Sprintf("%d live polls", polls))

	step.start("report")
	rep, err := buildDemoReport(ctx, st, log, model, histEnd, time.Now().UTC(), f.out)
	if err != nil {
		return err
	}
	step.finish(fmt.Sprintf("%d charts in %s", len(rep.charts), f.out))
	if err := rep.write(g.stdout); err != nil {
		return err
	}
	fmt.Fprintf(g.stdout, "\ndemo finished in %s.\n", time.Since(began).Round(time.Second))
	if f.keep && srv != nil {
		printKeep(g, srv, dbURL)
	}
	return nil
}

// printKeep tells how to use the database demo left running.
func printKeep(g *globals, srv *pglocal.Server, dbURL string) {
	fmt.Fprintf(g.stdout, `
The demo database is still running: %s
Try next:
  export LAGTRAIL_DATABASE_URL='%s'
  lagtrail query status --group payments-ledger --from -3d --step 5m
  lagtrail query lag --group payments-ledger --from -3d --step 1h
  lagtrail query rates --group payments-ledger --from -3d --step 1h
  lagtrail export --view group_lag_hourly --from -7d --format csv
`, srv.Source(), dbURL)
	if stop := srv.StopCommand(); stop != "" {
		fmt.Fprintf(g.stdout, "Stop it and remove its files with:\n  %s\n", stop)
	}
}

// recordLive serves the model on a loopback port and runs the recorder
// against it for f.live. It returns the number of polls the simulator
// answered.
func recordLive(ctx context.Context, log *slog.Logger, st *store.Store, m *scenario.Model, f *demoFlags) (int, error) {
	if f.live == 0 {
		return 0, nil
	}
	keyID, secret := "LTAIdemo"+randomHex(8), randomHex(16)
	sim, err := alisim.New(m.ServerConfig(map[string]string{keyID: secret}, log))
	if err != nil {
		return 0, fmt.Errorf("simulator: %w", err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, fmt.Errorf("simulator: %w", err)
	}
	hs := &http.Server{Handler: sim, ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = hs.Serve(ln) }()
	defer hs.Close()

	var regions []string
	for _, ref := range m.Groups() {
		if !slices.Contains(regions, ref.Region) {
			regions = append(regions, ref.Region)
		}
	}
	cfg := ingest.Config{
		Interval: f.interval,
		Alibaba: ingest.AlibabaConfig{
			Endpoint:    ln.Addr().String(),
			Scheme:      "http",
			Credentials: credentials.NewStaticAKCredentialsProvider(keyID, secret),
		},
	}
	for _, r := range regions {
		cfg.Targets = append(cfg.Targets, ingest.Target{Region: r})
	}
	rec, err := ingest.New(cfg, st, log, nil)
	if err != nil {
		return 0, fmt.Errorf("recorder: %w", err)
	}
	defer rec.Close()
	rctx, cancel := context.WithTimeout(ctx, f.live)
	defer cancel()
	if err := rec.Run(rctx); err != nil && !errors.Is(err, context.DeadlineExceeded) {
		return 0, fmt.Errorf("record: %w", err)
	}
	if ctx.Err() != nil {
		return 0, ctx.Err()
	}
	if _, err := st.RefreshNow(ctx); err != nil {
		return 0, fmt.Errorf("refresh now-state: %w", err)
	}
	if _, err := st.RefreshRollups(ctx); err != nil {
		return 0, fmt.Errorf("refresh rollups: %w", err)
	}
	return sim.RequestCount(alisim.ActionGetConsumerProgress), nil
}

// incidentsInHistory refuses a history that ends before one of the
// scenario's incidents does: the report would look for it in vain.
func incidentsInHistory(m *scenario.Model, now time.Time, days int) error {
	var last *scenario.Incident
	for i, inc := range m.Scenario().Incidents {
		if last == nil || inc.At+inc.For > last.At+last.For {
			last = &m.Scenario().Incidents[i]
		}
	}
	if last == nil {
		return nil
	}
	const day = 24 * time.Hour
	if end := time.Duration(last.At + last.For); m.Start().Add(end).After(now) {
		return usagef("--days %d: scenario %s has a %s on day %d that ends after now; give at least --days %d",
			days, m.Scenario().Name, last.Kind, int(time.Duration(last.At)/day), int((end+day-1)/day))
	}
	return nil
}

// randomHex returns n random bytes in hex.
func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b) // crypto/rand.Read never fails
	return strings.ToUpper(hex.EncodeToString(b))
}
