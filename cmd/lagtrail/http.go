package main

import (
	"context"
	"crypto/subtle"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"strings"
	"time"

	"github.com/klauspost/compress/gzhttp"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/lagtrail/lagtrail/internal/lagmetrics"
	"github.com/lagtrail/lagtrail/internal/webui"
	"github.com/lagtrail/lagtrail/store"
)

// envAPIToken is where serve and record --listen take the bearer token
// from when --token-file is not given.
const envAPIToken = "LAGTRAIL_API_TOKEN"

// httpConfig is what one HTTP listener serves.
type httpConfig struct {
	// st is the store the API and the lag metrics read.
	st  *store.Store
	log *slog.Logger
	// reg holds the metrics of /metrics; the lag gauges are added to it.
	reg *prometheus.Registry
	// ready returns why the process is not ready, or "".
	ready func(ctx context.Context) string
	// token, when set, is required as a bearer token on /api/ and
	// /metrics.
	token   string
	timeout time.Duration
	getenv  func(string) string
	// kafkaExporterNames adds kafka_exporter's names to the lag gauges.
	kafkaExporterNames bool
}

// newHTTPHandler returns the handler of serve and record --listen: the
// API, the web pages, /metrics with the lag gauges, /healthz and /readyz.
func newHTTPHandler(c httpConfig) (http.Handler, error) {
	lag, err := lagmetrics.New(c.st, lagmetrics.Config{KafkaExporterNames: c.kafkaExporterNames}, c.log)
	if err != nil {
		return nil, err
	}
	if err := c.reg.Register(lag); err != nil {
		return nil, fmt.Errorf("register lag metrics: %w", err)
	}
	if c.timeout <= 0 {
		c.timeout = defaultRequestTimeout
	}
	api := http.NewServeMux()
	(&apiServer{st: c.st, log: c.log, getenv: c.getenv, timeout: c.timeout}).routes(api)

	mux := http.NewServeMux()
	mux.Handle(apiPrefix, gzhttp.GzipHandler(requireToken(c.token, api)))
	mux.Handle("GET /metrics", requireToken(c.token, promhttp.HandlerFor(c.reg, promhttp.HandlerOpts{Registry: c.reg, EnableOpenMetrics: false})))
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) {
		_, _ = fmt.Fprintln(w, "ok")
	})
	mux.HandleFunc("GET /readyz", func(w http.ResponseWriter, r *http.Request) {
		if problem := c.ready(r.Context()); problem != "" {
			http.Error(w, "not ready: "+problem, http.StatusServiceUnavailable)
			return
		}
		_, _ = fmt.Fprintln(w, "ready")
	})
	mux.Handle("/", gzhttp.GzipHandler(webui.Handler()))
	return logRequests(c.log, mux), nil
}

// requireToken lets through requests that carry the bearer token; with no
// token everything passes.
func requireToken(token string, next http.Handler) http.Handler {
	if token == "" {
		return next
	}
	want := []byte("Bearer " + token)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got := []byte(r.Header.Get("Authorization"))
		if subtle.ConstantTimeCompare(got, want) != 1 {
			w.Header().Set("WWW-Authenticate", `Bearer realm="lagtrail"`)
			writeAPIError(w, http.StatusUnauthorized, "a bearer token is required: send Authorization: Bearer <token>", "")
			return
		}
		next.ServeHTTP(w, r)
	})
}

// statusRecorder remembers a response's status for the request log.
type statusRecorder struct {
	http.ResponseWriter
	status int
}

func (s *statusRecorder) WriteHeader(code int) {
	s.status = code
	s.ResponseWriter.WriteHeader(code)
}

func (s *statusRecorder) Flush() {
	if f, ok := s.ResponseWriter.(http.Flusher); ok {
		f.Flush()
	}
}

func (s *statusRecorder) Unwrap() http.ResponseWriter { return s.ResponseWriter }

// logRequests logs each request at debug level, and those that failed on
// the server's side at warn. The query string is logged (it holds no
// secrets); headers are not.
func logRequests(log *slog.Logger, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		began := time.Now()
		rec := &statusRecorder{ResponseWriter: w, status: http.StatusOK}
		next.ServeHTTP(rec, r)
		level := slog.LevelDebug
		if rec.status >= 500 {
			level = slog.LevelWarn
		}
		log.Log(r.Context(), level, "http request", slog.String("method", r.Method), slog.String("path", r.URL.Path),
			slog.String("query", r.URL.RawQuery), slog.Int("status", rec.status), slog.Duration("took", time.Since(began)))
	})
}

// readToken returns the bearer token from the file, or else from the
// environment; "" means no authentication.
func readToken(file string, getenv func(string) string) (string, error) {
	if file == "" {
		return strings.TrimSpace(getenv(envAPIToken)), nil
	}
	b, err := os.ReadFile(file)
	if err != nil {
		return "", usagef("--token-file: %v", err)
	}
	tok := strings.TrimSpace(string(b))
	if tok == "" {
		return "", usagef("--token-file %s is empty", file)
	}
	if strings.ContainsAny(tok, " \t\r\n") {
		return "", usagef("--token-file %s: the token must be one line without spaces", file)
	}
	return tok, nil
}

// isLoopback reports whether a listen address binds to loopback only.
func isLoopback(addr string) bool {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return false
	}
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// listenHandler serves newHTTPHandler(c) on addr until the returned
// function is called, and returns the address it listens on. Serving on
// another address than loopback without a token is allowed, with a warning.
func listenHandler(ctx context.Context, c httpConfig, addr string) (func(), string, error) {
	h, err := newHTTPHandler(c)
	if err != nil {
		return nil, "", err
	}
	stop, bound, err := serveHTTP(ctx, addr, h, c.log)
	if err != nil {
		return nil, "", err
	}
	if !isLoopback(bound) && c.token == "" {
		c.log.Warn("serving on a non-loopback address without a token: anyone who reaches it can read the recorded history", slog.String("addr", bound))
	}
	return stop, bound, nil
}

// databaseReady returns "database unreachable" unless the database answers
// a ping within 2 seconds, or else "".
func databaseReady(ctx context.Context, db interface{ Ping(context.Context) error }) string {
	pctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	if err := db.Ping(pctx); err != nil {
		return "database unreachable"
	}
	return ""
}

// serveHTTP serves h on addr until the returned function is called, and
// returns the address it listens on.
func serveHTTP(ctx context.Context, addr string, h http.Handler, log *slog.Logger) (func(), string, error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, "", fmt.Errorf("--listen: %w", err)
	}
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second, IdleTimeout: 2 * time.Minute}
	done := make(chan struct{})
	go func() {
		defer close(done)
		if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			log.Error("http listener", slog.Any("err", err))
		}
	}()
	return func() {
		sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
		defer cancel()
		_ = srv.Shutdown(sctx)
		<-done
	}, ln.Addr().String(), nil
}
