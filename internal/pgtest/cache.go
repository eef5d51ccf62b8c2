package pgtest

import (
	"bufio"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"time"
)

// EnvCacheDir names the directory where Shared keeps dumps of filled
// databases between test binaries and runs. "off" turns the cache off.
// Unset, it is lagtrail-testcache-<uid> in the system temp dir.
const EnvCacheDir = "LAGTRAIL_TEST_CACHE"

const (
	// modulePath is the module whose source keys the cache.
	modulePath = "github.com/lagtrail/lagtrail"
	// staleCacheAge is how long a dump made from other source is kept
	// (another checkout may still be using it) before it is removed.
	staleCacheAge = time.Hour
	// lockPoll is how often a binary waiting for another's fill looks
	// again.
	lockPoll = 200 * time.Millisecond
)

// dumpCache keeps pg_dump archives of Shared databases, so that each
// history is generated once per run (and kept across runs while the
// source does not change), not once per test binary.
//
// An archive is keyed by the Shared key, the server's major version and a
// hash of every source file of the module: a fill is deterministic given
// those, and any change to the code that writes or reads the data (or to
// a test's fill) makes a new key. Binaries that need the same archive at
// the same time take a file lock: one fills and dumps, the others wait and
// restore.
type dumpCache struct {
	dir               string // this source's directory: <root>/<source hash>
	pgDump, pgRestore string
	major             int
}

var (
	sourceOnce sync.Once
	sourceHash string
	sourceErr  error
)

// cache returns the server's dump cache, or nil and why there is none: no
// pg_dump and pg_restore next to the server's binaries, the cache turned
// off, or no module source to key it by.
func (s *server) cache() (*dumpCache, string) {
	root := os.Getenv(EnvCacheDir)
	switch {
	case root == "off":
		return nil, EnvCacheDir + "=off"
	case s.binDir == "":
		return nil, "no pg_dump known for " + s.source
	case root == "":
		root = filepath.Join(os.TempDir(), fmt.Sprintf("lagtrail-testcache-%d", os.Getuid()))
	}
	c := &dumpCache{pgDump: filepath.Join(s.binDir, "pg_dump"), pgRestore: filepath.Join(s.binDir, "pg_restore"), major: s.version / 10000}
	for _, bin := range []string{c.pgDump, c.pgRestore} {
		if _, err := os.Stat(bin); err != nil {
			return nil, err.Error()
		}
	}
	sourceOnce.Do(func() { sourceHash, sourceErr = hashModuleSource() })
	if sourceErr != nil {
		return nil, sourceErr.Error()
	}
	c.dir = filepath.Join(root, sourceHash)
	if err := os.MkdirAll(c.dir, 0o700); err != nil {
		return nil, err.Error()
	}
	now := time.Now()
	_ = os.Chtimes(c.dir, now, now) // in use: not stale
	removeStaleCaches(root, sourceHash)
	return c, ""
}

// entry is one archive in the cache and its lock.
type entry struct {
	dump, lockFile string
}

func (c *dumpCache) entry(key string) entry {
	sum := sha256.Sum256(fmt.Appendf(nil, "%d\x00%s", c.major, key))
	base := filepath.Join(c.dir, hex.EncodeToString(sum[:12]))
	return entry{dump: base + ".dump", lockFile: base + ".lock"}
}

// has says whether the archive is there.
func (e entry) has() bool {
	_, err := os.Stat(e.dump)
	return err == nil
}

// restore loads the archive into the empty database at url.
func (c *dumpCache) restore(ctx context.Context, e entry, url string) error {
	cmd := exec.CommandContext(ctx, c.pgRestore, "--exit-on-error", "--no-owner", "--dbname", url, e.dump)
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("pg_restore: %w: %s", err, strings.TrimSpace(string(out)))
	}
	return nil
}

// save dumps the database at url into the archive, atomically: a
// reader sees the whole archive or none.
func (c *dumpCache) save(ctx context.Context, e entry, url string) error {
	tmp := e.dump + ".tmp"
	cmd := exec.CommandContext(ctx, c.pgDump, "--format=custom", "--compress=1", "--no-owner", "--file", tmp, "--dbname", url)
	if out, err := cmd.CombinedOutput(); err != nil {
		_ = os.Remove(tmp)
		return fmt.Errorf("pg_dump: %w: %s", err, strings.TrimSpace(string(out)))
	}
	return os.Rename(tmp, e.dump)
}

// hashModuleSource hashes the path and content of every source file of
// the module the tests run in, found from the working directory (go test
// runs a package's tests in its directory).
func hashModuleSource() (string, error) {
	root, err := moduleRoot()
	if err != nil {
		return "", err
	}
	h := sha256.New()
	err = filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		name := d.Name()
		if d.IsDir() {
			if path != root && (strings.HasPrefix(name, ".") || name == "node_modules") {
				return filepath.SkipDir
			}
			return nil
		}
		switch filepath.Ext(name) {
		case ".go", ".sql", ".yaml", ".yml", ".mod", ".sum":
		default:
			return nil
		}
		f, err := os.Open(path)
		if err != nil {
			return err
		}
		defer f.Close()
		rel, _ := filepath.Rel(root, path)
		fmt.Fprintf(h, "%s\x00", rel)
		if _, err := io.Copy(h, f); err != nil {
			return err
		}
		h.Write([]byte{0})
		return nil
	})
	if err != nil {
		return "", fmt.Errorf("hash module source: %w", err)
	}
	return hex.EncodeToString(h.Sum(nil)[:12]), nil
}

// moduleRoot walks up from the working directory to this module's go.mod.
func moduleRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if f, err := os.Open(filepath.Join(dir, "go.mod")); err == nil {
			sc := bufio.NewScanner(f)
			first := ""
			if sc.Scan() {
				first = strings.TrimSpace(sc.Text())
			}
			f.Close()
			if first == "module "+modulePath {
				return dir, nil
			}
			return "", fmt.Errorf("%s/go.mod is not module %s", dir, modulePath)
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("no go.mod above the working directory")
		}
		dir = parent
	}
}

// removeStaleCaches removes the archives of other source that nobody has
// touched for staleCacheAge. Errors are ignored: another binary may be
// removing the same directory.
func removeStaleCaches(root, keep string) {
	dirs, err := os.ReadDir(root)
	if err != nil {
		return
	}
	for _, d := range dirs {
		if d.Name() == keep || !d.IsDir() {
			continue
		}
		info, err := d.Info()
		if err == nil && time.Since(info.ModTime()) > staleCacheAge {
			_ = os.RemoveAll(filepath.Join(root, d.Name()))
		}
	}
}
