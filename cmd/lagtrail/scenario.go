package main

import (
	"fmt"
	"io"
	"os"
	"regexp"
	"strings"
	"time"

	"golang.org/x/term"

	"github.com/lagtrail/lagtrail/examples"
	"github.com/lagtrail/lagtrail/internal/scenario"
	"github.com/lagtrail/lagtrail/query"
)

// loadScenario reads a scenario from a file, or a bundled one by name
// (incident, quiet, capacity).
func loadScenario(ref string) (*scenario.Scenario, error) {
	var data []byte
	var err error
	if strings.ContainsAny(ref, "/.") {
		data, err = os.ReadFile(ref)
	} else {
		data, err = examples.Scenario(ref)
	}
	if err != nil {
		return nil, usagef("--scenario: %v", err)
	}
	s, err := scenario.Parse(data)
	if err != nil {
		return nil, usagef("--scenario %s: %v", ref, err)
	}
	return s, nil
}

// wholeDaysAgo matches a start given as whole days before now.
var wholeDaysAgo = regexp.MustCompile(`^-[0-9]+d$`)

// scenarioStart reads --start: a time as query flags take it, truncated to
// the minute; whole days before now ("-7d", the default) start at midnight
// UTC, so that simulate and generate run with the same start when both are
// given the same days on the same day.
func scenarioStart(flag string, now time.Time) (time.Time, error) {
	t, err := query.ParseTime(flag, now)
	if err != nil {
		return time.Time{}, usagef("--start: %v", err)
	}
	if wholeDaysAgo.MatchString(strings.TrimSpace(flag)) {
		return t.UTC().Truncate(24 * time.Hour), nil
	}
	return t.UTC().Truncate(time.Minute), nil
}

// statusLine rewrites one line of progress on a terminal, and prints
// nothing elsewhere.
type statusLine struct {
	w      io.Writer
	tty    bool
	active bool
}

func newStatusLine(w io.Writer) *statusLine {
	f, ok := w.(*os.File)
	return &statusLine{w: w, tty: ok && term.IsTerminal(int(f.Fd()))}
}

// show replaces the line with msg.
func (s *statusLine) show(msg string) {
	if !s.tty {
		return
	}
	fmt.Fprintf(s.w, "\r\033[K%s", msg)
	s.active = true
}

// clear ends a shown line, leaving what it said.
func (s *statusLine) clear() {
	if s.active {
		fmt.Fprintln(s.w)
	}
	s.active = false
}

// done prints msg as a finished step, on its own line.
func (s *statusLine) done(msg string) {
	if s.tty && s.active {
		fmt.Fprint(s.w, "\r\033[K")
	}
	s.active = false
	fmt.Fprintln(s.w, msg)
}
