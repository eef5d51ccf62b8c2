package ingest

import (
	"encoding/json"
	"fmt"

	"github.com/lagtrail/lagtrail/store"
)

// spoolVersion is the version of the spooled poll encoding. A record of
// another version is reported, not guessed at.
const spoolVersion = 1

// spooledPoll is a poll as the spool holds it: JSON, so that an operator
// can read a spool with standard tools, and so that a field added to Poll
// later reads as its zero value from older records.
type spooledPoll struct {
	V    int         `json:"v"`
	Poll *store.Poll `json:"poll"`
}

func encodePoll(p *store.Poll) ([]byte, error) {
	b, err := json.Marshal(spooledPoll{V: spoolVersion, Poll: p})
	if err != nil {
		return nil, fmt.Errorf("encode poll: %w", err)
	}
	return b, nil
}

func decodePoll(b []byte) (*store.Poll, error) {
	var sp spooledPoll
	if err := json.Unmarshal(b, &sp); err != nil {
		return nil, fmt.Errorf("decode spooled poll: %w", err)
	}
	if sp.V != spoolVersion {
		return nil, fmt.Errorf("decode spooled poll: encoding version %d, this recorder reads %d", sp.V, spoolVersion)
	}
	if sp.Poll == nil {
		return nil, fmt.Errorf("decode spooled poll: no poll in the record")
	}
	return sp.Poll, nil
}
