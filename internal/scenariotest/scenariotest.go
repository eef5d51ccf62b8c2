package scenariotest

import (
	"context"
	"crypto/sha256"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/lagtrail/lagtrail/examples"
	"github.com/lagtrail/lagtrail/internal/pgtest"
	"github.com/lagtrail/lagtrail/internal/scenario"
	"github.com/lagtrail/lagtrail/store"
)

// Monday is where tests start the scenarios, midnight UTC of a Monday:
// scenarios count days from their start and weekly cycles from Monday.
var Monday = time.Date(2025, 1, 6, 0, 0, 0, 0, time.UTC)

// History is a bundled scenario's generated history in a database.
type History struct {
	// URL is the database's postgres:// URL. Read it only.
	URL string
	// Model generated the history; ask it what really happened.
	Model *scenario.Model
	// From and To delimit the generated history: [From, To).
	From, To time.Time
}

var (
	modelsMu sync.Mutex
	models   = map[string]*scenario.Model{}
)

// Model returns the model of bundled scenario name starting at start, made
// once per test binary.
func Model(t testing.TB, name string, start time.Time) *scenario.Model {
	t.Helper()
	key := name + "@" + start.UTC().Format(time.RFC3339)
	modelsMu.Lock()
	defer modelsMu.Unlock()
	if m, ok := models[key]; ok {
		return m
	}
	data, err := examples.Scenario(name)
	if err != nil {
		t.Fatalf("scenariotest: %v", err)
	}
	s, err := scenario.Parse(data)
	if err != nil {
		t.Fatalf("scenariotest: parse %s: %v", name, err)
	}
	m, err := scenario.New(s, start.UTC())
	if err != nil {
		t.Fatalf("scenariotest: model %s: %v", name, err)
	}
	models[key] = m
	return m
}

// Generate returns a database holding the history of bundled scenario name
// from start for the given span, generated once per test binary.
func Generate(t testing.TB, name string, start time.Time, span time.Duration) History {
	t.Helper()
	m := Model(t, name, start)
	h := History{Model: m, From: start.UTC(), To: start.UTC().Add(span)}
	key := fmt.Sprintf("%s %s %s", name, h.From.Format("20060102T1504"), span)
	h.URL = pgtest.Shared(t, key, func(ctx context.Context, url string) error { return write(ctx, m, url, h) })
	return h
}

// GenerateFile returns a database holding the history of the scenario file
// at path (a test's own, e.g. under testdata/) from start for the given
// span, generated once per test binary, and once per run for every binary
// that asks for the same file's content (see pgtest.Shared). Read it only.
func GenerateFile(t testing.TB, path string, start time.Time, span time.Duration) History {
	t.Helper()
	h, fill := FillFile(t, path, start, span)
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("scenariotest: %v", err)
	}
	sum := sha256.Sum256(data)
	key := fmt.Sprintf("file %s %x %s %s", filepath.Base(path), sum[:8], h.From.Format("20060102T1504"), span)
	h.URL = pgtest.Shared(t, key, fill)
	return h
}

// FillFile returns a function that writes the history of the scenario
// file at path from start for span into the database at its URL, for
// databases a test makes itself (pgtest.Replica); GenerateFile shares one
// instead.
func FillFile(t testing.TB, path string, start time.Time, span time.Duration) (History, func(ctx context.Context, url string) error) {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("scenariotest: %v", err)
	}
	s, err := scenario.Parse(data)
	if err != nil {
		t.Fatalf("scenariotest: parse %s: %v", path, err)
	}
	m, err := scenario.New(s, start.UTC())
	if err != nil {
		t.Fatalf("scenariotest: model %s: %v", path, err)
	}
	h := History{Model: m, From: start.UTC(), To: start.UTC().Add(span)}
	return h, func(ctx context.Context, url string) error { return write(ctx, m, url, h) }
}

// write writes the model's history from h.From to h.To into the database
// at url.
func write(ctx context.Context, m *scenario.Model, url string, h History) error {
	st, err := store.Open(ctx, store.Config{DatabaseURL: url}, nil)
	if err != nil {
		return err
	}
	defer st.Close()
	_, err = m.WriteHistory(ctx, st, h.From, h.To, nil)
	return err
}
