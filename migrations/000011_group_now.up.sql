-- Group now-state stored too (issue 18).
--
-- 000010 stored each partition's now-state, but group_status still
-- aggregated every partition row of the fleet on each read, sorting them
-- by name and ordering four aggregates per group: two thirds of the
-- fleet's 127 ms at 2,000 groups, five times that at 10,000. refresh_now
-- now also stores each group's row in group_now, computed by group_rows,
-- the one definition of a group's status and figures from its partitions'.
--
-- Only NODATA depends on the time of the read: a partition is NODATA when
-- its group's last poll is older than stale_after(its median poll
-- interval). All partitions of a group share that poll, so group_now keeps
-- the least and greatest stale_after of its partitions: before the least,
-- no partition is NODATA and the stored row is the answer; after the
-- greatest, every partition is, and the group is NODATA with the reason
-- its partitions give. In between (partitions polled at different
-- intervals), and for groups never refreshed, group_status aggregates the
-- partition rows when read, by group_rows too.
--
-- NODATA is judged from the group's last successful poll written, not
-- from the one last evaluated: the refresh runs seconds after the write,
-- and a group polled every second would otherwise be NODATA between
-- refreshes. Every write records its groups' last poll and last
-- successful poll in group_last_poll, in the statement that inserts them;
-- the fleet reads the first there too, instead of looking for it in every
-- daily partition of raw_polls for each group (47 of the 134 ms the fleet
-- took at 10,000 groups).
CREATE TABLE lagtrail.group_last_poll (
    group_key  integer PRIMARY KEY,
    last_at    timestamptz NOT NULL,
    last_ok    boolean NOT NULL,
    last_error text,
    last_ok_at timestamptz
);
COMMENT ON TABLE lagtrail.group_last_poll IS 'Each consumer group''s latest poll written (last_at, last_ok, last_error: its error code) and latest successful poll (last_ok_at), kept by the writer: the fleet reads the first, the status views judge NODATA from the second.';

INSERT INTO lagtrail.group_last_poll (group_key, last_at, last_ok, last_error, last_ok_at)
SELECT g.group_key, lp.sampled_at, lp.ok, lp.error_code,
       (SELECT max(p.sampled_at) FROM lagtrail.raw_polls p WHERE p.group_key = g.group_key AND p.ok)
FROM lagtrail.consumer_groups g
CROSS JOIN LATERAL (
    SELECT p.sampled_at, p.ok, p.error_code FROM lagtrail.raw_polls p
    WHERE p.group_key = g.group_key ORDER BY p.sampled_at DESC LIMIT 1
) lp;

-- stale_after is how old a group's last successful poll may be before a
-- partition with this median poll interval is NODATA: 3 median intervals,
-- 15 minutes when there is only one poll.
CREATE FUNCTION lagtrail.stale_after(median_interval interval) RETURNS interval
LANGUAGE sql IMMUTABLE AS $fn$
SELECT 3 * coalesce(median_interval, interval '15 minutes')
$fn$;

-- nodata_reason is the reason of a NODATA status whose last successful
-- poll was at.
CREATE FUNCTION lagtrail.nodata_reason(at timestamptz) RETURNS text
LANGUAGE sql STABLE AS $fn$
SELECT format('no poll since %s', to_char(at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS"Z"'))
$fn$;

-- group_rows returns the status and figures of the groups keys from their
-- partitions' (partition_now, or evaluate_partitions for groups never
-- refreshed), with partitions NODATA as of at (from the group's last
-- successful poll written); a NULL at judges none NODATA. fresh_for and stale_for are the least and greatest stale_after of
-- the group's partitions.
CREATE FUNCTION lagtrail.group_rows(keys integer[], at timestamptz)
RETURNS TABLE (
    group_key integer, evaluated_at timestamptz, status text, severity integer, last_status text,
    partitions text, reason text, partition_count integer, lag bigint,
    time_lag_s float8, time_lag_kind text, consume_rate float8, produce_rate float8,
    lag_slope float8, eta_s float8, fresh_for interval, stale_for interval)
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = pg_catalog AS $fn$
SELECT p.group_key,
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
            WHEN sum(p.lag_slope) < 0 THEN sum(p.lag) / -sum(p.lag_slope) END AS eta_s,
       min(lagtrail.stale_after(p.median_interval)) AS fresh_for,
       max(lagtrail.stale_after(p.median_interval)) AS stale_for
FROM (
    SELECT x.*, max(x.last_severity) OVER (PARTITION BY x.group_key) AS worst_last
    FROM (
        SELECT r.group_key, tn.topic, r.partition, r.evaluated_at, r.median_interval,
               CASE WHEN st.stale THEN 'NODATA' ELSE r.status END AS status,
               CASE WHEN st.stale THEN 0 ELSE r.severity END AS severity,
               r.status AS last_status,
               array_position(ARRAY['OK', 'WARN', 'REWIND', 'STALL', 'STOP'], r.status) AS last_severity,
               CASE WHEN st.stale THEN lagtrail.nodata_reason(lo.last_ok) ELSE r.reason END AS reason,
               r.lag, r.time_lag_s, r.time_lag_kind, r.consume_rate, r.produce_rate, r.lag_slope
        FROM (
            SELECT * FROM lagtrail.partition_now pn WHERE pn.group_key = ANY(keys)
            UNION ALL
            SELECT e.* FROM (
                SELECT ARRAY(
                    SELECT k FROM unnest(keys) k
                    WHERE NOT EXISTS (SELECT 1 FROM lagtrail.now_groups ng WHERE ng.group_key = k)) AS keys
            ) w
            CROSS JOIN LATERAL lagtrail.evaluate_partitions(w.keys) e
            WHERE cardinality(w.keys) > 0
        ) r
        JOIN lagtrail.topic_names tn ON tn.topic_key = r.topic_key
        LEFT JOIN lagtrail.group_last_poll q ON q.group_key = r.group_key
        CROSS JOIN LATERAL (
            SELECT greatest(r.evaluated_at, q.last_ok_at) AS last_ok
        ) lo
        CROSS JOIN LATERAL (
            SELECT at - lo.last_ok > lagtrail.stale_after(r.median_interval) AS stale
        ) st
    ) x
) p
GROUP BY p.group_key
$fn$;

CREATE TABLE lagtrail.group_now AS
SELECT * FROM lagtrail.group_rows('{}', NULL) WITH NO DATA;
ALTER TABLE lagtrail.group_now
    ALTER COLUMN group_key SET NOT NULL,
    ALTER COLUMN evaluated_at SET NOT NULL,
    ALTER COLUMN fresh_for SET NOT NULL,
    ALTER COLUMN stale_for SET NOT NULL,
    ADD PRIMARY KEY (group_key);

COMMENT ON TABLE lagtrail.group_now IS 'One row per consumer group with a now-state: group_rows as of its last successful poll, with no partition NODATA, stored by refresh_now. Read it through group_status, which adds NODATA.';

-- refresh_now as 000010 made it, and it stores the groups' rows in
-- group_now from the partition rows it stored. A group whose row fails
-- (a lag sum that leaves bigint) is left without one, with a warning.
CREATE OR REPLACE FUNCTION lagtrail.refresh_now(keys integer[]) RETURNS integer
LANGUAGE plpgsql AS $fn$
DECLARE
    k integer;
    n integer;
    total integer := 0;
    sorted integer[] := coalesce((SELECT array_agg(DISTINCT x ORDER BY x) FROM unnest(keys) x), '{}');
BEGIN
    -- No groups, no work: planning evaluate_partitions alone costs
    -- milliseconds, and callers pass an empty list when nothing changed.
    IF cardinality(sorted) = 0 THEN
        RETURN 0;
    END IF;
    FOREACH k IN ARRAY sorted LOOP
        PERFORM pg_advisory_xact_lock(hashtext('lagtrail.refresh_now'), k);
    END LOOP;
    INSERT INTO lagtrail.now_groups (group_key, refreshed_at)
    SELECT x, now() FROM unnest(sorted) x
    ON CONFLICT (group_key) DO UPDATE SET refreshed_at = excluded.refreshed_at;
    DELETE FROM lagtrail.partition_now pn WHERE pn.group_key = ANY(sorted);
    DELETE FROM lagtrail.group_now gn WHERE gn.group_key = ANY(sorted);
    BEGIN
        INSERT INTO lagtrail.partition_now SELECT * FROM lagtrail.evaluate_partitions(sorted);
        GET DIAGNOSTICS total = ROW_COUNT;
        INSERT INTO lagtrail.group_now SELECT * FROM lagtrail.group_rows(sorted, NULL);
        RETURN total;
    EXCEPTION WHEN numeric_value_out_of_range OR division_by_zero OR invalid_parameter_value THEN
        -- One group's figures failed: store the others, one by one.
        total := 0;
    END;
    FOREACH k IN ARRAY sorted LOOP
        BEGIN
            INSERT INTO lagtrail.partition_now SELECT * FROM lagtrail.evaluate_partitions(ARRAY[k]);
            GET DIAGNOSTICS n = ROW_COUNT;
            total := total + n;
        EXCEPTION WHEN numeric_value_out_of_range OR division_by_zero OR invalid_parameter_value THEN
            RAISE WARNING 'lagtrail.refresh_now: group % has no now-state: %', k, SQLERRM;
            CONTINUE;
        END;
        BEGIN
            INSERT INTO lagtrail.group_now SELECT * FROM lagtrail.group_rows(ARRAY[k], NULL);
        EXCEPTION WHEN numeric_value_out_of_range OR division_by_zero OR invalid_parameter_value THEN
            RAISE WARNING 'lagtrail.refresh_now: group % has no group now-state: %', k, SQLERRM;
        END;
    END LOOP;
    RETURN total;
END;
$fn$;

-- Every group with a now-state gets its group row.
INSERT INTO lagtrail.group_now
SELECT * FROM lagtrail.group_rows((SELECT coalesce(array_agg(group_key), '{}') FROM lagtrail.now_groups), NULL);

CREATE OR REPLACE VIEW lagtrail.partition_status AS
SELECT n.region, n.instance_id, n.consumer_group, tn.topic, pn.partition,
       pn.evaluated_at,
       CASE WHEN st.stale THEN 'NODATA' ELSE pn.status END AS status,
       CASE WHEN st.stale THEN 0 ELSE pn.severity END AS severity,
       pn.status AS last_status,
       CASE WHEN st.stale THEN lagtrail.nodata_reason(lo.last_ok) ELSE pn.reason END AS reason,
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
LEFT JOIN lagtrail.group_last_poll q ON q.group_key = pn.group_key
CROSS JOIN LATERAL (
    SELECT greatest(pn.evaluated_at, q.last_ok_at) AS last_ok
) lo
CROSS JOIN LATERAL (
    SELECT now() - lo.last_ok > lagtrail.stale_after(pn.median_interval) AS stale
) st;

CREATE OR REPLACE VIEW lagtrail.group_status AS
SELECT n.region, n.instance_id, n.consumer_group, g.evaluated_at,
       CASE WHEN st.all_stale THEN 'NODATA' ELSE g.status END AS status,
       CASE WHEN st.all_stale THEN 0 ELSE g.severity END AS severity,
       g.last_status, g.partitions,
       CASE WHEN st.all_stale THEN lagtrail.nodata_reason(lo.last_ok) ELSE g.reason END AS reason,
       g.partition_count, g.lag, g.time_lag_s, g.time_lag_kind,
       g.consume_rate, g.produce_rate, g.lag_slope, g.eta_s
FROM lagtrail.group_now g
JOIN lagtrail.group_names n ON n.group_key = g.group_key
LEFT JOIN lagtrail.group_last_poll q ON q.group_key = g.group_key
CROSS JOIN LATERAL (
    SELECT greatest(g.evaluated_at, q.last_ok_at) AS last_ok
) lo
CROSS JOIN LATERAL (
    SELECT now() - lo.last_ok > g.stale_for AS all_stale,
           now() - lo.last_ok <= g.fresh_for AS none_stale
) st
WHERE st.all_stale OR st.none_stale
UNION ALL
-- Groups some but not all of whose partitions are NODATA, and queued
-- groups never refreshed: aggregated now. With none, group_rows is not
-- called at all.
SELECT n.region, n.instance_id, n.consumer_group, g.evaluated_at,
       g.status, g.severity, g.last_status, g.partitions, g.reason,
       g.partition_count, g.lag, g.time_lag_s, g.time_lag_kind,
       g.consume_rate, g.produce_rate, g.lag_slope, g.eta_s
FROM (
    SELECT ARRAY(
        SELECT x.group_key FROM lagtrail.group_now x
        LEFT JOIN lagtrail.group_last_poll xq ON xq.group_key = x.group_key
        WHERE now() - greatest(x.evaluated_at, xq.last_ok_at) > x.fresh_for
          AND now() - greatest(x.evaluated_at, xq.last_ok_at) <= x.stale_for
        UNION ALL
        SELECT q.group_key FROM lagtrail.now_queue q
        WHERE NOT EXISTS (SELECT 1 FROM lagtrail.now_groups y WHERE y.group_key = q.group_key)) AS keys
) w
CROSS JOIN LATERAL lagtrail.group_rows(w.keys, now()) g
JOIN lagtrail.group_names n ON n.group_key = g.group_key
WHERE cardinality(w.keys) > 0;

COMMENT ON VIEW lagtrail.partition_status IS 'One row per partition of each consumer group''s last evaluated successful poll: its Burrow-style status there, by the rules of lagtrail query status (query.Evaluate, with the group''s allowed lag from group_rules) over a 15-minute window, NODATA when the group''s last successful poll is more than 3 median poll intervals old; with the lag, time lag, rates and drain time then. Reads partition_now, which the recorder refreshes seconds after each poll is written (evaluate_partitions over the hour before the group''s last successful poll); a group written but never refreshed is evaluated when read. Only NODATA is decided when it is read.';
