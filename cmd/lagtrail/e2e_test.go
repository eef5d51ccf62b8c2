package main

import (
	"bytes"
	"context"
	"fmt"
	"net/http/httptest"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/lagtrail/lagtrail/internal/alisim"
	"github.com/lagtrail/lagtrail/internal/pgtest"
	"github.com/lagtrail/lagtrail/migrations"
	"github.com/lagtrail/lagtrail/store"
)

// schemaVersionLine is what migrate prints when the schema is current.
func schemaVersionLine(t *testing.T) string {
	latest, err := migrations.Latest()
	if err != nil {
		t.Fatal(err)
	}
	return fmt.Sprintf("schema version %d of %d", latest, latest)
}

const (
	e2eKeyID  = "LTAI5tE2eTestKey"
	e2eSecret = "e2e-secret-must-never-print"
)

// lagtrail runs the command in a child process with the given AccessKey in
// its environment, as an operator would.
type lagtrail struct {
	t      *testing.T
	dbURL  string
	secret string
}

type result struct {
	code           int
	stdout, stderr string
}

func (l lagtrail) cmd(args ...string) *exec.Cmd {
	exe, err := os.Executable()
	if err != nil {
		l.t.Fatal(err)
	}
	c := exec.Command(exe, args...)
	c.Env = append(os.Environ(),
		reexecEnv+"=1",
		"ALIBABA_CLOUD_ACCESS_KEY_ID="+e2eKeyID,
		"ALIBABA_CLOUD_ACCESS_KEY_SECRET="+l.secret,
		envDatabaseURL+"="+l.dbURL,
	)
	return c
}

func (l lagtrail) run(args ...string) result {
	l.t.Helper()
	c := l.cmd(args...)
	var out, errb bytes.Buffer
	c.Stdout, c.Stderr = &out, &errb
	err := c.Run()
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		l.t.Fatalf("run lagtrail %v: %v", args, err)
	}
	if strings.Contains(out.String()+errb.String(), l.secret) {
		l.t.Errorf("lagtrail %v printed the AccessKey secret", args)
	}
	return result{code: code, stdout: out.String(), stderr: errb.String()}
}

func startSim(t *testing.T, cfg alisim.Config) (*alisim.Server, string) {
	t.Helper()
	cfg.Credentials = map[string]string{e2eKeyID: e2eSecret}
	sim, err := alisim.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	ts := httptest.NewServer(sim)
	t.Cleanup(ts.Close)
	return sim, strings.TrimPrefix(ts.URL, "http://")
}

// exampleConfig polls kafka-test at endpoint, with a poll timeout far
// longer than a call to the local simulator takes on a loaded machine.
func exampleConfig(t *testing.T, endpoint, extra string) string {
	return writeFile(t, "lagtrail.yaml", fmt.Sprintf(`interval: 1m
poll_timeout: 30s
alibaba:
  endpoint: %q
  scheme: http
%stargets:
  - region: cn-hangzhou
    instance: alikafka_pre-cn-mp919o4v
    groups: [kafka-test]
`, endpoint, extra))
}

func readSamples(t *testing.T, dbURL string) ([]store.PartitionSample, []store.PollRecord) {
	t.Helper()
	st, err := store.Open(context.Background(), store.Config{DatabaseURL: dbURL}, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	s, err := st.ReadPartitionOffsets(context.Background(), store.Range{})
	if err != nil {
		t.Fatal(err)
	}
	p, err := st.ReadPolls(context.Background(), store.Range{})
	if err != nil {
		t.Fatal(err)
	}
	return s, p
}

// TestMigrateThenRecordOnce is the acceptance path: migrate up, then
// record --once twice against an endpoint serving the reference example.
func TestMigrateThenRecordOnce(t *testing.T) {
	t.Parallel()
	l := lagtrail{t: t, dbURL: pgtest.EmptyURL(t), secret: e2eSecret}
	_, endpoint := startSim(t, alisim.Config{Fleet: alisim.ExampleFleet()})
	cfg := exampleConfig(t, endpoint, "")

	if r := l.run("migrate", "up"); r.code != 0 || !strings.Contains(r.stdout, schemaVersionLine(t)) {
		t.Fatalf("migrate up: %+v", r)
	}
	if r := l.run("record", "--once", "--config", cfg); r.code != 0 || !strings.Contains(r.stdout, "polled 1 groups") {
		t.Fatalf("record --once: %+v", r)
	}
	samples, _ := readSamples(t, l.dbURL)
	if len(samples) != 12 {
		t.Fatalf("%d rows in lagtrail.partition_offsets, want 12", len(samples))
	}
	wantBroker := []int64{9, 9, 10, 8, 8, 10, 9, 8, 9, 8, 8, 9}
	wantLast := []int64{1566874931649, 1566874931605, 1566874931561, 1566874931628, 1566874931579, 1566874931570, 1566874931639, 1566874931586, 1566874931661, 1566874931616, 1566874931596, 1566874931671}
	for i, s := range samples {
		if s.Partition != int32(i) || s.BrokerOffset != wantBroker[i] || s.ConsumerOffset != wantBroker[i] {
			t.Errorf("row %d: partition %d broker %d consumer %d, want %d %d %d", i, s.Partition, s.BrokerOffset, s.ConsumerOffset, i, wantBroker[i], wantBroker[i])
		}
		if s.LastConsumedAt == nil || s.LastConsumedAt.UnixMilli() != wantLast[i] {
			t.Errorf("row %d: last_consumed_at %v, want %d ms", i, s.LastConsumedAt, wantLast[i])
		}
	}
	time.Sleep(10 * time.Millisecond)
	if r := l.run("record", "--once", "--config", cfg); r.code != 0 {
		t.Fatalf("second record --once: %+v", r)
	}
	if samples, _ := readSamples(t, l.dbURL); len(samples) != 24 {
		t.Fatalf("%d rows after the second run, want 24", len(samples))
	}

	// down and up again through the command.
	if r := l.run("migrate", "down"); r.code != 0 || !strings.Contains(r.stdout, "schema version 0 of ") {
		t.Fatalf("migrate down: %+v", r)
	}
	if r := l.run("migrate", "up"); r.code != 0 || !strings.Contains(r.stdout, schemaVersionLine(t)) {
		t.Fatalf("migrate up again: %+v", r)
	}
	if r := l.run("migrate", "sideways"); r.code != exitUsage || !strings.Contains(r.stderr, `unknown action "sideways"`) {
		t.Fatalf("migrate sideways: %+v", r)
	}
}

func TestWrongSecretExitsOneAndStoresNoSamples(t *testing.T) {
	t.Parallel()
	l := lagtrail{t: t, dbURL: pgtest.URL(t), secret: "not-the-right-secret"}
	_, endpoint := startSim(t, alisim.Config{Fleet: alisim.ExampleFleet()})
	r := l.run("record", "--once", "--config", exampleConfig(t, endpoint, ""))
	if r.code != 1 {
		t.Fatalf("exit code %d, want 1: %+v", r.code, r)
	}
	if !strings.Contains(r.stderr, "SignatureDoesNotMatch") {
		t.Errorf("stderr does not name SignatureDoesNotMatch:\n%s", r.stderr)
	}
	samples, polls := readSamples(t, l.dbURL)
	if len(samples) != 0 {
		t.Errorf("%d samples written with a wrong secret", len(samples))
	}
	if len(polls) != 1 || polls[0].ErrorCode != "SignatureDoesNotMatch" {
		t.Errorf("polls = %+v, want the one failed attempt recorded", polls)
	}
}

// TestRecordStopsCleanlyOnSIGTERM runs record under faults, stops it with
// SIGTERM and checks it exits 0 with every answered poll stored.
func TestRecordStopsCleanlyOnSIGTERM(t *testing.T) {
	t.Parallel()
	l := lagtrail{t: t, dbURL: pgtest.URL(t), secret: e2eSecret}
	sim, endpoint := startSim(t, alisim.Config{
		Fleet: alisim.ExampleFleet(),
		FaultRates: map[alisim.Fault]float64{
			alisim.FaultThrottlingUser: 1.0 / 3, alisim.FaultServiceUnavailable: 0.1,
			alisim.FaultMalformed: 0.1, alisim.FaultNumericCode: 0.1, alisim.FaultHang: 0.1,
		},
		Seed:    3,
		HangFor: 5 * time.Second,
	})
	// A poll timeout long enough for any call to reach the endpoint on a
	// loaded machine, so that every poll stored is a request it saw; the
	// hangs outlast it.
	cfg := writeFile(t, "lagtrail.yaml", fmt.Sprintf(`interval: 3s
poll_timeout: 2s
alibaba:
  endpoint: %q
  scheme: http
  requests_per_second: 5
targets:
  - region: cn-hangzhou
    instance: alikafka_pre-cn-mp919o4v
    groups: [kafka-test]
`, endpoint))
	p := startRecord(t, l, "--config", cfg)
	waitForPolls(t, l.dbURL, 3, p)
	p.stop(t)
	// The endpoint logs a hung request once it notices the client left,
	// which may be after record exited: wait until it logged as many as
	// were stored.
	_, polls := readSamples(t, l.dbURL)
	answered := 0
	waitFor(waitLimit, func() bool {
		answered = sim.RequestCount(alisim.ActionGetConsumerProgress)
		return answered >= len(polls)
	})
	if len(polls) < 3 || len(polls) != answered {
		t.Fatalf("%d polls stored, the endpoint saw %d requests; want every one stored", len(polls), answered)
	}
}

// TestSimulateServesRecord is the README's try-it path: simulate in one
// process, record --once against it from another.
func TestSimulateServesRecord(t *testing.T) {
	t.Parallel()
	l := lagtrail{t: t, dbURL: pgtest.URL(t), secret: e2eSecret}
	sim := l.cmd("simulate", "--listen", "127.0.0.1:0")
	stdout, err := sim.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	var simErr bytes.Buffer
	sim.Stderr = &simErr
	if err := sim.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = sim.Process.Signal(syscall.SIGTERM)
		_ = sim.Wait()
	})
	line := make([]byte, 200)
	n, err := stdout.Read(line)
	if err != nil {
		t.Fatalf("simulate printed nothing: %v; stderr %s", err, simErr.String())
	}
	addr, _, _ := strings.Cut(strings.TrimPrefix(string(line[:n]), "simulated alikafka API on "), ": ")
	r := l.run("record", "--once", "--config", exampleConfig(t, addr, ""))
	if r.code != 0 {
		t.Fatalf("record --once against simulate: %+v", r)
	}
	if samples, _ := readSamples(t, l.dbURL); len(samples) != 12 {
		t.Fatalf("%d samples, want 12", len(samples))
	}
}
