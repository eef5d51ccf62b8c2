package spool

import (
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
)

// Append writes recs at the end of the spool, in order, and syncs them to
// disk before it returns: after a nil error they survive a crash. On
// error it takes back what it wrote of recs; only a crash, or a failure to
// take them back (logged), can leave some of them in the spool, and
// appending them again then duplicates them.
//
// When the segment files would grow past MaxBytes, Append first drops the
// oldest segments, acknowledged or not, and returns the number of
// unacknowledged records it dropped; it logs each drop at Error level. It
// never drops recs. A record longer than SegmentBytes-24 bytes, or a batch
// that needs more than MaxBytes on its own, is refused with an error
// wrapping ErrRecordTooLarge.
func (s *Spool) Append(recs ...[]byte) (dropped int, err error) {
	if len(recs) == 0 {
		return 0, nil
	}
	for i, r := range recs {
		if len(r) > s.maxRecord {
			return 0, fmt.Errorf("spool: append record %d of %d: %d bytes, at most %d fit in a segment: %w",
				i+1, len(recs), len(r), s.maxRecord, ErrRecordTooLarge)
		}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return 0, errClosed
	}
	if need := s.need(recs, false); need > s.cfg.MaxBytes {
		return 0, fmt.Errorf("spool: append %d records: they need %d bytes, more than max bytes %d: %w",
			len(recs), need, s.cfg.MaxBytes, ErrRecordTooLarge)
	}
	dropped, err = s.makeRoom(recs)
	if err != nil {
		return dropped, err
	}
	return dropped, s.write(recs)
}

// need is the number of bytes recs add to the segment files: their frames
// and the headers of the segments they start. With fromActive they go
// after the active segment's end, else into new segments.
func (s *Spool) need(recs [][]byte, fromActive bool) int64 {
	var total int64
	fill := int64(-1) // size of the segment being filled; -1: none
	if fromActive && s.active != nil {
		fill = s.segs[len(s.segs)-1].size
	}
	for _, r := range recs {
		f := frameSize(r)
		if fill < 0 || fill+f > s.cfg.SegmentBytes {
			total += segHeaderSize
			fill = segHeaderSize
		}
		total += f
		fill += f
	}
	return total
}

// makeRoom drops the oldest segments until recs fit within MaxBytes.
func (s *Spool) makeRoom(recs [][]byte) (int, error) {
	dropped, segs := 0, 0
	var bytes int64
	var err error
	for len(s.segs) > 0 && s.bytes+s.need(recs, true) > s.cfg.MaxBytes {
		g := s.segs[0]
		if len(s.segs) == 1 && s.active != nil {
			s.active.Close()
			s.active = nil
		}
		if err = os.Remove(g.path); err != nil && !errors.Is(err, os.ErrNotExist) {
			err = fmt.Errorf("spool: drop oldest segment: %w", err)
			break
		}
		err = nil
		s.segs = s.segs[1:]
		n := len(g.offs)
		s.records -= n
		s.bytes -= g.size
		s.head += uint64(n)
		dropped += n
		segs++
		bytes += g.size
	}
	if segs > 0 {
		s.dropped += int64(dropped)
		s.log.Error("SPOOL FULL: dropped the oldest records",
			slog.Int("dropped", dropped), slog.Int("segments", segs), slog.Int64("bytes", bytes),
			slog.Int64("max_bytes", s.cfg.MaxBytes), slog.Int64("dropped_total", s.dropped))
		if serr := syncDir(s.cfg.Dir); err == nil && serr != nil {
			err = fmt.Errorf("spool: drop oldest segment: %w", serr)
		}
	}
	return dropped, err
}

// write appends recs, starting new segments as they fill up, syncing each
// segment before the next is created. On error it takes back what it
// wrote.
func (s *Spool) write(recs [][]byte) error {
	nsegs := len(s.segs)
	var last *segment
	var lastSize int64
	var lastRecs int
	if s.active != nil {
		last = s.segs[nsegs-1]
		lastSize, lastRecs = last.size, len(last.offs)
	}
	err := s.writeSegments(recs)
	if err == nil {
		return nil
	}
	// Take the batch back: remove the segments it started, cut the one it
	// continued back to its old end.
	for len(s.segs) > nsegs {
		g := s.segs[len(s.segs)-1]
		if s.active != nil {
			s.active.Close()
			s.active = nil
		}
		if rerr := os.Remove(g.path); rerr != nil && !errors.Is(rerr, os.ErrNotExist) {
			s.log.Error("spool: remove a segment of a failed append", slog.String("segment", filepath.Base(g.path)), slog.Any("err", rerr))
		}
		s.segs = s.segs[:len(s.segs)-1]
		s.records -= len(g.offs)
		s.bytes -= g.size
	}
	if last != nil {
		s.records -= len(last.offs) - lastRecs
		s.bytes -= last.size - lastSize
		last.offs = last.offs[:lastRecs]
		last.size = lastSize
		if s.active != nil {
			// Continue appending to it only if it is cut back for sure.
			if terr := s.active.Truncate(lastSize); terr != nil || fsync(s.active) != nil {
				s.active.Close()
				s.active = nil
			}
		} else if terr := truncateFile(last.path, lastSize); terr != nil {
			s.log.Error("spool: cut back a segment after a failed append", slog.String("segment", filepath.Base(last.path)), slog.Any("err", terr))
		}
	}
	syncDir(s.cfg.Dir)
	return err
}

func (s *Spool) writeSegments(recs [][]byte) error {
	for len(recs) > 0 {
		if s.active == nil {
			if err := s.newSegment(); err != nil {
				return err
			}
		}
		g := s.segs[len(s.segs)-1]
		buf := s.buf[:0]
		end := g.size
		n0 := len(g.offs)
		for len(recs) > 0 && end+frameSize(recs[0]) <= s.cfg.SegmentBytes {
			g.offs = append(g.offs, end)
			buf = appendFrame(buf, recs[0])
			end += frameSize(recs[0])
			recs = recs[1:]
		}
		if cap(buf) <= 4*int(s.cfg.SegmentBytes) && cap(buf) <= 16<<20 {
			s.buf = buf
		}
		if len(buf) > 0 {
			_, err := s.active.WriteAt(buf, g.size)
			if err == nil {
				err = fsync(s.active)
			}
			if err != nil {
				g.offs = g.offs[:n0]
				return fmt.Errorf("spool: append to %s: %w", filepath.Base(g.path), err)
			}
			s.records += len(g.offs) - n0
			s.bytes += end - g.size
			g.size = end
		}
		if len(recs) > 0 {
			// The segment is full: the rest go to a new one.
			if err := s.active.Close(); err != nil {
				s.active = nil
				return fmt.Errorf("spool: close full segment %s: %w", filepath.Base(g.path), err)
			}
			s.active = nil
		}
	}
	return nil
}

// newSegment creates the next segment, atomically: its header is written
// and synced under a temporary name, then renamed into place and the
// directory synced. It becomes the active segment.
func (s *Spool) newSegment() error {
	seq := s.nextSeq
	s.nextSeq++
	path := filepath.Join(s.cfg.Dir, segName(seq))
	tmp := path + tmpExt
	f, err := os.OpenFile(tmp, os.O_RDWR|os.O_CREATE|os.O_TRUNC, 0o600)
	if err != nil {
		return fmt.Errorf("spool: new segment: %w", err)
	}
	_, err = f.Write(segHeader())
	if err == nil {
		err = fsync(f)
	}
	if err == nil {
		err = os.Rename(tmp, path)
	}
	if err == nil {
		err = syncDir(s.cfg.Dir)
	}
	if err != nil {
		f.Close()
		os.Remove(tmp)
		os.Remove(path)
		return fmt.Errorf("spool: new segment %s: %w", filepath.Base(path), err)
	}
	s.segs = append(s.segs, &segment{seq: seq, path: path, size: segHeaderSize})
	s.bytes += segHeaderSize
	s.active = f
	return nil
}
