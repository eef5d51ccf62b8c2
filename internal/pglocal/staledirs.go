//go:build unix

package pglocal

import (
	"log/slog"
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// removeStaleDirs removes cluster dirs left by processes that were killed
// before they could stop their cluster. A dir is stale when neither the
// process that made it nor its postmaster is alive.
func removeStaleDirs(log *slog.Logger) {
	dirs, _ := filepath.Glob(filepath.Join(os.TempDir(), clusterDirPattern))
	for _, dir := range dirs {
		if !pidFileDead(filepath.Join(dir, ownerFile)) {
			continue // owner alive, or dir too new to have an owner file
		}
		postmaster := filepath.Join(dir, "data", "postmaster.pid")
		if fileExists(postmaster) && !pidFileDead(postmaster) {
			continue
		}
		if err := os.RemoveAll(dir); err != nil { // best effort
			log.Debug("pglocal: remove stale cluster dir", "dir", dir, "err", err)
			continue
		}
		log.Debug("pglocal: removed stale cluster dir", "dir", dir)
	}
}

// pidFileDead reports whether the pid on the first line of path is known
// to be dead. An unreadable file counts as not dead, to stay safe.
func pidFileDead(path string) bool {
	b, err := os.ReadFile(path)
	if err != nil {
		return false
	}
	first, _, _ := strings.Cut(string(b), "\n")
	pid, err := strconv.Atoi(strings.TrimSpace(first))
	if err != nil || pid <= 0 {
		return false
	}
	return !processAlive(pid)
}

// fileExists reports whether path exists.
func fileExists(path string) bool {
	_, err := os.Stat(path)
	return err == nil
}
