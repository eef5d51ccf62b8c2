-- Stall rollups: how long partitions sat with lag and no consumer progress,
-- per hour and per day, so that `lagtrail query top --by stall` ranks
-- groups from the rollups instead of the raw tier.
--
-- partition_hourly.stalled_s is computed by the rollup refresh
-- (store/rollup_sql.go) from the raw samples: every consecutive pair of
-- samples (t0, t1] of a partition whose consumer offset is unchanged while
-- its lag at t0 is above zero adds its seconds to the hours it overlaps,
-- split at the hour edges as the message counts are. Pairs that are not
-- counted for the rates (a gap longer than the gap limit, a broker offset
-- decrease) add nothing: what happened between them is unknown.
-- partition_daily.stalled_s is the sum of the day's hours.
--
-- group_hourly.stalled_s and group_daily.stalled_s are the largest
-- stalled_s of the group's partitions in the hour or day: the longest one
-- partition stalled there. `top` reads partition rows only for the groups
-- where it is above zero.
--
-- Rows rolled up before this migration read NULL until their hour is
-- refreshed: every hour the raw tier still holds is queued below, and the
-- next refresh (record, maintain, generate) fills them in. Hours whose raw
-- days were already dropped stay NULL: unknown, not zero.
ALTER TABLE lagtrail.partition_hourly ADD COLUMN stalled_s numeric;
ALTER TABLE lagtrail.partition_daily ADD COLUMN stalled_s numeric;
ALTER TABLE lagtrail.group_hourly ADD COLUMN stalled_s numeric;
ALTER TABLE lagtrail.group_daily ADD COLUMN stalled_s numeric;

COMMENT ON COLUMN lagtrail.partition_hourly.stalled_s IS 'Seconds of the hour the partition spent with lag and an unchanged consumer offset, between consecutive samples; NULL when rolled up before the column existed.';
COMMENT ON COLUMN lagtrail.partition_daily.stalled_s IS 'Seconds of the day the partition spent with lag and an unchanged consumer offset: the sum of its hours.';
COMMENT ON COLUMN lagtrail.group_hourly.stalled_s IS 'The largest stalled_s of the group''s partitions in the hour; NULL when rolled up before the column existed.';
COMMENT ON COLUMN lagtrail.group_daily.stalled_s IS 'The largest stalled_s of the group''s partitions in the day.';

INSERT INTO lagtrail.rollup_queue (group_key, hour)
SELECT DISTINCT group_key, date_trunc('hour', sampled_at, 'UTC')
FROM lagtrail.raw_polls WHERE ok
ON CONFLICT (group_key, hour) DO NOTHING;
