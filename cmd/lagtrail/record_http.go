package main

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"strconv"
	"time"

	"github.com/lagtrail/lagtrail/ingest"
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

// serveRecorderHTTP serves the recorder's metrics and health, the API and
// the web pages on addr until the returned function is called.
func serveRecorderHTTP(ctx context.Context, c httpConfig, addr string, rec *ingest.Recorder) (func(), error) {
	started := time.Now()
	c.ready = func(ctx context.Context) string { return readiness(ctx, rec.Health(), c.st, started, time.Now()) }
	log := c.log
	stop, bound, err := listenHandler(ctx, c, addr)
	if err != nil {
		return nil, err
	}
	log.Info("serving metrics and health", slog.String("addr", bound), slog.Bool("token", c.token != ""))
	return stop, nil
}

// readiness returns why the recorder is not ready, or "" when it is: the
// database must answer, and a poll must have succeeded within readyWithin
// intervals (or, just after start, the first intervals must not be over).
func readiness(ctx context.Context, h ingest.Health, pinger interface{ Ping(context.Context) error }, started, now time.Time) string {
	if problem := databaseReady(ctx, pinger); problem != "" {
		return problem
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
