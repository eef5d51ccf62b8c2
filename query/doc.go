// Package query computes what recorded samples mean over time: lag trends,
// consumption and production rates, time lag, time to drain, series breaks
// (stalls, rewinds, resets, recreated topics, gaps) and a Burrow-style
// status timeline.
//
// The heavy work runs in PostgreSQL: Engine asks its Source (a
// *store.Store) for per-bucket aggregates, and turns them into answers
// with pure functions that take explicit times. The status is the
// exception: its sliding-window inputs cost PostgreSQL far more to compute
// than the samples cost to read, so Engine reads the samples
// (store.PartitionPoints) and computes them in memory with a Tracker per
// partition (StatesFromPoints), which gives what store.PartitionStates
// gives in SQL:
//
//   - History: per key and bucket, lag at the bucket's end and its peak,
//     time lag (sampled from LastTimestamp, or estimated from the recorded
//     broker offsets when the API hid it, flagged either way), consume,
//     produce and net rates, and the breaks that end in the bucket.
//   - Drain: lag, rates, least-squares slope (PromQL deriv), time to drain
//     and predicted lag (predict_linear) over a window.
//   - Status: Evaluate rates each partition at the end of each bucket over
//     a sliding window; Timeline merges the group's worst status into
//     intervals.
//   - Tracker: the inputs of Evaluate kept up to date poll by poll, from
//     memory, for evaluating status as polls arrive.
//   - Events: each break with its partitions and offsets.
//   - Top: every group ranked by lag, growth, time lag, time to drain or
//     longest partition stall, from the hourly rollups in one query.
//   - Skew: per partition shares of lag and rates, max/median ratios, hot
//     and stuck partitions (SkewFrom).
//   - CapacityReport: production profile and growth, observed capacity and
//     its confidence, headroom, projection and a replayed worst burst, per
//     group, from one aggregate over the hourly rollups.
//   - Fleet: every group now, from the store's status view, with its ETA
//     judged as Top judges it (JudgeBacklog).
//   - Incident: every poll of one group over a range, the incidents in it
//     (Episodes, against the Normal of the baseline before it) and what went
//     with each: timeline, affected partitions, cause, failed polls.
//
// The counting rules, which the store's SQL applies and Increase states in
// Go: a decrease (rewind, reset, recreated topic) or a gap longer than
// GapFactor median poll intervals splits the series and is reported, never
// counted as negative or huge throughput; counts are interpolated at bucket
// edges, so consecutive buckets add up exactly to the range total; nothing
// is extrapolated past the recorded samples. (Prometheus' increase() treats
// a decrease as a counter reset and extrapolates at the range edges.)
//
// This package may import lagtrail/store and the standard library.
package query
