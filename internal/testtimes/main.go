package main

import (
	"bufio"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"
	"time"
)

func main() {
	limit := flag.Duration("package-limit", 0, "fail when a package's tests run longer than this (0: no limit)")
	top := flag.Int("top", 10, "how many of the slowest tests to list")
	flag.Parse()
	if flag.NArg() > 0 {
		fmt.Fprintln(os.Stderr, "testtimes: takes no arguments; pipe `go test -json` into it")
		os.Exit(2)
	}
	if *limit < 0 || *top < 0 {
		fmt.Fprintln(os.Stderr, "testtimes: -package-limit and -top must not be negative")
		os.Exit(2)
	}
	t, err := read(os.Stdin, os.Stdout)
	if err != nil {
		fmt.Fprintln(os.Stderr, "testtimes:", err)
		os.Exit(1)
	}
	if !report(os.Stdout, t, *limit, *top) {
		os.Exit(1)
	}
}

// read echoes the test output to out as go test prints it without -json
// and tallies the events. Lines that are not JSON events (build errors on a
// Go release that prints them plainly) are echoed as they are.
func read(in io.Reader, out io.Writer) (*tally, error) {
	t := newTally()
	sc := bufio.NewScanner(in)
	sc.Buffer(make([]byte, 0, 64*1024), 16*1024*1024)
	w := bufio.NewWriter(out)
	defer w.Flush()
	for sc.Scan() {
		line := sc.Bytes()
		var e event
		if len(line) == 0 || line[0] != '{' || json.Unmarshal(line, &e) != nil {
			fmt.Fprintf(w, "%s\n", line)
			continue
		}
		if e.Output != "" {
			io.WriteString(w, e.Output)
			if e.Action == "build-output" || e.Test == "" {
				w.Flush() // package lines appear as soon as go test prints them
			}
		}
		t.add(e)
	}
	return t, sc.Err()
}

// report prints the package times, the slowest tests and the limit check,
// and says whether everything passed within the limit.
func report(out io.Writer, t *tally, limit time.Duration, top int) bool {
	ok := true
	fmt.Fprintln(out, "\ntesttimes: package wall times (test binary run time, build excluded)")
	for _, p := range t.packages() {
		mark := ""
		if limit > 0 && p.elapsed > limit {
			mark = fmt.Sprintf("  OVER THE %s LIMIT", limit)
			ok = false
		}
		if p.outcome == "fail" {
			ok = false
		}
		fmt.Fprintf(out, "  %8.1fs  %-4s  %s%s\n", p.elapsed.Seconds(), p.outcome, p.pkg, mark)
	}
	if top > 0 {
		fmt.Fprintf(out, "testtimes: the %d slowest tests (ran: their own time; waited: paused for a parallel slot)\n", top)
		for _, tt := range t.slowest(top) {
			fmt.Fprintf(out, "  %8.1fs ran  %7.1fs waited  %s %s\n", tt.ran.Seconds(), tt.waited.Seconds(), shortPkg(tt.pkg), tt.test)
		}
	}
	pass, fail, skip := t.counts()
	if fail > 0 {
		ok = false
	}
	fmt.Fprintf(out, "testtimes: top-level tests: %d passed, %d failed, %d skipped\n", pass, fail, skip)
	for _, tt := range t.named("skip") {
		fmt.Fprintf(out, "testtimes: skipped: %s %s\n", shortPkg(tt.pkg), tt.test)
	}
	for _, tt := range t.named("fail") {
		fmt.Fprintf(out, "testtimes: FAIL: %s %s\n", shortPkg(tt.pkg), tt.test)
	}
	if !ok && limit > 0 {
		for _, p := range t.packages() {
			if p.elapsed > limit {
				fmt.Fprintf(out, "testtimes: FAIL: %s ran %.1fs, over the %s limit per package\n", p.pkg, p.elapsed.Seconds(), limit)
			}
		}
	}
	return ok
}

func shortPkg(p string) string {
	return strings.TrimPrefix(p, "github.com/lagtrail/lagtrail/")
}
