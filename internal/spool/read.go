package spool

import (
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
)

// Read returns up to max of the oldest records not acknowledged yet, in
// order, without removing them: a later Read returns them again until
// they are acknowledged. The slices are the caller's. Records are checked
// against their checksums as they are read; a damaged one is handled as
// at Open (its segment is trusted only up to it, a copy of the damaged
// file is kept aside, Stats.Corrupt counts the loss) and is not returned.
func (s *Spool) Read(max int) ([][]byte, error) {
	if max < 0 {
		return nil, fmt.Errorf("spool: read %d records: the count cannot be negative", max)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return nil, errClosed
	}
	s.readerHead = s.head
	out := make([][]byte, 0, min(max, s.records))
	for i := 0; i < len(s.segs) && len(out) < max; i++ {
		g := s.segs[i]
		recs, err := s.readSegment(g, max-len(out))
		if err != nil {
			return nil, err
		}
		out = append(out, recs...)
	}
	return out, nil
}

// readSegment reads up to max records from the start of g.offs.
func (s *Spool) readSegment(g *segment, max int) ([][]byte, error) {
	n := min(len(g.offs), max)
	if n == 0 {
		return nil, nil
	}
	start, end := g.offs[0], g.frameEnd(n-1)
	buf := make([]byte, end-start)
	got, err := s.readAt(g, buf, start)
	if errors.Is(err, os.ErrNotExist) {
		s.segmentGone(g)
		return nil, nil
	} else if err != nil {
		return nil, err
	}
	// A file cut short under the spool reads as a damaged frame below.
	buf = buf[:got]
	out := make([][]byte, 0, n)
	for j := 0; j < n; j++ {
		at := g.offs[j] - start
		p, size, st := parseFrame(buf[at:])
		if st != frameOK || at+int64(size) != g.frameEnd(j)-start {
			if err := s.damagedAt(g, j); err != nil {
				return nil, err
			}
			break
		}
		out = append(out, p[:len(p):len(p)])
	}
	return out, nil
}

// readAt reads g's bytes from off into buf; it returns how many it read,
// fewer at the end of the file.
func (s *Spool) readAt(g *segment, buf []byte, off int64) (int, error) {
	f := s.active
	if f == nil || g != s.segs[len(s.segs)-1] {
		var err error
		if f, err = os.Open(g.path); err != nil {
			return 0, fmt.Errorf("spool: read: %w", err)
		}
		defer f.Close()
	}
	n, err := f.ReadAt(buf, off)
	if err != nil && !errors.Is(err, io.EOF) {
		return n, fmt.Errorf("spool: read %s: %w", filepath.Base(g.path), err)
	}
	return n, nil
}

// segmentGone forgets a segment whose file was removed behind the
// spool's back: its records are lost.
func (s *Spool) segmentGone(g *segment) {
	lost := len(g.offs)
	s.records -= lost
	s.bytes -= g.size
	s.corrupt += int64(lost)
	g.offs = nil
	g.size = 0
	s.log.Error("SPOOL CORRUPT: segment file disappeared; its records are lost",
		slog.String("segment", filepath.Base(g.path)), slog.Int("records_lost", lost))
}

// damagedAt handles a checksum error found by Read in the j-th
// unacknowledged record of g: it keeps a copy of the file aside, cuts the
// segment before the bad record and forgets the records from there on.
func (s *Spool) damagedAt(g *segment, j int) error {
	data, err := os.ReadFile(g.path)
	if err != nil {
		return fmt.Errorf("spool: read damaged segment: %w", err)
	}
	bad := min(g.offs[j], int64(len(data)))
	lost := len(g.offs) - j // the index knows exactly what was there
	aside, err := setAside(g.path, data)
	if err != nil {
		return fmt.Errorf("spool: %w", err)
	}
	if s.active != nil && g == s.segs[len(s.segs)-1] {
		err = s.active.Truncate(bad)
		if err == nil {
			err = fsync(s.active)
		}
	} else {
		err = truncateFile(g.path, bad)
	}
	if err != nil {
		return fmt.Errorf("spool: %w", err)
	}
	s.records -= len(g.offs) - j
	s.bytes -= g.size - bad
	g.offs = g.offs[:j]
	g.size = bad
	s.corrupt += int64(lost)
	s.log.Error("SPOOL CORRUPT: checksum error while reading; records from there on lost, damaged copy kept",
		slog.String("segment", filepath.Base(g.path)), slog.Int64("offset", bad), slog.Int("records_lost", lost),
		slog.String("kept_as", filepath.Base(aside)))
	return nil
}
