package main

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/lagtrail/lagtrail/internal/alisim"
	"github.com/lagtrail/lagtrail/store"
)

// recordRig is a simulated alikafka endpoint with a fleet of groups, and
// the config and data directories for `lagtrail record` processes polling
// it, as the reliability tests need.
type recordRig struct {
	t      *testing.T
	sim    *alisim.Server
	addr   string
	groups []string
	dir    string
	secret string
	// interval and rps go into every config; newRecordRig sets 1s and 100.
	interval time.Duration
	rps      int
}

const rigRegion, rigInstance = "cn-hangzhou", "inst-reliable"

// newRecordRig serves groups groups of partitions partitions each.
func newRecordRig(t *testing.T, groups, partitions int) *recordRig {
	t.Helper()
	r := &recordRig{t: t, dir: t.TempDir(), secret: "rig-secret-" + fmt.Sprint(time.Now().UnixNano()), interval: time.Second, rps: 100}
	inst := alisim.Instance{Region: rigRegion, ID: rigInstance}
	for i := range groups {
		id := fmt.Sprintf("group-%02d", i)
		r.groups = append(r.groups, id)
		var ps []alisim.Partition
		for p := range partitions {
			ps = append(ps, alisim.Partition{BrokerStart: int64(1000 * (p + 1)), ConsumerStart: int64(900 * (p + 1)), ProduceRate: 50, ConsumeRate: 50})
		}
		inst.Groups = append(inst.Groups, alisim.Group{ID: id, Topics: []alisim.Topic{{Name: "orders", Partitions: ps}}})
	}
	sim, err := alisim.New(alisim.Config{Fleet: alisim.Fleet{Instances: []alisim.Instance{inst}}, Credentials: map[string]string{e2eKeyID: r.secret}})
	if err != nil {
		t.Fatal(err)
	}
	ts := httptest.NewServer(sim)
	t.Cleanup(ts.Close)
	r.sim, r.addr = sim, strings.TrimPrefix(ts.URL, "http://")
	return r
}

// config writes a record config for the rig and returns its path. extra is
// appended as YAML.
func (r *recordRig) config(name, dataDir, extra string) string {
	r.t.Helper()
	var b strings.Builder
	fmt.Fprintf(&b, "interval: %s\npoll_timeout: %s\n", r.interval, r.interval*9/10)
	if dataDir != "" {
		fmt.Fprintf(&b, "data_dir: %s\n", dataDir)
	}
	fmt.Fprintf(&b, "alibaba:\n  endpoint: %s\n  scheme: http\n  requests_per_second: %d\n", r.addr, r.rps)
	fmt.Fprintf(&b, "targets:\n  - region: %s\n    instance: %s\n    groups: [%s]\n", rigRegion, rigInstance, strings.Join(r.groups, ", "))
	b.WriteString(extra)
	path := filepath.Join(r.dir, name)
	if err := os.WriteFile(path, []byte(b.String()), 0o600); err != nil {
		r.t.Fatal(err)
	}
	return path
}

// recorderProc is one running `lagtrail record`.
type recorderProc struct {
	cmd    *exec.Cmd
	stderr lockedBuffer
	done   chan struct{}
}

func (p *recorderProc) log() string {
	return p.stderr.String()
}

// start runs `lagtrail record` with args against dbURL.
func (r *recordRig) start(dbURL string, args ...string) *recorderProc {
	r.t.Helper()
	return startRecord(r.t, lagtrail{t: r.t, dbURL: dbURL, secret: r.secret}, args...)
}

// startRecord runs `lagtrail record` with args as l. The process is killed
// when t ends, and fails t if it printed l's AccessKey secret.
func startRecord(t *testing.T, l lagtrail, args ...string) *recorderProc {
	t.Helper()
	p := &recorderProc{cmd: l.cmd(append([]string{"record"}, args...)...), done: make(chan struct{})}
	p.cmd.Stdout, p.cmd.Stderr = &p.stderr, &p.stderr
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() {
		_ = p.cmd.Wait()
		close(p.done)
	}()
	t.Cleanup(func() {
		p.kill()
		if strings.Contains(p.log(), l.secret) {
			t.Errorf("record printed the AccessKey secret")
		}
	})
	return p
}

// kill ends the process with SIGKILL and waits for it.
func (p *recorderProc) kill() {
	_ = p.cmd.Process.Signal(syscall.SIGKILL)
	<-p.done
}

// stop ends the process with SIGTERM and waits for it to exit, failing t
// when it takes more than a minute or exits non-zero.
func (p *recorderProc) stop(t *testing.T) {
	t.Helper()
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.done:
	case <-time.After(time.Minute):
		p.kill()
		t.Fatalf("record did not stop within a minute of SIGTERM; log:\n%s", p.log())
	}
	if code := p.cmd.ProcessState.ExitCode(); code != 0 {
		t.Fatalf("record exited %d after SIGTERM; log:\n%s", code, p.log())
	}
}

// progressRequests returns the GetConsumerProgress requests the endpoint
// answered, oldest first.
func (r *recordRig) progressRequests() []alisim.Request {
	var out []alisim.Request
	for _, q := range r.sim.Requests() {
		if q.Action == alisim.ActionGetConsumerProgress && q.Status != 0 {
			out = append(out, q)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Time.Before(out[j].Time) })
	return out
}

// ledger compares the endpoint's answers with the stored polls, by request
// id: every answered request should be one stored poll.
type ledger struct {
	answered, stored      int
	missing, extra, dups  []string
	okWrongPartitionCount []string
}

// reconcile reads every stored poll and compares it with the requests the
// endpoint answered. partitions is how many samples an OK poll must hold.
func (r *recordRig) reconcile(ctx context.Context, dbURL string, partitions int) ledger {
	r.t.Helper()
	st, err := store.Open(ctx, store.Config{DatabaseURL: dbURL}, nil)
	if err != nil {
		r.t.Fatal(err)
	}
	defer st.Close()
	polls, err := st.ReadPolls(ctx, store.Range{})
	if err != nil {
		r.t.Fatal(err)
	}
	var l ledger
	answered := map[string]bool{}
	for _, q := range r.progressRequests() {
		answered[q.RequestID] = true
	}
	l.answered = len(answered)
	stored := map[string]int{}
	for _, p := range polls {
		if p.RequestID == "" {
			continue // a client-side failure: nothing was answered
		}
		stored[p.RequestID]++
		if p.OK && p.PartitionCount != partitions {
			l.okWrongPartitionCount = append(l.okWrongPartitionCount, fmt.Sprintf("%s has %d samples", p.RequestID, p.PartitionCount))
		}
	}
	l.stored = len(stored)
	for id, n := range stored {
		if n > 1 {
			l.dups = append(l.dups, id)
		}
		if !answered[id] {
			l.extra = append(l.extra, id)
		}
	}
	for id := range answered {
		if stored[id] == 0 {
			l.missing = append(l.missing, id)
		}
	}
	return l
}

// metric fetches a recorder's /metrics and returns the value of the sample
// whose line starts with name (labels included), or -1.
func metric(t *testing.T, addr, name string) float64 {
	t.Helper()
	resp, err := http.Get("http://" + addr + "/metrics")
	if err != nil {
		return -1
	}
	defer resp.Body.Close()
	var buf bytes.Buffer
	_, _ = buf.ReadFrom(resp.Body)
	for _, line := range strings.Split(buf.String(), "\n") {
		if rest, ok := strings.CutPrefix(line, name+" "); ok {
			var v float64
			if _, err := fmt.Sscan(rest, &v); err == nil {
				return v
			}
		}
	}
	return -1
}
