// Package scenariotest gives tests a database holding the generated
// history of a bundled scenario (examples/scenarios), with its rollups up
// to date, and the model that generated it, so that a test can check what
// lagtrail finds against what the scenario did.
//
// Each scenario (bundled, or a test's own file) and span is generated once
// per test binary into a database shared by the tests that ask for it
// (pgtest.Shared); tests must only read it. On a local cluster the history
// is also kept as a dump keyed by the module's source, so the other test
// binaries of a run, and later runs of the same source, restore it instead
// of generating it again.
//
// It may import the standard library, lagtrail/examples,
// lagtrail/internal/scenario, lagtrail/internal/pgtest and lagtrail/store.
// Only test code may import it.
package scenariotest
