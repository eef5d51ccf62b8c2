// Package ingest polls alikafka's GetConsumerProgress for every consumer group
// of the configured targets and hands each poll, successful or not, to a
// Writer.
//
// The Recorder runs one goroutine per consumer group under an errgroup. Each
// group is polled once per interval at a start offset spread by deterministic
// jitter; a poll never overlaps the next one of the same group, and a slow
// poll skips ticks rather than queueing them. Requests go through the official
// Alibaba Cloud SDK, with the SDK's known defects worked around in one place
// (api.go): clients are never shared between goroutines, a numeric error Code
// that makes the SDK panic is recovered, Success=false bodies are treated as
// failures, timeouts live on the client and in a per-call context, and idle
// connections are dropped before the server resets them.
//
// Targets without a group list are discovered with GetConsumerList, and
// targets without an instance with GetInstanceList; discovery is refreshed
// periodically.
//
// This package may import the Alibaba Cloud SDK, golang.org/x/time/rate,
// golang.org/x/sync/errgroup, the Prometheus client and lagtrail/store (for
// its data types only; it writes through the narrow Writer interface it
// declares). It never reads flags, environment or files.
package ingest
