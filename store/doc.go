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
// Daily partitions are created ahead of time with [Store.EnsurePartitions];
// a write that lands on a day without a partition creates it and retries.
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
