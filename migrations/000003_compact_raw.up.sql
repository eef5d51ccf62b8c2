-- Compact raw tier: one row per poll holds the poll's outcome and all of its
-- partition samples, packed. It replaces poll_log (one row per poll) and
-- topic_samples (one row per poll and topic), which cost about 60 bytes per
-- partition sample with their indexes; raw_polls costs under 30 (see
-- store/doc.go for the figures). Existing rows are copied over, exactly.
--
-- A poll's samples are laid out topic after topic: topic_keys[j] owns
-- elements topic_ends[j-1]+1 .. topic_ends[j] (topic_ends is NULL for a poll
-- of one topic, which owns them all). Element k is stored in one of two
-- forms:
--
--   packed (samples IS NOT NULL): samples is an integer array of 3 values per
--     element: broker_offset - broker_base, broker_offset - consumer_offset,
--     and floor(epoch ms of sampled_at) - last_timestamp_ms, where
--     -2147483648 stands for a last_timestamp_ms of -1 (the API hid it) and
--     -2147483647 for 0 (nothing consumed yet);
--   wide (samples IS NULL): broker_offsets, consumer_offsets and
--     last_timestamps_ms hold the values as they are. The writer uses it when
--     a value does not fit the packed form.
--
-- partitions is NULL when each topic's partitions are 0, 1, 2, ... in
-- element order, which is what alikafka reports; otherwise it lists them.
CREATE TABLE lagtrail.raw_polls (
    sampled_at         timestamptz NOT NULL,
    started_at         timestamptz NOT NULL,
    total_diff         bigint,
    last_timestamp_ms  bigint,
    broker_base        bigint,
    group_key          integer NOT NULL,
    duration_ms        integer NOT NULL CHECK (duration_ms >= 0),
    ok                 boolean NOT NULL,
    request_uuid       uuid,
    request_id         text,
    error_code         text,
    error_message      text,
    topic_keys         integer[],
    topic_ends         integer[],
    partitions         integer[],
    samples            integer[],
    broker_offsets     bigint[],
    consumer_offsets   bigint[],
    last_timestamps_ms bigint[],
    PRIMARY KEY (group_key, sampled_at),
    CHECK (request_uuid IS NULL OR request_id IS NULL),
    CHECK (topic_ends IS NULL OR cardinality(topic_ends) = cardinality(topic_keys)),
    CHECK (samples IS NULL
           OR (broker_base IS NOT NULL AND broker_offsets IS NULL
               AND consumer_offsets IS NULL AND last_timestamps_ms IS NULL)),
    CHECK (broker_offsets IS NULL
           OR (cardinality(consumer_offsets) = cardinality(broker_offsets)
               AND cardinality(last_timestamps_ms) = cardinality(broker_offsets))),
    CHECK (partitions IS NULL
           OR cardinality(partitions) = COALESCE(cardinality(samples) / 3, cardinality(broker_offsets)))
) PARTITION BY RANGE (sampled_at);

COMMENT ON TABLE lagtrail.raw_polls IS 'Raw tier: one row per GetConsumerProgress attempt with its partition samples packed; read it through lagtrail.partition_samples, partition_offsets and polls.';

-- ensure_partitions now makes the daily partitions of raw_polls.
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
        FOREACH parent IN ARRAY ARRAY['raw_polls'] LOOP
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

-- Copy the old tiers over, in the wide form (exact for any value).
SELECT lagtrail.ensure_partitions(d, 1)
FROM (SELECT DISTINCT (sampled_at AT TIME ZONE 'UTC')::date AS d FROM lagtrail.poll_log) AS days;

INSERT INTO lagtrail.raw_polls (
    sampled_at, started_at, total_diff, last_timestamp_ms, group_key, duration_ms, ok,
    request_id, error_code, error_message,
    topic_keys, topic_ends, partitions, broker_offsets, consumer_offsets, last_timestamps_ms)
SELECT p.sampled_at, p.started_at, p.total_diff, p.last_timestamp_ms, p.group_key, p.duration_ms, p.ok,
       p.request_id, p.error_code, p.error_message,
       x.topic_keys, CASE WHEN cardinality(x.topic_keys) > 1 THEN x.topic_ends END,
       x.partitions, x.broker_offsets, x.consumer_offsets, x.last_timestamps_ms
FROM lagtrail.poll_log p
LEFT JOIN LATERAL (
    SELECT array_agg(t.topic_key ORDER BY t.topic_key) AS topic_keys,
           array_agg(t.topic_end ORDER BY t.topic_key) AS topic_ends,
           (SELECT array_agg(u.v ORDER BY ts.topic_key, u.o)
              FROM lagtrail.topic_samples ts, unnest(ts.partitions) WITH ORDINALITY AS u(v, o)
             WHERE ts.group_key = p.group_key AND ts.sampled_at = p.sampled_at) AS partitions,
           (SELECT array_agg(u.v ORDER BY ts.topic_key, u.o)
              FROM lagtrail.topic_samples ts, unnest(ts.broker_offsets) WITH ORDINALITY AS u(v, o)
             WHERE ts.group_key = p.group_key AND ts.sampled_at = p.sampled_at) AS broker_offsets,
           (SELECT array_agg(u.v ORDER BY ts.topic_key, u.o)
              FROM lagtrail.topic_samples ts, unnest(ts.consumer_offsets) WITH ORDINALITY AS u(v, o)
             WHERE ts.group_key = p.group_key AND ts.sampled_at = p.sampled_at) AS consumer_offsets,
           (SELECT array_agg(u.v ORDER BY ts.topic_key, u.o)
              FROM lagtrail.topic_samples ts, unnest(ts.last_timestamps_ms) WITH ORDINALITY AS u(v, o)
             WHERE ts.group_key = p.group_key AND ts.sampled_at = p.sampled_at) AS last_timestamps_ms
    FROM (SELECT ts.topic_key,
                 (sum(cardinality(ts.partitions)) OVER (ORDER BY ts.topic_key))::integer AS topic_end
          FROM lagtrail.topic_samples ts
          WHERE ts.group_key = p.group_key AND ts.sampled_at = p.sampled_at) AS t
    HAVING count(*) > 0
) AS x ON true;

-- partition_samples: the raw tier unpacked, one row per partition sample,
-- with dictionary keys instead of names.
-- The lateral d reads each array once per row: a subscript of a column
-- detoasts (and, past 2 kB, decompresses) the whole array each time, which
-- made polls of thousands of partitions quadratic. Concatenating '{}' gives
-- a detoasted copy every subscript then reads in place; OFFSET 0 keeps it a
-- single evaluation per row.
CREATE VIEW lagtrail.partition_samples AS
SELECT s.sampled_at,
       s.group_key,
       t.topic_key,
       COALESCE(d.pa[k], k - COALESCE(s.topic_ends[t.ord - 1], 0) - 1) AS partition,
       CASE WHEN s.samples IS NULL THEN d.bo[k]
            ELSE s.broker_base + d.sa[3 * k - 2] END AS broker_offset,
       CASE WHEN s.samples IS NULL THEN d.co[k]
            ELSE s.broker_base + d.sa[3 * k - 2] - d.sa[3 * k - 1] END AS consumer_offset,
       CASE WHEN s.samples IS NULL THEN d.lo[k]
            WHEN d.sa[3 * k] = -2147483648 THEN -1
            WHEN d.sa[3 * k] = -2147483647 THEN 0
            ELSE floor(extract(epoch FROM s.sampled_at) * 1000)::bigint - d.sa[3 * k] END AS last_timestamp_ms
FROM lagtrail.raw_polls s
CROSS JOIN LATERAL (
    SELECT s.samples || '{}'::integer[] AS sa, s.partitions || '{}'::integer[] AS pa,
           s.broker_offsets || '{}'::bigint[] AS bo, s.consumer_offsets || '{}'::bigint[] AS co,
           s.last_timestamps_ms || '{}'::bigint[] AS lo
    OFFSET 0
) AS d
CROSS JOIN LATERAL unnest(s.topic_keys) WITH ORDINALITY AS t(topic_key, ord)
CROSS JOIN LATERAL generate_series(
    COALESCE(s.topic_ends[t.ord - 1], 0) + 1,
    COALESCE(s.topic_ends[t.ord], cardinality(s.samples) / 3, cardinality(s.broker_offsets))) AS k;

COMMENT ON VIEW lagtrail.partition_samples IS 'One row per partition sample with dictionary keys instead of names: the rows of partition_offsets, cheaper to join and filter. Join group_names and topic_names for names.';
COMMENT ON COLUMN lagtrail.partition_samples.sampled_at IS 'Recorder clock (UTC) when the poll response arrived.';
COMMENT ON COLUMN lagtrail.partition_samples.group_key IS 'Key of the consumer group; lagtrail.group_names has its names.';
COMMENT ON COLUMN lagtrail.partition_samples.topic_key IS 'Key of the topic; lagtrail.topic_names has its name.';
COMMENT ON COLUMN lagtrail.partition_samples.partition IS 'Partition number within the topic.';
COMMENT ON COLUMN lagtrail.partition_samples.broker_offset IS 'Log end offset of the partition (BrokerOffset).';
COMMENT ON COLUMN lagtrail.partition_samples.consumer_offset IS 'Committed offset of the group (ConsumerOffset).';
COMMENT ON COLUMN lagtrail.partition_samples.last_timestamp_ms IS 'LastTimestamp as the API reported it, in Unix milliseconds; -1 when the API hid it.';

-- The read contract keeps its columns; CREATE OR REPLACE keeps the views'
-- comments and grants.
CREATE OR REPLACE VIEW lagtrail.partition_offsets AS
SELECT s.sampled_at,
       r.name        AS region,
       i.instance_id,
       g.name        AS consumer_group,
       t.name        AS topic,
       s.partition,
       s.broker_offset,
       s.consumer_offset,
       GREATEST(s.broker_offset - s.consumer_offset, 0) AS lag,
       CASE WHEN s.last_timestamp_ms > 0
            THEN timestamptz 'epoch' + s.last_timestamp_ms * interval '1 millisecond'
       END AS last_consumed_at
FROM lagtrail.partition_samples s
JOIN lagtrail.consumer_groups g ON g.group_key = s.group_key
JOIN lagtrail.instances i ON i.instance_key = g.instance_key
JOIN lagtrail.regions r ON r.region_key = i.region_key
JOIN lagtrail.topics t ON t.topic_key = s.topic_key;

CREATE OR REPLACE VIEW lagtrail.polls AS
SELECT p.started_at,
       r.name AS region,
       i.instance_id,
       g.name AS consumer_group,
       p.ok,
       p.error_code,
       p.error_message,
       p.duration_ms,
       COALESCE(p.request_id, upper(p.request_uuid::text)) AS request_id,
       p.sampled_at,
       p.total_diff,
       CASE WHEN p.last_timestamp_ms > 0
            THEN timestamptz 'epoch' + p.last_timestamp_ms * interval '1 millisecond'
       END AS last_consumed_at,
       COALESCE(cardinality(p.samples) / 3, cardinality(p.broker_offsets), 0) AS partition_count
FROM lagtrail.raw_polls p
JOIN lagtrail.consumer_groups g ON g.group_key = p.group_key
JOIN lagtrail.instances i ON i.instance_key = g.instance_key
JOIN lagtrail.regions r ON r.region_key = i.region_key;

-- Names of the keys, for joins with partition_samples and the rollups.
CREATE VIEW lagtrail.group_names AS
SELECT g.group_key, r.name AS region, i.instance_id, g.name AS consumer_group
FROM lagtrail.consumer_groups g
JOIN lagtrail.instances i ON i.instance_key = g.instance_key
JOIN lagtrail.regions r ON r.region_key = i.region_key;

COMMENT ON VIEW lagtrail.group_names IS 'One row per consumer group lagtrail has polled: its key and names.';
COMMENT ON COLUMN lagtrail.group_names.group_key IS 'Key of the consumer group, as in partition_samples.';
COMMENT ON COLUMN lagtrail.group_names.region IS 'Alibaba Cloud region id of the instance, e.g. cn-hangzhou.';
COMMENT ON COLUMN lagtrail.group_names.instance_id IS 'Id of the alikafka instance.';
COMMENT ON COLUMN lagtrail.group_names.consumer_group IS 'Consumer group id (ConsumerId).';

CREATE VIEW lagtrail.topic_names AS
SELECT t.topic_key, t.name AS topic FROM lagtrail.topics t;

COMMENT ON VIEW lagtrail.topic_names IS 'One row per topic lagtrail has seen: its key and name.';
COMMENT ON COLUMN lagtrail.topic_names.topic_key IS 'Key of the topic, as in partition_samples.';
COMMENT ON COLUMN lagtrail.topic_names.topic IS 'Topic name.';

DROP TABLE lagtrail.topic_samples;
DROP TABLE lagtrail.poll_log;

DO $$
BEGIN
    IF EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'lagtrail_reader') THEN
        GRANT SELECT ON lagtrail.partition_samples, lagtrail.group_names, lagtrail.topic_names TO lagtrail_reader;
    END IF;
END;
$$;
