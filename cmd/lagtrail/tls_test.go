package main

import (
	"encoding/pem"
	"fmt"
	"io"
	"log"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/lagtrail/lagtrail/ingest"
	"github.com/lagtrail/lagtrail/internal/alisim"
	"github.com/lagtrail/lagtrail/internal/pgtest"
)

// startTLSSim serves alisim over HTTPS with httptest's self-signed
// certificate, which no system trusts.
func startTLSSim(t *testing.T) (*alisim.Server, *httptest.Server) {
	t.Helper()
	sim, err := alisim.New(alisim.Config{Fleet: alisim.ExampleFleet(), Credentials: map[string]string{e2eKeyID: e2eSecret}})
	if err != nil {
		t.Fatal(err)
	}
	ts := httptest.NewUnstartedServer(sim)
	ts.Config.ErrorLog = log.New(io.Discard, "", 0) // the refused handshakes
	ts.StartTLS()
	t.Cleanup(ts.Close)
	return sim, ts
}

// httpsConfig polls kafka-test at endpoint over HTTPS. The poll timeout
// is far longer than a refused handshake takes, also in a -race binary on a
// loaded machine, so that a poll ends with the certificate error, never a
// timeout.
func httpsConfig(t *testing.T, endpoint string) string {
	return writeFile(t, "lagtrail.yaml", fmt.Sprintf(`interval: 10s
poll_timeout: 9s
alibaba:
  endpoint: %q
  scheme: https
targets:
  - region: cn-hangzhou
    instance: alikafka_pre-cn-mp919o4v
    groups: [kafka-test]
`, endpoint))
}

// TestRecordRefusesUntrustedAPICertificate runs record against an HTTPS
// endpoint whose certificate no trusted authority signed. Every poll must
// fail naming the certificate, and the endpoint must never see a request.
// Then, trusting that certificate through SSL_CERT_FILE, the same poll
// succeeds: verification is on, and it is what failed.
func TestRecordRefusesUntrustedAPICertificate(t *testing.T) {
	t.Parallel()
	sim, ts := startTLSSim(t)
	endpoint := strings.TrimPrefix(ts.URL, "https://")
	cfg := httpsConfig(t, endpoint)
	l := lagtrail{t: t, dbURL: pgtest.URL(t), secret: e2eSecret}

	// Two polls show record goes on polling after a refused handshake.
	p := startRecord(t, l, "--config", cfg)
	waitForPolls(t, l.dbURL, 2, p)
	p.stop(t)
	if n := len(sim.Requests()); n != 0 {
		t.Errorf("the endpoint answered %d requests over an unverified connection", n)
	}
	if !strings.Contains(p.log(), "certificate signed by unknown authority") {
		t.Errorf("the logs do not name the certificate problem:\n%s", p.log())
	}
	_, polls := readSamples(t, l.dbURL)
	if len(polls) < 2 {
		t.Fatalf("%d polls stored, want at least 2", len(polls))
	}
	for _, poll := range polls {
		if poll.ErrorCode != ingest.CodeTransport || !strings.Contains(poll.ErrorMessage, "x509: certificate signed by unknown authority") {
			t.Errorf("poll stored as %s %q, want a %s naming the certificate", poll.ErrorCode, poll.ErrorMessage, ingest.CodeTransport)
		}
	}

	// Control: trust the test certificate, and the poll goes through.
	certFile := filepath.Join(t.TempDir(), "ca.pem")
	if err := os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: ts.Certificate().Raw}), 0o600); err != nil {
		t.Fatal(err)
	}
	l.dbURL = pgtest.URL(t)
	c := l.cmd("record", "--once", "--config", cfg)
	c.Env = append(c.Env, "SSL_CERT_FILE="+certFile)
	got, err := c.CombinedOutput()
	if err != nil || !strings.Contains(string(got), "polled 1 groups") {
		t.Fatalf("record --once trusting the certificate: %v\n%s", err, got)
	}
	if samples, _ := readSamples(t, l.dbURL); len(samples) != 12 {
		t.Errorf("%d samples over verified HTTPS, want 12", len(samples))
	}
}

// withQuery returns rawURL with a password set and the query key set.
func withQuery(t *testing.T, rawURL, password, key, value string) string {
	t.Helper()
	u, err := url.Parse(rawURL)
	if err != nil {
		t.Fatal(err)
	}
	u.User = url.UserPassword(u.User.Username(), password)
	q := u.Query()
	q.Set(key, value)
	u.RawQuery = q.Encode()
	return u.String()
}

// TestDatabaseTLSWhenTheURLAsksForIt points commands at the test
// PostgreSQL, which has no TLS, with sslmode values that require it: each
// must fail saying the server refused TLS, without printing the password.
// sslmode=disable and prefer (libpq's default: TLS if offered) connect.
func TestDatabaseTLSWhenTheURLAsksForIt(t *testing.T) {
	t.Parallel()
	const password = "PwTls-4e0b9d2a"
	base := pgtest.URL(t)
	l := lagtrail{t: t, secret: e2eSecret}
	commands := [][]string{{"maintain"}, {"migrate", "version"}, {"export", "--view", "partition_offsets", "--from", "-1h"}}
	for _, mode := range []string{"require", "verify-ca", "verify-full", "disable", "prefer"} {
		for _, args := range commands {
			r := l.run(append(args, "--database-url", withQuery(t, base, password, "sslmode", mode))...)
			all := r.stdout + r.stderr
			if strings.Contains(all, password) {
				t.Errorf("sslmode=%s %v printed the password:\n%s", mode, args, all)
			}
			if mode == "disable" || mode == "prefer" {
				if r.code != exitOK {
					t.Errorf("sslmode=%s %v: exit %d, want 0:\n%s", mode, args, r.code, r.stderr)
				}
				continue
			}
			if r.code != exitFailure || !strings.Contains(r.stderr, "server refused TLS connection") {
				t.Errorf("sslmode=%s %v: exit %d, want 1 with an error saying the server refused TLS:\n%s", mode, args, r.code, r.stderr)
			}
		}
	}
}

// TestHTTPSchemeOnlyForLoopback checks the config file's alibaba.scheme
// http against endpoints: loopback is allowed, anything else refused with
// exit 2, the same for record and config print.
func TestHTTPSchemeOnlyForLoopback(t *testing.T) {
	t.Parallel()
	tests := []struct {
		scheme, endpoint string
		wantErr          string // "" means: accepted
	}{
		{"http", "127.0.0.1:9000", ""},
		{"http", "127.8.9.10", ""},
		{"http", "[::1]:9000", ""},
		{"http", "localhost:9000", ""},
		{"HTTP", "LOCALHOST", ""},
		{"https", "alikafka.cn-hangzhou.aliyuncs.com", ""},
		{"https", "10.0.0.5:443", ""},
		{"http", "alikafka.cn-hangzhou.aliyuncs.com", "refused for non-loopback endpoint"},
		{"http", "alikafka-vpc.cn-hangzhou.aliyuncs.com:80", "refused for non-loopback endpoint"},
		{"http", "10.0.0.5:9000", "refused for non-loopback endpoint"},
		{"http", "192.168.1.20", "refused for non-loopback endpoint"},
		{"http", "0.0.0.0:9000", "refused for non-loopback endpoint"},
		{"http", "[::]:9000", "refused for non-loopback endpoint"},
		{"http", "localhost.example.com", "refused for non-loopback endpoint"},
		{"http", "127.0.0.1.nip.io", "refused for non-loopback endpoint"},
		{"http", "", "needs a loopback alibaba.endpoint"},
		{"ftp", "127.0.0.1:9000", "alibaba.scheme must be https or http"},
		{"http", "user@127.0.0.1:9000", "refused for non-loopback endpoint"},
		{"https", "127.0.0.1:9000/path", "must be host or host:port"},
	}
	for _, tt := range tests {
		t.Run(tt.scheme+" "+tt.endpoint, func(t *testing.T) {
			t.Parallel()
			cfg := writeFile(t, "lagtrail.yaml", fmt.Sprintf("alibaba:\n  scheme: %q\n  endpoint: %q\n%s", tt.scheme, tt.endpoint, minimalConfig))
			env := map[string]string{envDatabaseURL: "postgres://u@db.invalid/x"}
			code, _, errs := runInProcess([]string{"config", "print", "--config", cfg}, env)
			if tt.wantErr == "" {
				if code != exitOK {
					t.Errorf("refused: %s", errs)
				}
				return
			}
			if code != exitUsage || !strings.Contains(errs, tt.wantErr) {
				t.Errorf("config print: exit %d %q, want %d naming %q", code, errs, exitUsage, tt.wantErr)
			}
			recCode, _, recErr := runInProcess([]string{"record", "--once", "--config", cfg}, env)
			if recCode != exitUsage || recErr != errs {
				t.Errorf("record: exit %d %q, want %d %q", recCode, recErr, exitUsage, errs)
			}
		})
	}
}
