-- Rollups: hourly and daily summaries per partition and per group, so that
-- long ranges read one row per hour or day instead of every poll.
--
-- The store computes them from raw_polls with the same SQL as its bucket
-- aggregates (store/rollup_sql.go): hourly rows from the raw samples, daily
-- rows by adding up the hourly ones. Message counts are numeric and spread
-- over buckets so that a day's count is exactly the sum of its hours'.
--
-- Counts, first/last offsets and lag statistics cover the samples taken in
-- the bucket; consumed/produced cover the poll intervals that overlap it,
-- interpolated at its edges. Intervals broken by a rewind, a reset to
-- latest (consumer only), a broker decrease or a gap are not counted.

CREATE TABLE lagtrail.partition_hourly (
    bucket                timestamptz NOT NULL,
    group_key             integer NOT NULL,
    topic_key             integer NOT NULL,
    partition             integer NOT NULL,
    samples               integer NOT NULL,
    first_at              timestamptz,
    last_at               timestamptz,
    first_broker_offset   bigint,
    first_consumer_offset bigint,
    last_broker_offset    bigint,
    last_consumer_offset  bigint,
    lag_min               bigint,
    lag_max               bigint,
    lag_sum               numeric,
    time_lag_max_ms       bigint,
    consumed              numeric,
    consumed_s            numeric,
    produced              numeric,
    produced_s            numeric,
    PRIMARY KEY (group_key, bucket, topic_key, partition)
) PARTITION BY RANGE (bucket);

CREATE TABLE lagtrail.partition_daily (LIKE lagtrail.partition_hourly INCLUDING ALL);

CREATE TABLE lagtrail.group_hourly (
    bucket          timestamptz NOT NULL,
    group_key       integer NOT NULL,
    polls           integer NOT NULL,
    first_at        timestamptz,
    last_at         timestamptz,
    lag_first       bigint,
    lag_last        bigint,
    lag_min         bigint,
    lag_max         bigint,
    lag_sum         numeric,
    time_lag_max_ms bigint,
    consumed        numeric,
    consumed_s      numeric,
    consume_rate    numeric,
    produced        numeric,
    produced_s      numeric,
    produce_rate    numeric,
    PRIMARY KEY (group_key, bucket)
) PARTITION BY RANGE (bucket);

CREATE TABLE lagtrail.group_daily (LIKE lagtrail.group_hourly INCLUDING ALL);

-- The hours whose rollups are stale: written in the same statement as the
-- polls that make them so, taken and deleted by the rollup refresh.
CREATE TABLE lagtrail.rollup_queue (
    group_key integer NOT NULL,
    hour      timestamptz NOT NULL,
    queued_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (group_key, hour)
);

-- Everything stored so far is stale.
INSERT INTO lagtrail.rollup_queue (group_key, hour)
SELECT DISTINCT group_key, date_trunc('hour', sampled_at, 'UTC')
FROM lagtrail.raw_polls WHERE ok;

-- ensure_partitions makes the daily partitions of raw_polls and the monthly
-- partitions of the hourly rollups (named after the month's first day) that
-- the days touch.
CREATE OR REPLACE FUNCTION lagtrail.ensure_partitions(p_from date, p_days integer)
RETURNS integer
LANGUAGE plpgsql AS $$
DECLARE
    parent  text;
    child   text;
    d       date;
    m       date;
    created integer := 0;
BEGIN
    IF p_days < 1 OR p_days > 366 THEN
        RAISE EXCEPTION 'ensure_partitions: days must be between 1 and 366, got %', p_days;
    END IF;
    PERFORM pg_advisory_xact_lock(hashtext('lagtrail.ensure_partitions'));
    FOR i IN 0 .. p_days - 1 LOOP
        d := p_from + i;
        child := 'raw_polls_' || to_char(d, 'YYYYMMDD');
        IF to_regclass(format('lagtrail.%I', child)) IS NULL THEN
            EXECUTE format(
                'CREATE TABLE lagtrail.%I PARTITION OF lagtrail.raw_polls FOR VALUES FROM (%L) TO (%L)',
                child, to_char(d, 'YYYY-MM-DD') || ' 00:00:00+00', to_char(d + 1, 'YYYY-MM-DD') || ' 00:00:00+00');
            created := created + 1;
        END IF;
        m := date_trunc('month', d)::date;
        FOREACH parent IN ARRAY ARRAY['partition_hourly', 'group_hourly'] LOOP
            child := parent || '_' || to_char(m, 'YYYYMMDD');
            IF to_regclass(format('lagtrail.%I', child)) IS NULL THEN
                EXECUTE format(
                    'CREATE TABLE lagtrail.%I PARTITION OF lagtrail.%I FOR VALUES FROM (%L) TO (%L)',
                    child, parent,
                    to_char(m, 'YYYY-MM-DD') || ' 00:00:00+00',
                    to_char((m + interval '1 month')::date, 'YYYY-MM-DD') || ' 00:00:00+00');
                created := created + 1;
            END IF;
        END LOOP;
    END LOOP;
    RETURN created;
END;
$$;

-- The months of every raw day that has a partition, made ahead or not.
SELECT lagtrail.ensure_partitions(to_date(right(c.relname, 8), 'YYYYMMDD'), 1)
FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
WHERE i.inhparent = 'lagtrail.raw_polls'::regclass AND c.relname ~ '^raw_polls_[0-9]{8}$';

-- BI views over the rollups: names instead of keys, rates and averages
-- computed.
CREATE VIEW lagtrail.group_lag_hourly AS
SELECT h.bucket, n.region, n.instance_id, n.consumer_group,
       h.polls, h.lag_first, h.lag_last, h.lag_min, h.lag_max,
       (h.lag_sum / nullif(h.polls, 0))::float8 AS lag_avg,
       h.time_lag_max_ms / 1000.0 AS time_lag_max_s
FROM lagtrail.group_hourly h JOIN lagtrail.group_names n USING (group_key);

CREATE VIEW lagtrail.group_lag_daily AS
SELECT d.bucket, n.region, n.instance_id, n.consumer_group,
       d.polls, d.lag_first, d.lag_last, d.lag_min, d.lag_max,
       (d.lag_sum / nullif(d.polls, 0))::float8 AS lag_avg,
       d.time_lag_max_ms / 1000.0 AS time_lag_max_s
FROM lagtrail.group_daily d JOIN lagtrail.group_names n USING (group_key);

CREATE VIEW lagtrail.group_rates_hourly AS
SELECT h.bucket, n.region, n.instance_id, n.consumer_group,
       h.consumed::float8 AS consumed, h.produced::float8 AS produced,
       h.consume_rate::float8 AS consume_rate, h.produce_rate::float8 AS produce_rate,
       h.consumed_s::float8 AS consumed_s, h.produced_s::float8 AS produced_s
FROM lagtrail.group_hourly h JOIN lagtrail.group_names n USING (group_key);

CREATE VIEW lagtrail.group_rates_daily AS
SELECT d.bucket, n.region, n.instance_id, n.consumer_group,
       d.consumed::float8 AS consumed, d.produced::float8 AS produced,
       d.consume_rate::float8 AS consume_rate, d.produce_rate::float8 AS produce_rate,
       d.consumed_s::float8 AS consumed_s, d.produced_s::float8 AS produced_s
FROM lagtrail.group_daily d JOIN lagtrail.group_names n USING (group_key);

CREATE VIEW lagtrail.partition_rates_hourly AS
SELECT h.bucket, n.region, n.instance_id, n.consumer_group, t.topic, h.partition,
       h.consumed::float8 AS consumed, h.produced::float8 AS produced,
       (h.consumed / nullif(h.consumed_s, 0))::float8 AS consume_rate,
       (h.produced / nullif(h.produced_s, 0))::float8 AS produce_rate,
       h.consumed_s::float8 AS consumed_s, h.produced_s::float8 AS produced_s
FROM lagtrail.partition_hourly h
JOIN lagtrail.group_names n USING (group_key)
JOIN lagtrail.topic_names t USING (topic_key);

CREATE VIEW lagtrail.partition_lag_hourly AS
SELECT h.bucket, n.region, n.instance_id, n.consumer_group, t.topic, h.partition,
       h.samples, h.first_at, h.last_at,
       h.first_broker_offset, h.first_consumer_offset, h.last_broker_offset, h.last_consumer_offset,
       h.lag_min, h.lag_max, (h.lag_sum / nullif(h.samples, 0))::float8 AS lag_avg,
       h.time_lag_max_ms / 1000.0 AS time_lag_max_s
FROM lagtrail.partition_hourly h
JOIN lagtrail.group_names n USING (group_key)
JOIN lagtrail.topic_names t USING (topic_key);

CREATE VIEW lagtrail.partition_daily_summary AS
SELECT d.bucket, n.region, n.instance_id, n.consumer_group, t.topic, d.partition,
       d.samples, d.first_at, d.last_at,
       d.first_broker_offset, d.first_consumer_offset, d.last_broker_offset, d.last_consumer_offset,
       d.lag_min, d.lag_max, (d.lag_sum / nullif(d.samples, 0))::float8 AS lag_avg,
       d.time_lag_max_ms / 1000.0 AS time_lag_max_s,
       d.consumed::float8 AS consumed, d.produced::float8 AS produced,
       (d.consumed / nullif(d.consumed_s, 0))::float8 AS consume_rate,
       (d.produced / nullif(d.produced_s, 0))::float8 AS produce_rate
FROM lagtrail.partition_daily d
JOIN lagtrail.group_names n USING (group_key)
JOIN lagtrail.topic_names t USING (topic_key);

COMMENT ON TABLE lagtrail.partition_hourly IS 'Hourly rollup per partition; read it through partition_rates_hourly and partition_lag_hourly.';
COMMENT ON TABLE lagtrail.partition_daily IS 'Daily rollup per partition, the sum of its hours; read it through partition_daily_summary.';
COMMENT ON TABLE lagtrail.group_hourly IS 'Hourly rollup per consumer group; read it through group_lag_hourly and group_rates_hourly.';
COMMENT ON TABLE lagtrail.group_daily IS 'Daily rollup per consumer group; read it through group_lag_daily and group_rates_daily.';
COMMENT ON TABLE lagtrail.rollup_queue IS 'Hours of groups whose rollups must be recomputed.';

COMMENT ON VIEW lagtrail.group_lag_hourly IS 'One row per consumer group and UTC hour with polls: the group''s total lag (sum over its partitions, each floored at 0) across the polls of the hour.';
COMMENT ON VIEW lagtrail.group_lag_daily IS 'One row per consumer group and UTC day with polls: the group''s total lag across the polls of the day.';
COMMENT ON VIEW lagtrail.group_rates_hourly IS 'One row per consumer group and UTC hour: messages consumed and produced, and rates, from offset advances interpolated at the hour''s edges; rewinds, resets to latest, broker decreases and gaps are not counted.';
COMMENT ON VIEW lagtrail.group_rates_daily IS 'One row per consumer group and UTC day: messages consumed and produced and rates; consumed and produced are exactly the sums of the day''s hours in group_rates_hourly.';
COMMENT ON VIEW lagtrail.partition_rates_hourly IS 'One row per partition and UTC hour: messages consumed and produced, and rates, from offset advances interpolated at the hour''s edges.';
COMMENT ON VIEW lagtrail.partition_lag_hourly IS 'One row per partition and UTC hour: first and last offsets and lag statistics of the samples taken in the hour.';
COMMENT ON VIEW lagtrail.partition_daily_summary IS 'One row per partition and UTC day: offsets, lag statistics and message counts of the day; counts are exactly the sums of its hours.';

DO $$
DECLARE
    v text;
    c record;
BEGIN
    FOREACH v IN ARRAY ARRAY['group_lag_hourly', 'group_lag_daily', 'group_rates_hourly', 'group_rates_daily',
                             'partition_rates_hourly', 'partition_lag_hourly', 'partition_daily_summary'] LOOP
        FOR c IN SELECT a.attname FROM pg_attribute a
                 WHERE a.attrelid = format('lagtrail.%I', v)::regclass AND a.attnum > 0 AND NOT a.attisdropped LOOP
            EXECUTE format('COMMENT ON COLUMN lagtrail.%I.%I IS %L', v, c.attname, CASE c.attname
                WHEN 'bucket' THEN 'Start of the UTC hour or day the row covers.'
                WHEN 'region' THEN 'Alibaba Cloud region id of the instance, e.g. cn-hangzhou.'
                WHEN 'instance_id' THEN 'Id of the alikafka instance.'
                WHEN 'consumer_group' THEN 'Consumer group id (ConsumerId).'
                WHEN 'topic' THEN 'Topic name.'
                WHEN 'partition' THEN 'Partition number within the topic.'
                WHEN 'polls' THEN 'Successful polls of the group in the bucket.'
                WHEN 'samples' THEN 'Samples of the partition in the bucket.'
                WHEN 'first_at' THEN 'sampled_at of the first sample in the bucket.'
                WHEN 'last_at' THEN 'sampled_at of the last sample in the bucket.'
                WHEN 'first_broker_offset' THEN 'Broker offset at the first sample in the bucket.'
                WHEN 'first_consumer_offset' THEN 'Consumer offset at the first sample in the bucket.'
                WHEN 'last_broker_offset' THEN 'Broker offset at the last sample in the bucket.'
                WHEN 'last_consumer_offset' THEN 'Consumer offset at the last sample in the bucket.'
                WHEN 'lag_first' THEN 'Total lag at the first poll in the bucket.'
                WHEN 'lag_last' THEN 'Total lag at the last poll in the bucket.'
                WHEN 'lag_min' THEN 'Smallest lag (messages, floored at 0) sampled in the bucket.'
                WHEN 'lag_max' THEN 'Largest lag (messages) sampled in the bucket.'
                WHEN 'lag_avg' THEN 'Mean lag (messages) over the samples of the bucket.'
                WHEN 'time_lag_max_s' THEN 'Largest time lag in the bucket, in seconds: sample time minus the produce time of the last consumed message, 0 without lag; NULL when the API hid every timestamp.'
                WHEN 'consumed' THEN 'Messages consumed in the bucket (consumer offset advance, interpolated at the edges); NULL when no interval was counted.'
                WHEN 'produced' THEN 'Messages produced in the bucket (broker offset advance, interpolated at the edges); NULL when no interval was counted.'
                WHEN 'consume_rate' THEN 'Messages consumed per second over the time the counted intervals cover (for a group: the sum of its partitions'' rates).'
                WHEN 'produce_rate' THEN 'Messages produced per second over the time the counted intervals cover (for a group: the sum of its partitions'' rates).'
                WHEN 'consumed_s' THEN 'Seconds of the bucket covered by counted consumer intervals (for a group: its best-covered partition''s).'
                WHEN 'produced_s' THEN 'Seconds of the bucket covered by counted broker intervals (for a group: its best-covered partition''s).'
                END);
        END LOOP;
    END LOOP;
    IF EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'lagtrail_reader') THEN
        GRANT SELECT ON lagtrail.group_lag_hourly, lagtrail.group_lag_daily, lagtrail.group_rates_hourly,
                        lagtrail.group_rates_daily, lagtrail.partition_rates_hourly, lagtrail.partition_lag_hourly,
                        lagtrail.partition_daily_summary TO lagtrail_reader;
    END IF;
END;
$$;
