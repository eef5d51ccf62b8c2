package spool

import (
	"bufio"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// The crash test re-executes the test binary as a writer (TestMain sees
// crashChildEnv) and kills it with SIGKILL.
const (
	crashChildEnv = "LAGTRAIL_SPOOL_CRASH_CHILD"
	crashDirEnv   = "LAGTRAIL_SPOOL_CRASH_DIR"
	crashStartEnv = "LAGTRAIL_SPOOL_CRASH_START"
	crashRecSize  = 3000
)

func TestMain(m *testing.M) {
	if os.Getenv(crashChildEnv) != "" {
		os.Exit(crashChild())
	}
	os.Exit(m.Run())
}

func crashConfig(dir string) Config {
	return Config{Dir: dir, MaxBytes: 256 << 20, SegmentBytes: 32 << 10}
}

// crashChild appends numbered records in a loop while a second goroutine
// reads and acknowledges them, until it is killed. It prints "A n" after
// an Append of records up to n returned and "K n" after an Ack of records
// up to n returned, on stdout, unbuffered.
func crashChild() int {
	time.AfterFunc(time.Minute, func() { os.Exit(3) }) // never outlive the test
	start, err := strconv.ParseUint(os.Getenv(crashStartEnv), 10, 64)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 2
	}
	s, err := Open(crashConfig(os.Getenv(crashDirEnv)), nil)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 2
	}
	var outMu sync.Mutex
	say := func(format string, args ...any) {
		outMu.Lock()
		defer outMu.Unlock()
		fmt.Fprintf(os.Stdout, format+"\n", args...)
	}
	say("ready")
	go func() {
		rng := rand.New(rand.NewPCG(start, 1))
		for {
			recs, err := s.Read(1 + rng.IntN(40))
			if err != nil {
				fmt.Fprintln(os.Stderr, "read:", err)
				os.Exit(2)
			}
			if len(recs) > 0 {
				last, err := payloadSeq(recs[len(recs)-1], crashRecSize)
				if err != nil {
					fmt.Fprintln(os.Stderr, "read:", err)
					os.Exit(2)
				}
				if err := s.Ack(len(recs)); err != nil {
					fmt.Fprintln(os.Stderr, "ack:", err)
					os.Exit(2)
				}
				say("K %d", last)
			}
			// Sometimes fall behind, so that several segments pile up.
			if rng.IntN(5) == 0 {
				time.Sleep(time.Duration(rng.IntN(30)) * time.Millisecond)
			} else {
				time.Sleep(time.Millisecond)
			}
		}
	}()
	rng := rand.New(rand.NewPCG(start, 2))
	for n := start; ; {
		b := uint64(1 + rng.IntN(8))
		if _, err := s.Append(payloads(n, n+b, crashRecSize)...); err != nil {
			fmt.Fprintln(os.Stderr, "append:", err)
			return 2
		}
		n += b
		say("A %d", n-1)
	}
}

// TestCrashKill9 kills a writer with SIGKILL at random moments, at least
// 20 times, and reopens the spool after each kill: it must open, hold
// only intact records, consecutive (no gap: only the Append in flight may
// be lost), with every record whose Append returned and none whose Ack
// returned.
func TestCrashKill9(t *testing.T) {
	if testing.Short() {
		t.Skip("kills child processes; skipped with -short")
	}
	// Not parallel: a child being started holds copies of this process's
	// descriptors, flocks included, until its exec, which would make
	// other tests' reopening meet their own old locks.
	const kills = 25
	dir := t.TempDir()
	seed := uint64(time.Now().UnixNano())
	t.Logf("seed %d", seed)
	rng := rand.New(rand.NewPCG(seed, 0))

	var next uint64 // number of the next record to append
	var appended, acked int64 = -1, -1
	var torn int64
	var firstPrev uint64
	cuts := 0
	// At least kills kills, and on until the writers appended 100 records
	// (as many kills as that takes on a loaded machine, within minutes).
	more := time.Now().Add(5 * time.Minute)
	k := 0
	for ; k < kills || appended < 100 && time.Now().Before(more); k++ {
		cmd := exec.Command(os.Args[0], "-test.run=^$")
		cmd.Env = append(os.Environ(), crashChildEnv+"=1", crashDirEnv+"="+dir, crashStartEnv+"="+strconv.FormatUint(next, 10))
		var stderr strings.Builder
		cmd.Stderr = &stderr
		out, err := cmd.StdoutPipe()
		if err != nil {
			t.Fatal(err)
		}
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		lines := bufio.NewScanner(out)
		if !lines.Scan() || lines.Text() != "ready" {
			cmd.Process.Kill()
			cmd.Wait()
			t.Fatalf("kill %d: child did not start: %q", k, stderr.String())
		}
		done := make(chan struct{})
		go func() {
			defer close(done)
			for lines.Scan() {
				f := strings.Fields(lines.Text())
				if len(f) != 2 {
					continue
				}
				v, err := strconv.ParseInt(f[1], 10, 64)
				if err != nil {
					continue
				}
				switch f[0] {
				case "A":
					appended = max(appended, v)
				case "K":
					acked = max(acked, v)
				}
			}
		}()
		time.Sleep(time.Duration(5+rng.IntN(200)) * time.Millisecond)
		if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
			t.Fatal(err)
		}
		<-done
		err = cmd.Wait()
		if ws, ok := cmd.ProcessState.Sys().(syscall.WaitStatus); !ok || !ws.Signaled() || ws.Signal() != syscall.SIGKILL {
			t.Fatalf("kill %d: child ended by %v, not SIGKILL: %s", k, err, stderr.String())
		}

		if rng.IntN(2) == 0 {
			cuts += cutUnsynced(t, dir, appended, rng)
		}

		s, err := Open(crashConfig(dir), nil)
		if err != nil {
			t.Fatalf("kill %d: Open: %v", k, err)
		}
		recs := readAll(t, s)
		st := s.Stats()
		s.Close()
		torn += st.TornBytes
		if st.Corrupt != 0 || st.Records != len(recs) {
			t.Fatalf("kill %d: stats %+v with %d records read", k, st, len(recs))
		}
		if aside := files(t, dir, "*.corrupt*"); len(aside) != 0 {
			t.Fatalf("kill %d: set aside as corrupt: %v", k, aside)
		}
		var first, last uint64
		for j, r := range recs {
			i, err := payloadSeq(r, crashRecSize)
			if err != nil {
				t.Fatalf("kill %d: record %d: %v", k, j, err)
			}
			if j == 0 {
				first = i
			} else if i != last+1 {
				t.Fatalf("kill %d: record %d follows %d: gap or disorder", k, i, last)
			}
			last = i
		}
		if len(recs) > 0 {
			if acked >= 0 && int64(first) <= acked {
				t.Fatalf("kill %d: record %d came back after its Ack returned (acknowledged up to %d)", k, first, acked)
			}
			if int64(last) < appended {
				t.Fatalf("kill %d: records up to %d were appended, the spool ends at %d", k, appended, last)
			}
			if first < firstPrev {
				t.Fatalf("kill %d: spool starts at %d, before it started last time (%d)", k, first, firstPrev)
			}
			firstPrev = first
			next = last + 1
		} else {
			next = uint64(max(appended, acked, int64(next)-1) + 1)
		}
	}
	if appended < 100 {
		t.Errorf("the writers appended only %d records in %d runs", appended+1, k)
	}
	t.Logf("%d kills: %d records appended, %d acknowledged; %d simulated power losses; %d torn bytes cut off",
		k, appended+1, acked+1, cuts, torn)
}

// cutUnsynced simulates a power loss during the Append in flight: it cuts
// the newest segment at a random point after the last record whose Append
// was reported done (and after the acknowledged position), which only
// data not yet known to be synced can lose. It returns 1 if it cut.
func cutUnsynced(t *testing.T, dir string, appended int64, rng *rand.Rand) int {
	t.Helper()
	segs := files(t, dir, "*.seg")
	if len(segs) == 0 {
		return 0
	}
	newest := segs[len(segs)-1]
	path := filepath.Join(dir, newest)
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	keep := segHeaderSize
	for p := segHeaderSize; ; {
		rec, size, st := parseFrame(data[p:])
		if st != frameOK {
			break
		}
		p += size
		if i, err := payloadSeq(rec, crashRecSize); err == nil && int64(i) <= appended {
			keep = p
		}
	}
	if b, err := os.ReadFile(filepath.Join(dir, stateName)); err == nil {
		if st, err := decodeState(b); err == nil && segName(st.seq) == newest {
			keep = max(keep, int(st.off))
		}
	}
	if keep >= len(data) {
		return 0
	}
	if err := os.Truncate(path, int64(keep+rng.IntN(len(data)-keep))); err != nil {
		t.Fatal(err)
	}
	return 1
}
