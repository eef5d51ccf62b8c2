package store

import (
	"errors"
	"fmt"
)

// ErrInvalidPoll is wrapped by the error WritePoll returns for a poll it
// refuses before touching the database; the wrapping error names the problem.
var ErrInvalidPoll = errors.New("invalid poll")

// ErrInvalidRange is wrapped by the error a read returns for a Range it
// refuses, for instance one whose From is after its To.
var ErrInvalidRange = errors.New("invalid range")

// ErrInvalidConfig is wrapped by the error Open returns for a Config it
// refuses.
var ErrInvalidConfig = errors.New("invalid store config")

// ErrNotMigrated is returned by Open when the database lacks the lagtrail
// schema objects the store needs.
var ErrNotMigrated = errors.New("database schema is not migrated: run `lagtrail migrate up`")

func invalidPoll(format string, args ...any) error {
	return fmt.Errorf("%w: %s", ErrInvalidPoll, fmt.Sprintf(format, args...))
}
