package main

import (
	"os"
	"testing"

	"github.com/lagtrail/lagtrail/internal/pgtest"
)

// reexecEnv makes the test binary behave as the lagtrail binary, so that
// end-to-end tests run the real command in its own process (signals, exit
// codes, environment) without a separate build.
const reexecEnv = "LAGTRAIL_TEST_REEXEC_MAIN"

func TestMain(m *testing.M) {
	if os.Getenv(reexecEnv) == "1" {
		main()
		return
	}
	// The recorder tests (reliability_test.go, tls_test.go, ...) spend
	// most of a minute each waiting on recorder processes, outages and
	// timers, and their files sort late: with 8 slots they waited up to
	// 107 s for one, and set the package's time.
	pgtest.MainParallel(m, 16)
}
