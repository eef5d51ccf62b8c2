// Package scenario simulates an alikafka fleet from a YAML scenario:
// instances, topics and consumer groups; production that follows daily and
// weekly cycles, growth, noise, bursts and skew across partitions; consumer
// capacity; scripted incidents (stalls, slow consumers, rewinds, resets to
// latest, rebalances, partitions added, topics recreated); and API fault
// rates.
//
// A Model runs a Scenario from a start time. The same model serves the
// simulated API (ServerConfig, for internal/alisim, so record can poll it
// through the real SDK) and generates history straight into the store
// (History), with the same group, topic and partition ids and the same
// figures record would have stored: TestRecordedEqualsGenerated checks that
// the two agree sample for sample. Rates and Events give the ground truth
// that reports can be checked against.
//
// # The model
//
// Time is cut into minutes from the start. In each minute every partition's
// production rate is constant (see Topic), so its broker offset grows
// linearly. Each group shares its capacity among its partitions (see
// Group); a consumer never passes the broker offset, and it trails it by
// the group's latency while it keeps up. Offsets between minute boundaries
// are interpolated and rounded down; LastTimestamp is the instant the
// broker offset passed the last consumed message, so time lag comes out
// right to the millisecond.
//
// # Imports
//
// It may import the standard library, internal/alisim, internal/strictyaml
// and lagtrail/store (for its Poll type, and the writer WriteHistory
// fills).
package scenario
