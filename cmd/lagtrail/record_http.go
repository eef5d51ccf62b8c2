package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/lagtrail/lagtrail/ingest"
	"github.com/lagtrail/lagtrail/store"
)

// listenAddr checks a --listen value. A missing host means loopback: an
// operator exposes the recorder to the network only by naming an address.
func listenAddr(v string) (string, error) {
	if v == "" {
		return "", nil
	}
	host, port, err := net.SplitHostPort(v)
	if err != nil {
		return "", usagef("--listen %q: want host:port or :port (%v)", v, err)
	}
	if n, err := strconv.Atoi(port); err != nil || n < 0 || n > 65535 {
		return "", usagef("--listen %q: port must be a number from 0 to 65535", v)
	}
	if host == "" {
		host = "127.0.0.1"
	}
	return net.JoinHostPort(host, port), nil
}

// readyWithin is how many intervals may pass without a successful poll
// before the recorder reports itself not ready.
const readyWithin = 3

// serveRecorderHTTP serves the recorder's metrics and health on addr until
// the returned function is called.
func serveRecorderHTTP(ctx context.Context, addr string, reg *prometheus.Registry, rec *ingest.Recorder, st *store.Store, log *slog.Logger) (func(), error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("--listen: %w", err)
	}
	started := time.Now()
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{Registry: reg}))
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) {
		_, _ = fmt.Fprintln(w, "ok")
	})
	mux.HandleFunc("GET /readyz", func(w http.ResponseWriter, r *http.Request) {
		if problem := readiness(r.Context(), rec.Health(), st, started, time.Now()); problem != "" {
			http.Error(w, "not ready: "+problem, http.StatusServiceUnavailable)
			return
		}
		_, _ = fmt.Fprintln(w, "ready")
	})
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	done := make(chan struct{})
	go func() {
		defer close(done)
		if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			log.Error("metrics listener", slog.Any("err", err))
		}
	}()
	log.Info("serving metrics and health", slog.String("addr", ln.Addr().String()))
	return func() {
		sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
		defer cancel()
		_ = srv.Shutdown(sctx)
		<-done
	}, nil
}

// readiness returns why the recorder is not ready, or "" when it is: the
// database must answer, and a poll must have succeeded within readyWithin
// intervals (or, just after start, the first intervals must not be over).
func readiness(ctx context.Context, h ingest.Health, pinger interface{ Ping(context.Context) error }, started, now time.Time) string {
	pctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	if err := pinger.Ping(pctx); err != nil {
		return "database unreachable"
	}
	window := time.Duration(readyWithin) * h.Interval
	switch {
	case h.LastPollOK.IsZero() && now.Sub(started) < window:
		return "no poll has succeeded yet"
	case h.LastPollOK.IsZero():
		return fmt.Sprintf("no poll has succeeded since the start %s ago", now.Sub(started).Round(time.Second))
	case now.Sub(h.LastPollOK) > window:
		return fmt.Sprintf("last successful poll %s ago, more than %d intervals", now.Sub(h.LastPollOK).Round(time.Second), readyWithin)
	}
	return ""
}
