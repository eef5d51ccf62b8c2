//go:build unix

package pglocal

import (
	"errors"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"testing"
)

func TestRemoveStaleDirs(t *testing.T) {
	t.Parallel()
	exited := exec.Command("true")
	if err := exited.Run(); err != nil {
		t.Fatal(err)
	}
	dead, alive := exited.Process.Pid, os.Getpid()
	if processAlive(dead) {
		t.Skipf("pid %d of an exited process is in use again", dead)
	}
	// makeDir makes a cluster dir with the given owner and, when not 0,
	// postmaster pid.
	makeDir := func(owner, postmaster int) string {
		dir, err := os.MkdirTemp("", clusterDirPattern)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = os.RemoveAll(dir) })
		if err := os.WriteFile(filepath.Join(dir, ownerFile), []byte(strconv.Itoa(owner)), 0o644); err != nil {
			t.Fatal(err)
		}
		if postmaster != 0 {
			if err := os.MkdirAll(filepath.Join(dir, "data"), 0o755); err != nil {
				t.Fatal(err)
			}
			pidFile := strconv.Itoa(postmaster) + "\n/some/data/dir\n"
			if err := os.WriteFile(filepath.Join(dir, "data", "postmaster.pid"), []byte(pidFile), 0o644); err != nil {
				t.Fatal(err)
			}
		}
		return dir
	}
	stale := makeDir(dead, dead)
	ownerAlive := makeDir(alive, dead)
	serverAlive := makeDir(dead, alive)

	removeStaleDirs(slog.New(slog.DiscardHandler))

	if _, err := os.Stat(stale); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("stale dir %s: %v, want it removed", stale, err)
	}
	for _, dir := range []string{ownerAlive, serverAlive} {
		if _, err := os.Stat(dir); err != nil {
			t.Errorf("dir %s of a live process: %v, want it kept", dir, err)
		}
	}
}
