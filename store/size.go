package store

import (
	"context"
	"fmt"
)

// rawTierTables are the tables of the raw tier besides raw_polls'
// partitions: the name dictionaries.
var rawTierTables = []string{
	"lagtrail.regions",
	"lagtrail.instances",
	"lagtrail.consumer_groups",
	"lagtrail.topics",
}

// RawTierSize returns the bytes on disk of the raw tier: lagtrail.raw_polls
// with all its partitions, and the dictionary tables (regions, instances,
// consumer_groups, topics), each with its indexes, TOAST and free-space and
// visibility maps (pg_total_relation_size).
func (s *Store) RawTierSize(ctx context.Context) (int64, error) {
	var n int64
	err := s.pool.QueryRow(ctx, `
SELECT (SELECT coalesce(sum(pg_total_relation_size(relid)), 0) FROM pg_partition_tree('lagtrail.raw_polls'))
     + (SELECT coalesce(sum(pg_total_relation_size(t::regclass)), 0) FROM unnest($1::text[]) AS t)`,
		rawTierTables).Scan(&n)
	if err != nil {
		return 0, fmt.Errorf("raw tier size: %w", err)
	}
	return n, nil
}

// SchemaSize returns the bytes on disk of every table and materialized view
// in schema lagtrail (partitions included, each with its indexes, TOAST and
// maps): the raw tier plus rebalances and whatever else the schema holds.
func (s *Store) SchemaSize(ctx context.Context) (int64, error) {
	var n int64
	err := s.pool.QueryRow(ctx, `
SELECT coalesce(sum(pg_total_relation_size(c.oid)), 0)::bigint
FROM pg_class c
JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE n.nspname = 'lagtrail' AND c.relkind IN ('r', 'm')`).Scan(&n)
	if err != nil {
		return 0, fmt.Errorf("schema size: %w", err)
	}
	return n, nil
}

// HoldsPolls reports whether lagtrail.raw_polls holds any poll.
func (s *Store) HoldsPolls(ctx context.Context) (bool, error) {
	var ok bool
	if err := s.pool.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM lagtrail.raw_polls)`).Scan(&ok); err != nil {
		return false, fmt.Errorf("check for polls: %w", err)
	}
	return ok, nil
}

// VacuumRawTier runs VACUUM (ANALYZE) on lagtrail.raw_polls (all its
// partitions) and the dictionary tables, as autovacuum would after a load:
// it sets hint bits and the visibility map and gathers planner statistics.
func (s *Store) VacuumRawTier(ctx context.Context) error {
	if _, err := s.pool.Exec(ctx, `VACUUM (ANALYZE) lagtrail.raw_polls, lagtrail.regions, lagtrail.instances, lagtrail.consumer_groups, lagtrail.topics`); err != nil {
		return fmt.Errorf("vacuum raw tier: %w", err)
	}
	return nil
}
