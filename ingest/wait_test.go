package ingest_test

import (
	"testing"
	"time"
)

// waitLimit bounds the tests' waits for something to happen: far more than
// anything they wait for needs on an idle machine, so that only a failure
// reaches it, on a loaded machine too.
const waitLimit = 3 * time.Minute

// waitFor checks cond every 50ms until it holds, and fails t naming what
// it waited for when it still does not after limit.
func waitFor(t *testing.T, limit time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(limit)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %s waiting for %s", limit, what)
		}
		time.Sleep(50 * time.Millisecond)
	}
}
