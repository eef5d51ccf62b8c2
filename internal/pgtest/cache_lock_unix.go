//go:build unix

package pgtest

import (
	"context"
	"errors"
	"fmt"
	"os"
	"syscall"
	"time"
)

// lock takes the entry's file lock, waiting while another test binary
// holds it, and returns its release. The lock goes with the process, so a
// killed binary never leaves it held.
func (e entry) lock(ctx context.Context) (func(), error) {
	f, err := os.OpenFile(e.lockFile, os.O_CREATE|os.O_RDWR, 0o600)
	if err != nil {
		return nil, err
	}
	for {
		err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB)
		if err == nil {
			return func() { f.Close() }, nil
		}
		if !errors.Is(err, syscall.EWOULDBLOCK) && !errors.Is(err, syscall.EINTR) {
			f.Close()
			return nil, fmt.Errorf("lock %s: %w", e.lockFile, err)
		}
		select {
		case <-ctx.Done():
			f.Close()
			return nil, fmt.Errorf("lock %s: %w", e.lockFile, ctx.Err())
		case <-time.After(lockPoll):
		}
	}
}
