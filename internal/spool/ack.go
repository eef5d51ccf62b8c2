package spool

import (
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
)

// Ack marks records done: the n records that follow the previous
// acknowledgement in the order the last Read returned them (so Read, then
// Ack(len(recs)), acknowledges exactly what was read, also when done in
// several Acks). Records among them that Append dropped in the meantime
// need no acknowledging and are skipped. Asking for more records than
// there are is an error and acknowledges nothing.
//
// The new position is written durably (an atomic replace of the small
// state file "ack") before Ack returns, so a restart does not hand the
// records out again; fully acknowledged segments are deleted. If Ack
// fails, nothing is acknowledged.
func (s *Spool) Ack(n int) error {
	if n < 0 {
		return fmt.Errorf("spool: acknowledge %d records: the count cannot be negative", n)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return errClosed
	}
	if n == 0 {
		return nil
	}
	target := s.readerHead + uint64(n)
	if limit := s.head + uint64(s.records); target > limit {
		return fmt.Errorf("spool: acknowledge %d records: only %d are unacknowledged since the last read", n, limit-s.readerHead)
	}
	if target <= s.head {
		// They were all dropped already.
		s.readerHead = target
		return nil
	}
	k := int(target - s.head)

	// Find where the new head lands: segment i, index r in its offs.
	i, r := 0, k
	for i < len(s.segs) && r >= len(s.segs[i].offs) {
		r -= len(s.segs[i].offs)
		i++
	}
	var pos ackState
	if i < len(s.segs) {
		pos = ackState{seq: s.segs[i].seq, off: s.segs[i].offs[r]}
	} else {
		last := s.segs[len(s.segs)-1]
		pos = ackState{seq: last.seq, off: last.size}
	}
	if err := writeFileAtomic(filepath.Join(s.cfg.Dir, stateName), pos.encode()); err != nil {
		return fmt.Errorf("spool: acknowledge: %w", err)
	}

	// The position is durable; now forget and delete what it covers.
	for _, g := range s.segs[:i] {
		if s.active != nil && g == s.segs[len(s.segs)-1] {
			s.active.Close()
			s.active = nil
		}
		if err := os.Remove(g.path); err != nil && !errors.Is(err, os.ErrNotExist) {
			// Open removes it as acknowledged.
			s.log.Warn("spool: remove acknowledged segment", slog.String("segment", filepath.Base(g.path)), slog.Any("err", err))
		}
		s.records -= len(g.offs)
		s.bytes -= g.size
	}
	s.segs = s.segs[i:]
	if len(s.segs) > 0 && r > 0 {
		s.segs[0].offs = s.segs[0].offs[r:]
		s.records -= r
	}
	if i > 0 {
		if err := syncDir(s.cfg.Dir); err != nil {
			s.log.Warn("spool: sync directory after removing acknowledged segments", slog.Any("err", err))
		}
	}
	s.head = target
	s.readerHead = target
	return nil
}
