package spool

import (
	"bytes"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// buildSegment returns a segment file holding recs.
func buildSegment(recs [][]byte) []byte {
	b := segHeader()
	for _, r := range recs {
		b = appendFrame(b, r)
	}
	return b
}

// recordOffset is the offset of the k-th frame in a segment of recs.
func recordOffset(recs [][]byte, k int) int {
	off := segHeaderSize
	for _, r := range recs[:k] {
		off += int(frameSize(r))
	}
	return off
}

// TestTornTail cuts the newest segment at every length from the start of
// its last record to its end: Open must return exactly the complete
// records, cut the rest off, and take appends after them.
func TestTornTail(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		batches []int // records per Append; the last record is the one torn
		alone   bool  // then append single records until the last starts a segment
	}{
		{"last record in the middle of a segment", []int{3, 1, 2}, false},
		{"last record alone in the newest segment", []int{2}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			const size = 300
			src := t.TempDir()
			cfg := smallConfig(src, 4)
			s := mustOpen(t, cfg, nil)
			var n uint64
			for _, b := range tt.batches {
				mustAppend(t, s, payloads(n, n+uint64(b), size)...)
				n += uint64(b)
			}
			for tt.alone && s.segs[len(s.segs)-1].size != segHeaderSize+frameSize(payload(n-1, size)) {
				mustAppend(t, s, payload(n, size))
				n++
			}
			s.Close()
			segs := files(t, src, "*.seg")
			newest := segs[len(segs)-1]
			data, err := os.ReadFile(filepath.Join(src, newest))
			if err != nil {
				t.Fatal(err)
			}
			lastStart := len(data) - int(frameSize(payload(n-1, size)))
			if tt.alone && lastStart != segHeaderSize {
				t.Fatalf("setup: last record at %d, want it first in its segment", lastStart)
			}

			for cut := lastStart; cut <= len(data); cut++ {
				dir := copyDir(t, src)
				if err := os.WriteFile(filepath.Join(dir, newest), data[:cut], 0o600); err != nil {
					t.Fatal(err)
				}
				want, wantTorn := n-1, int64(cut-lastStart)
				if cut == len(data) {
					want, wantTorn = n, 0
				}
				s, err := Open(withDir(cfg, dir), nil)
				if err != nil {
					t.Fatalf("cut at %d: Open: %v", cut, err)
				}
				wantSeqs(t, readAll(t, s), 0, want, size)
				if st := s.Stats(); st.TornBytes != wantTorn || st.Corrupt != 0 {
					t.Errorf("cut at %d: torn %d corrupt %d, want torn %d corrupt 0", cut, st.TornBytes, st.Corrupt, wantTorn)
				}
				if c := files(t, dir, "*.corrupt*"); len(c) != 0 {
					t.Errorf("cut at %d: torn tail set aside as corrupt: %v", cut, c)
				}
				mustAppend(t, s, payload(want, size))
				wantSeqs(t, readAll(t, s), 0, want+1, size)
				s.Close()
				s, err = Open(withDir(cfg, dir), nil)
				if err != nil {
					t.Fatalf("cut at %d: reopen: %v", cut, err)
				}
				wantSeqs(t, readAll(t, s), 0, want+1, size)
				if st := s.Stats(); st.TornBytes != 0 || st.Corrupt != 0 {
					t.Errorf("cut at %d: reopening found damage: %+v", cut, st)
				}
				s.Close()
				if t.Failed() {
					return
				}
			}
		})
	}
}

// withDir is c for another directory.
func withDir(c Config, dir string) Config {
	c.Dir = dir
	return c
}

// TestDamagedTail appends bytes after the valid records of the newest
// segment, as a crash can leave them.
func TestDamagedTail(t *testing.T) {
	t.Parallel()
	rng := rand.New(rand.NewPCG(7, 7))
	random := make([]byte, 1000)
	for i := range random {
		random[i] = byte(rng.Uint32())
	}
	half := appendFrame(nil, payload(99, 1000))
	tests := []struct {
		name string
		tail []byte
	}{
		{"random bytes", random},
		{"zeros", make([]byte, 4096)},
		{"part of a header", []byte{1, 2, 3, 4, 5}},
		{"header and half a payload", half[:len(half)/2]},
		{"whole frame with a bad payload", append(slices.Clone(half[:len(half)-1]), half[len(half)-1]^1)},
		{"valid header claiming 64 MiB", validHeaderClaiming(64 << 20)},
		{"valid header claiming more than 64 MiB", validHeaderClaiming(64<<20 + 1)},
	}

	recs := payloads(0, 5, 1000)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			dir := t.TempDir()
			seg := append(buildSegment(recs), tt.tail...)
			if err := os.WriteFile(filepath.Join(dir, segName(1)), seg, 0o600); err != nil {
				t.Fatal(err)
			}
			log, logs := newLog()
			s := mustOpen(t, smallConfig(dir, 64), log)
			wantSeqs(t, readAll(t, s), 0, 5, 1000)
			if st := s.Stats(); st.TornBytes != int64(len(tt.tail)) || st.Corrupt != 0 {
				t.Errorf("torn %d corrupt %d, want torn %d corrupt 0", st.TornBytes, st.Corrupt, len(tt.tail))
			}
			if !strings.Contains(logs.String(), "level=WARN") {
				t.Errorf("no Warn log for the torn tail:\n%s", logs)
			}
			mustAppend(t, s, payload(5, 1000))
			wantSeqs(t, readAll(t, s), 0, 6, 1000)
		})
	}
}

// validHeaderClaiming is a frame header with a valid checksum that claims
// a payload of n bytes, and no payload.
func validHeaderClaiming(n uint32) []byte {
	h := appendFrame(nil, nil)
	h[0], h[1], h[2], h[3] = byte(n), byte(n>>8), byte(n>>16), byte(n>>24)
	c := checksum(h[0:8])
	h[8], h[9], h[10], h[11] = byte(c), byte(c>>8), byte(c>>16), byte(c>>24)
	return h
}

// TestBitFlip damages one byte of a spool of three segments (records 0-4,
// 5-9, 10-14) and checks what Open keeps, loses and sets aside.
func TestBitFlip(t *testing.T) {
	t.Parallel()
	const size = 700
	all := payloads(0, 15, size)
	segRecs := [][][]byte{all[0:5], all[5:10], all[10:15]}
	seqs := func(ranges ...[2]uint64) []uint64 {
		var out []uint64
		for _, r := range ranges {
			for i := r[0]; i < r[1]; i++ {
				out = append(out, i)
			}
		}
		return out
	}
	tests := []struct {
		name        string
		seg, rec    int // segment index; record index in it, or -1 for the segment header
		at          int // byte offset inside the frame (or header)
		want        []uint64
		wantCorrupt int64
		wantTorn    bool
		wantAside   bool
	}{
		{"payload, middle record, oldest segment", 0, 2, 40, seqs([2]uint64{0, 2}, [2]uint64{5, 15}), 3, false, true},
		{"length, middle record, middle segment", 1, 2, 1, seqs([2]uint64{0, 7}, [2]uint64{10, 15}), 3, false, true},
		{"payload checksum, middle record, newest segment", 2, 2, 5, seqs([2]uint64{0, 12}), 3, false, true},
		{"header checksum, first record, newest segment", 2, 0, 9, seqs([2]uint64{0, 10}), 5, false, true},
		{"payload, last record, older segment", 0, 4, 20, seqs([2]uint64{0, 4}, [2]uint64{5, 15}), 1, false, true},
		{"segment header, middle segment", 1, -1, 4, seqs([2]uint64{0, 5}, [2]uint64{10, 15}), 5, false, true},
		{"payload, last record, newest segment (torn)", 2, 4, 30, seqs([2]uint64{0, 14}), 0, true, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			dir := t.TempDir()
			var damaged []byte
			for i, recs := range segRecs {
				b := buildSegment(recs)
				if i == tt.seg {
					off := tt.at
					if tt.rec >= 0 {
						off += recordOffset(recs, tt.rec)
					}
					b[off] ^= 0x10
					damaged = b
				}
				if err := os.WriteFile(filepath.Join(dir, segName(uint64(i+1))), b, 0o600); err != nil {
					t.Fatal(err)
				}
			}
			log, logs := newLog()
			cfg := smallConfig(dir, 64)
			s := mustOpen(t, cfg, log)
			var got []uint64
			for _, r := range readAll(t, s) {
				i, err := payloadSeq(r, size)
				if err != nil {
					t.Fatal(err)
				}
				got = append(got, i)
			}
			if !slices.Equal(got, tt.want) {
				t.Errorf("records %v, want %v", got, tt.want)
			}
			st := s.Stats()
			if st.Corrupt != tt.wantCorrupt || (st.TornBytes > 0) != tt.wantTorn {
				t.Errorf("corrupt %d torn bytes %d, want corrupt %d torn %v", st.Corrupt, st.TornBytes, tt.wantCorrupt, tt.wantTorn)
			}
			aside := files(t, dir, "*.corrupt")
			if tt.wantAside {
				want := segName(uint64(tt.seg+1)) + corruptExt
				if len(aside) != 1 || aside[0] != want {
					t.Fatalf("set aside %v, want %s", aside, want)
				}
				b, err := os.ReadFile(filepath.Join(dir, want))
				if err != nil || !bytes.Equal(b, damaged) {
					t.Errorf("the copy set aside is not the damaged segment (%v)", err)
				}
				if !strings.Contains(logs.String(), "level=ERROR") || !strings.Contains(logs.String(), "SPOOL CORRUPT") {
					t.Errorf("no Error log:\n%s", logs)
				}
			} else if len(aside) != 0 {
				t.Errorf("set aside %v, want nothing", aside)
			}

			// The repaired spool opens clean, and takes appends.
			s.Close()
			s = mustOpen(t, cfg, nil)
			if st := s.Stats(); st.Corrupt != 0 || st.TornBytes != 0 || st.Records != len(tt.want) {
				t.Errorf("reopened: %+v, want %d records and no damage", st, len(tt.want))
			}
			mustAppend(t, s, payload(15, size))
			recs := readAll(t, s)
			if i, err := payloadSeq(recs[len(recs)-1], size); err != nil || i != 15 || len(recs) != len(tt.want)+1 {
				t.Errorf("after Append: %d records, last %d (%v)", len(recs), i, err)
			}
		})
	}
}

// TestCorruptionFoundByRead damages a segment while the spool is open.
func TestCorruptionFoundByRead(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	log, logs := newLog()
	cfg := smallConfig(dir, 4)
	s := mustOpen(t, cfg, log)
	mustAppend(t, s, payloads(0, 30, 500)...)
	segs := files(t, dir, "*.seg")
	path := filepath.Join(dir, segs[1])
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	// Damage the second record of the second segment: it and the ones
	// after it in that segment are lost.
	lostWant := len(validPrefix(b)) - 1
	_, size, _ := parseFrame(b[segHeaderSize:])
	b[segHeaderSize+size+frameHeaderSize+3] ^= 1
	if err := os.WriteFile(path, b, 0o600); err != nil {
		t.Fatal(err)
	}
	recs := readAll(t, s)
	var got []uint64
	for _, r := range recs {
		i, _ := payloadSeq(r, 500)
		got = append(got, i)
	}
	st := s.Stats()
	if st.Corrupt != int64(lostWant) || len(recs) != st.Records || len(recs) != 30-lostWant {
		t.Fatalf("stats %+v after reading %d records", st, len(recs))
	}
	for k := 1; k < len(got); k++ {
		if got[k] <= got[k-1] {
			t.Fatalf("records out of order: %v", got)
		}
	}
	if len(files(t, dir, "*.corrupt")) != 1 || !strings.Contains(logs.String(), "SPOOL CORRUPT") {
		t.Errorf("damaged segment not set aside or not logged:\n%s", logs)
	}
	// What is left reads and acknowledges normally, and survives a restart.
	if err := s.Ack(3); err != nil {
		t.Fatal(err)
	}
	s.Close()
	s = mustOpen(t, cfg, nil)
	again := readAll(t, s)
	if len(again) != len(recs)-3 || !bytes.Equal(again[0], recs[3]) {
		t.Errorf("after restart: %d records, want %d from the 4th read before", len(again), len(recs)-3)
	}
	if st := s.Stats(); st.Corrupt != 0 {
		t.Errorf("repaired spool still corrupt: %+v", st)
	}
}

func TestDamagedState(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name  string
		state func(good []byte) []byte
		want  uint64 // first record returned
	}{
		{"intact", func(g []byte) []byte { return g }, 4},
		{"garbage", func([]byte) []byte { return []byte("not a state file") }, 0},
		{"flipped bit", func(g []byte) []byte { b := slices.Clone(g); b[17] ^= 4; return b }, 0},
		{"empty", func([]byte) []byte { return nil }, 0},
		{"inside a record", func([]byte) []byte { return ackState{seq: 1, off: segHeaderSize + 5}.encode() }, 0},
		{"past the end", func([]byte) []byte { return ackState{seq: 1, off: 1 << 20}.encode() }, 10},
		{"impossible offset", func([]byte) []byte { return ackState{seq: 1, off: 1 << 40}.encode() }, 0},
		{"impossible segment", func([]byte) []byte { return ackState{seq: 1<<63 + 5}.encode() }, 0},
		{"later segment", func([]byte) []byte { return ackState{seq: 2}.encode() }, 10},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			dir := t.TempDir()
			cfg := smallConfig(dir, 64)
			s := mustOpen(t, cfg, nil)
			mustAppend(t, s, payloads(0, 10, 100)...)
			s.Read(4)
			if err := s.Ack(4); err != nil {
				t.Fatal(err)
			}
			s.Close()
			statePath := filepath.Join(dir, stateName)
			good, err := os.ReadFile(statePath)
			if err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(statePath, tt.state(good), 0o600); err != nil {
				t.Fatal(err)
			}
			s = mustOpen(t, cfg, nil)
			wantSeqs(t, readAll(t, s), tt.want, 10, 100)
		})
	}
}

func TestUnsupportedVersion(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	b := buildSegment(payloads(0, 3, 100))
	b[4] = 2
	c := checksum(b[0:8])
	b[8], b[9], b[10], b[11] = byte(c), byte(c>>8), byte(c>>16), byte(c>>24)
	if err := os.WriteFile(filepath.Join(dir, segName(1)), b, 0o600); err != nil {
		t.Fatal(err)
	}
	_, err := Open(Config{Dir: dir}, nil)
	if err == nil || !strings.Contains(err.Error(), "version 2") || !strings.Contains(err.Error(), dir) {
		t.Fatalf("Open: %v, want an error naming the version and the directory", err)
	}
	if got, _ := os.ReadFile(filepath.Join(dir, segName(1))); !bytes.Equal(got, b) {
		t.Error("Open changed a segment of an unsupported version")
	}
}

func TestLeftoversRemoved(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	for _, name := range []string{segName(3) + tmpExt, stateName + tmpExt} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte("partial"), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.WriteFile(filepath.Join(dir, "notes.txt"), []byte("mine"), 0o600); err != nil {
		t.Fatal(err)
	}
	s := mustOpen(t, Config{Dir: dir}, nil)
	if tmp := files(t, dir, "*.tmp"); len(tmp) != 0 {
		t.Errorf("left over: %v", tmp)
	}
	if _, err := os.Stat(filepath.Join(dir, "notes.txt")); err != nil {
		t.Errorf("unrelated file: %v", err)
	}
	if st := s.Stats(); st.Records != 0 || st.Segments != 0 {
		t.Errorf("stats %+v", st)
	}
}

// TestSegmentChangedWhileOpen cuts short and removes segment files behind
// an open spool's back: Read reports the loss and goes on.
func TestSegmentChangedWhileOpen(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		change func(path string) error
	}{
		{"cut short", func(path string) error { return os.Truncate(path, segHeaderSize+5) }},
		{"removed", os.Remove},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			dir := t.TempDir()
			s := mustOpen(t, smallConfig(dir, 4), nil)
			mustAppend(t, s, payloads(0, 40, 500)...)
			segs := files(t, dir, "*.seg")
			if len(segs) < 3 {
				t.Fatalf("setup: %d segments", len(segs))
			}
			// The first segment's records.
			b, err := os.ReadFile(filepath.Join(dir, segs[0]))
			if err != nil {
				t.Fatal(err)
			}
			inFirst := len(validPrefix(b))
			if err := tt.change(filepath.Join(dir, segs[0])); err != nil {
				t.Fatal(err)
			}
			recs := readAll(t, s)
			wantSeqs(t, recs, uint64(inFirst), 40, 500)
			st := s.Stats()
			if st.Corrupt != int64(inFirst) || st.Records != len(recs) {
				t.Errorf("stats %+v after losing the %d records of the first segment", st, inFirst)
			}
			if err := s.Ack(len(recs)); err != nil {
				t.Fatal(err)
			}
			if st := s.Stats(); st.Records != 0 || st.Segments != 0 {
				t.Errorf("after acknowledging the rest: %+v", st)
			}
		})
	}
}
