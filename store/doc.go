// Package store writes lagtrail's polls to PostgreSQL and reads them back.
//
// The ingest loop hands each GetConsumerProgress attempt to [Store.WritePoll]
// as a [Poll], or several to [Store.WritePolls]; one INSERT stores each poll
// as one lagtrail.raw_polls row that holds the poll's outcome and all its
// partition samples, packed (see "Raw tier layout" below), plus the
// rebalances it reported. Writes are idempotent: a poll is identified by
// (group, SampledAt at microsecond precision) and writing it again is a
// no-op. Names (regions, instances, groups, topics) are stored once in
// dictionary tables and their keys cached in memory.
//
// Reads ([Store.ReadPartitionOffsets], [Store.ReadPolls],
// [Store.ReadRebalances]) go through the read-contract views
// lagtrail.partition_offsets, lagtrail.polls and lagtrail.rebalances with
// parameterised SQL built only from the filters that are set, so that
// predicates reach the tables' primary keys and daily partitions are pruned.
//
// Aggregates ([Store.Buckets], [Store.Events], [Store.PartitionStates])
// run the analysis of package query in SQL, so that a query returns one row
// per key and bucket instead of every sample: each partition series is
// paired with its previous sample, the pairs are classified (counted,
// rewind, reset to latest, broker decrease, gap) and spread over the
// buckets they overlap; lag, time lag and status features are taken at
// each bucket's last poll. They read only the selected groups' rows of the
// days they cover, and are planned for their parameters on every run.
//
// Rollups ([Store.RefreshRollups], [Store.RollupBuckets]) keep hourly and
// daily summaries per partition and per group. Every write queues its
// (group, hour) in the same statement; a refresh recomputes queued hours
// with the aggregate SQL itself and then their days from the hours. Counts
// are spread over buckets in numeric, with shares that depend only on the
// sample pair and the bucket edge, so a day is exactly the sum of its hours
// and RollupBuckets answers exactly what Buckets answers for the same
// buckets (TestRollupsAgreeWithRaw).
//
// [Store.Fleet] and [Store.PartitionsNow] read the lagtrail.group_status and
// partition_status views: each group's status and figures at its last
// successful poll. The views read lagtrail.partition_now, where
// [Store.RefreshNow] stores that evaluation (lagtrail.evaluate_partitions,
// over the hour of samples before the poll: 2 ms for 8 partitions polled
// every minute, 6.5 ms for 32) for the groups written since it last ran:
// every write queues its groups in the same statement; it also stores each
// group's row (lagtrail.group_rows, from its partitions') in
// lagtrail.group_now. A queued group never refreshed is evaluated when
// read. Only NODATA, which depends on the time, is decided when they are
// read, from each group's last successful poll, which every write records
// in lagtrail.group_last_poll with its last poll of any outcome (the
// fleet's): from the stored row when none or all of a group's partitions
// are NODATA, by aggregating its partitions otherwise.
// [Store.ExplainBuckets] returns PostgreSQL's measured plan of a bucket
// statement.
//
// Fleet queries read only the rollups: [Store.Top] ranks every group over
// a window of hours (partition rollups only for groups with a stalled
// hour), and [Store.CapacityProfiles] computes each group's production
// percentiles, deseasonalised growth, observed capacity and replayed
// backlog in one statement; [Store.CapacityWeek] and [Store.CapacityHours]
// give one group's profile and hours for charts.
//
// Daily partitions are created ahead of time with [Store.EnsurePartitions]
// (with the monthly partitions of the hourly rollups); a write that lands
// on a day without a partition creates it and retries. [Store.Upkeep] also
// refreshes the rollups and drops expired partitions of each tier, under
// one leader per database. [Store.Export] streams a view through a
// server-side cursor.
//
// # Raw tier layout
//
// One raw_polls row per poll holds the poll's outcome and all its samples.
// The samples are one integer array of three values per partition (broker
// offset minus the poll's first broker offset, lag, and the age of the last
// consumed timestamp in ms), with partitions implied when they are 0..n-1
// and a wide bigint form for polls whose values do not fit 32 bits. Why:
//
//   - a row per partition sample pays a 24-byte tuple header, a 4-byte line
//     pointer and a primary key entry for 8 to 24 bytes of data: 152 bytes
//     per sample (FACTS.md);
//   - a row per (poll, topic) with bigint arrays, plus a poll ledger row,
//     cost 61 bytes (measured on 1.2M samples of 12-partition polls: 46 for
//     the samples, 15 for the ledger);
//   - one row per poll with int32 deltas: 29.3 bytes, indexes included.
//
// "lagtrail bench storage --scale full" (100 groups x 12 partitions x 7
// days at 1 minute, 12,096,000 samples; PostgreSQL 15, 2 cores, one
// connection each) measured, against one row per sample with a primary
// key:
//
//	                                  lagtrail      per-row baseline
//	bytes/sample, indexes included    29.3 (raw)    215.1
//	ingest, one write per minute      500k/s        111k/s (COPY)
//	ingest, one WritePoll per poll    30k/s         -
//	rollup catch-up, 7 days           260 s         -
//	one group, 7 days at 5m (raw)     2,172 ms      60 ms
//	top-10 lag growth, 24 h           2.8 ms        830 ms
//	hourly rates, 30 days             12.6 ms       290 ms
//
// The rollups add 4.9 bytes per sample while the raw tier is kept; they
// are what is left after it is dropped. The raw 7-day query is slower than
// the baseline's because it computes more per bucket (rates, time lag,
// breaks) from unpacked samples; long ranges go to the rollups.
//
// PostgreSQL's own compression does not apply: rows stay under the 2 kB
// TOAST threshold, so values are stored as they are. The arrays are read
// through the view partition_samples, which detoasts each array once per
// row; subscripting the column directly re-reads the whole array for every
// element, which is quadratic for polls of thousands of partitions.
//

// [Baseline] is not part of lagtrail's schema: it is the one-row-per-sample
// table `lagtrail bench storage` compares the store with, in its own schema
// lagtrail_bench, which it creates and drops. [Store.RawTierSize] and
// [Store.SchemaSize] measure the store for that comparison.
//
// The schema itself belongs to package migrations; [Open] only checks that it
// is in place and returns [ErrNotMigrated] otherwise. All SQL of lagtrail
// lives here and in migrations.
//
// This package may import the standard library and pgx (pgx/v5, pgconn,
// pgxpool). It imports no other lagtrail package; its tests may use
// lagtrail/internal/pgtest (and through it migrations), and lagtrail/query,
// whose pure Increase the SQL aggregates are checked against.
package store
