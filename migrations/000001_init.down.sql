-- The schema itself stays: golang-migrate keeps its version table in it.
DROP VIEW IF EXISTS lagtrail.rebalances;
DROP VIEW IF EXISTS lagtrail.polls;
DROP VIEW IF EXISTS lagtrail.partition_offsets;
DROP FUNCTION IF EXISTS lagtrail.ensure_partitions(date, integer);
DROP TABLE IF EXISTS lagtrail.rebalance_log;
DROP TABLE IF EXISTS lagtrail.topic_samples;
DROP TABLE IF EXISTS lagtrail.poll_log;
DROP TABLE IF EXISTS lagtrail.topics;
DROP TABLE IF EXISTS lagtrail.consumer_groups;
DROP TABLE IF EXISTS lagtrail.instances;
DROP TABLE IF EXISTS lagtrail.regions;
