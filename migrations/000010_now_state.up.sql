-- Now-state stored when polls arrive (issue 18).
--
-- partition_status read the hour before every group's last poll and
-- evaluated it on every read: about 3.5 ms a group, seconds for the fleet,
-- /metrics and Grafana's "now" panels at a few thousand groups. The
-- evaluation is now a function, evaluate_partitions, the one definition of
-- a partition's status and figures at its group's last successful poll
-- (query.Evaluate's rules with the group's allowed lag, over 15 minutes).
-- refresh_now stores its result in partition_now for the groups it is
-- given.
--
-- Every write queues the groups it stores successful polls of in
-- now_queue, in the statement that inserts them; the recorder takes queued
-- groups every storage.now_interval and refreshes them, off the write
-- path, so a group polled every second costs one evaluation per refresh,
-- not one per poll. A status rules change refreshes the groups whose
-- allowed lag changed. partition_status and group_status keep their
-- columns and read partition_now; a queued group with no stored row yet
-- (its first polls, or a database no recorder refreshes) is evaluated
-- when read, so every reader sees every group. Only NODATA, which depends
-- on the time of the read, is decided when they are read.

CREATE FUNCTION lagtrail.evaluate_partitions(keys integer[])
RETURNS TABLE (
    group_key integer, topic_key integer, partition integer, evaluated_at timestamptz,
    status text, severity integer, reason text,
    lag bigint, broker_offset bigint, consumer_offset bigint,
    time_lag_s float8, time_lag_kind text,
    consume_rate float8, produce_rate float8, lag_slope float8, eta_s float8,
    samples integer, unchanged_since timestamptz, median_interval interval)
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = pg_catalog AS $fn$
SELECT n.group_key, a.topic_key, a.partition, l.at AS evaluated_at,
       ev.status, ev.severity, ev.reason,
       a.lag, a.broker_offset, a.consumer_offset,
       tl.time_lag_s, tl.time_lag_kind,
       (a.consumed / nullif(a.consumed_s, 0))::float8 AS consume_rate,
       (a.produced / nullif(a.produced_s, 0))::float8 AS produce_rate,
       a.lag_slope,
       CASE WHEN NOT bl.backlog THEN 0::float8
            WHEN a.lag_slope < 0 THEN a.lag / -a.lag_slope END AS eta_s,
       a.samples, a.unchanged_since, a.median_interval
FROM lagtrail.group_rules n
CROSS JOIN LATERAL (
    SELECT max(p.sampled_at) AS at FROM lagtrail.raw_polls p WHERE p.group_key = n.group_key AND p.ok
) l
CROSS JOIN LATERAL (
    -- Per partition of the last poll: the window's features (w: the sample
    -- lies in [at - 15m, at]; pw: so does the one before it) and what the
    -- time lag estimate needs.
    SELECT f.topic_key, f.partition,
           max(f.b) FILTER (WHERE f.t = l.at) AS broker_offset,
           max(f.c) FILTER (WHERE f.t = l.at) AS consumer_offset,
           max(f.lag) FILTER (WHERE f.t = l.at) AS lag,
           max(f.lt) FILTER (WHERE f.t = l.at) AS lt,
           count(*) FILTER (WHERE f.w)::integer AS samples,
           min(f.lag) FILTER (WHERE f.w) AS lag_min,
           (array_agg(f.lag ORDER BY f.t) FILTER (WHERE f.w))[1] AS lag_first,
           count(*) FILTER (WHERE f.w AND f.t0 IS NOT NULL AND f.lag < f.lag0) AS lag_decreases,
           coalesce(sum(f.c0 - f.c) FILTER (WHERE f.w AND f.b >= f.b0 AND f.c < f.c0), 0) AS rewound,
           coalesce(max(f.t) FILTER (WHERE f.t0 IS NOT NULL AND f.c <> f.c0), min(f.t)) AS unchanged_since,
           max(f.t) FILTER (WHERE f.lag = 0) AS caught_up_at,
           max(f.rn) - max(f.rn) FILTER (WHERE f.lag = 0) AS since_caught_up,
           min(f.t) FILTER (WHERE f.w) AS window_start,
           coalesce(max(f.c0) FILTER (WHERE f.w AND f.b >= f.b0 AND f.c < f.c0), 0) AS rewind_from,
           coalesce(bool_or(f.t0 IS NOT NULL AND f.c <> f.c0), false) AS changed,
           max(f.rn) - coalesce(max(f.rn) FILTER (WHERE f.t0 IS NOT NULL AND f.c <> f.c0), 1) + 1 AS unchanged_samples,
           percentile_cont(0.5) WITHIN GROUP (ORDER BY f.t - f.t0) AS median_interval,
           sum(f.c - f.c0) FILTER (WHERE f.pw AND f.c >= f.c0 AND f.b >= f.b0) AS consumed,
           sum(extract(epoch FROM f.t - f.t0)) FILTER (WHERE f.pw AND f.c >= f.c0 AND f.b >= f.b0) AS consumed_s,
           sum(f.b - f.b0) FILTER (WHERE f.pw AND f.b >= f.b0) AS produced,
           sum(extract(epoch FROM f.t - f.t0)) FILTER (WHERE f.pw AND f.b >= f.b0) AS produced_s,
           regr_slope(f.lag::float8, extract(epoch FROM f.t - l.at)::float8) FILTER (WHERE f.w) AS lag_slope,
           -- The current segment's broker samples (after the last broker
           -- decrease) just below and at or above the consumer offset.
           max(f.t) FILTER (WHERE f.seg AND f.b < f.c_now) AS t_lo,
           max(f.b) FILTER (WHERE f.seg AND f.b < f.c_now) AS b_lo,
           min(f.t) FILTER (WHERE f.seg AND f.b >= f.c_now) AS t_hi,
           min(f.b) FILTER (WHERE f.seg AND f.b >= f.c_now) AS b_hi
    FROM (
        SELECT s1.*, s1.t >= l.at - interval '15 minutes' AS w,
               s1.t0 >= l.at - interval '15 minutes' AS pw,
               s1.t >= coalesce(max(CASE WHEN s1.b < s1.b0 THEN s1.t END) OVER wp, '-infinity') AS seg,
               last_value(s1.c) OVER wp AS c_now
        FROM (
            SELECT s.topic_key, s.partition, s.sampled_at AS t,
                   s.broker_offset AS b, s.consumer_offset AS c, s.last_timestamp_ms AS lt,
                   greatest(s.broker_offset - s.consumer_offset, 0) AS lag,
                   lag(s.sampled_at) OVER w AS t0,
                   lag(s.broker_offset) OVER w AS b0,
                   lag(s.consumer_offset) OVER w AS c0,
                   lag(greatest(s.broker_offset - s.consumer_offset, 0)) OVER w AS lag0,
                   row_number() OVER w AS rn
            FROM (
                -- Unpacked first, so that the sort and the windows carry
                -- these columns, not the polls' arrays: a quarter faster.
                SELECT s.topic_key, s.partition, s.sampled_at, s.broker_offset, s.consumer_offset, s.last_timestamp_ms
                FROM lagtrail.partition_samples s
                WHERE s.group_key = n.group_key
                  AND s.sampled_at > l.at - interval '1 hour' AND s.sampled_at <= l.at
                OFFSET 0
            ) s
            WINDOW w AS (PARTITION BY s.topic_key, s.partition ORDER BY s.sampled_at)
        ) s1
        WINDOW wp AS (PARTITION BY s1.topic_key, s1.partition ORDER BY s1.t
                      ROWS BETWEEN UNBOUNDED PRECEDING AND UNBOUNDED FOLLOWING)
    ) f
    GROUP BY f.topic_key, f.partition
    HAVING max(f.t) = l.at
) a
CROSS JOIN LATERAL (
    -- store.DefaultBacklog: the lag is more than 60 s of production, at
    -- least 1 message a second.
    SELECT a.lag > 60 * greatest(coalesce((a.produced / nullif(a.produced_s, 0))::float8, 0), 1) AS backlog
) bl
CROSS JOIN LATERAL (
    -- Progress is timed from the later of the first poll showing the
    -- current consumer offset and the last poll with no lag; ran is how
    -- long the window saw progress before it stopped.
    SELECT coalesce(a.caught_up_at > a.unchanged_since, false) AS caught_up,
           greatest(a.unchanged_since, a.caught_up_at) AS since,
           l.at - greatest(a.unchanged_since, a.caught_up_at) AS stuck,
           CASE WHEN a.caught_up_at > a.unchanged_since THEN a.since_caught_up
                ELSE a.unchanged_samples END AS stuck_samples,
           a.unchanged_since - a.window_start AS ran
) pg
CROSS JOIN LATERAL (
    -- query.Evaluate's rules with the group's allowed lag and at least 3
    -- polls, first match wins.
    SELECT CASE WHEN a.lag <= n.allowed_lag THEN 2
                WHEN a.samples < 3 THEN 8
                WHEN pg.stuck > interval '15 minutes'
                     OR (NOT pg.caught_up AND a.changed AND pg.stuck > pg.ran) THEN 3
                WHEN a.rewound > 0 AND a.consumer_offset < a.rewind_from THEN 1
                WHEN pg.stuck_samples >= 3 AND pg.stuck >= interval '10 seconds' THEN 4
                WHEN a.lag_min <= n.allowed_lag THEN 5
                WHEN a.samples >= 3 AND a.lag_decreases = 0 THEN 6
                ELSE 7 END AS rule
) r
CROSS JOIN LATERAL (
    SELECT (ARRAY['REWIND', 'OK', 'STOP', 'STALL', 'OK', 'WARN', 'OK', 'OK'])[r.rule] AS status,
           (ARRAY[3, 1, 5, 4, 1, 2, 1, 1])[r.rule] AS severity,
           CASE r.rule
           WHEN 1 THEN format('consumer offset went back %s messages in the last 15m0s and is %s short of where it was',
                              a.rewound, a.rewind_from - a.consumer_offset)
           WHEN 2 THEN CASE WHEN a.lag = 0 THEN 'no lag'
                            ELSE format('lag %s within the allowed %s', a.lag, n.allowed_lag) END
           WHEN 3 THEN format('no consumer progress since %s%s (%s) with lag %s',
                              CASE WHEN a.changed OR pg.caught_up THEN '' ELSE 'before ' END,
                              to_char(pg.since AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS"Z"'),
                              date_trunc('second', pg.stuck), a.lag)
           WHEN 4 THEN format('consumer offset %s unchanged with lag for %s polls since %s%s (lag %s)',
                              a.consumer_offset, pg.stuck_samples,
                              CASE WHEN a.changed OR pg.caught_up THEN '' ELSE 'before ' END,
                              to_char(pg.since AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS"Z"'), a.lag)
           WHEN 5 THEN CASE WHEN a.lag_min = 0 THEN 'lag was zero in the window'
                            ELSE format('lag was within the allowed %s in the window', n.allowed_lag) END
           WHEN 6 THEN format('lag never went down in the last 15m0s: %s to %s', a.lag_first, a.lag)
           WHEN 8 THEN format('only %s polls in the last 15m0s', a.samples)
           ELSE 'lag going down' END AS reason
) ev
CROSS JOIN LATERAL (
    SELECT CASE WHEN a.lag = 0 THEN 0::float8
                WHEN a.lt > 0 THEN greatest(extract(epoch FROM l.at)::float8 - a.lt / 1000.0::float8, 0)
                WHEN a.t_lo IS NOT NULL THEN greatest(extract(epoch FROM l.at - a.t_lo)::float8
                     - (a.consumer_offset - a.b_lo)::float8 / (a.b_hi - a.b_lo)::float8
                       * extract(epoch FROM a.t_hi - a.t_lo)::float8, 0)
                ELSE extract(epoch FROM l.at - a.t_hi)::float8 END AS time_lag_s,
           CASE WHEN a.lag = 0 OR a.lt > 0 THEN 'sampled'
                WHEN a.t_lo IS NOT NULL THEN 'estimated'
                ELSE 'lower_bound' END AS time_lag_kind
) tl
WHERE n.group_key = ANY(keys)
$fn$;

CREATE TABLE lagtrail.partition_now AS
SELECT * FROM lagtrail.evaluate_partitions('{}') WITH NO DATA;
ALTER TABLE lagtrail.partition_now
    ALTER COLUMN group_key SET NOT NULL,
    ALTER COLUMN topic_key SET NOT NULL,
    ALTER COLUMN partition SET NOT NULL,
    ALTER COLUMN evaluated_at SET NOT NULL,
    ADD PRIMARY KEY (group_key, topic_key, partition);

COMMENT ON TABLE lagtrail.partition_now IS 'One row per partition of each consumer group''s last successful poll: evaluate_partitions as of that poll, stored by refresh_now. Read it through partition_status, which adds NODATA.';

CREATE TABLE lagtrail.now_queue (
    group_key integer PRIMARY KEY,
    queued_at timestamptz NOT NULL DEFAULT now()
);

COMMENT ON TABLE lagtrail.now_queue IS 'Groups with successful polls written since their now-state (partition_now) was last refreshed.';

CREATE TABLE lagtrail.now_groups (
    group_key integer PRIMARY KEY,
    refreshed_at timestamptz NOT NULL
);

COMMENT ON TABLE lagtrail.now_groups IS 'Groups refresh_now has evaluated, and when it last did: partition_now holds their rows (none for a group whose evaluation failed).';

-- refresh_now replaces the partition_now rows of the groups keys with
-- their evaluation now, and returns how many rows it stored. Refreshes of
-- a group are serialised by a transaction advisory lock taken in key
-- order: each evaluates after the one before it committed, so the last
-- to commit has seen every poll committed before it, its own included.
-- A group whose evaluation fails (offsets so large that a sum leaves
-- bigint) is left without rows, with a warning: the poll that triggered
-- the refresh is stored all the same. Every group given is recorded in
-- now_groups, so that partition_status reads its stored rows from then on.
CREATE FUNCTION lagtrail.refresh_now(keys integer[]) RETURNS integer
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

SELECT lagtrail.refresh_now(coalesce(array_agg(group_key), '{}')) FROM lagtrail.consumer_groups;

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
