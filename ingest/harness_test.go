package ingest_test

import (
	"context"
	"fmt"
	"log/slog"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aliyun/alibaba-cloud-sdk-go/sdk/auth/credentials"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/lagtrail/lagtrail/ingest"
	"github.com/lagtrail/lagtrail/internal/alisim"
	"github.com/lagtrail/lagtrail/internal/pgtest"
	"github.com/lagtrail/lagtrail/store"
)

func TestMain(m *testing.M) { pgtest.Main(m) }

const (
	testKeyID  = "LTAI-test-key"
	testSecret = "test-secret-do-not-print"
)

// harness is a simulated alikafka endpoint, a fresh migrated database and a
// store on it.
type harness struct {
	sim   *alisim.Server
	addr  string
	store *store.Store
	pool  *pgxpool.Pool
}

func newHarness(t *testing.T, cfg alisim.Config) *harness {
	t.Helper()
	if cfg.Credentials == nil {
		cfg.Credentials = map[string]string{testKeyID: testSecret}
	}
	sim, err := alisim.New(cfg)
	if err != nil {
		t.Fatalf("alisim.New: %v", err)
	}
	ts := httptest.NewServer(sim)
	t.Cleanup(ts.Close)
	pool, url := pgtest.Pool(t)
	st, err := store.Open(context.Background(), store.Config{DatabaseURL: url}, testLogger(t))
	if err != nil {
		t.Fatalf("store.Open: %v", err)
	}
	t.Cleanup(st.Close)
	return &harness{sim: sim, addr: strings.TrimPrefix(ts.URL, "http://"), store: st, pool: pool}
}

// config is an ingest config aimed at the simulator with the right key. Its
// poll timeout is far longer than a call to the simulator takes on a loaded
// machine; tests that run the recorder for a while set a shorter interval.
func (h *harness) config(targets ...ingest.Target) ingest.Config {
	return ingest.Config{
		Interval:        time.Minute,
		PollTimeout:     30 * time.Second,
		ThrottleBackoff: 50 * time.Millisecond,
		Alibaba: ingest.AlibabaConfig{
			Endpoint:    h.addr,
			Scheme:      "http",
			Credentials: credentials.NewStaticAKCredentialsProvider(testKeyID, testSecret),
		},
		Targets: targets,
	}
}

func (h *harness) recorder(t *testing.T, cfg ingest.Config) *ingest.Recorder {
	t.Helper()
	rec, err := ingest.New(cfg, h.store, testLogger(t), nil)
	if err != nil {
		t.Fatalf("ingest.New: %v", err)
	}
	t.Cleanup(rec.Close)
	return rec
}

func (h *harness) samples(t *testing.T) []store.PartitionSample {
	t.Helper()
	s, err := h.store.ReadPartitionOffsets(context.Background(), store.Range{})
	if err != nil {
		t.Fatalf("read samples: %v", err)
	}
	return s
}

func (h *harness) polls(t *testing.T) []store.PollRecord {
	t.Helper()
	p, err := h.store.ReadPolls(context.Background(), store.Range{})
	if err != nil {
		t.Fatalf("read polls: %v", err)
	}
	return p
}

// testLogger sends the recorder's logs to the test log, so a failing test
// shows them, and fails the test if the AccessKey secret ever appears.
func testLogger(t *testing.T) *slog.Logger {
	return slog.New(slog.NewTextHandler(&secretCheckingWriter{t: t}, &slog.HandlerOptions{Level: slog.LevelDebug}))
}

type secretCheckingWriter struct{ t *testing.T }

func (w *secretCheckingWriter) Write(p []byte) (int, error) {
	if strings.Contains(string(p), testSecret) {
		w.t.Errorf("log line contains the AccessKey secret: %s", p)
	}
	w.t.Log(strings.TrimRight(string(p), "\n"))
	return len(p), nil
}

// runRecorder runs rec until the stop it returns is called, or t ends.
// stop cancels the run and returns Run's error, or an error when Run does
// not return within waitLimit; calls after the first return nil.
func runRecorder(t *testing.T, rec *ingest.Recorder) (stop func() error) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- rec.Run(ctx) }()
	var once sync.Once
	stop = func() error {
		var err error
		once.Do(func() {
			cancel()
			select {
			case err = <-done:
			case <-time.After(waitLimit):
				err = fmt.Errorf("Run did not return within %s of cancel", waitLimit)
			}
		})
		return err
	}
	t.Cleanup(func() {
		if err := stop(); err != nil {
			t.Error(err)
		}
	})
	return stop
}
