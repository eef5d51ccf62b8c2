package pgtest

import (
	"context"
	"errors"
	"fmt"
	"os"
	"sync"
	"testing"
	"time"
)

// sharedTimeout bounds creating and filling one shared database.
const sharedTimeout = 10 * time.Minute

// shared is one database of Shared: made and filled once per test binary.
type shared struct {
	once sync.Once
	url  string
	err  error
}

var (
	sharedMu    sync.Mutex
	sharedDBs   = map[string]*shared{}
	sharedNames []string
)

// Shared returns the URL of a migrated database that fill has filled, made
// once per test binary for each key and handed to every test that asks for
// the same key. It outlives the tests and is dropped at teardown. Tests
// that use it must only read it: it is for fixtures that are slow to make,
// such as days of generated history. A fill error fails every test that
// asks for the key. It follows the skip rules of URL.
//
// fill must be deterministic: given the key and the module's source, it
// must always write the same data. On a local cluster the filled database
// is dumped to a cache (see EnvCacheDir) keyed by both, and other test
// binaries of the run, and later runs of unchanged source, restore the
// dump instead of filling again.
func Shared(t testing.TB, key string, fill func(ctx context.Context, url string) error) string {
	t.Helper()
	srv := requireServer(t)
	sharedMu.Lock()
	db, ok := sharedDBs[key]
	if !ok {
		db = &shared{}
		sharedDBs[key] = db
	}
	sharedMu.Unlock()
	db.once.Do(func() { db.url, db.err = srv.makeShared(t, key, fill) })
	if db.err != nil {
		t.Fatalf("pgtest: %v", db.err)
	}
	return db.url
}

// dropShared drops the shared databases; teardown calls it with serverMu
// held.
func dropShared(ctx context.Context, srv *server) []error {
	sharedMu.Lock()
	names := sharedNames
	sharedNames, sharedDBs = nil, map[string]*shared{}
	sharedMu.Unlock()
	var errs []error
	for _, n := range names {
		if err := srv.dropDatabase(ctx, n); err != nil {
			errs = append(errs, err)
		}
	}
	return errs
}

// makeShared creates and fills the shared database for key, from the dump
// cache when it holds it, and returns its URL.
func (s *server) makeShared(t testing.TB, key string, fill func(ctx context.Context, url string) error) (string, error) {
	tmpl, err := s.template(t)
	if err != nil {
		return "", err
	}
	ctx, cancel := context.WithTimeout(context.Background(), sharedTimeout)
	defer cancel()
	name := databaseName("shared " + key)
	url := s.databaseURL(name)
	sharedMu.Lock()
	sharedNames = append(sharedNames, name)
	sharedMu.Unlock()

	c, why := s.cache()
	var e entry
	if c != nil {
		e = c.entry(key)
		unlock, err := e.lock(ctx)
		if err != nil {
			t.Logf("pgtest: shared database %q without the cache: %v", key, err)
			c = nil
		} else {
			defer unlock()
		}
	} else {
		t.Logf("pgtest: shared database %q without the cache: %s", key, why)
	}
	if c != nil && e.has() {
		start := time.Now()
		err := s.createDatabase(ctx, name, "template0")
		if err == nil {
			err = c.restore(ctx, e, url)
		}
		if err == nil {
			t.Logf("pgtest: restored shared database %q from %s in %v", key, e.dump, time.Since(start).Round(time.Millisecond))
			return url, nil
		}
		// A damaged or foreign archive: fill as if there were none.
		t.Logf("pgtest: shared database %q: restore from the cache failed, filling instead: %v", key, err)
		if err := errors.Join(s.dropDatabase(ctx, name), os.Remove(e.dump)); err != nil {
			return "", err
		}
	}
	if err := s.createDatabase(ctx, name, tmpl); err != nil {
		return "", err
	}
	start := time.Now()
	if err := fill(ctx, url); err != nil {
		return "", fmt.Errorf("fill shared database %q: %w", key, err)
	}
	t.Logf("pgtest: filled shared database %q in %v", key, time.Since(start).Round(time.Millisecond))
	if c != nil {
		start := time.Now()
		if err := c.save(ctx, e, url); err != nil {
			t.Logf("pgtest: shared database %q not cached: %v", key, err)
		} else {
			t.Logf("pgtest: cached shared database %q in %v", key, time.Since(start).Round(time.Millisecond))
		}
	}
	return url, nil
}
