package spool

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"syscall"
	"time"
)

// lockName is the file in the spool directory that carries the flock.
const lockName = "LOCK"

// lockWait is how long lockDir retries a lock that is held. A flock
// belongs to the open file description, which a child process being
// started shares until its exec closes the descriptor: a spool closed and
// reopened in one process while it starts another can meet its own old
// lock for that moment.
const lockWait = 500 * time.Millisecond

// lockDir takes an exclusive flock on the directory's lock file, waiting
// at most lockWait. The kernel releases it when the process dies.
func lockDir(dir string) (*os.File, error) {
	f, err := os.OpenFile(filepath.Join(dir, lockName), os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("spool %s: lock: %w", dir, err)
	}
	deadline := time.Now().Add(lockWait)
	for {
		err = syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB)
		if errors.Is(err, syscall.EINTR) {
			continue
		}
		if !errors.Is(err, syscall.EWOULDBLOCK) || time.Now().After(deadline) {
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	if err != nil {
		f.Close()
		if errors.Is(err, syscall.EWOULDBLOCK) {
			return nil, fmt.Errorf("spool %s: %w", dir, ErrLocked)
		}
		return nil, fmt.Errorf("spool %s: lock: %w", dir, err)
	}
	return f, nil
}

// fsync flushes a file or directory to stable storage. Every sync of the
// package goes through it; FuzzOpen, which checks parsing and repair, not
// durability, replaces it while no other test runs.
var fsync = (*os.File).Sync

// syncDir makes the directory's entries (files created, renamed, removed)
// durable.
func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return fmt.Errorf("sync directory: %w", err)
	}
	err = fsync(d)
	if cerr := d.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("sync directory %s: %w", dir, err)
	}
	return nil
}

// writeFileAtomic replaces path with data: it writes path+".tmp", syncs
// it, renames it over path and syncs the directory. After a crash path
// holds either the old or the new content.
func writeFileAtomic(path string, data []byte) error {
	tmp := path + tmpExt
	f, err := os.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o600)
	if err != nil {
		return fmt.Errorf("write %s: %w", filepath.Base(path), err)
	}
	_, err = f.Write(data)
	if err == nil {
		err = fsync(f)
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp, path)
	}
	if err != nil {
		os.Remove(tmp)
		return fmt.Errorf("write %s: %w", filepath.Base(path), err)
	}
	return syncDir(filepath.Dir(path))
}
