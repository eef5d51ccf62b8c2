// Package query computes what recorded samples mean over time: lag trends,
// consumption and production rates, time lag, time to drain, stalls and
// rewinds, skew and capacity headroom.
//
// It is not written yet: the foundation records samples, and the
// lagtrail.partition_offsets and lagtrail.polls views are the read contract
// it will build on. Its math will be pure functions over samples with an
// explicit now; heavy aggregation will run in SQL through package store.
//
// This package may import lagtrail/store and the standard library.
package query
