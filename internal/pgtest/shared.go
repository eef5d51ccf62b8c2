package pgtest

import (
	"context"
	"fmt"
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
	db.once.Do(func() {
		tmpl, err := srv.template(t)
		if err != nil {
			db.err = err
			return
		}
		ctx, cancel := context.WithTimeout(context.Background(), sharedTimeout)
		defer cancel()
		name := databaseName("shared " + key)
		if err := srv.createDatabase(ctx, name, tmpl); err != nil {
			db.err = err
			return
		}
		sharedMu.Lock()
		sharedNames = append(sharedNames, name)
		sharedMu.Unlock()
		db.url = srv.databaseURL(name)
		start := time.Now()
		if err := fill(ctx, db.url); err != nil {
			db.err = fmt.Errorf("fill shared database %q: %w", key, err)
			return
		}
		t.Logf("pgtest: filled shared database %q in %v", key, time.Since(start).Round(time.Millisecond))
	})
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
