package spool

import (
	"encoding/binary"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
)

// payload is the test record number i: its number, then bytes that depend
// on it, length varying with i from 8 to size+7.
func payload(i uint64, size int) []byte {
	n := 8 + int((i*7919)%uint64(size))
	b := make([]byte, n)
	binary.LittleEndian.PutUint64(b, i)
	for j := 8; j < n; j++ {
		b[j] = byte(i*131 + uint64(j)*31)
	}
	return b
}

// payloadSeq checks b against payload and returns its number.
func payloadSeq(b []byte, size int) (uint64, error) {
	if len(b) < 8 {
		return 0, fmt.Errorf("record of %d bytes", len(b))
	}
	i := binary.LittleEndian.Uint64(b)
	if want := payload(i, size); !slices.Equal(b, want) {
		return i, fmt.Errorf("record %d: %d bytes differ from the %d written", i, len(b), len(want))
	}
	return i, nil
}

// payloads returns records from..to-1.
func payloads(from, to uint64, size int) [][]byte {
	var out [][]byte
	for i := from; i < to; i++ {
		out = append(out, payload(i, size))
	}
	return out
}

// logBuffer collects log output for assertions.
type logBuffer struct {
	mu sync.Mutex
	b  strings.Builder
}

func (l *logBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *logBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

func newLog() (*slog.Logger, *logBuffer) {
	var lb logBuffer
	return slog.New(slog.NewTextHandler(&lb, &slog.HandlerOptions{Level: slog.LevelDebug})), &lb
}

// mustOpen opens a spool that the test closes at its end.
func mustOpen(t testing.TB, cfg Config, log *slog.Logger) *Spool {
	t.Helper()
	s, err := Open(cfg, log)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func mustAppend(t testing.TB, s *Spool, recs ...[]byte) int {
	t.Helper()
	dropped, err := s.Append(recs...)
	if err != nil {
		t.Fatalf("Append: %v", err)
	}
	return dropped
}

// readAll reads every unacknowledged record.
func readAll(t testing.TB, s *Spool) [][]byte {
	t.Helper()
	recs, err := s.Read(1 << 30)
	if err != nil {
		t.Fatalf("Read: %v", err)
	}
	return recs
}

// wantSeqs checks that recs are the intact records from..to-1.
func wantSeqs(t testing.TB, recs [][]byte, from, to uint64, size int) {
	t.Helper()
	if uint64(len(recs)) != to-from {
		t.Errorf("got %d records, want %d (%d..%d)", len(recs), to-from, from, to-1)
	}
	for k, r := range recs {
		i, err := payloadSeq(r, size)
		if err != nil {
			t.Errorf("record %d: %v", k, err)
		} else if i != from+uint64(k) {
			t.Errorf("record %d is number %d, want %d", k, i, from+uint64(k))
		}
		if t.Failed() {
			return
		}
	}
}

// files lists the directory's file names matching a glob pattern.
func files(t testing.TB, dir, pattern string) []string {
	t.Helper()
	m, err := filepath.Glob(filepath.Join(dir, pattern))
	if err != nil {
		t.Fatal(err)
	}
	for i := range m {
		m[i] = filepath.Base(m[i])
	}
	return m
}

// copyDir copies the regular files of src into a new temporary directory.
func copyDir(t testing.TB, src string) string {
	t.Helper()
	dst := t.TempDir()
	entries, err := os.ReadDir(src)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		if e.Name() == lockName || !e.Type().IsRegular() {
			continue
		}
		b, err := os.ReadFile(filepath.Join(src, e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dst, e.Name()), b, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	return dst
}

// smallConfig gives segments of segKiB KiB in a 1 MiB spool.
func smallConfig(dir string, segKiB int64) Config {
	return Config{Dir: dir, MaxBytes: 1 << 20, SegmentBytes: segKiB << 10}
}
