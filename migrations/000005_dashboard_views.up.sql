-- Dashboard views: the status of every partition and consumer group at its
-- last successful poll, for BI tools that cannot run `lagtrail query status`
-- or `lagtrail query drain` (the Grafana dashboards in deploy/ use them for
-- their "now" panels).
--
-- partition_status evaluates each partition of a group's last successful
-- poll with the rules of query.Evaluate, over the same 15-minute window as
-- query.DefaultStatusWindow, reading the hour of samples up to that poll:
--
--   REWIND  the consumer offset went back in the window (a broker decrease
--           is not a rewind);
--   OK      no lag now;
--   STOP    lag, and the consumer offset has not moved for longer than the
--           window;
--   STALL   lag, and the consumer offset is unchanged over the last 3 polls;
--   OK      the lag was zero at some poll in the window;
--   WARN    the window holds 3 or more polls and the lag never went down
--           between two of them;
--   OK      otherwise.
--
-- The window's features are those of store's PartitionStates, which
-- `lagtrail query status` evaluates: the samples in [at - 15m, at], a pair
-- of polls counted when its later one is in the window, the first sample
-- showing the current consumer offset. So, with polls less than 15 minutes
-- apart, last_status is the status `lagtrail query status --window 15m`
-- gives the bucket holding the last poll. The one difference is how far
-- back each reads: where the consumer offset has not changed in the hour
-- read, unchanged_since is that hour's first sample, a lower bound (the
-- status is STOP either way).
--
-- NODATA is decided against now(), as `lagtrail query status` decides a
-- bucket ending now: a partition is NODATA when its last poll is more than
-- 3 median poll intervals old (query.GapFactor). last_status keeps the
-- evaluation at the last poll.
--
-- Lag, time lag, slope, drain time and rates are those of `lagtrail query
-- drain --window 15m --at <last poll>`, with two simplifications: the rates
-- count the offset advances between consecutive polls that both lie in the
-- window (the query also counts the part of the pair that straddles the
-- window's start), and they do not leave out gaps and resets to latest
-- (both leave out rewinds and broker decreases); an estimated time lag
-- interpolates between the samples of the hour read, so past that hour it
-- is a lower bound. The slope is the least-squares slope of the lag over
-- the window's polls, so a group's slope is the sum of its partitions'
-- (they share polls). deploy/status_test.go checks all of this against
-- query.Evaluate and store.Buckets.
CREATE VIEW lagtrail.partition_status AS
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
       CASE WHEN a.lag > 0 AND a.lag_slope < 0 THEN a.lag / -a.lag_slope END AS eta_s,
       a.samples, a.unchanged_since
FROM lagtrail.group_names n
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
    -- query.Evaluate's rules, first match wins.
    SELECT CASE WHEN a.rewound > 0 THEN 1
                WHEN a.lag = 0 THEN 2
                WHEN l.at - a.unchanged_since > interval '15 minutes' THEN 3
                WHEN a.unchanged_samples >= 3 THEN 4
                WHEN a.lag_min = 0 THEN 5
                WHEN a.samples >= 3 AND a.lag_decreases = 0 THEN 6
                ELSE 7 END AS rule
) r
CROSS JOIN LATERAL (
    SELECT (ARRAY['REWIND', 'OK', 'STOP', 'STALL', 'OK', 'WARN', 'OK'])[r.rule] AS status,
           (ARRAY[3, 1, 5, 4, 1, 2, 1])[r.rule] AS severity,
           CASE r.rule
           WHEN 1 THEN format('consumer offset went back %s messages in the last 15m', a.rewound)
           WHEN 2 THEN 'no lag'
           WHEN 3 THEN format('no consumer progress since %s%s (%s) with lag %s',
                              CASE WHEN a.changed THEN '' ELSE 'before ' END,
                              to_char(a.unchanged_since AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS"Z"'),
                              date_trunc('second', l.at - a.unchanged_since), a.lag)
           WHEN 4 THEN format('consumer offset %s unchanged for %s polls since %s with lag %s',
                              a.consumer_offset, a.unchanged_samples,
                              to_char(a.unchanged_since AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS"Z"'), a.lag)
           WHEN 5 THEN 'lag was zero in the window'
           WHEN 6 THEN format('lag never went down in the last 15m: %s to %s', a.lag_first, a.lag)
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

-- group_status: a group's status is the worst of its partitions', as in
-- `lagtrail query status`; partitions lists those at the worst last_status
-- when it is worse than OK (for a NODATA group: how it was left), and reason
-- is the first one's at the worst status (by topic and partition).
-- Lag, rates and slope add up over the partitions; the time lag is the
-- largest, with the kind of the partition it comes from, or lower_bound when
-- any partition's is.
CREATE VIEW lagtrail.group_status AS
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
       CASE WHEN sum(p.lag) > 0 AND sum(p.lag_slope) < 0 THEN sum(p.lag) / -sum(p.lag_slope) END AS eta_s
FROM (
    SELECT ps.*, max(ps.last_severity) OVER (PARTITION BY ps.region, ps.instance_id, ps.consumer_group) AS worst_last
    FROM (
        SELECT s.*, array_position(ARRAY['OK', 'WARN', 'REWIND', 'STALL', 'STOP'], s.last_status) AS last_severity
        FROM lagtrail.partition_status s
    ) ps
) p
GROUP BY p.region, p.instance_id, p.consumer_group;

COMMENT ON VIEW lagtrail.partition_status IS 'One row per partition of each consumer group''s last successful poll: its Burrow-style status there, by the rules of lagtrail query status (query.Evaluate) over a 15-minute window, NODATA when that poll is more than 3 median poll intervals old; with the lag, time lag, rates and drain time then. Reads the hour before the poll.';
COMMENT ON COLUMN lagtrail.partition_status.region IS 'Alibaba Cloud region id of the instance, e.g. cn-hangzhou.';
COMMENT ON COLUMN lagtrail.partition_status.instance_id IS 'Id of the alikafka instance.';
COMMENT ON COLUMN lagtrail.partition_status.consumer_group IS 'Consumer group id (ConsumerId).';
COMMENT ON COLUMN lagtrail.partition_status.topic IS 'Topic name.';
COMMENT ON COLUMN lagtrail.partition_status.partition IS 'Partition number within the topic.';
COMMENT ON COLUMN lagtrail.partition_status.evaluated_at IS 'sampled_at of the group''s last successful poll, where the partition is evaluated.';
COMMENT ON COLUMN lagtrail.partition_status.status IS 'NODATA when evaluated_at is more than 3 median poll intervals before now(); otherwise last_status.';
COMMENT ON COLUMN lagtrail.partition_status.severity IS 'status as a number, worst highest: 0 NODATA, 1 OK, 2 WARN, 3 REWIND, 4 STALL, 5 STOP (query.Status).';
COMMENT ON COLUMN lagtrail.partition_status.last_status IS 'Status at evaluated_at over the 15 minutes before it, first rule that matches: REWIND (consumer offset went back), OK (no lag), STOP (no consumer progress for over 15 minutes), STALL (consumer offset unchanged over the last 3 polls), OK (lag was zero in the window), WARN (3 or more polls and the lag never went down), OK.';
COMMENT ON COLUMN lagtrail.partition_status.reason IS 'Why, in words.';
COMMENT ON COLUMN lagtrail.partition_status.lag IS 'broker_offset - consumer_offset at evaluated_at, floored at 0.';
COMMENT ON COLUMN lagtrail.partition_status.broker_offset IS 'Log end offset at evaluated_at.';
COMMENT ON COLUMN lagtrail.partition_status.consumer_offset IS 'Committed offset of the group at evaluated_at.';
COMMENT ON COLUMN lagtrail.partition_status.time_lag_s IS 'Seconds since the oldest unconsumed message was produced, at evaluated_at; 0 without lag.';
COMMENT ON COLUMN lagtrail.partition_status.time_lag_kind IS 'sampled (from the last consumed message''s produce time), estimated (the API hid it: time since the broker offset passed the consumer offset, interpolated between polls) or lower_bound (that happened before the hour read).';
COMMENT ON COLUMN lagtrail.partition_status.consume_rate IS 'Messages consumed per second over the window: consumer offset advances between consecutive polls that both lie in the window, over the seconds they span; rewinds and broker decreases are not counted. NULL when nothing was counted.';
COMMENT ON COLUMN lagtrail.partition_status.produce_rate IS 'Messages produced per second over the window, from broker offset advances as for consume_rate; broker decreases are not counted.';
COMMENT ON COLUMN lagtrail.partition_status.lag_slope IS 'Least-squares slope of the lag over the window''s polls, messages per second (negative: draining); NULL with fewer than two polls.';
COMMENT ON COLUMN lagtrail.partition_status.eta_s IS 'lag / -lag_slope: seconds until the lag reaches zero at that slope; NULL when the lag is not draining.';
COMMENT ON COLUMN lagtrail.partition_status.samples IS 'Polls of the partition in the window.';
COMMENT ON COLUMN lagtrail.partition_status.unchanged_since IS 'sampled_at of the first poll showing the current consumer offset, or of the first poll of the hour read when the offset did not change in it.';

COMMENT ON VIEW lagtrail.group_status IS 'One row per consumer group with a successful poll: the worst status of its partitions in partition_status (as lagtrail query status gives a group), with the group''s lag, time lag, rates and drain time at its last successful poll.';
COMMENT ON COLUMN lagtrail.group_status.region IS 'Alibaba Cloud region id of the instance, e.g. cn-hangzhou.';
COMMENT ON COLUMN lagtrail.group_status.instance_id IS 'Id of the alikafka instance.';
COMMENT ON COLUMN lagtrail.group_status.consumer_group IS 'Consumer group id (ConsumerId).';
COMMENT ON COLUMN lagtrail.group_status.evaluated_at IS 'sampled_at of the group''s last successful poll.';
COMMENT ON COLUMN lagtrail.group_status.status IS 'Worst status of the group''s partitions: STOP, STALL, REWIND, WARN, OK, then NODATA (no poll for more than 3 median poll intervals).';
COMMENT ON COLUMN lagtrail.group_status.severity IS 'status as a number, worst highest: 0 NODATA, 1 OK, 2 WARN, 3 REWIND, 4 STALL, 5 STOP.';
COMMENT ON COLUMN lagtrail.group_status.last_status IS 'Worst status of the partitions at evaluated_at, never NODATA.';
COMMENT ON COLUMN lagtrail.group_status.partitions IS 'The partitions at last_status, as topic/partition separated by commas, when last_status is worse than OK; NULL otherwise.';
COMMENT ON COLUMN lagtrail.group_status.reason IS 'Why, in words: the reason of the first partition at status, or every partition OK.';
COMMENT ON COLUMN lagtrail.group_status.partition_count IS 'Partitions in the last successful poll.';
COMMENT ON COLUMN lagtrail.group_status.lag IS 'Total lag at evaluated_at: the sum over the partitions, each floored at 0.';
COMMENT ON COLUMN lagtrail.group_status.time_lag_s IS 'Largest partition time lag at evaluated_at, in seconds.';
COMMENT ON COLUMN lagtrail.group_status.time_lag_kind IS 'Kind of time_lag_s: that of the partition it comes from, or lower_bound when any partition''s is.';
COMMENT ON COLUMN lagtrail.group_status.consume_rate IS 'Messages consumed per second over the 15 minutes before evaluated_at, summed over the partitions (see partition_status.consume_rate).';
COMMENT ON COLUMN lagtrail.group_status.produce_rate IS 'Messages produced per second over the 15 minutes before evaluated_at, summed over the partitions.';
COMMENT ON COLUMN lagtrail.group_status.lag_slope IS 'Least-squares slope of the group''s total lag over the window''s polls, messages per second: the sum of the partitions'' slopes.';
COMMENT ON COLUMN lagtrail.group_status.eta_s IS 'lag / -lag_slope: seconds until the group''s lag reaches zero at that slope (lagtrail query drain''s eta_seconds); NULL when it is not draining.';

DO $$
BEGIN
    IF EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'lagtrail_reader') THEN
        GRANT SELECT ON lagtrail.partition_status, lagtrail.group_status TO lagtrail_reader;
    END IF;
END;
$$;
