package spool

import (
	"encoding/binary"
	"hash/crc32"
)

// Record framing. A frame is a 12-byte header followed by the payload:
//
//	[0:4]   payload length, uint32 little endian
//	[4:8]   CRC-32C (Castagnoli) of the payload
//	[8:12]  CRC-32C of bytes [0:8]
const (
	frameHeaderSize = 12
	// maxRecordHard bounds a record whatever the configuration, and a
	// length read from disk.
	maxRecordHard = 64 << 20
)

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

func checksum(b []byte) uint32 { return crc32.Checksum(b, castagnoli) }

// frameSize is the number of bytes rec takes on disk.
func frameSize(rec []byte) int64 { return frameHeaderSize + int64(len(rec)) }

// appendFrame appends the frame of rec to dst.
func appendFrame(dst, rec []byte) []byte {
	var h [frameHeaderSize]byte
	binary.LittleEndian.PutUint32(h[0:4], uint32(len(rec)))
	binary.LittleEndian.PutUint32(h[4:8], checksum(rec))
	binary.LittleEndian.PutUint32(h[8:12], checksum(h[0:8]))
	dst = append(dst, h[:]...)
	return append(dst, rec...)
}

// frameStatus is what parseFrame found.
type frameStatus int

const (
	frameOK         frameStatus = iota
	frameShort                  // the bytes end inside the header or the payload
	frameBadHeader              // header checksum fails, or the length is impossible
	frameBadPayload             // payload checksum fails
)

// parseFrame checks the frame at the start of b. With frameOK it returns
// the payload (a slice of b) and the frame's size.
func parseFrame(b []byte) (payload []byte, size int, st frameStatus) {
	if len(b) < frameHeaderSize {
		return nil, 0, frameShort
	}
	if checksum(b[0:8]) != binary.LittleEndian.Uint32(b[8:12]) {
		return nil, 0, frameBadHeader
	}
	n := binary.LittleEndian.Uint32(b[0:4])
	if n > maxRecordHard {
		return nil, 0, frameBadHeader
	}
	size = frameHeaderSize + int(n)
	if len(b) < size {
		return nil, 0, frameShort
	}
	payload = b[frameHeaderSize:size]
	if checksum(payload) != binary.LittleEndian.Uint32(b[4:8]) {
		return nil, 0, frameBadPayload
	}
	return payload, size, frameOK
}

// findFrame returns the first offset at or after from where a whole, valid
// frame starts, or -1.
func findFrame(b []byte, from int) int {
	for q := from; q+frameHeaderSize <= len(b); q++ {
		if _, _, st := parseFrame(b[q:]); st == frameOK {
			return q
		}
	}
	return -1
}

// framesAfter counts the valid frames that can be found in b after a bad
// frame at offset bad: it resynchronises on the next valid frame and
// follows the chain from there, again after each bad spot. It is what a bad
// spot costs: those records are not trusted any more.
func framesAfter(b []byte, bad int) int {
	n := 0
	for q := findFrame(b, bad+1); q >= 0; q = findFrame(b, q+1) {
		for {
			_, size, st := parseFrame(b[q:])
			if st != frameOK {
				break
			}
			n++
			q += size
		}
	}
	return n
}
