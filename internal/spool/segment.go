package spool

import (
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// Segment files. A segment is named by its sequence number, zero-padded to
// 20 digits, with the extension ".seg", and starts with a 12-byte header:
//
//	[0:4]   magic "LTSP"
//	[4]     format version (1)
//	[5:8]   zero
//	[8:12]  CRC-32C of bytes [0:8]
//
// followed by record frames (see record.go), back to back.
const (
	segHeaderSize = 12
	segMagic      = "LTSP"
	formatVersion = 1
	segExt        = ".seg"
	tmpExt        = ".tmp"
	corruptExt    = ".corrupt"
	segNameDigits = 20
	// maxSeq bounds segment sequence numbers, far from overflow: a file
	// numbered higher is not taken for a segment.
	maxSeq = 1 << 62
)

// errUnsupported marks a segment or state file that is intact but written
// in a format version this build does not read.
var errUnsupported = errors.New("unsupported format version")

// segment is one segment file as the spool tracks it.
type segment struct {
	seq  uint64
	path string
	// offs holds the offsets of the frames of the records not yet
	// acknowledged, oldest first.
	offs []int64
	// size is the length of the file: the end of its last record.
	size int64
}

// frameEnd is the offset where the frame of offs[i] ends.
func (g *segment) frameEnd(i int) int64 {
	if i+1 < len(g.offs) {
		return g.offs[i+1]
	}
	return g.size
}

func segName(seq uint64) string {
	return fmt.Sprintf("%0*d%s", segNameDigits, seq, segExt)
}

// parseSegName returns the sequence number of a segment file name.
func parseSegName(name string) (uint64, bool) {
	digits, ok := strings.CutSuffix(name, segExt)
	if !ok || len(digits) != segNameDigits {
		return 0, false
	}
	for _, c := range digits {
		if c < '0' || c > '9' {
			return 0, false
		}
	}
	seq, err := strconv.ParseUint(digits, 10, 64)
	return seq, err == nil && seq <= maxSeq
}

func segHeader() []byte {
	h := make([]byte, segHeaderSize)
	copy(h, segMagic)
	h[4] = formatVersion
	binary.LittleEndian.PutUint32(h[8:12], checksum(h[0:8]))
	return h
}

// checkSegHeader reports whether b starts with a valid segment header. An
// intact header of another version gives an error wrapping errUnsupported.
func checkSegHeader(b []byte) (bool, error) {
	if len(b) < segHeaderSize || string(b[0:4]) != segMagic ||
		checksum(b[0:8]) != binary.LittleEndian.Uint32(b[8:12]) {
		return false, nil
	}
	if b[4] != formatVersion || b[5] != 0 || b[6] != 0 || b[7] != 0 {
		return false, fmt.Errorf("segment format version %d, this build reads %d: %w", b[4], formatVersion, errUnsupported)
	}
	return true, nil
}

// damage is what a scan found wrong with a segment.
type damage int

const (
	intact    damage = iota
	torn             // a tail that an interrupted append leaves: truncate it
	corrupt          // a bad record followed by good ones, in any segment, or any bad record in an older one
	badHeader        // the header is damaged: the segment is unusable
)

// scanResult is the outcome of scanning one segment file's bytes.
type scanResult struct {
	offs   []int64 // offsets of the valid records, in order
	end    int64   // end of the last valid record: the length to keep
	damage damage
	// lost counts the records given up with a corrupt or badHeader
	// segment: the bad one and every valid one found after it.
	lost int
}

// scanSegment checks a segment's bytes. newest says whether it is the
// newest segment, the only one an interrupted append can leave torn.
//
// At the first bad frame the segment stops being trusted. In the newest
// segment, a bad frame with no valid frame anywhere after it is a torn
// tail; otherwise it is corruption.
func scanSegment(b []byte, newest bool) (scanResult, error) {
	ok, err := checkSegHeader(b)
	if err != nil {
		return scanResult{}, err
	}
	if !ok {
		return scanResult{damage: badHeader, lost: max(1, framesAfter(b, -1))}, nil
	}
	r := scanResult{end: segHeaderSize}
	p := segHeaderSize
	for p < len(b) {
		_, size, st := parseFrame(b[p:])
		if st != frameOK {
			break
		}
		r.offs = append(r.offs, int64(p))
		p += size
	}
	r.end = int64(p)
	if p == len(b) {
		return r, nil
	}
	after := framesAfter(b, p)
	if newest && after == 0 {
		r.damage = torn
		return r, nil
	}
	r.damage = corrupt
	r.lost = 1 + after
	return r, nil
}

// setAside keeps a damaged segment's bytes for inspection under a free
// name "<segment>.corrupt[.N]", written atomically, and returns that name.
func setAside(path string, data []byte) (string, error) {
	dst, err := freeCorruptName(path)
	if err != nil {
		return "", err
	}
	if err := writeFileAtomic(dst, data); err != nil {
		return "", err
	}
	return dst, nil
}

// moveAside renames a damaged segment to a free "<segment>.corrupt[.N]".
func moveAside(path string) (string, error) {
	dst, err := freeCorruptName(path)
	if err != nil {
		return "", err
	}
	if err := os.Rename(path, dst); err != nil {
		return "", fmt.Errorf("set damaged segment aside: %w", err)
	}
	return dst, syncDir(filepath.Dir(path))
}

func freeCorruptName(path string) (string, error) {
	for i := 0; i < 1000; i++ {
		name := path + corruptExt
		if i > 0 {
			name += "." + strconv.Itoa(i)
		}
		if _, err := os.Lstat(name); errors.Is(err, os.ErrNotExist) {
			return name, nil
		} else if err != nil {
			return "", fmt.Errorf("set damaged segment aside: %w", err)
		}
	}
	return "", fmt.Errorf("set damaged segment aside: too many %s files for %s", corruptExt, filepath.Base(path))
}

// truncateFile cuts the file at path to size and syncs it.
func truncateFile(path string, size int64) error {
	f, err := os.OpenFile(path, os.O_WRONLY, 0)
	if err != nil {
		return fmt.Errorf("truncate segment: %w", err)
	}
	err = f.Truncate(size)
	if err == nil {
		err = fsync(f)
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("truncate segment %s: %w", filepath.Base(path), err)
	}
	return nil
}
