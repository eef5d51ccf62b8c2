package main

import (
	"context"
	"testing"
	"time"

	"github.com/lagtrail/lagtrail/store"
)

// waitLimit bounds the tests' waits for something to happen: far more than
// anything they wait for needs on an idle machine, so that only a failure
// reaches it, on a loaded machine too.
const waitLimit = 3 * time.Minute

// waitFor polls cond every 200ms until it holds or timeout passes, and
// reports whether it held.
func waitFor(timeout time.Duration, cond func() bool) bool {
	deadline := time.Now().Add(timeout)
	for {
		if cond() {
			return true
		}
		if time.Now().After(deadline) {
			return false
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// waitForPolls waits until the database at dbURL holds at least n polls
// and returns them. It fails t, with p's log, when p exits first or after
// waitLimit.
func waitForPolls(t *testing.T, dbURL string, n int, p *recorderProc) []store.PollRecord {
	t.Helper()
	ctx := context.Background()
	st := openStore(t, dbURL)
	var polls []store.PollRecord
	var err error
	exited := false
	if !waitFor(waitLimit, func() bool {
		select {
		case <-p.done:
			exited = true
		default:
		}
		polls, err = st.ReadPolls(ctx, store.Range{})
		return err == nil && len(polls) >= n || exited
	}) || len(polls) < n {
		what := "waited " + waitLimit.String()
		if exited {
			what = "record exited"
		}
		t.Fatalf("%s for %d stored polls; %d stored (read error: %v); log:\n%s", what, n, len(polls), err, p.log())
	}
	return polls
}
