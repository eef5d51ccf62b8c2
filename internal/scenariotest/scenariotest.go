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
	return modelEvery(t, name, start, 0)
}

// modelEvery is Model with the scenario's poll interval replaced by every,
// unless every is zero.
func modelEvery(t testing.TB, name string, start time.Time, every time.Duration) *scenario.Model {
	t.Helper()
	key := name + "@" + start.UTC().Format(time.RFC3339)
	if every != 0 {
		key += " every " + every.String()
	}
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
	if every != 0 {
		s.PollInterval = scenario.Duration(every)
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
	return GeneratePart(t, name, start, Part{From: start, To: start.Add(span)})
}

// Part is the part of a scenario's history that GeneratePart writes.
type Part struct {
	// From and To delimit the history written, [From, To): a test that
	// reads a few hours of a week pays for those hours only.
	From, To time.Time
	// Every replaces the scenario's poll interval, for a test that reads
	// hourly or daily figures over weeks; zero keeps the scenario's.
	Every time.Duration
}

// GeneratePart returns a database holding part p of the history of bundled
// scenario name started at start (the scenario's days and events count
// from start, wherever p begins), generated once per test binary.
func GeneratePart(t testing.TB, name string, start time.Time, p Part) History {
	t.Helper()
	if !p.From.Before(p.To) || p.From.Before(start) || p.Every < 0 {
		t.Fatalf("scenariotest: part [%s, %s) every %s of %s started at %s: want a range from the start on and an interval not negative", p.From, p.To, p.Every, name, start)
	}
	m := modelEvery(t, name, start, p.Every)
	h := History{Model: m, From: p.From.UTC(), To: p.To.UTC()}
	// The key of a whole history from the start is the one every run
	// before parts existed used; parts add what differs.
	key := fmt.Sprintf("%s %s %s", name, start.UTC().Format("20060102T1504"), h.To.Sub(start.UTC()))
	if !h.From.Equal(start.UTC()) {
		key += " from " + h.From.Format("20060102T150405")
	}
	if p.Every != 0 {
		key += " every " + p.Every.String()
	}
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
