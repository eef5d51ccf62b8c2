-- Foundation schema. Everything lives in schema lagtrail, which migrations.Up
-- creates before golang-migrate runs (its version table lives there too).

-- Dictionaries: names are stored once and referred to by small integer keys.
CREATE TABLE lagtrail.regions (
    region_key smallint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    name       text NOT NULL UNIQUE
);

CREATE TABLE lagtrail.instances (
    instance_key integer GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    region_key   smallint NOT NULL REFERENCES lagtrail.regions,
    instance_id  text NOT NULL,
    UNIQUE (region_key, instance_id)
);

CREATE TABLE lagtrail.consumer_groups (
    group_key    integer GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    instance_key integer NOT NULL REFERENCES lagtrail.instances,
    name         text NOT NULL,
    UNIQUE (instance_key, name)
);
-- Queries select groups by name without knowing the instance.
CREATE INDEX consumer_groups_name_idx ON lagtrail.consumer_groups (name);

CREATE TABLE lagtrail.topics (
    topic_key integer GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    name      text NOT NULL UNIQUE
);

-- The poll ledger: one row per GetConsumerProgress attempt, failed or not.
-- (group_key, sampled_at) identifies a poll; writing it again is a no-op.
--
-- poll_log and topic_samples carry no foreign keys to the dictionaries: adding
-- a partition would then lock the dictionary tables, which deadlocks against
-- writers that hold dictionary row locks while they wait for the parent. The
-- store only writes keys it read from the dictionaries in the same
-- transaction.
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

-- Raw samples: one row per (poll, topic), partitions as parallel arrays.
-- Element i of each array describes partition partitions[i].
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

-- Rebalances reported in RebalanceInfoList, one row per generation.
CREATE TABLE lagtrail.rebalance_log (
    group_key      integer NOT NULL REFERENCES lagtrail.consumer_groups,
    generation     bigint NOT NULL,
    rebalanced_at  timestamptz,
    duration_ms    bigint,
    success        boolean,
    reason         text,
    reported_group text,
    first_seen_at  timestamptz NOT NULL,
    PRIMARY KEY (group_key, generation)
);

-- ensure_partitions creates the daily partitions (UTC days) of every
-- time-partitioned table for p_days days starting at p_from, and returns how
-- many it created. Concurrent callers are serialised by an advisory lock.
CREATE FUNCTION lagtrail.ensure_partitions(p_from date, p_days integer)
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

-- Read contract: one row per partition sample.
CREATE VIEW lagtrail.partition_offsets AS
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

-- Read contract: one row per poll attempt.
CREATE VIEW lagtrail.polls AS
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

CREATE VIEW lagtrail.rebalances AS
SELECT r.name AS region,
       i.instance_id,
       g.name AS consumer_group,
       b.generation,
       b.rebalanced_at,
       b.duration_ms,
       b.success,
       b.reason,
       b.reported_group,
       b.first_seen_at
FROM lagtrail.rebalance_log b
JOIN lagtrail.consumer_groups g ON g.group_key = b.group_key
JOIN lagtrail.instances i ON i.instance_key = g.instance_key
JOIN lagtrail.regions r ON r.region_key = i.region_key;

COMMENT ON VIEW lagtrail.partition_offsets IS 'One row per partition sample: offsets of one partition as one GetConsumerProgress poll saw them.';
COMMENT ON COLUMN lagtrail.partition_offsets.sampled_at IS 'Recorder clock (UTC) when the poll response arrived.';
COMMENT ON COLUMN lagtrail.partition_offsets.broker_offset IS 'Log end offset of the partition (BrokerOffset).';
COMMENT ON COLUMN lagtrail.partition_offsets.consumer_offset IS 'Committed offset of the group (ConsumerOffset).';
COMMENT ON COLUMN lagtrail.partition_offsets.lag IS 'broker_offset - consumer_offset, floored at 0; compare the offsets to see a negative raw difference.';
COMMENT ON COLUMN lagtrail.partition_offsets.last_consumed_at IS 'Produce time of the last consumed message; NULL when the API hid it (LastTimestamp -1).';
COMMENT ON VIEW lagtrail.polls IS 'One row per GetConsumerProgress attempt, successful or not.';
COMMENT ON COLUMN lagtrail.polls.error_code IS 'API or client error code; NULL when ok.';
COMMENT ON VIEW lagtrail.rebalances IS 'Consumer group rebalances reported by RebalanceInfoList, one row per generation.';
