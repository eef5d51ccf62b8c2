package spool

import (
	"encoding/binary"
	"errors"
	"fmt"
	"os"
)

// The acknowledgement state file, "ack", is 28 bytes:
//
//	[0:4]    magic "LTSA"
//	[4]      format version (1)
//	[5:8]    zero
//	[8:16]   segment sequence number, uint64 little endian
//	[16:24]  byte offset in that segment, uint64 little endian
//	[24:28]  CRC-32C of bytes [0:24]
//
// It means: every record in a segment numbered below seq, and every record
// of segment seq that starts below offset, is acknowledged.
const (
	stateName  = "ack"
	stateMagic = "LTSA"
	stateSize  = 28
)

// ackState is the position of the oldest unacknowledged record.
type ackState struct {
	seq uint64
	off int64
}

func (a ackState) encode() []byte {
	b := make([]byte, stateSize)
	copy(b, stateMagic)
	b[4] = formatVersion
	binary.LittleEndian.PutUint64(b[8:16], a.seq)
	binary.LittleEndian.PutUint64(b[16:24], uint64(a.off))
	binary.LittleEndian.PutUint32(b[24:28], checksum(b[0:24]))
	return b
}

// errBadState marks a state file that is damaged.
var errBadState = errors.New("damaged acknowledgement state")

func decodeState(b []byte) (ackState, error) {
	if len(b) != stateSize || string(b[0:4]) != stateMagic ||
		checksum(b[0:24]) != binary.LittleEndian.Uint32(b[24:28]) {
		return ackState{}, errBadState
	}
	if b[4] != formatVersion || b[5] != 0 || b[6] != 0 || b[7] != 0 {
		return ackState{}, fmt.Errorf("acknowledgement state format version %d, this build reads %d: %w", b[4], formatVersion, errUnsupported)
	}
	seq, off := binary.LittleEndian.Uint64(b[8:16]), binary.LittleEndian.Uint64(b[16:24])
	if seq > maxSeq || off > maxRecordHard*2 {
		return ackState{}, errBadState
	}
	return ackState{seq: seq, off: int64(off)}, nil
}

// readState reads the state file. found is false when there is none.
func readState(path string) (st ackState, found bool, err error) {
	b, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return ackState{}, false, nil
	}
	if err != nil {
		return ackState{}, false, fmt.Errorf("read acknowledgement state: %w", err)
	}
	st, err = decodeState(b)
	return st, true, err
}
