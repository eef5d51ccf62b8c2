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
	var listen string
	cmd := &cobra.Command{
		Use:   "simulate",
		Short: "Serve a simulated alikafka API locally (the reference example fleet)",
		Long: `simulate serves GetConsumerProgress, GetConsumerList and GetInstanceList over
the real RPC wire protocol, checking request signatures, so that record can be
tried without an Alibaba Cloud account. It serves the API reference's example:
region cn-hangzhou, instance alikafka_pre-cn-mp919o4v, group kafka-test.

It accepts the AccessKey pair in ALIBABA_CLOUD_ACCESS_KEY_ID and
ALIBABA_CLOUD_ACCESS_KEY_SECRET, the same variables record reads, and it
listens on loopback unless told otherwise.`,
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
			sim, err := alisim.New(alisim.Config{Fleet: alisim.ExampleFleet(), Credentials: map[string]string{id: secret}, Logger: log})
			if err != nil {
				return fmt.Errorf("simulator: %w", err)
			}
			ln, err := net.Listen("tcp", listen)
			if err != nil {
				return usagef("--listen %s: %v", listen, err)
			}
			srv := &http.Server{Handler: sim, ReadHeaderTimeout: 10 * time.Second}
			log.Info("simulating alikafka", slog.String("listen", ln.Addr().String()))
			fmt.Fprintf(g.stdout, "simulated alikafka API on %s\n", ln.Addr())
			errc := make(chan error, 1)
			go func() { errc <- srv.Serve(ln) }()
			select {
			case err := <-errc:
				return fmt.Errorf("simulator: %w", err)
			case <-cmd.Context().Done():
			}
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			if err := srv.Shutdown(ctx); err != nil && !errors.Is(err, http.ErrServerClosed) {
				return fmt.Errorf("simulator shutdown: %w", err)
			}
			return nil
		},
	}
	cmd.Flags().StringVar(&listen, "listen", "127.0.0.1:9000", "address to serve on")
	return cmd
}
