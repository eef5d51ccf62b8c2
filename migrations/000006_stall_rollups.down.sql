-- Reverts 000006: drops the stall columns of the rollups. The other rollup
-- columns and the queue are untouched.
ALTER TABLE lagtrail.group_daily DROP COLUMN stalled_s;
ALTER TABLE lagtrail.group_hourly DROP COLUMN stalled_s;
ALTER TABLE lagtrail.partition_daily DROP COLUMN stalled_s;
ALTER TABLE lagtrail.partition_hourly DROP COLUMN stalled_s;
