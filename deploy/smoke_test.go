package deploy

import (
	"bytes"
	"context"
	"encoding/csv"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"gopkg.in/yaml.v3"

	"github.com/lagtrail/lagtrail/internal/pgtest"
)

// buildLagtrail builds cmd/lagtrail as the Dockerfile does (static, CGO
// off) into a temp dir and returns its path.
func buildLagtrail(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "lagtrail")
	cmd := exec.Command("go", "build", "-trimpath", "-o", bin, "./cmd/lagtrail")
	cmd.Dir = repoRoot
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build ./cmd/lagtrail: %v\n%s", err, out)
	}
	return bin
}

// answerLimit bounds the wait for a started process to answer: far longer
// than it takes on a loaded machine.
const answerLimit = 3 * time.Minute

// runLagtrail runs the binary with args and env added to the test's
// environment, and returns its stdout; a non-zero exit fails t.
func runLagtrail(t *testing.T, bin string, env []string, args ...string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, args...)
	cmd.Env = append(os.Environ(), env...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("lagtrail %s: %v\nstdout: %s\nstderr: %s", strings.Join(args, " "), err, stdout.Bytes(), stderr.Bytes())
	}
	return stdout.String()
}

// freeAddr returns a loopback address with a port nothing listens on now.
func freeAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	if err := ln.Close(); err != nil {
		t.Fatal(err)
	}
	return addr
}

// withoutFaults writes a copy of the scenario file at p without its fault
// rates into dir, so that one round of polls succeeds for sure.
func withoutFaults(t *testing.T, p, dir string) (file string, groups int) {
	t.Helper()
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	var doc yaml.Node
	if err := yaml.Unmarshal(b, &doc); err != nil || doc.Kind != yaml.DocumentNode || doc.Content[0].Kind != yaml.MappingNode {
		t.Fatalf("%s: %v; want a mapping", p, err)
	}
	m := doc.Content[0]
	for i := 0; i < len(m.Content); i += 2 {
		if m.Content[i].Value == "faults" {
			m.Content = slices.Delete(m.Content, i, i+2)
			break
		}
	}
	var s struct {
		Instances []struct {
			Groups []struct {
				ID string `yaml:"id"`
			} `yaml:"groups"`
		} `yaml:"instances"`
	}
	if err := m.Decode(&s); err != nil {
		t.Fatal(err)
	}
	for _, i := range s.Instances {
		groups += len(i.Groups)
	}
	out, err := yaml.Marshal(&doc)
	if err != nil {
		t.Fatal(err)
	}
	file = filepath.Join(dir, "scenario.yaml")
	if err := os.WriteFile(file, out, 0o600); err != nil {
		t.Fatal(err)
	}
	return file, groups
}

// polled is what record --once prints when every group's poll succeeded.
var polled = regexp.MustCompile(`polled (\d+) groups`)

// TestComposeSmoke runs the simulator profile's commands as
// docker-compose.yml has them, with its mounts resolved to the repository's
// files, but as local processes: migrate up on an empty database, generate,
// simulate, then one round of record --once with the recorder's config. It
// then runs every dashboard query on what they wrote. The test's
// deviations: the simulator listens on a free port (the config is copied
// with that endpoint), generate and simulate start three hours ago rather
// than seven days, and the scenario's fault rates are removed so that the
// round of polls succeeds.
func TestComposeSmoke(t *testing.T) {
	t.Parallel()
	if testing.Short() {
		t.Skip("builds and runs lagtrail; not with -short")
	}
	env, err := readEnvFile(simulatorEnv)
	if err != nil {
		t.Fatal(err)
	}
	f, err := loadCompose(env)
	if err != nil {
		t.Fatal(err)
	}
	migrate, rec, sim, gen, web := f.Services["lagtrail-migrate"], f.Services["lagtrail"], f.Services["simulator"], f.Services["lagtrail-generate"], f.Services["lagtrail-web"]
	bin := buildLagtrail(t)
	dir := t.TempDir()
	url := pgtest.EmptyURL(t)
	dbEnv := []string{"LAGTRAIL_DATABASE_URL=" + url}
	var creds []string
	for _, k := range []string{"ALIBABA_CLOUD_ACCESS_KEY_ID", "ALIBABA_CLOUD_ACCESS_KEY_SECRET"} {
		creds = append(creds, k+"="+sim.Environment[k])
	}

	// The simulator's and generate's scenario and time zero.
	scenario, groups := withoutFaults(t, filepath.Join(repoRoot, sim.hostPath(sim.Command.flag("--scenario"))), dir)
	start := time.Now().UTC().Truncate(time.Minute).Add(-3 * time.Hour).Format(time.RFC3339)
	hostArgs := func(s composeService, replace map[string]string) []string {
		args := slices.Clone(s.Command)
		for i, a := range args {
			if r, ok := replace[a]; ok {
				args[i] = r
			}
		}
		return args
	}

	out := runLagtrail(t, bin, dbEnv, migrate.Command...)
	if !strings.Contains(out, "schema version") {
		t.Errorf("migrate up printed %q", out)
	}
	runLagtrail(t, bin, dbEnv, append(hostArgs(gen, map[string]string{gen.Command.flag("--scenario"): scenario}), "--start", start)...)

	listen := sim.Command.flag("--listen")
	addr := freeAddr(t)
	simCmd := exec.Command(bin, append(hostArgs(sim, map[string]string{listen: addr, sim.Command.flag("--scenario"): scenario}), "--start", start)...)
	simCmd.Env = append(os.Environ(), creds...)
	var simOut bytes.Buffer
	simCmd.Stdout, simCmd.Stderr = &simOut, &simOut
	if err := simCmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = simCmd.Process.Signal(os.Interrupt)
		done := make(chan error, 1)
		go func() { done <- simCmd.Wait() }()
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			_ = simCmd.Process.Kill()
			<-done
		}
	})
	for deadline := time.Now().Add(answerLimit); ; {
		c, err := net.Dial("tcp", addr)
		if err == nil {
			_ = c.Close()
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the simulator does not listen on %s: %v\n%s", addr, err, simOut.Bytes())
		}
		time.Sleep(100 * time.Millisecond)
	}

	// The recorder's config, pointed at the simulator's port.
	cfgFile := rec.hostPath(rec.Command.flag("--config"))
	b, err := os.ReadFile(filepath.Join(repoRoot, cfgFile))
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Contains(b, []byte(listen)) {
		t.Fatalf("%s does not name the simulator's address %s", cfgFile, listen)
	}
	cfg := filepath.Join(dir, "lagtrail.yaml")
	if err := os.WriteFile(cfg, bytes.ReplaceAll(b, []byte(listen), []byte(addr)), 0o600); err != nil {
		t.Fatal(err)
	}
	out = runLagtrail(t, bin, append(dbEnv, creds...),
		append(hostArgs(rec, map[string]string{rec.Command.flag("--config"): cfg}), "--once")...)
	if m := polled.FindStringSubmatch(out); m == nil || m[1] != fmt.Sprint(groups) {
		t.Fatalf("record --once printed %q, want polled %d groups (the scenario's)", out, groups)
	}

	pool, err := pgxpool.New(t.Context(), url)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(pool.Close)
	var current int
	err = asReader(t.Context(), pool, func(tx pgx.Tx) error {
		return tx.QueryRow(t.Context(), "SELECT count(*) FROM lagtrail.group_status WHERE status <> 'NODATA'").Scan(&current)
	})
	if err != nil || current != groups {
		t.Errorf("group_status has %d groups with current polls (%v), want %d", current, err, groups)
	}
	checkWebService(t, bin, dbEnv, hostArgs(web, map[string]string{web.Command.flag("--listen"): freeAddr(t)}), groups)

	noFaults := "the test removed the scenario's fault rates: no poll failed"
	noRebalance := "the scenario's one rebalance is on day 5, not in the three hours generated"
	checkDashboardQueries(t, pool, time.Now().UTC(), map[string]string{
		"Failed polls": noFaults, "Failed polls in range": noFaults, "Rebalances in range": noRebalance,
	})
}

// checkWebService runs lagtrail-web's command as a local process and
// checks that its fleet lists every group of the scenario as recorded
// now, and that it serves the fleet page.
func checkWebService(t *testing.T, bin string, env, args []string, groups int) {
	t.Helper()
	addr := ""
	for i, a := range args {
		if a == "--listen" && i+1 < len(args) {
			addr = args[i+1]
		}
	}
	cmd := exec.Command(bin, args...)
	cmd.Env = append(os.Environ(), env...)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() {
		_ = cmd.Process.Signal(os.Interrupt)
		if err := cmd.Wait(); err != nil {
			t.Errorf("lagtrail serve did not exit cleanly on SIGINT: %v\n%s", err, out.Bytes())
		}
	}()
	get := func(path string) (int, string) {
		for deadline := time.Now().Add(answerLimit); ; {
			resp, err := http.Get("http://" + addr + path)
			if err == nil {
				defer resp.Body.Close()
				b, _ := io.ReadAll(resp.Body)
				return resp.StatusCode, string(b)
			}
			if time.Now().After(deadline) {
				t.Fatalf("lagtrail serve does not answer on %s: %v\n%s", addr, err, out.Bytes())
			}
			time.Sleep(100 * time.Millisecond)
		}
	}
	code, body := get("/api/v1/fleet?format=csv")
	recs, err := csv.NewReader(strings.NewReader(body)).ReadAll()
	if code != http.StatusOK || err != nil || len(recs) != groups+1 {
		t.Fatalf("fleet: %d, %v, %d records; want a header and %d groups:\n%s", code, err, len(recs), groups, body)
	}
	status := slices.Index(recs[0], "status")
	for _, r := range recs[1:] {
		if status < 0 || r[status] == "NODATA" {
			t.Errorf("fleet row %v: want a current status", r)
		}
	}
	if code, body := get("/"); code != http.StatusOK || !strings.Contains(body, "<html") {
		t.Errorf("the fleet page: %d\n%.300s", code, body)
	}
}
