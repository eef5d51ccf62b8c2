// Command testtimes reads the output of `go test -json` on standard input,
// prints the test output as go test would have printed it without -json, and
// then reports where the time went: every package's wall time, the slowest
// tests by the time they ran, and, for parallel tests, the time they spent
// waiting for a slot apart from the time they ran.
//
// With -package-limit it fails (exit 1) when any package's test binary ran
// longer than the limit, naming each; .ci/run uses it as the guard that keeps
// the suite fast. It also fails when the input reports a failed test or
// package, so that a pipeline ending in it fails like go test would.
//
//	go test -race -count=1 -timeout 20m -json ./... | go run ./internal/testtimes -package-limit 400s
//
// It may import the standard library only.
package main
