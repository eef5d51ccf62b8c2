-- Per-target status rules and the backlog rule in the status views (issue
-- 17).
--
-- status_rules holds the allowed lag of each target of the recorder's
-- config (targets[].allowed_lag): a region, optionally an instance,
-- optionally a group. The recorder replaces its rows when it starts, so
-- they are the config of the last recorder started. group_rules gives each
-- group its allowed lag: that of the most specific rule that matches it
-- (group, then instance, then region), 0 when none does. It is the one
-- place the lookup is defined: partition_status and lagtrail query status
-- (store.PartitionStates) both read it.
--
-- partition_status and group_status keep their columns. What changes:
--   - a lag at most the group's allowed lag counts as caught up (Burrow's
--     allowed-lag), where 000008 allowed none;
--   - STALL needs its 3 polls without progress to span 10 seconds at
--     least (query.StallMinTime), so that at 1 s polls a consumer that
--     commits every 5 s, Kafka's default, is not STALL between commits;
--   - eta_s follows the backlog rule of lagtrail query drain and query
--     fleet (store.DefaultBacklog): a lag of at most 60 s of production,
--     production counted as at least 1 message a second, is no backlog and
--     its eta_s is 0; a backlog that drains has lag / -lag_slope; one that
--     does not, NULL.
CREATE TABLE lagtrail.status_rules (
    region         text NOT NULL,
    instance_id    text NOT NULL DEFAULT '',
    consumer_group text NOT NULL DEFAULT '',
    allowed_lag    bigint NOT NULL CHECK (allowed_lag >= 0),
    PRIMARY KEY (region, instance_id, consumer_group),
    CHECK (consumer_group = '' OR instance_id <> '')
);

COMMENT ON TABLE lagtrail.status_rules IS 'Status rules of the recorder''s config targets, replaced when a recorder starts: the allowed lag of a region ('''' instance and group), an instance ('''' group) or a group.';

CREATE VIEW lagtrail.group_rules AS
SELECT n.group_key, n.region, n.instance_id, n.consumer_group,
       coalesce(r.allowed_lag, 0) AS allowed_lag
FROM lagtrail.group_names n
LEFT JOIN LATERAL (
    -- The most specific rule: a non-empty name sorts after ''.
    SELECT sr.allowed_lag
    FROM lagtrail.status_rules sr
    WHERE sr.region = n.region
      AND sr.instance_id IN ('', n.instance_id)
      AND sr.consumer_group IN ('', n.consumer_group)
    ORDER BY sr.consumer_group DESC, sr.instance_id DESC
    LIMIT 1
) r ON true;

COMMENT ON VIEW lagtrail.group_rules IS 'One row per consumer group lagtrail has polled: the status rules that apply to it, from the most specific matching row of status_rules (group, then instance, then region).';
COMMENT ON COLUMN lagtrail.group_rules.group_key IS 'Key of the consumer group, as in partition_samples.';
COMMENT ON COLUMN lagtrail.group_rules.region IS 'Alibaba Cloud region id of the instance, e.g. cn-hangzhou.';
COMMENT ON COLUMN lagtrail.group_rules.instance_id IS 'Id of the alikafka instance.';
COMMENT ON COLUMN lagtrail.group_rules.consumer_group IS 'Consumer group id (ConsumerId).';
COMMENT ON COLUMN lagtrail.group_rules.allowed_lag IS 'Lag a partition of the group may have and still count as caught up (Burrow''s allowed-lag): targets[].allowed_lag of the recorder''s config; 0 when no target sets it.';

CREATE OR REPLACE VIEW lagtrail.partition_status AS
SELECT n.region, n.instance_id, n.consumer_group, tn.topic, a.partition,
       l.at AS evaluated_at,
       CASE WHEN st.stale THEN 'NODATA' ELSE ev.status END AS status,
       CASE WHEN st.stale THEN 0 ELSE ev.severity END AS severity,
       ev.status AS last_status,
       CASE WHEN st.stale
            THEN format('no poll since %s', to_char(l.at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS"Z"'))
            ELSE ev.reason END AS reason,
       a.lag, a.broker_offset, a.consumer_offset,
       tl.time_lag_s, tl.time_lag_kind,
       (a.consumed / nullif(a.consumed_s, 0))::float8 AS consume_rate,
       (a.produced / nullif(a.produced_s, 0))::float8 AS produce_rate,
       a.lag_slope,
       CASE WHEN NOT bl.backlog THEN 0::float8
            WHEN a.lag_slope < 0 THEN a.lag / -a.lag_slope END AS eta_s,
       a.samples, a.unchanged_since
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
            FROM lagtrail.partition_samples s
            WHERE s.group_key = n.group_key
              AND s.sampled_at > l.at - interval '1 hour' AND s.sampled_at <= l.at
            WINDOW w AS (PARTITION BY s.topic_key, s.partition ORDER BY s.sampled_at)
        ) s1
        WINDOW wp AS (PARTITION BY s1.topic_key, s1.partition ORDER BY s1.t
                      ROWS BETWEEN UNBOUNDED PRECEDING AND UNBOUNDED FOLLOWING)
    ) f
    GROUP BY f.topic_key, f.partition
    HAVING max(f.t) = l.at
) a
JOIN lagtrail.topic_names tn ON tn.topic_key = a.topic_key
CROSS JOIN LATERAL (
    SELECT now() - l.at > 3 * coalesce(a.median_interval, interval '15 minutes') AS stale
) st
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
) tl;


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

COMMENT ON VIEW lagtrail.partition_status IS 'One row per partition of each consumer group''s last successful poll: its Burrow-style status there, by the rules of lagtrail query status (query.Evaluate, with the group''s allowed lag from group_rules) over a 15-minute window, NODATA when that poll is more than 3 median poll intervals old; with the lag, time lag, rates and drain time then. Reads the hour before the poll.';
COMMENT ON COLUMN lagtrail.partition_status.last_status IS 'Status at evaluated_at over the 15 minutes before it, first rule that matches: OK (lag at most the group''s allowed lag, group_rules.allowed_lag), OK (fewer than 3 polls), STOP (no consumer progress for over 15 minutes, or, when not caught up since, for longer than the window saw progress before it; timed from the later of the offset change and the last poll with no lag), REWIND (consumer offset went back and is still short of where it was), STALL (3 polls or more with lag and no progress, over 10 seconds at least), OK (lag was at most the allowed lag in the window), WARN (3 or more polls and the lag never went down), OK.';
COMMENT ON COLUMN lagtrail.partition_status.eta_s IS 'Seconds until the lag reaches zero at lag_slope, by the backlog rule of lagtrail query drain: 0 when the lag is at most 60 s of production (at least 1 message a second), no backlog; lag / -lag_slope for a backlog that drains; NULL for one that does not.';
COMMENT ON COLUMN lagtrail.group_status.eta_s IS 'Seconds until the group''s lag reaches zero at its slope (lagtrail query drain''s eta_seconds, same backlog rule): 0 when the lag is at most 60 s of the group''s production (at least 1 message a second); lag / -lag_slope for a backlog that drains; NULL for one that does not.';

DO $$
BEGIN
    IF EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'lagtrail_reader') THEN
        GRANT SELECT ON lagtrail.group_rules TO lagtrail_reader;
    END IF;
END;
$$;
