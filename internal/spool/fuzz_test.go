package spool

import (
	"bytes"
	"encoding/binary"
	"errors"
	"hash/crc32"
	"os"
	"path/filepath"
	"slices"
	"testing"
)

// FuzzOpen writes arbitrary bytes as a segment file, either the only one
// or followed by a valid newer segment, and optionally arbitrary bytes as
// the acknowledgement state, and opens the spool. Open must not panic;
// unless it refuses an intact file of another format version, it must
// hand out exactly the valid records that start the fuzzed segment, then
// those of the valid one, or (with a state file) a tail of that run;
// accept an append; and reopen clean.
func FuzzOpen(f *testing.F) {
	recs := [][]byte{[]byte("first"), {}, bytes.Repeat([]byte("poll"), 50), []byte("last")}
	good := buildSegment(recs)
	flipped := slices.Clone(good)
	flipped[recordOffset(recs, 1)+2] ^= 8
	f.Add(good, []byte(nil), false)
	f.Add(good[:len(good)-3], []byte(nil), false)
	f.Add(good[:len(good)-3], []byte(nil), true)
	f.Add(append(slices.Clone(good), make([]byte, 40)...), []byte(nil), false)
	f.Add(flipped, []byte(nil), true)
	f.Add(good, ackState{seq: 1, off: int64(recordOffset(recs, 2))}.encode(), true)
	f.Add(good, ackState{seq: 1, off: 7}.encode(), false)
	f.Add(good, ackState{seq: 2, off: segHeaderSize + 17}.encode(), true)
	f.Add(segHeader(), []byte("junk"), false)
	f.Add([]byte{}, []byte(nil), true)

	// Fuzz targets run after every test has finished, so no test needs
	// fsync meanwhile; without it the target runs many times faster.
	fsync = func(*os.File) error { return nil }
	f.Cleanup(func() { fsync = (*os.File).Sync })

	newer := [][]byte{[]byte("newer one"), []byte("newer two")}
	f.Fuzz(func(t *testing.T, seg, state []byte, older bool) {
		dir := t.TempDir()
		if err := os.WriteFile(filepath.Join(dir, segName(1)), seg, 0o600); err != nil {
			t.Fatal(err)
		}
		chain := validPrefix(seg)
		if older {
			if err := os.WriteFile(filepath.Join(dir, segName(2)), buildSegment(newer), 0o600); err != nil {
				t.Fatal(err)
			}
			chain = append(chain, newer...)
		}
		if len(state) > 0 {
			if err := os.WriteFile(filepath.Join(dir, stateName), state, 0o600); err != nil {
				t.Fatal(err)
			}
		}
		cfg := Config{Dir: dir, MaxBytes: 1 << 20, SegmentBytes: 64 << 10}
		s, err := Open(cfg, nil)
		if err != nil {
			if errors.Is(err, errUnsupported) {
				return
			}
			t.Fatalf("Open: %v", err)
		}
		defer s.Close()
		got := readAll(t, s)
		skip := len(chain) - len(got)
		if skip < 0 || !slices.EqualFunc(got, chain[skip:], bytes.Equal) {
			t.Fatalf("got %d records, not a tail of the %d valid ones", len(got), len(chain))
		}
		if len(state) == 0 && skip != 0 {
			t.Fatalf("without a state file, %d of %d valid records were skipped", skip, len(chain))
		}
		if st := s.Stats(); st.Records != len(got) {
			t.Fatalf("stats say %d records, Read gave %d", st.Records, len(got))
		}

		if _, err := s.Append([]byte("after")); err != nil {
			t.Fatalf("Append: %v", err)
		}
		want := append(got, []byte("after"))
		if err := s.Close(); err != nil {
			t.Fatal(err)
		}
		s, err = Open(cfg, nil)
		if err != nil {
			t.Fatalf("reopen: %v", err)
		}
		defer s.Close()
		if again := readAll(t, s); !slices.EqualFunc(again, want, bytes.Equal) {
			t.Fatalf("reopened: %d records, want %d", len(again), len(want))
		}
		if st := s.Stats(); st.Corrupt != 0 || st.TornBytes != 0 {
			t.Fatalf("reopened spool still damaged: %+v", st)
		}
	})
}

// validPrefix parses a segment independently of the package's parser: the
// payloads of the valid frames that follow a valid header, up to the
// first bad one.
func validPrefix(b []byte) [][]byte {
	tab := crc32.MakeTable(crc32.Castagnoli)
	le := binary.LittleEndian
	if len(b) < 12 || string(b[:4]) != "LTSP" || b[4] != 1 || b[5]|b[6]|b[7] != 0 ||
		crc32.Checksum(b[:8], tab) != le.Uint32(b[8:12]) {
		return nil
	}
	var out [][]byte
	for p := 12; p+12 <= len(b); {
		n := int(le.Uint32(b[p:]))
		if crc32.Checksum(b[p:p+8], tab) != le.Uint32(b[p+8:]) || n > 64<<20 || p+12+n > len(b) {
			break
		}
		payload := b[p+12 : p+12+n]
		if crc32.Checksum(payload, tab) != le.Uint32(b[p+4:]) {
			break
		}
		out = append(out, payload)
		p += 12 + n
	}
	return out
}
