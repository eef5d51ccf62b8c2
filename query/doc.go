// Package query computes what recorded samples mean over time: lag trends,
// consumption and production rates, time lag, time to drain, stalls and
// rewinds, skew and capacity headroom.
//
// Its math is pure functions over samples with an explicit time, so that
// every figure can be tested in the hard cases where peers are wrong:
//
//   - Increase spreads a counter's advance over buckets by interpolating
//     inside each poll interval, so bucket counts add up exactly to the
//     range total. A decrease (rewind, reset, recreated topic) or a gap
//     longer than GapFactor median poll intervals splits the series and is
//     reported as an event; it is never counted as negative or huge
//     throughput, and nothing is extrapolated past the recorded samples.
//     (Prometheus' increase() treats a decrease as a counter reset and
//     extrapolates at the range edges.)
//   - LinearFit is the least-squares fit behind PromQL's deriv and
//     predict_linear; DrainETA turns a falling lag slope into a time.
//
// The lagtrail query commands, and SQL-side bucketing over large ranges, are
// not built yet.
//
// This package may import lagtrail/store and the standard library.
package query
