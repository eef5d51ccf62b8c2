-- Reverts 000003: brings back poll_log and topic_samples with every poll
-- raw_polls holds, and points the read-contract views at them again.

CREATE TABLE lagtrail.poll_log (
    group_key         integer NOT NULL,
    sampled_at        timestamptz NOT NULL,
    started_at        timestamptz NOT NULL,
    ok                boolean NOT NULL,
    error_code        text,
    error_message     text,
    duration_ms       integer NOT NULL CHECK (duration_ms >= 0),
    request_id        text,
    total_diff        bigint,
    last_timestamp_ms bigint,
    partition_count   integer NOT NULL DEFAULT 0,
    PRIMARY KEY (group_key, sampled_at)
) PARTITION BY RANGE (sampled_at);

CREATE TABLE lagtrail.topic_samples (
    group_key          integer NOT NULL,
    sampled_at         timestamptz NOT NULL,
    topic_key          integer NOT NULL,
    partitions         integer[] NOT NULL,
    broker_offsets     bigint[] NOT NULL,
    consumer_offsets   bigint[] NOT NULL,
    last_timestamps_ms bigint[] NOT NULL,
    PRIMARY KEY (group_key, sampled_at, topic_key),
    CHECK (cardinality(partitions) = cardinality(broker_offsets)
       AND cardinality(partitions) = cardinality(consumer_offsets)
       AND cardinality(partitions) = cardinality(last_timestamps_ms))
) PARTITION BY RANGE (sampled_at);

CREATE OR REPLACE FUNCTION lagtrail.ensure_partitions(p_from date, p_days integer)
RETURNS integer
LANGUAGE plpgsql AS $$
DECLARE
    parent  text;
    child   text;
    d       date;
    created integer := 0;
BEGIN
    IF p_days < 1 OR p_days > 366 THEN
        RAISE EXCEPTION 'ensure_partitions: days must be between 1 and 366, got %', p_days;
    END IF;
    PERFORM pg_advisory_xact_lock(hashtext('lagtrail.ensure_partitions'));
    FOR i IN 0 .. p_days - 1 LOOP
        d := p_from + i;
        FOREACH parent IN ARRAY ARRAY['poll_log', 'topic_samples'] LOOP
            child := parent || '_' || to_char(d, 'YYYYMMDD');
            IF to_regclass(format('lagtrail.%I', child)) IS NULL THEN
                EXECUTE format(
                    'CREATE TABLE lagtrail.%I PARTITION OF lagtrail.%I FOR VALUES FROM (%L) TO (%L)',
                    child, parent,
                    to_char(d, 'YYYY-MM-DD') || ' 00:00:00+00',
                    to_char(d + 1, 'YYYY-MM-DD') || ' 00:00:00+00');
                created := created + 1;
            END IF;
        END LOOP;
    END LOOP;
    RETURN created;
END;
$$;

SELECT lagtrail.ensure_partitions(d, 1)
FROM (SELECT DISTINCT (sampled_at AT TIME ZONE 'UTC')::date AS d FROM lagtrail.raw_polls) AS days;

INSERT INTO lagtrail.poll_log (
    group_key, sampled_at, started_at, ok, error_code, error_message,
    duration_ms, request_id, total_diff, last_timestamp_ms, partition_count)
SELECT p.group_key, p.sampled_at, p.started_at, p.ok, p.error_code, p.error_message,
       p.duration_ms, COALESCE(p.request_id, upper(p.request_uuid::text)), p.total_diff, p.last_timestamp_ms,
       COALESCE(cardinality(p.samples) / 3, cardinality(p.broker_offsets), 0)
FROM lagtrail.raw_polls p;

INSERT INTO lagtrail.topic_samples (
    group_key, sampled_at, topic_key, partitions, broker_offsets, consumer_offsets, last_timestamps_ms)
SELECT s.group_key, s.sampled_at, s.topic_key,
       array_agg(s.partition ORDER BY s.partition),
       array_agg(s.broker_offset ORDER BY s.partition),
       array_agg(s.consumer_offset ORDER BY s.partition),
       array_agg(s.last_timestamp_ms ORDER BY s.partition)
FROM lagtrail.partition_samples s
GROUP BY s.group_key, s.sampled_at, s.topic_key;

CREATE OR REPLACE VIEW lagtrail.partition_offsets AS
SELECT s.sampled_at,
       r.name        AS region,
       i.instance_id,
       g.name        AS consumer_group,
       t.name        AS topic,
       u.partition,
       u.broker_offset,
       u.consumer_offset,
       GREATEST(u.broker_offset - u.consumer_offset, 0) AS lag,
       CASE WHEN u.last_ms > 0
            THEN timestamptz 'epoch' + u.last_ms * interval '1 millisecond'
       END AS last_consumed_at
FROM lagtrail.topic_samples s
JOIN lagtrail.consumer_groups g ON g.group_key = s.group_key
JOIN lagtrail.instances i ON i.instance_key = g.instance_key
JOIN lagtrail.regions r ON r.region_key = i.region_key
JOIN lagtrail.topics t ON t.topic_key = s.topic_key
CROSS JOIN LATERAL unnest(s.partitions, s.broker_offsets, s.consumer_offsets, s.last_timestamps_ms)
    AS u(partition, broker_offset, consumer_offset, last_ms);

CREATE OR REPLACE VIEW lagtrail.polls AS
SELECT p.started_at,
       r.name AS region,
       i.instance_id,
       g.name AS consumer_group,
       p.ok,
       p.error_code,
       p.error_message,
       p.duration_ms,
       p.request_id,
       p.sampled_at,
       p.total_diff,
       CASE WHEN p.last_timestamp_ms > 0
            THEN timestamptz 'epoch' + p.last_timestamp_ms * interval '1 millisecond'
       END AS last_consumed_at,
       p.partition_count
FROM lagtrail.poll_log p
JOIN lagtrail.consumer_groups g ON g.group_key = p.group_key
JOIN lagtrail.instances i ON i.instance_key = g.instance_key
JOIN lagtrail.regions r ON r.region_key = i.region_key;

DROP VIEW lagtrail.topic_names;
DROP VIEW lagtrail.group_names;
DROP VIEW lagtrail.partition_samples;
DROP TABLE lagtrail.raw_polls;
