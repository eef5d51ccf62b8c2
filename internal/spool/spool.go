package spool

import (
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
)

// Size bounds of a Config.
const (
	// DefaultMaxBytes is MaxBytes when it is zero.
	DefaultMaxBytes = 1 << 30
	// MinMaxBytes is the smallest MaxBytes accepted.
	MinMaxBytes = 1 << 20
	// DefaultSegmentBytes is SegmentBytes when it is zero, unless
	// MaxBytes/8 is smaller, in which case that is used.
	DefaultSegmentBytes = 8 << 20
	// MinSegmentBytes is the smallest SegmentBytes accepted.
	MinSegmentBytes = 4 << 10
	// MaxSegmentBytes is the largest SegmentBytes accepted; it also bounds
	// a record.
	MaxSegmentBytes = maxRecordHard
)

// Config configures a spool. Zero values are defaults.
type Config struct {
	// Dir is the spool directory; it is created, mode 0700, if missing.
	// Required. The spool owns it: nothing else should write there.
	Dir string
	// MaxBytes bounds the size of the segment files on disk, which hold
	// the records not acknowledged yet: an Append that would go past it
	// first drops the oldest records. Default DefaultMaxBytes, at least
	// MinMaxBytes.
	MaxBytes int64
	// SegmentBytes is the size at which a segment file is closed and a new
	// one started. Whole segments are the unit of dropping, so it must be
	// at most MaxBytes/2. Default DefaultSegmentBytes or MaxBytes/8,
	// whichever is smaller; between MinSegmentBytes and MaxSegmentBytes. A
	// record may hold at most SegmentBytes-24 bytes.
	SegmentBytes int64
}

// ErrLocked reports that the spool directory is already open, normally by
// another recorder process.
var ErrLocked = errors.New("spool directory is locked by another process")

// ErrRecordTooLarge reports a record that cannot fit in one segment, or a
// batch bigger than MaxBytes.
var ErrRecordTooLarge = errors.New("record too large for the spool")

// errClosed is returned by every method after Close.
var errClosed = fmt.Errorf("spool: %w", fs.ErrClosed)

// Stats describes a spool's content and what it has lost.
type Stats struct {
	// Records is the number of records not acknowledged yet.
	Records int
	// Bytes is the size of the segment files that hold them: their
	// headers, frames and the acknowledged head of the oldest segment,
	// which stays on disk until its whole segment is acknowledged. It is
	// what MaxBytes bounds.
	Bytes int64
	// Segments is the number of segment files.
	Segments int
	// Dropped is the number of records dropped since Open to stay within
	// MaxBytes.
	Dropped int64
	// TornBytes is the number of bytes of torn tails cut off at Open.
	TornBytes int64
	// Corrupt is the number of records lost to checksum errors since
	// Open: for each damaged spot, the bad record and every valid record
	// found after it in the same segment.
	Corrupt int64
}

// Spool is an append-only, crash-safe queue of records on disk. Its
// methods are safe for concurrent use.
type Spool struct {
	cfg       Config
	log       *slog.Logger
	maxRecord int

	mu     sync.Mutex
	closed bool
	lock   *os.File
	// segs are the segment files, oldest first; each holds at least one
	// record not yet acknowledged, except the newest while it is active.
	segs []*segment
	// active is the newest segment's file, open for appending, or nil when
	// the next Append starts a new segment.
	active  *os.File
	nextSeq uint64
	records int
	bytes   int64
	// head counts the records acknowledged or dropped since Open;
	// readerHead is head as of the last Read, advanced by each Ack.
	head, readerHead uint64
	dropped          int64
	torn             int64
	corrupt          int64
	buf              []byte
}

// withDefaults validates c and fills in its defaults.
func (c Config) withDefaults() (Config, error) {
	if c.Dir == "" {
		return c, errors.New("spool: no directory configured")
	}
	if c.MaxBytes == 0 {
		c.MaxBytes = DefaultMaxBytes
	}
	if c.MaxBytes < MinMaxBytes {
		return c, fmt.Errorf("spool: max bytes %d is below the minimum %d (1 MiB)", c.MaxBytes, MinMaxBytes)
	}
	if c.SegmentBytes == 0 {
		c.SegmentBytes = min(DefaultSegmentBytes, c.MaxBytes/8)
	}
	switch {
	case c.SegmentBytes < MinSegmentBytes:
		return c, fmt.Errorf("spool: segment bytes %d is below the minimum %d", c.SegmentBytes, MinSegmentBytes)
	case c.SegmentBytes > MaxSegmentBytes:
		return c, fmt.Errorf("spool: segment bytes %d is above the maximum %d", c.SegmentBytes, MaxSegmentBytes)
	case c.SegmentBytes > c.MaxBytes/2:
		return c, fmt.Errorf("spool: segment bytes %d is more than half of max bytes %d", c.SegmentBytes, c.MaxBytes)
	}
	return c, nil
}

// Open opens the spool in cfg.Dir, creating it if needed, and takes an
// exclusive lock on it: while one Spool has a directory open, Open fails
// there with an error wrapping ErrLocked. It checks every segment: a torn
// tail of the newest segment is cut off, a damaged segment is kept aside
// as "<segment>.corrupt" and trusted only up to its first bad record, and
// the acknowledged records are skipped. log may be nil.
func Open(cfg Config, log *slog.Logger) (*Spool, error) {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	cfg, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	if err := os.MkdirAll(cfg.Dir, 0o700); err != nil {
		return nil, fmt.Errorf("spool %s: %w", cfg.Dir, err)
	}
	lock, err := lockDir(cfg.Dir)
	if err != nil {
		return nil, err
	}
	s := &Spool{
		cfg:       cfg,
		log:       log.With(slog.String("spool", cfg.Dir)),
		maxRecord: int(cfg.SegmentBytes - segHeaderSize - frameHeaderSize),
		lock:      lock,
	}
	if err := s.load(); err != nil {
		if s.active != nil {
			s.active.Close()
		}
		lock.Close()
		return nil, fmt.Errorf("spool %s: %w", cfg.Dir, err)
	}
	return s, nil
}

// load reads the directory: it removes leftovers of interrupted writes and
// acknowledged segments, repairs damaged ones and indexes the rest.
func (s *Spool) load() error {
	dir := s.cfg.Dir
	entries, err := os.ReadDir(dir)
	if err != nil {
		return err
	}
	var seqs []uint64
	changed := false
	for _, e := range entries {
		name := e.Name()
		if !e.Type().IsRegular() {
			continue
		}
		if strings.HasSuffix(name, tmpExt) {
			if err := os.Remove(filepath.Join(dir, name)); err != nil {
				return err
			}
			changed = true
		} else if seq, ok := parseSegName(name); ok {
			seqs = append(seqs, seq)
		}
	}
	slices.Sort(seqs)

	st, haveState, err := readState(filepath.Join(dir, stateName))
	if errors.Is(err, errUnsupported) {
		return err
	} else if err != nil {
		s.log.Warn("spool acknowledgement state is damaged; replaying the spool from its oldest record", slog.Any("err", err))
		haveState = false
	}
	var newest uint64
	if len(seqs) > 0 {
		newest = seqs[len(seqs)-1]
	}
	if !haveState {
		st = ackState{}
	}
	s.nextSeq = max(newest, st.seq) + 1

	for _, seq := range seqs {
		path := filepath.Join(dir, segName(seq))
		if seq < st.seq {
			// Fully acknowledged; an Ack was interrupted before removing it.
			if err := os.Remove(path); err != nil {
				return err
			}
			changed = true
			continue
		}
		g, removed, err := s.loadSegment(path, seq, seq == newest, st)
		if err != nil {
			return err
		}
		changed = changed || removed
		if g != nil {
			s.segs = append(s.segs, g)
			s.records += len(g.offs)
			s.bytes += g.size
		}
	}
	if changed {
		if err := syncDir(dir); err != nil {
			return err
		}
	}
	if n := len(s.segs); n > 0 && s.segs[n-1].size < s.cfg.SegmentBytes {
		f, err := os.OpenFile(s.segs[n-1].path, os.O_RDWR, 0)
		if err != nil {
			return err
		}
		s.active = f
	}
	if s.bytes > s.cfg.MaxBytes {
		s.log.Warn("spool holds more than its bound; the next append drops the oldest records",
			slog.Int64("bytes", s.bytes), slog.Int64("max_bytes", s.cfg.MaxBytes))
	}
	s.log.Debug("spool opened", slog.Int("records", s.records), slog.Int64("bytes", s.bytes), slog.Int("segments", len(s.segs)))
	return nil
}

// loadSegment scans one segment file, repairs it and applies the
// acknowledgement state. It returns nil when nothing in the segment is
// left to read; removed says whether the file was removed or renamed.
func (s *Spool) loadSegment(path string, seq uint64, newest bool, st ackState) (g *segment, removed bool, err error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, false, err
	}
	res, err := scanSegment(data, newest)
	if err != nil {
		return nil, false, fmt.Errorf("segment %s: %w", filepath.Base(path), err)
	}
	name := slog.String("segment", filepath.Base(path))
	switch res.damage {
	case badHeader:
		aside, err := moveAside(path)
		if err != nil {
			return nil, false, err
		}
		s.corrupt += int64(res.lost)
		s.log.Error("SPOOL CORRUPT: segment header damaged; segment set aside, its records lost",
			name, slog.String("kept_as", filepath.Base(aside)), slog.Int("records_lost", res.lost))
		return nil, true, nil
	case torn:
		if err := truncateFile(path, res.end); err != nil {
			return nil, false, err
		}
		s.torn += int64(len(data)) - res.end
		s.log.Warn("spool: torn record at the end of the newest segment cut off (interrupted write)",
			name, slog.Int64("offset", res.end), slog.Int64("torn_bytes", int64(len(data))-res.end))
	case corrupt:
		aside, err := setAside(path, data)
		if err != nil {
			return nil, false, err
		}
		if err := truncateFile(path, res.end); err != nil {
			return nil, false, err
		}
		s.corrupt += int64(res.lost)
		s.log.Error("SPOOL CORRUPT: checksum error inside a segment; records from there on lost, damaged copy kept",
			name, slog.Int64("offset", res.end), slog.Int("records_lost", res.lost),
			slog.Int("records_kept", len(res.offs)), slog.String("kept_as", filepath.Base(aside)))
	}
	g = &segment{seq: seq, path: path, offs: res.offs, size: res.end}
	if seq == st.seq && st.off > segHeaderSize {
		if i, ok := slices.BinarySearch(g.offs, st.off); ok {
			g.offs = g.offs[i:]
		} else if st.off >= g.size {
			g.offs = nil
		} else {
			s.log.Warn("spool acknowledgement state points inside a record; replaying its segment", name, slog.Int64("offset", st.off))
		}
	}
	if len(g.offs) == 0 {
		if err := os.Remove(path); err != nil {
			return nil, false, err
		}
		return nil, true, nil
	}
	return g, false, nil
}

// Stats reports the spool's content and losses.
func (s *Spool) Stats() Stats {
	s.mu.Lock()
	defer s.mu.Unlock()
	return Stats{
		Records:   s.records,
		Bytes:     s.bytes,
		Segments:  len(s.segs),
		Dropped:   s.dropped,
		TornBytes: s.torn,
		Corrupt:   s.corrupt,
	}
}

// Close closes the spool's files and releases its lock. Everything
// appended is already durable. Close is idempotent; other methods fail
// after it.
func (s *Spool) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return nil
	}
	s.closed = true
	var errs []error
	if s.active != nil {
		errs = append(errs, s.active.Close())
		s.active = nil
	}
	errs = append(errs, s.lock.Close())
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("close spool %s: %w", s.cfg.Dir, err)
	}
	return nil
}
