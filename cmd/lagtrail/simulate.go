package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"time"

	"github.com/spf13/cobra"

	"github.com/lagtrail/lagtrail/internal/alisim"
)

func newSimulateCmd(g *globals) *cobra.Command {
	var listen, scn, startFlag string
	cmd := &cobra.Command{
		Use:   "simulate [--scenario NAME|FILE]",
		Short: "Serve a simulated alikafka API locally",
		Long: `simulate serves GetConsumerProgress, GetConsumerList and GetInstanceList over
the real RPC wire protocol, checking request signatures, so that record can be
tried without an Alibaba Cloud account.

With --scenario it serves a simulated fleet: a bundled scenario (incident,
quiet, capacity) or a scenario YAML file (see examples/scenarios). Offsets
move in real time from --start, the scenario's time zero; its default, -7d,
is midnight UTC seven days ago, as for generate, so that recording the
simulator continues history written by generate. The scenario's fault rates
apply. Without --scenario it serves the API reference's example: region
cn-hangzhou, instance alikafka_pre-cn-mp919o4v, group kafka-test.

It accepts the AccessKey pair in ALIBABA_CLOUD_ACCESS_KEY_ID and
ALIBABA_CLOUD_ACCESS_KEY_SECRET, the same variables record reads, and it
listens on loopback unless told otherwise.`,
		Example: `  export ALIBABA_CLOUD_ACCESS_KEY_ID=demo ALIBABA_CLOUD_ACCESS_KEY_SECRET=demo-secret
  lagtrail simulate --scenario incident --listen 127.0.0.1:9000`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			id, secret := g.getenv("ALIBABA_CLOUD_ACCESS_KEY_ID"), g.getenv("ALIBABA_CLOUD_ACCESS_KEY_SECRET")
			if id == "" || secret == "" {
				return usagef("simulate needs ALIBABA_CLOUD_ACCESS_KEY_ID and ALIBABA_CLOUD_ACCESS_KEY_SECRET to check signatures against")
			}
			log, err := g.logger()
			if err != nil {
				return err
			}
			creds := map[string]string{id: secret}
			cfg := alisim.Config{Fleet: alisim.ExampleFleet(), Credentials: creds, Logger: log}
			what := "the API reference's example fleet"
			if scn != "" {
				m, err := scenarioModel(scn, startFlag, time.Now())
				if err != nil {
					return err
				}
				cfg = m.ServerConfig(creds, log)
				what = fmt.Sprintf("scenario %s (%d groups, time zero %s)", m.Scenario().Name, len(m.Groups()), m.Start().Format(time.RFC3339))
			}
			sim, err := alisim.New(cfg)
			if err != nil {
				return fmt.Errorf("simulator: %w", err)
			}
			ln, err := net.Listen("tcp", listen)
			if err != nil {
				return usagef("--listen %s: %v", listen, err)
			}
			return serveSimulator(cmd.Context(), g, log, sim, ln, what)
		},
	}
	cmd.Flags().StringVar(&listen, "listen", "127.0.0.1:9000", "address to serve on")
	cmd.Flags().StringVar(&scn, "scenario", "", "bundled scenario (incident, quiet, capacity) or scenario YAML file; default the API reference's example")
	cmd.Flags().StringVar(&startFlag, "start", "-7d", "the scenario's time zero: RFC3339 or relative (-7d = midnight UTC 7 days ago)")
	return cmd
}

// serveSimulator serves sim on ln until ctx is done.
func serveSimulator(ctx context.Context, g *globals, log *slog.Logger, sim *alisim.Server, ln net.Listener, what string) error {
	srv := &http.Server{Handler: sim, ReadHeaderTimeout: 10 * time.Second}
	log.Info("simulating alikafka", slog.String("listen", ln.Addr().String()))
	fmt.Fprintf(g.stdout, "simulated alikafka API on %s: %s\n", ln.Addr(), what)
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	select {
	case err := <-errc:
		return fmt.Errorf("simulator: %w", err)
	case <-ctx.Done():
	}
	sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := srv.Shutdown(sctx); err != nil && !errors.Is(err, http.ErrServerClosed) {
		return fmt.Errorf("simulator shutdown: %w", err)
	}
	return nil
}
