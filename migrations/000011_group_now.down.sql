-- Reverts 000011: group_status aggregates partition_status on every read
-- again, as 000009 made it, partition_status and refresh_now are those of
-- 000010, and the group now-state is dropped.
CREATE OR REPLACE VIEW lagtrail.group_status AS
SELECT p.region, p.instance_id, p.consumer_group,
       max(p.evaluated_at) AS evaluated_at,
       (array_agg(p.status ORDER BY p.severity DESC, p.topic, p.partition))[1] AS status,
       max(p.severity) AS severity,
       (array_agg(p.last_status ORDER BY p.last_severity DESC, p.topic, p.partition))[1] AS last_status,
       string_agg(p.topic || '/' || p.partition, ',' ORDER BY p.topic, p.partition)
           FILTER (WHERE p.last_severity = p.worst_last AND p.last_severity > 1) AS partitions,
       CASE WHEN max(p.severity) = 1 THEN 'every partition OK'
            ELSE (array_agg(p.reason ORDER BY p.severity DESC, p.topic, p.partition))[1] END AS reason,
       count(*)::integer AS partition_count,
       sum(p.lag)::bigint AS lag,
       max(p.time_lag_s) AS time_lag_s,
       CASE WHEN bool_or(p.time_lag_kind = 'lower_bound') THEN 'lower_bound'
            ELSE (array_agg(p.time_lag_kind ORDER BY p.time_lag_s DESC NULLS LAST, p.topic, p.partition))[1] END AS time_lag_kind,
       sum(p.consume_rate) AS consume_rate,
       sum(p.produce_rate) AS produce_rate,
       sum(p.lag_slope) AS lag_slope,
       -- store.DefaultBacklog over the group's lag and production.
       CASE WHEN NOT sum(p.lag) > 60 * greatest(coalesce(sum(p.produce_rate), 0), 1) THEN 0::float8
            WHEN sum(p.lag_slope) < 0 THEN sum(p.lag) / -sum(p.lag_slope) END AS eta_s
FROM (
    SELECT ps.*, max(ps.last_severity) OVER (PARTITION BY ps.region, ps.instance_id, ps.consumer_group) AS worst_last
    FROM (
        SELECT s.*, array_position(ARRAY['OK', 'WARN', 'REWIND', 'STALL', 'STOP'], s.last_status) AS last_severity
        FROM lagtrail.partition_status s
    ) ps
) p
GROUP BY p.region, p.instance_id, p.consumer_group;

CREATE OR REPLACE VIEW lagtrail.partition_status AS
SELECT n.region, n.instance_id, n.consumer_group, tn.topic, pn.partition,
       pn.evaluated_at,
       CASE WHEN st.stale THEN 'NODATA' ELSE pn.status END AS status,
       CASE WHEN st.stale THEN 0 ELSE pn.severity END AS severity,
       pn.status AS last_status,
       CASE WHEN st.stale
            THEN format('no poll since %s', to_char(pn.evaluated_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS"Z"'))
            ELSE pn.reason END AS reason,
       pn.lag, pn.broker_offset, pn.consumer_offset,
       pn.time_lag_s, pn.time_lag_kind,
       pn.consume_rate, pn.produce_rate, pn.lag_slope, pn.eta_s,
       pn.samples, pn.unchanged_since
FROM (
    SELECT * FROM lagtrail.partition_now
    UNION ALL
    -- Queued groups never refreshed: evaluated now. With none, the
    -- function is not called at all (planning it alone takes 13 ms).
    SELECT e.* FROM (
        SELECT ARRAY(
            SELECT q.group_key FROM lagtrail.now_queue q
            WHERE NOT EXISTS (SELECT 1 FROM lagtrail.now_groups x WHERE x.group_key = q.group_key)) AS keys
    ) w
    CROSS JOIN LATERAL lagtrail.evaluate_partitions(w.keys) e
    WHERE cardinality(w.keys) > 0
) pn
JOIN lagtrail.group_names n ON n.group_key = pn.group_key
JOIN lagtrail.topic_names tn ON tn.topic_key = pn.topic_key
CROSS JOIN LATERAL (
    SELECT now() - pn.evaluated_at > 3 * coalesce(pn.median_interval, interval '15 minutes') AS stale
) st;

COMMENT ON VIEW lagtrail.partition_status IS 'One row per partition of each consumer group''s last successful poll: its Burrow-style status there, by the rules of lagtrail query status (query.Evaluate, with the group''s allowed lag from group_rules) over a 15-minute window, NODATA when that poll is more than 3 median poll intervals old; with the lag, time lag, rates and drain time then. Reads partition_now, which the recorder refreshes seconds after each poll is written (evaluate_partitions over the hour before the group''s last successful poll); a group written but never refreshed is evaluated when read. Only NODATA is decided when it is read.';

CREATE OR REPLACE FUNCTION lagtrail.refresh_now(keys integer[]) RETURNS integer
LANGUAGE plpgsql AS $fn$
DECLARE
    k integer;
    n integer;
    total integer := 0;
    sorted integer[] := coalesce((SELECT array_agg(DISTINCT x ORDER BY x) FROM unnest(keys) x), '{}');
BEGIN
    FOREACH k IN ARRAY sorted LOOP
        PERFORM pg_advisory_xact_lock(hashtext('lagtrail.refresh_now'), k);
    END LOOP;
    INSERT INTO lagtrail.now_groups (group_key, refreshed_at)
    SELECT x, now() FROM unnest(sorted) x
    ON CONFLICT (group_key) DO UPDATE SET refreshed_at = excluded.refreshed_at;
    DELETE FROM lagtrail.partition_now pn WHERE pn.group_key = ANY(sorted);
    BEGIN
        INSERT INTO lagtrail.partition_now SELECT * FROM lagtrail.evaluate_partitions(sorted);
        GET DIAGNOSTICS total = ROW_COUNT;
        RETURN total;
    EXCEPTION WHEN numeric_value_out_of_range OR division_by_zero OR invalid_parameter_value THEN
        -- One group's figures failed: store the others, one by one.
        NULL;
    END;
    FOREACH k IN ARRAY sorted LOOP
        BEGIN
            INSERT INTO lagtrail.partition_now SELECT * FROM lagtrail.evaluate_partitions(ARRAY[k]);
            GET DIAGNOSTICS n = ROW_COUNT;
            total := total + n;
        EXCEPTION WHEN numeric_value_out_of_range OR division_by_zero OR invalid_parameter_value THEN
            RAISE WARNING 'lagtrail.refresh_now: group % has no now-state: %', k, SQLERRM;
        END;
    END LOOP;
    RETURN total;
END;
$fn$;

DROP TABLE lagtrail.group_now;
DROP TABLE lagtrail.group_last_poll;
DROP FUNCTION lagtrail.group_rows(integer[], timestamptz);
DROP FUNCTION lagtrail.nodata_reason(timestamptz);
DROP FUNCTION lagtrail.stale_after(interval);
