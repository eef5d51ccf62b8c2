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
	pgtest.Main(m)
}
