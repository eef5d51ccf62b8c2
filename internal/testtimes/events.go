package main

import "time"

// event is one line of `go test -json` (cmd/test2json's TestEvent).
type event struct {
	Time    time.Time
	Action  string
	Package string
	Test    string
	Elapsed float64
	Output  string
}

// testKey names a test within its package.
type testKey struct {
	pkg, test string
}

// testTimes is what the report says of one test.
type testTimes struct {
	testKey
	ran     time.Duration // go test's Elapsed, which leaves out waits for a parallel slot
	waited  time.Duration // from PAUSE to CONT
	outcome string        // pass, fail or skip
}

// pkgTimes is what the report says of one package.
type pkgTimes struct {
	pkg     string
	elapsed time.Duration
	outcome string
}
