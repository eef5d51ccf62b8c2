// Package benchgen generates a deterministic, realistic history of
// GetConsumerProgress polls for `lagtrail bench storage`: a fleet of
// consumer groups, each reading one topic, polled at a fixed interval.
//
// Per partition a producer writes at a rate with a daily shape and noise.
// Most groups keep up, a few lag at peak hours and drain at night, and one
// group stalls for an hour and then catches up. Offsets only grow. Some
// groups report their last consumed produce time, the others hide it (-1),
// as alikafka does with HideLastTimestamp. Every value follows from the
// seed, the configuration and the round index, so two runs load the same
// history and a test can recompute any round.
//
// The package is pure Go and does no I/O. It may import the standard library
// and lagtrail/store (for store.Poll, the type it produces), nothing else.
package benchgen
