package main

import (
	"context"
	"fmt"
	"math/rand/v2"
	"net/http"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/lagtrail/lagtrail/internal/pgtest"
	"github.com/lagtrail/lagtrail/internal/spool"
)

var listenLine = regexp.MustCompile(`serving metrics and health.* addr=(\S+)`)

// listenAddrOf waits for the recorder to log its metrics address.
func listenAddrOf(t *testing.T, p *recorderProc) string {
	t.Helper()
	var addr string
	if !waitFor(waitLimit, func() bool {
		m := listenLine.FindStringSubmatch(p.log())
		if m != nil {
			addr = m[1]
		}
		return m != nil
	}) {
		t.Fatalf("record never logged its metrics address; log:\n%s", p.log())
	}
	return addr
}

func readyz(addr string) int {
	resp, err := http.Get("http://" + addr + "/readyz")
	if err != nil {
		return 0
	}
	resp.Body.Close()
	return resp.StatusCode
}

// TestRecordKeepsEveryPollThroughADatabaseOutage polls 5 groups every second,
// stops PostgreSQL for as long as 80% of a minute's polls take (48 s on an
// idle machine) and starts it again: every request the endpoint answered
// must be stored once, the outage's polls from the spool.
func TestRecordKeepsEveryPollThroughADatabaseOutage(t *testing.T) {
	t.Parallel()
	srv, dbURL := pgtest.Private(t)
	const groups, partitions = 5, 4
	rig := newRecordRig(t, groups, partitions)
	cfg := rig.config("outage.yaml", filepath.Join(rig.dir, "data"), "")
	p := rig.start(dbURL, "--config", cfg, "--listen", "127.0.0.1:0")
	addr := listenAddrOf(t, p)
	if !waitFor(waitLimit, func() bool { return metric(t, addr, "lagtrail_polls_written_total") >= 2*groups }) {
		t.Fatalf("no polls written before the outage; log:\n%s", p.log())
	}
	if !waitFor(waitLimit, func() bool { return readyz(addr) == http.StatusOK }) {
		t.Errorf("/readyz is not 200 while polls and writes succeed")
	}

	ctx := context.Background()
	if err := srv.Halt(ctx); err != nil {
		t.Fatal(err)
	}
	haltedAt := time.Now()
	// The outage lasts until the endpoint answered 80% of a minute's
	// polls, however slowly the machine runs; ten times the time they take
	// on an idle machine means polling stopped.
	const want = groups * 60 * 8 / 10
	limit := 10 * want / groups * rig.interval
	during := 0
	waitFor(limit, func() bool {
		during = 0
		for _, q := range rig.progressRequests() {
			if q.Time.After(haltedAt) {
				during++
			}
		}
		return during >= want
	})
	outage := time.Since(haltedAt).Round(time.Second)
	spooled := metric(t, addr, "lagtrail_spool_polls")
	notReady := readyz(addr)
	if err := srv.Resume(ctx); err != nil {
		t.Fatal(err)
	}
	t.Logf("outage: %d requests answered in %s, %v polls in the spool at its end", during, outage, spooled)
	if during < want {
		t.Errorf("only %d polls during %s of outage, want at least %d: polling must go on while the database is down", during, outage, want)
	}
	if spooled < float64(during)/2 {
		t.Errorf("spool held %v polls at the end of the outage, want most of the %d polled during it", spooled, during)
	}
	if notReady != http.StatusServiceUnavailable {
		t.Errorf("/readyz answered %d during the outage, want 503", notReady)
	}
	if !waitFor(waitLimit, func() bool {
		return metric(t, addr, "lagtrail_spool_polls") == 0 && metric(t, addr, "lagtrail_buffer_polls") <= groups
	}) {
		t.Fatalf("spool not drained %s after the database came back; log:\n%s", waitLimit, p.log())
	}
	p.stop(t)

	l := rig.reconcile(ctx, dbURL, partitions)
	t.Logf("answered %d, stored %d", l.answered, l.stored)
	if len(l.missing)+len(l.extra)+len(l.dups)+len(l.okWrongPartitionCount) > 0 {
		t.Errorf("stored polls do not match the endpoint's answers: missing %d %v, extra %d %v, duplicated %d %v, partial %v",
			len(l.missing), head(l.missing), len(l.extra), head(l.extra), len(l.dups), head(l.dups), head(l.okWrongPartitionCount))
	}
	if l.answered < during {
		t.Errorf("endpoint answered %d requests over the run, fewer than the %d during the outage alone", l.answered, during)
	}
	if dropped := metric(t, addr, `lagtrail_dropped_polls_total{reason="spool_full"}`); dropped > 0 {
		t.Errorf("%v polls dropped", dropped)
	}
}

// TestRecordSurvivesRepeatedKill9 kills the recorder with SIGKILL at random
// moments, 24 times, restarting it each time; for a third of the kills
// PostgreSQL is down, so the recorder is killed while spooling. Afterwards
// the spool must open cleanly, and the stored polls must be whole, unique
// and each one the endpoint answered; polls are lost only in flight.
func TestRecordSurvivesRepeatedKill9(t *testing.T) {
	t.Parallel()
	srv, dbURL := pgtest.Private(t)
	const groups, partitions, kills = 4, 8, 24
	rig := newRecordRig(t, groups, partitions)
	dataDir := filepath.Join(rig.dir, "data")
	cfg := rig.config("crash.yaml", dataDir, "")
	ctx := context.Background()
	rng := rand.New(rand.NewPCG(uint64(time.Now().UnixNano()), 7))
	for i := range kills {
		if i == 8 {
			if err := srv.Halt(ctx); err != nil {
				t.Fatal(err)
			}
		}
		if i == 16 {
			// Eight kills while spooling: the spool holds the outage's
			// polls and is readable.
			sp, err := spool.Open(spool.Config{Dir: filepath.Join(dataDir, "spool")}, nil)
			if err != nil {
				t.Fatalf("spool unreadable after kills while spooling: %v", err)
			}
			st := sp.Stats()
			sp.Close()
			t.Logf("spool after 8 kills while the database is down: %d polls, %d torn bytes dropped", st.Records, st.TornBytes)
			if st.Records == 0 || st.Corrupt > 0 {
				t.Errorf("spool after kills while the database is down: %d polls, %d corrupt; want polls and no corruption", st.Records, st.Corrupt)
			}
			if err := srv.Resume(ctx); err != nil {
				t.Fatal(err)
			}
		}
		if i == 15 {
			// The last kill while the database is down comes once the
			// spool holds polls, however slowly the machine runs.
			p := rig.start(dbURL, "--config", cfg, "--listen", "127.0.0.1:0")
			addr := listenAddrOf(t, p)
			if !waitFor(waitLimit, func() bool { return metric(t, addr, "lagtrail_spool_polls") > 0 }) {
				t.Fatalf("nothing spooled with the database down; log:\n%s", p.log())
			}
			time.Sleep(time.Duration(rng.IntN(1000)) * time.Millisecond)
			p.kill()
			continue
		}
		p := rig.start(dbURL, "--config", cfg)
		time.Sleep(time.Duration(300+rng.IntN(2700)) * time.Millisecond)
		p.kill()
	}

	sp, err := spool.Open(spool.Config{Dir: filepath.Join(dataDir, "spool")}, nil)
	if err != nil {
		t.Fatalf("spool unreadable after %d kills: %v", kills, err)
	}
	st := sp.Stats()
	if err := sp.Close(); err != nil {
		t.Fatal(err)
	}
	t.Logf("after %d kills the spool holds %d polls (%d torn bytes dropped, %d corrupt records)", kills, st.Records, st.TornBytes, st.Corrupt)
	if st.Corrupt > 0 {
		t.Errorf("spool has %d corrupt records after kills; only a torn tail is expected", st.Corrupt)
	}

	// A last run drains the spool, then stops cleanly.
	p := rig.start(dbURL, "--config", cfg, "--listen", "127.0.0.1:0")
	addr := listenAddrOf(t, p)
	if !waitFor(waitLimit, func() bool { return metric(t, addr, "lagtrail_spool_polls") == 0 }) {
		t.Fatalf("spool not drained; log:\n%s", p.log())
	}
	time.Sleep(2 * time.Second)
	p.stop(t)

	l := rig.reconcile(ctx, dbURL, partitions)
	t.Logf("answered %d, stored %d, lost %d", l.answered, l.stored, len(l.missing))
	if len(l.extra)+len(l.dups)+len(l.okWrongPartitionCount) > 0 {
		t.Errorf("after kills: extra %v, duplicated %v, partial %v", head(l.extra), head(l.dups), head(l.okWrongPartitionCount))
	}
	// A kill loses at most what was in flight: each group's current poll,
	// and the polls queued for the next write or spill. Allow two per group
	// per kill.
	if limit := 2 * groups * kills; len(l.missing) > limit {
		t.Errorf("%d answered polls lost over %d kills, more than %d (two per group per kill)", len(l.missing), kills, limit)
	}
	if l.stored < l.answered/2 {
		t.Errorf("only %d of %d answered polls stored", l.stored, l.answered)
	}
}

func head(s []string) []string {
	if len(s) > 5 {
		return append(s[:5:5], fmt.Sprintf("… %d more", len(s)-5))
	}
	return s
}

// TestRecordOnceSaysWhenTheDatabaseDidNotTakeItsPolls runs record --once
// while PostgreSQL is down: it must fail and say the polls are spooled, and
// the next run, with the database back, must store them.
func TestRecordOnceSaysWhenTheDatabaseDidNotTakeItsPolls(t *testing.T) {
	t.Parallel()
	srv, dbURL := pgtest.Private(t)
	const groups, partitions = 3, 2
	rig := newRecordRig(t, groups, partitions)
	// One round: a long interval gives the polls a poll timeout (54 s) no
	// answer exceeds on a loaded machine; a timed-out poll has no request
	// id to match with the endpoint's answers.
	rig.interval = time.Minute
	cfg := rig.config("once.yaml", filepath.Join(rig.dir, "data"), "")
	ctx := context.Background()
	if err := srv.Halt(ctx); err != nil {
		t.Fatal(err)
	}
	l := lagtrail{t: t, dbURL: dbURL, secret: rig.secret}
	res := l.run("record", "--once", "--config", cfg)
	if res.code != 1 || !strings.Contains(res.stderr, "the database did not take 3 polls (in the spool") {
		t.Fatalf("record --once with the database down: exit %d, stderr:\n%s", res.code, res.stderr)
	}
	if err := srv.Resume(ctx); err != nil {
		t.Fatal(err)
	}
	res = l.run("record", "--once", "--config", cfg)
	if res.code != 0 {
		t.Fatalf("record --once with the database back: exit %d, stderr:\n%s", res.code, res.stderr)
	}
	led := rig.reconcile(ctx, dbURL, partitions)
	if led.answered != 2*groups || led.stored != 2*groups || len(led.missing)+len(led.dups)+len(led.extra) > 0 {
		t.Errorf("after two runs: answered %d, stored %d, missing %v, dups %v, extra %v; want %d of each, none missing", led.answered, led.stored, led.missing, led.dups, led.extra, 2*groups)
	}
}
