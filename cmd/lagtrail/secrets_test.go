package main

import (
	"bytes"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"os/exec"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/spf13/cobra"

	"github.com/lagtrail/lagtrail/internal/alisim"
	"github.com/lagtrail/lagtrail/internal/pgtest"
)

// The secrets TestSecretsNeverPrinted sets. They use only characters that
// URL, query and signature encodings leave alone, so a leak shows them
// verbatim.
const (
	secretAK     = "AKSECRET-right-9f2c41d7"
	secretWrong  = "AKSECRET-wrong-5e8b03a2"
	secretSTS    = "STSTOKEN-0d6a9e7c3b11"
	secretDBEnv  = "DBPASSENV-7c1e5a9f"
	secretDBFlag = "DBPASSFLAG-3b8d2f6e"
	secretDBFile = "DBPASSFILE-a4f90c1d"
	// secretShort is short enough for yaml.v3 to quote it whole in a type
	// error.
	secretShort = "Pw-8c1d4e"
	// secretToken is the API's bearer token.
	secretToken = "APITOKEN-6e2b9d04f1"
)

var testSecrets = map[string]string{
	"AccessKey secret":                secretAK,
	"wrong AccessKey secret":          secretWrong,
	"STS token":                       secretSTS,
	"database password (environment)": secretDBEnv,
	"database password (flag)":        secretDBFlag,
	"database password (file)":        secretDBFile,
	"short password":                  secretShort,
	"API bearer token":                secretToken,
}

// secretRun is one invocation of a command.
type secretRun struct {
	name string
	args []string
	env  map[string]string // on top of secretEnv
	// ready, for commands that run until told to stop, is what they print
	// once they are up: the probes are fetched then, and SIGTERM sent. A
	// run that exits before printing it (an unreachable database) just
	// ends; "" waits for the command to exit.
	ready string
	// want checks the exit code; nil accepts any.
	want func(code int) bool
	// wantOut, when set, must appear in the output.
	wantOut string
	// probe lists URLs fetched once the output holds ready; their bodies
	// count as output, and must hold probeWant (default "lagtrail_").
	probe     []string
	probeWant string
}

// commandSpec says how to run one command of the tree: args takes it as far
// as the database or the API; success, when not nil, is a cheap invocation
// that succeeds against a database holding one poll of the simulator's
// kafka-test and the simulator itself; ownDB gives it a database of its
// own; offline marks a command that never connects to the database; extra
// lists further runs.
type commandSpec struct {
	args    []string
	success []string
	ready   string
	ownDB   bool
	offline bool
	extra   func(f *secretFixture) []secretRun
}

// secretSpecs covers commands that need arguments, run until stopped, or
// have a cheap successful invocation. A command missing here still gets
// --help, an unknown flag, unreachable databases and bad config files.
var secretSpecs = map[string]commandSpec{
	"migrate":  {args: []string{"up"}, success: []string{"version"}},
	"maintain": {success: []string{}},
	"record": {args: []string{"--once"}, success: []string{"--once"}, extra: func(f *secretFixture) []secretRun {
		return []secretRun{
			{name: "wrong AccessKey secret, --once", args: []string{"--once", "--config", f.goodConfig},
				env: f.goodDB(secretWrong), want: is(exitFailure), wantOut: "SignatureDoesNotMatch"},
			{name: "wrong AccessKey secret, running", args: []string{"--config", f.goodConfig},
				env: f.goodDB(secretWrong), ready: "SignatureDoesNotMatch", want: is(exitOK), wantOut: "SignatureDoesNotMatch"},
			{name: "API unreachable", args: []string{"--once", "--config", f.closedAPIConfig},
				env: f.goodDB(secretAK), want: is(exitFailure), wantOut: "TransportError"},
			{name: "API faults", args: []string{"--once", "--config", f.faultyConfig},
				env: f.goodDB(secretAK), want: is(exitFailure)},
			f.probed("metrics and health, wrong AccessKey secret", f.goodConfig, f.goodDB(secretWrong)),
			f.probed("metrics and health, database down, spooling", f.spoolConfig, map[string]string{envDatabaseURL: ""}),
		}
	}},
	"simulate": {args: []string{"--listen", "127.0.0.1:0"}, success: []string{"--listen", "127.0.0.1:0"}, ready: "simulated alikafka API on ",
		extra: func(*secretFixture) []secretRun {
			return []secretRun{{name: "bad listen address", args: []string{"--listen", "127.0.0.1:notaport"}, want: is(exitUsage)}}
		}},
	"generate":        {args: []string{"--scenario", "quiet", "--start", "2025-01-06T00:00:00Z", "--to", "+2h"}, success: []string{"--scenario", "quiet", "--start", "2025-01-06T00:00:00Z", "--to", "+2h"}, ownDB: true},
	"demo":            {args: []string{"--live", "1s", "--interval", "1s"}}, // a successful demo takes a minute
	"export":          {args: []string{"--view", "partition_offsets", "--from", "-1h"}, success: []string{"--view", "partition_offsets", "--from", "-1h"}},
	"query lag":       {success: []string{"--from", "-1h"}},
	"query rates":     {success: []string{"--from", "-1h"}},
	"query drain":     {success: []string{}},
	"query status":    {success: []string{"--from", "-1h"}},
	"query events":    {success: []string{"--from", "-1h"}},
	"query top":       {success: []string{}},
	"query skew":      {args: []string{"--group", "kafka-test"}, success: []string{"--group", "kafka-test"}},
	"report capacity": {success: []string{"--format", "json"}},
	"report incident": {args: []string{"--group", "kafka-test", "--from", "-1h", "--to", "now"}, success: []string{"--group", "kafka-test", "--from", "-1h", "--to", "now"}},
	"bench storage":   {args: []string{"--groups", "2", "--partitions", "2", "--days", "1", "--interval", "1h", "--runs", "1", "--single-polls", "4"}, success: []string{"--groups", "2", "--partitions", "2", "--days", "1", "--interval", "1h", "--runs", "1", "--single-polls", "4"}, ownDB: true},
	"config print":    {success: []string{}, offline: true},
	"query fleet":     {success: []string{}},
	"serve": {args: []string{"--listen", "127.0.0.1:0"}, success: []string{"--listen", "127.0.0.1:0"}, ready: "lagtrail: serving on http://",
		extra: func(f *secretFixture) []secretRun {
			tokenFile := writeFile(f.t, "token", secretToken+"\n")
			return []secretRun{
				f.served("API and metrics, no token", nil, nil, "lagtrail_"),
				f.served("token from the environment, requests without it", nil, map[string]string{envAPIToken: secretToken}, "bearer token is required"),
				f.served("token from a file, requests without it", []string{"--token-file", tokenFile}, nil, "bearer token is required"),
				{name: "token file missing", args: []string{"--token-file", tokenFile + ".missing"}, want: is(exitUsage)},
				{name: "bad listen address", args: []string{"--listen", "127.0.0.1:notaport"}, want: is(exitUsage)},
			}
		}},
}

func is(want int) func(int) bool { return func(c int) bool { return c == want } }
func nonZero(c int) bool         { return c != 0 }

// secretFixture holds what every run shares.
type secretFixture struct {
	t               *testing.T
	endpoint        string // the simulator, accepting secretAK
	closedPort      int
	goodConfig      string // the simulator; database_url unreachable, with secretDBFile
	spoolConfig     string // goodConfig with a data_dir
	closedAPIConfig string // an API endpoint nobody listens on
	faultyConfig    string // a simulator answering malformed and numeric-code bodies
	badConfigs      map[string]string
	sharedDB        string // migrated, with one poll of kafka-test
}

// closedURL is a database URL with password pw on a port nobody listens on.
func (f *secretFixture) closedURL(pw string) string {
	return fmt.Sprintf("postgres://lagtrail:%s@127.0.0.1:%d/lagtrail?connect_timeout=2", pw, f.closedPort)
}

// goodDB is the environment of a run against the shared database, reached
// with secretDBEnv as password, with secret as the AccessKey secret.
func (f *secretFixture) goodDB(secret string) map[string]string {
	return map[string]string{envDatabaseURL: withPassword(f.t, f.sharedDB, secretDBEnv), "ALIBABA_CLOUD_ACCESS_KEY_SECRET": secret}
}

// withPassword sets the password of a database URL. The test server trusts
// local connections, so any password connects.
func withPassword(t *testing.T, rawURL, pw string) string {
	t.Helper()
	u, err := url.Parse(rawURL)
	if err != nil {
		t.Fatal(err)
	}
	u.User = url.UserPassword(u.User.Username(), pw)
	return u.String()
}

func closedPort(t *testing.T) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := ln.Addr().(*net.TCPAddr).Port
	ln.Close()
	return port
}

func newSecretFixture(t *testing.T) *secretFixture {
	f := &secretFixture{t: t, closedPort: closedPort(t)}
	sim, err := alisim.New(alisim.Config{Fleet: alisim.ExampleFleet(), Credentials: map[string]string{e2eKeyID: secretAK}})
	if err != nil {
		t.Fatal(err)
	}
	f.endpoint = startHTTP(t, sim)
	faulty, err := alisim.New(alisim.Config{
		Fleet: alisim.ExampleFleet(), Credentials: map[string]string{e2eKeyID: secretAK}, Seed: 1,
		FaultRates: map[alisim.Fault]float64{alisim.FaultMalformed: 0.5, alisim.FaultNumericCode: 0.5},
	})
	if err != nil {
		t.Fatal(err)
	}
	const targets = "targets:\n  - region: cn-hangzhou\n    instance: alikafka_pre-cn-mp919o4v\n    groups: [kafka-test]\n"
	// The poll timeout is far longer than a call to a local simulator takes
	// on a loaded machine, so polls end as the simulator answers.
	cfg := func(dbURL, endpoint string) string {
		return fmt.Sprintf("database_url: %q\ninterval: 5s\npoll_timeout: 4s\nalibaba:\n  endpoint: %q\n  scheme: http\n%s", dbURL, endpoint, targets)
	}
	fileURL := f.closedURL(secretDBFile)
	f.goodConfig = writeFile(t, "good.yaml", cfg(fileURL, f.endpoint))
	f.spoolConfig = writeFile(t, "spool.yaml", fmt.Sprintf("data_dir: %q\n", t.TempDir())+cfg(fileURL, f.endpoint))
	f.closedAPIConfig = writeFile(t, "closed-api.yaml", cfg(fileURL, fmt.Sprintf("127.0.0.1:%d", closedPort(t))))
	f.faultyConfig = writeFile(t, "faulty.yaml", cfg(fileURL, startHTTP(t, faulty)))
	f.badConfigs = map[string]string{}
	for name, content := range map[string]string{
		"secret under an unknown key":           fmt.Sprintf("database_url: %q\nalibaba:\n  access_key_secret: %s\n  security_token: %s\n%s", fileURL, secretAK, secretSTS, targets),
		"broken YAML":                           fmt.Sprintf("database_url: %s\ninterval: [\n", fileURL),
		"URL where a list belongs":              fmt.Sprintf("database_url: %q\ntargets: %s\n", fileURL, fileURL),
		"URL where a duration belongs":          fmt.Sprintf("database_url: %q\ninterval: %s\n%s", fileURL, fileURL, targets),
		"token where a number belongs":          fmt.Sprintf("database_url: %q\nalibaba:\n  requests_per_second: %s\n%s", fileURL, secretSTS, targets),
		"short password where a number belongs": fmt.Sprintf("database_url: %q\nstorage:\n  raw_retention_days: %s\n%s", fileURL, secretShort, targets),
		"invalid setting":                       fmt.Sprintf("database_url: %q\ninterval: 10s\npoll_timeout: 20s\n%s", fileURL, targets),
	} {
		f.badConfigs[name] = writeFile(t, "bad.yaml", content)
	}
	f.sharedDB = pgtest.URL(t)
	l := lagtrail{t: t, dbURL: f.sharedDB, secret: secretAK}
	if r := l.run("record", "--once", "--config", f.goodConfig); r.code != 0 {
		t.Fatalf("seed the shared database: %+v", r)
	}
	return f
}

func startHTTP(t *testing.T, sim *alisim.Server) string {
	ts := httptest.NewServer(sim)
	t.Cleanup(ts.Close)
	return strings.TrimPrefix(ts.URL, "http://")
}

// probed is a run of record serving metrics and health on a loopback
// port given as ":port", which must bind to loopback, probed while it runs.
func (f *secretFixture) probed(name, config string, env map[string]string) secretRun {
	port := closedPort(f.t)
	base := fmt.Sprintf("http://127.0.0.1:%d", port)
	return secretRun{name: name, args: []string{"--config", config, "--listen", fmt.Sprintf(":%d", port)}, env: env,
		ready: fmt.Sprintf("addr=127.0.0.1:%d", port), want: is(exitOK), wantOut: fmt.Sprintf("addr=127.0.0.1:%d", port),
		probe: []string{base + "/metrics", base + "/healthz", base + "/readyz"}}
}

// served is a run of serve against the shared database on a loopback port
// given as ":port", probed on the API, the metrics and a page while it
// runs; the probes send no token.
func (f *secretFixture) served(name string, args []string, env map[string]string, probeWant string) secretRun {
	port := closedPort(f.t)
	base := fmt.Sprintf("http://127.0.0.1:%d", port)
	e := map[string]string{envDatabaseURL: withPassword(f.t, f.sharedDB, secretDBEnv)}
	for k, v := range env {
		e[k] = v
	}
	return secretRun{name: name, args: append([]string{"--listen", fmt.Sprintf(":%d", port)}, args...), env: e,
		ready: fmt.Sprintf("serving on http://127.0.0.1:%d/", port), want: is(exitOK), wantOut: fmt.Sprintf("serving on http://127.0.0.1:%d/", port),
		probe:     []string{base + "/metrics", base + "/api/v1/fleet", base + "/api/v1/lag?from=yesterday", base + "/api/v1/lag?database-url=x", base + "/"},
		probeWant: probeWant}
}

// commandPaths lists every command of the tree under c, c included, as
// argument lists: [], [migrate], [query lag], ...
func commandPaths(c *cobra.Command, prefix []string) [][]string {
	out := [][]string{prefix}
	for _, sub := range c.Commands() {
		out = append(out, commandPaths(sub, append(slices.Clone(prefix), sub.Name()))...)
	}
	return out
}

// runsFor builds the invocations of one command.
func (f *secretFixture) runsFor(path []string, cmd *cobra.Command, db string) []secretRun {
	spec := secretSpecs[strings.Join(path, " ")]
	hasDB := cmd.Flags().Lookup("database-url") != nil
	hasConfig := cmd.Flags().Lookup("config") != nil
	var cfgArgs []string
	if hasConfig {
		cfgArgs = []string{"--config", f.goodConfig}
	}
	base := slices.Concat(spec.args, cfgArgs)
	unreachable := nonZero
	if spec.offline {
		unreachable = nil
	}
	runs := []secretRun{
		{name: "--help", args: []string{"--help"}, want: is(exitOK), wantOut: "Usage:"},
		{name: "unknown flag", args: []string{"--no-such-flag"}, want: is(exitUsage)},
	}
	if hasDB {
		runs = append(runs, secretRun{name: "database unreachable (flag and environment)",
			args: append(slices.Clone(base), "--database-url", f.closedURL(secretDBFlag)), ready: spec.ready, want: unreachable},
			// libpq and pgx end the user info at the first '@', Go's
			// net/url at the last: the rest of this password must not
			// come back as a host name.
			secretRun{name: "raw @ in the database password",
				args: append(slices.Clone(base), "--database-url", f.closedURL("x@"+secretDBFlag)), ready: spec.ready, want: unreachable})
	} else if cmd.Runnable() {
		runs = append(runs, secretRun{name: "database unreachable (environment)", args: base, ready: spec.ready})
	}
	if hasConfig {
		runs = append(runs, secretRun{name: "database unreachable (config file)", args: base,
			env: map[string]string{envDatabaseURL: ""}, ready: spec.ready, want: unreachable})
		for name, file := range f.badConfigs {
			want := is(exitUsage)
			if name == "invalid setting" {
				// Only record and config print check the polling
				// settings; the rest go on to the unreachable database.
				want = nonZero
			}
			runs = append(runs, secretRun{name: "bad config: " + name, args: slices.Concat(spec.args, []string{"--config", file}), want: want})
		}
	}
	if spec.success != nil {
		runs = append(runs, secretRun{name: "success", args: slices.Concat(spec.success, cfgArgs),
			env: map[string]string{envDatabaseURL: withPassword(f.t, db, secretDBEnv)}, ready: spec.ready, want: is(exitOK)})
	}
	if spec.extra != nil {
		runs = append(runs, spec.extra(f)...)
	}
	return runs
}

// TestSecretsNeverPrinted runs every command of the binary, found by walking
// the cobra tree, with an AccessKey secret, an STS token and database
// passwords set in the environment, flags and config files, and debug logs:
// with --help, with failures forced (unreachable database, wrong AccessKey
// secret, unreachable or faulty API, bad config files, unknown flags) and,
// where cheap, successfully. No output may hold any of the secrets, nor may
// the error messages of the polls stored.
func TestSecretsNeverPrinted(t *testing.T) {
	t.Parallel()
	f := newSecretFixture(t)
	root := newRootCmd(io.Discard, io.Discard, os.Getenv)
	paths := commandPaths(root, nil)
	if len(paths) < 20 {
		t.Fatalf("found %d commands, want the whole tree", len(paths))
	}
	for _, path := range paths {
		cmd, _, err := root.Find(path)
		if err != nil {
			t.Fatal(err)
		}
		name := strings.Join(append([]string{"lagtrail"}, path...), " ")
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			db := f.sharedDB
			if secretSpecs[strings.Join(path, " ")].ownDB {
				db = pgtest.URL(t)
			}
			for _, r := range f.runsFor(path, cmd, db) {
				if cmd.Runnable() && r.name != "--help" {
					r.args = append(r.args, "--log-level", "debug")
				}
				f.check(t, name, path, r)
			}
			if db != f.sharedDB || slices.Equal(path, []string{"record"}) {
				f.checkStoredPolls(t, db)
			}
		})
	}
}

// check runs r as path and fails the test on a printed secret or an
// unexpected exit code.
func (f *secretFixture) check(t *testing.T, name string, path []string, r secretRun) {
	t.Helper()
	l := lagtrail{t: t, dbURL: f.closedURL(secretDBEnv), secret: secretAK}
	args := slices.Concat(path, r.args)
	c := l.cmd(args...)
	c.Dir = t.TempDir()
	c.Env = append(c.Env, "ALIBABA_CLOUD_SECURITY_TOKEN="+secretSTS)
	for k, v := range r.env {
		c.Env = append(c.Env, k+"="+v)
	}
	var out lockedBuffer
	c.Stdout, c.Stderr = &out, &out
	var bodies string
	probe := func() {
		var b strings.Builder
		for _, u := range r.probe {
			b.WriteString(fetch(u))
		}
		bodies = b.String()
	}
	code, timedOut := runUntilReady(t, c, &out, r.ready, probe, 3*time.Minute)
	probeWant := r.probeWant
	if probeWant == "" {
		probeWant = "lagtrail_"
	}
	if len(r.probe) > 0 && !strings.Contains(bodies, probeWant) {
		t.Errorf("%s (%s): the probes' answers lack %q:\n%s", name, r.name, probeWant, tail(bodies, 2000))
	}
	text := out.String() + bodies
	if timedOut {
		t.Errorf("%s (%s) did not finish in 3 minutes; give it a ready text in secretSpecs", name, r.name)
	}
	for what, s := range testSecrets {
		if strings.Contains(text, s) {
			t.Errorf("%s (%s) printed the %s:\n%s", name, r.name, what, linesWith(text, s))
		}
	}
	if r.want != nil && !r.want(code) {
		t.Errorf("%s (%s): unexpected exit code %d; output:\n%s", name, r.name, code, tail(text, 2000))
	}
	if r.wantOut != "" && !strings.Contains(text, r.wantOut) {
		t.Errorf("%s (%s): output lacks %q:\n%s", name, r.name, r.wantOut, tail(text, 2000))
	}
}

// checkStoredPolls fails the test if a stored poll's error message holds a
// secret: the polls view is readable by every BI user.
func (f *secretFixture) checkStoredPolls(t *testing.T, dbURL string) {
	t.Helper()
	_, polls := readSamples(t, dbURL)
	for _, p := range polls {
		for what, s := range testSecrets {
			if strings.Contains(p.ErrorMessage, s) {
				t.Errorf("a stored %s poll's error message holds the %s: %s", p.ErrorCode, what, p.ErrorMessage)
			}
		}
	}
}

// runUntilReady runs c, whose output goes to out, and kills it after
// limit. When ready is set, it calls onReady once out holds ready, then
// sends SIGTERM. It returns the exit code.
func runUntilReady(t *testing.T, c *exec.Cmd, out *lockedBuffer, ready string, onReady func(), limit time.Duration) (code int, timedOut bool) {
	t.Helper()
	if err := c.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- c.Wait() }()
	var look <-chan time.Time
	if ready != "" {
		tick := time.NewTicker(100 * time.Millisecond)
		defer tick.Stop()
		look = tick.C
	}
	kill := time.After(limit)
	for {
		select {
		case err := <-done:
			if ee, ok := err.(*exec.ExitError); ok {
				return ee.ExitCode(), timedOut
			}
			if err != nil {
				t.Fatal(err)
			}
			return 0, timedOut
		case <-look:
			if strings.Contains(out.String(), ready) {
				onReady()
				_ = c.Process.Signal(syscall.SIGTERM)
				look = nil
			}
		case <-kill:
			_ = c.Process.Kill()
			timedOut = true
		}
	}
}

// lockedBuffer collects a running command's output, which is read while
// the command writes it.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// fetch returns the status and body at u, or the error.
func fetch(u string) string {
	resp, err := http.Get(u)
	if err != nil {
		return err.Error() + "\n"
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return fmt.Sprintf("GET %s: %s\n%s\n", u, resp.Status, body)
}

func linesWith(text, s string) string {
	var out []string
	for _, line := range strings.Split(text, "\n") {
		if strings.Contains(line, s) {
			out = append(out, line)
		}
	}
	return strings.Join(out, "\n")
}

func tail(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return "…" + s[len(s)-n:]
}
