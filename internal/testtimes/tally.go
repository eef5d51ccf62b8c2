package main

import (
	"sort"
	"strings"
	"time"
)

// tally gathers the figures from the events in the order they arrive.
type tally struct {
	tests    map[testKey]*testTimes
	pausedAt map[testKey]time.Time
	pkgs     map[string]*pkgTimes
}

func newTally() *tally {
	return &tally{
		tests:    map[testKey]*testTimes{},
		pausedAt: map[testKey]time.Time{},
		pkgs:     map[string]*pkgTimes{},
	}
}

func (t *tally) add(e event) {
	if e.Test == "" {
		switch e.Action {
		case "pass", "fail", "skip":
			t.pkgs[e.Package] = &pkgTimes{pkg: e.Package, elapsed: seconds(e.Elapsed), outcome: e.Action}
		}
		return
	}
	k := testKey{e.Package, e.Test}
	tt := t.tests[k]
	if tt == nil {
		tt = &testTimes{testKey: k}
		t.tests[k] = tt
	}
	switch e.Action {
	case "pause":
		t.pausedAt[k] = e.Time
	case "cont":
		if p, ok := t.pausedAt[k]; ok && !e.Time.IsZero() && !p.IsZero() {
			tt.waited += e.Time.Sub(p)
			delete(t.pausedAt, k)
		}
	case "pass", "fail", "skip":
		tt.ran = seconds(e.Elapsed)
		tt.outcome = e.Action
	}
}

func seconds(s float64) time.Duration {
	return time.Duration(s * float64(time.Second)).Round(10 * time.Millisecond)
}

// topLevel reports whether the test is a top-level test function rather
// than a subtest.
func (k testKey) topLevel() bool { return !strings.Contains(k.test, "/") }

// slowest returns the top-level tests by time run, longest first.
func (t *tally) slowest(n int) []*testTimes {
	var all []*testTimes
	for _, tt := range t.tests {
		if tt.topLevel() && tt.outcome != "" {
			all = append(all, tt)
		}
	}
	sort.Slice(all, func(i, j int) bool {
		if all[i].ran != all[j].ran {
			return all[i].ran > all[j].ran
		}
		return all[i].pkg+all[i].test < all[j].pkg+all[j].test
	})
	if len(all) > n {
		all = all[:n]
	}
	return all
}

// packages returns the packages by wall time, longest first.
func (t *tally) packages() []*pkgTimes {
	var all []*pkgTimes
	for _, p := range t.pkgs {
		all = append(all, p)
	}
	sort.Slice(all, func(i, j int) bool {
		if all[i].elapsed != all[j].elapsed {
			return all[i].elapsed > all[j].elapsed
		}
		return all[i].pkg < all[j].pkg
	})
	return all
}

// counts returns how many top-level tests passed, failed and skipped.
func (t *tally) counts() (pass, fail, skip int) {
	for _, tt := range t.tests {
		if !tt.topLevel() {
			continue
		}
		switch tt.outcome {
		case "pass":
			pass++
		case "fail":
			fail++
		case "skip":
			skip++
		}
	}
	return pass, fail, skip
}

// named returns the top-level tests with the outcome, by package and name.
func (t *tally) named(outcome string) []*testTimes {
	var all []*testTimes
	for _, tt := range t.tests {
		if tt.topLevel() && tt.outcome == outcome {
			all = append(all, tt)
		}
	}
	sort.Slice(all, func(i, j int) bool {
		if all[i].pkg != all[j].pkg {
			return all[i].pkg < all[j].pkg
		}
		return all[i].test < all[j].test
	})
	return all
}
