package spool

import (
	"bytes"
	"errors"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
)

func TestConfig(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		cfg     Config
		wantMax int64
		wantSeg int64
		wantErr string
	}{
		{"defaults", Config{Dir: "d"}, 1 << 30, 8 << 20, ""},
		{"small max scales segment", Config{Dir: "d", MaxBytes: 4 << 20}, 4 << 20, 512 << 10, ""},
		{"minimum max", Config{Dir: "d", MaxBytes: 1 << 20}, 1 << 20, 128 << 10, ""},
		{"explicit", Config{Dir: "d", MaxBytes: 100 << 20, SegmentBytes: 50 << 20}, 100 << 20, 50 << 20, ""},
		{"no dir", Config{}, 0, 0, "no directory"},
		{"max too small", Config{Dir: "d", MaxBytes: 1<<20 - 1}, 0, 0, "max bytes 1048575 is below the minimum"},
		{"negative max", Config{Dir: "d", MaxBytes: -1}, 0, 0, "max bytes -1 is below"},
		{"segment too small", Config{Dir: "d", SegmentBytes: 4095}, 0, 0, "segment bytes 4095 is below the minimum"},
		{"negative segment", Config{Dir: "d", SegmentBytes: -5}, 0, 0, "segment bytes -5 is below"},
		{"segment over half", Config{Dir: "d", MaxBytes: 4 << 20, SegmentBytes: 2<<20 + 1}, 0, 0, "more than half of max bytes"},
		{"segment over cap", Config{Dir: "d", MaxBytes: 1 << 40, SegmentBytes: 65 << 20}, 0, 0, "above the maximum"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, err := tt.cfg.withDefaults()
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("error %v, want one containing %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got.MaxBytes != tt.wantMax || got.SegmentBytes != tt.wantSeg {
				t.Errorf("max %d segment %d, want %d %d", got.MaxBytes, got.SegmentBytes, tt.wantMax, tt.wantSeg)
			}
		})
	}
}

func TestOpenCreatesPrivateDir(t *testing.T) {
	t.Parallel()
	dir := filepath.Join(t.TempDir(), "data", "spool")
	mustOpen(t, Config{Dir: dir}, nil)
	fi, err := os.Stat(dir)
	if err != nil {
		t.Fatal(err)
	}
	if perm := fi.Mode().Perm(); perm != 0o700 {
		t.Errorf("mode %o, want 700", perm)
	}
}

func TestRoundTrip(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name     string
		segKiB   int64
		batches  []int // records per Append
		size     int   // payload size spread
		wantSegs int   // at least
	}{
		{"one record", 64, []int{1}, 100, 1},
		{"single appends across segments", 4, []int{1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1}, 900, 3},
		{"batch spanning segments", 4, []int{60}, 900, 6},
		{"mixed batches", 8, []int{3, 17, 1, 40, 2}, 2000, 5},
		{"records filling segments", 4, []int{10}, 4096 - 24 - 8, 3},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			dir := t.TempDir()
			cfg := smallConfig(dir, tt.segKiB)
			s := mustOpen(t, cfg, nil)
			var n uint64
			for _, b := range tt.batches {
				if d := mustAppend(t, s, payloads(n, n+uint64(b), tt.size)...); d != 0 {
					t.Fatalf("dropped %d", d)
				}
				n += uint64(b)
			}
			wantSeqs(t, readAll(t, s), 0, n, tt.size)
			st := s.Stats()
			if st.Records != int(n) || st.Segments < tt.wantSegs || st.Dropped != 0 || st.Corrupt != 0 || st.TornBytes != 0 {
				t.Errorf("stats %+v, want %d records in at least %d segments, nothing lost", st, n, tt.wantSegs)
			}
			if segs := files(t, dir, "*.seg"); len(segs) != st.Segments {
				t.Errorf("%d segment files, stats say %d", len(segs), st.Segments)
			}
			if err := s.Close(); err != nil {
				t.Fatal(err)
			}

			s = mustOpen(t, cfg, nil)
			if got := s.Stats(); got.Records != st.Records || got.Bytes != st.Bytes || got.Segments != st.Segments {
				t.Errorf("after reopening: stats %+v, before %+v", got, st)
			}
			wantSeqs(t, readAll(t, s), 0, n, tt.size)
			mustAppend(t, s, payloads(n, n+3, tt.size)...)
			wantSeqs(t, readAll(t, s), 0, n+3, tt.size)
		})
	}
}

func TestEmptyAndOddRecords(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	recs := [][]byte{{}, nil, []byte("x"), bytes.Repeat([]byte{0}, 100), {}}
	s := mustOpen(t, smallConfig(dir, 4), nil)
	mustAppend(t, s, recs...)
	if d, err := s.Append(); d != 0 || err != nil {
		t.Errorf("empty Append: %d, %v", d, err)
	}
	s.Close()
	s = mustOpen(t, smallConfig(dir, 4), nil)
	got := readAll(t, s)
	if len(got) != len(recs) {
		t.Fatalf("got %d records, want %d", len(got), len(recs))
	}
	for i := range recs {
		if !bytes.Equal(got[i], recs[i]) {
			t.Errorf("record %d: %q, want %q", i, got[i], recs[i])
		}
	}
	// The returned slices are the caller's: growing one must not touch the next.
	_ = append(got[2], 'y', 'y', 'y')
	if again := readAll(t, s); !bytes.Equal(again[3], recs[3]) {
		t.Errorf("record 3 changed after appending to record 2's slice")
	}
}

func TestReadAndAck(t *testing.T) {
	t.Parallel()
	s := mustOpen(t, smallConfig(t.TempDir(), 4), nil)
	mustAppend(t, s, payloads(0, 20, 500)...)

	if recs, err := s.Read(0); err != nil || len(recs) != 0 {
		t.Errorf("Read(0) = %d records, %v", len(recs), err)
	}
	if _, err := s.Read(-1); err == nil {
		t.Error("Read(-1) succeeded")
	}
	first, _ := s.Read(5)
	again, _ := s.Read(5)
	wantSeqs(t, first, 0, 5, 500)
	wantSeqs(t, again, 0, 5, 500)

	// Ack in two steps acknowledges what the last Read returned.
	if err := s.Ack(2); err != nil {
		t.Fatal(err)
	}
	if err := s.Ack(3); err != nil {
		t.Fatal(err)
	}
	next, _ := s.Read(4)
	wantSeqs(t, next, 5, 9, 500)

	for _, n := range []int{-1, 16} {
		if err := s.Ack(n); err == nil {
			t.Errorf("Ack(%d) succeeded with 15 records left", n)
		}
	}
	if got := s.Stats().Records; got != 15 {
		t.Errorf("after refused Acks: %d records, want 15", got)
	}
	if err := s.Ack(15); err != nil {
		t.Fatal(err)
	}
	if st := s.Stats(); st.Records != 0 || st.Segments != 0 || st.Bytes != 0 {
		t.Errorf("after acknowledging everything: %+v", st)
	}
}

func TestAckPersists(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	cfg := smallConfig(dir, 4)
	s := mustOpen(t, cfg, nil)
	mustAppend(t, s, payloads(0, 100, 500)...)
	segsBefore := files(t, dir, "*.seg")
	recs, _ := s.Read(37)
	wantSeqs(t, recs, 0, 37, 500)
	if err := s.Ack(37); err != nil {
		t.Fatal(err)
	}
	segsAfter := files(t, dir, "*.seg")
	if len(segsAfter) >= len(segsBefore) {
		t.Errorf("acknowledging 37 of 100 records left %d of %d segment files", len(segsAfter), len(segsBefore))
	}
	s.Close()

	s = mustOpen(t, cfg, nil)
	wantSeqs(t, readAll(t, s), 37, 100, 500)
	if err := s.Ack(63); err != nil {
		t.Fatal(err)
	}
	s.Close()

	s = mustOpen(t, cfg, nil)
	if st := s.Stats(); st.Records != 0 || st.Segments != 0 {
		t.Errorf("after acknowledging everything and reopening: %+v", st)
	}
	if segs := files(t, dir, "*.seg"); len(segs) != 0 {
		t.Errorf("segment files left: %v", segs)
	}
	// New segments never reuse a number the acknowledgement state covers.
	mustAppend(t, s, payload(100, 500))
	segs := files(t, dir, "*.seg")
	if len(segs) != 1 || segs[0] <= segsBefore[len(segsBefore)-1] {
		t.Errorf("new segment %v, want one numbered after %s", segs, segsBefore[len(segsBefore)-1])
	}
	s.Close()
	s = mustOpen(t, cfg, nil)
	wantSeqs(t, readAll(t, s), 100, 101, 500)
}

func TestMaxBytes(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	log, logs := newLog()
	cfg := Config{Dir: dir, MaxBytes: 1 << 20, SegmentBytes: 64 << 10}
	s := mustOpen(t, cfg, log)
	const size = 2000
	var n uint64
	total := 0
	for n < 1500 {
		d := mustAppend(t, s, payloads(n, n+10, size)...)
		n += 10
		total += d
		if st := s.Stats(); st.Bytes > cfg.MaxBytes {
			t.Fatalf("after %d records: %d bytes, bound %d", n, st.Bytes, cfg.MaxBytes)
		}
	}
	st := s.Stats()
	if total == 0 || st.Dropped != int64(total) {
		t.Errorf("Append reported %d dropped, stats %d; want the same, and some", total, st.Dropped)
	}
	var onDisk int64
	for _, name := range files(t, dir, "*.seg") {
		fi, err := os.Stat(filepath.Join(dir, name))
		if err != nil {
			t.Fatal(err)
		}
		onDisk += fi.Size()
	}
	if onDisk != st.Bytes || onDisk > cfg.MaxBytes {
		t.Errorf("segment files hold %d bytes, stats say %d, bound %d", onDisk, st.Bytes, cfg.MaxBytes)
	}
	// The newest are kept, the oldest dropped, nothing in between.
	wantSeqs(t, readAll(t, s), uint64(total), n, size)
	if onDisk < cfg.MaxBytes/2 {
		t.Errorf("only %d bytes kept of %d allowed", onDisk, cfg.MaxBytes)
	}
	if !strings.Contains(logs.String(), "level=ERROR") || !strings.Contains(logs.String(), "SPOOL FULL") {
		t.Errorf("no Error log for the drops:\n%s", logs)
	}
}

func TestAckAfterDrop(t *testing.T) {
	t.Parallel()
	cfg := Config{Dir: t.TempDir(), MaxBytes: 1 << 20, SegmentBytes: 64 << 10}
	s := mustOpen(t, cfg, nil)
	mustAppend(t, s, payloads(0, 10, 2000)...)
	recs, _ := s.Read(5)
	wantSeqs(t, recs, 0, 5, 2000)
	// Enough to drop the first segment, which holds the 5 read.
	var n uint64 = 10
	dropped := 0
	for dropped == 0 {
		dropped = mustAppend(t, s, payloads(n, n+10, 2000)...)
		n += 10
	}
	before := s.Stats().Records
	if err := s.Ack(5); err != nil {
		t.Fatal(err)
	}
	if after := s.Stats().Records; after != before {
		t.Errorf("Ack of 5 dropped records acknowledged %d others", before-after)
	}
	recs, _ = s.Read(5)
	wantSeqs(t, recs, uint64(dropped), uint64(dropped)+5, 2000)
	if err := s.Ack(5); err != nil {
		t.Fatal(err)
	}
	recs, _ = s.Read(1)
	wantSeqs(t, recs, uint64(dropped)+5, uint64(dropped)+6, 2000)
}

func TestTooLarge(t *testing.T) {
	t.Parallel()
	cfg := Config{Dir: t.TempDir(), MaxBytes: 1 << 20, SegmentBytes: 64 << 10}
	s := mustOpen(t, cfg, nil)
	mustAppend(t, s, []byte("keep"))
	fits := make([]byte, 64<<10-24)
	if _, err := s.Append(fits); err != nil {
		t.Errorf("record of exactly the maximum: %v", err)
	}
	big := make([]byte, 64<<10-23)
	if _, err := s.Append([]byte("a"), big); !errors.Is(err, ErrRecordTooLarge) {
		t.Errorf("record one byte over: %v, want ErrRecordTooLarge", err)
	}
	batch := make([][]byte, 20)
	for i := range batch {
		batch[i] = make([]byte, 60<<10)
	}
	if _, err := s.Append(batch...); !errors.Is(err, ErrRecordTooLarge) {
		t.Errorf("batch over MaxBytes: %v, want ErrRecordTooLarge", err)
	}
	recs := readAll(t, s)
	if st := s.Stats(); len(recs) != 2 || string(recs[0]) != "keep" || st.Dropped != 0 {
		t.Errorf("refused appends changed the spool: %d records, %+v", len(recs), st)
	}
}

func TestLocked(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	s := mustOpen(t, Config{Dir: dir}, nil)
	_, err := Open(Config{Dir: dir}, nil)
	if !errors.Is(err, ErrLocked) || !strings.Contains(err.Error(), dir) {
		t.Fatalf("second Open: %v, want ErrLocked naming %s", err, dir)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	mustOpen(t, Config{Dir: dir}, nil)
}

func TestClosed(t *testing.T) {
	t.Parallel()
	s := mustOpen(t, Config{Dir: t.TempDir()}, nil)
	mustAppend(t, s, []byte("a"))
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
	if _, err := s.Append([]byte("b")); !errors.Is(err, os.ErrClosed) {
		t.Errorf("Append after Close: %v", err)
	}
	if _, err := s.Read(1); !errors.Is(err, os.ErrClosed) {
		t.Errorf("Read after Close: %v", err)
	}
	if err := s.Ack(1); !errors.Is(err, os.ErrClosed) {
		t.Errorf("Ack after Close: %v", err)
	}
}

// TestConcurrent appends from one goroutine while another reads and
// acknowledges, across segments and drops-free; every record arrives once,
// in order.
func TestConcurrent(t *testing.T) {
	t.Parallel()
	s := mustOpen(t, Config{Dir: t.TempDir(), MaxBytes: 64 << 20, SegmentBytes: 16 << 10}, nil)
	const total = 1500
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		rng := rand.New(rand.NewPCG(1, 2))
		for n := uint64(0); n < total; {
			b := min(uint64(1+rng.IntN(20)), total-n)
			if _, err := s.Append(payloads(n, n+b, 1000)...); err != nil {
				t.Error(err)
				return
			}
			n += b
		}
	}()
	var next uint64
	for next < total && !t.Failed() {
		recs, err := s.Read(37)
		if err != nil {
			t.Fatal(err)
		}
		for _, r := range recs {
			i, err := payloadSeq(r, 1000)
			if err != nil || i != next {
				t.Fatalf("got record %d (%v), want %d", i, err, next)
			}
			next++
		}
		if err := s.Ack(len(recs)); err != nil {
			t.Fatal(err)
		}
	}
	wg.Wait()
	if st := s.Stats(); st.Records != 0 || st.Dropped != 0 {
		t.Errorf("at the end: %+v", st)
	}
}
