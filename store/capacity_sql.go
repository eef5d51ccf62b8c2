package store

// capacityProfilesSQL profiles the groups $1 over the hours [$2, $3) of
// lagtrail.group_hourly, one row per group ($4 and $6: the Backlog rule's
// seconds and minimum rate; $5: start of the weekly-peak stretch). It reads
// the window's rows once into h and then makes three passes over them:
//
//	prof   one aggregate per group: production percentiles and mean, the
//	       highest consumption, the span, the backlogged hours (bl) and
//	       the 90th percentile of their consumption, and the peaks, each
//	       found as max(ARRAY[value, -epoch]): the largest value, the
//	       earliest hour on ties, with no sort;
//	per    the seasonal cycle (168, 24 or 0 hours) and the fit's first
//	       hour: the last whole cycles of the span;
//	cells  per group and cell, regr_sxx and regr_sxy of the rate on time
//	       in weeks, which hold each cell's own means removed; tr pools
//	       them: slope = sum(sxy) / sum(sxx), the fixed-effects fit;
//	rr     the replay's rate: capacity, else the highest consumption;
//	r1-r3  the replay, in one ordering: the running sum S of
//	       (production - rate) x 3600, the backlog b = S - min(0, running
//	       min of S), the backlog before each hour and the running max;
//	rp     the worst backlog, and among the hours the backlog ends in
//	       (b = 0) the one with the highest running max, earliest first:
//	       when that running max is the worst backlog, it is the first end
//	       after the worst; the instant is interpolated in the hour.
var capacityProfilesSQL = `
WITH k AS (
  SELECT DISTINCT unnest($1::int[]) AS g
),
h AS MATERIALIZED (
  SELECT x.group_key AS g, x.bucket, extract(epoch FROM x.bucket)::float8 AS e,
         extract(epoch FROM x.bucket - $2::timestamptz)::float8 / 604800 AS w,
         x.produce_rate::float8 AS p, x.consume_rate::float8 AS c, x.lag_max, x.time_lag_max_ms,
         (x.consume_rate IS NOT NULL AND x.produce_rate IS NOT NULL
          AND ` + backlogExpr("x.lag_min", "x.produce_rate", 4, 6) + ` AND x.lag_last < x.lag_first) AS bl
  FROM lagtrail.group_hourly x
  WHERE x.group_key = ANY($1::int[]) AND x.bucket >= $2::timestamptz AND x.bucket < $3::timestamptz
),
prof AS (
  SELECT g, count(p) AS hours, avg(p) AS p_mean,
         percentile_disc(ARRAY[0.5, 0.95, 0.99]::float8[]) WITHIN GROUP (ORDER BY p) AS pct,
         max(p) AS p_max, max(c) AS c_max,
         min(bucket) FILTER (WHERE p IS NOT NULL) AS first_h,
         max(bucket) FILTER (WHERE p IS NOT NULL) AS last_h,
         count(*) FILTER (WHERE bl) AS bl_hours,
         count(DISTINCT date_trunc('day', bucket, 'UTC')) FILTER (WHERE bl) AS bl_days,
         percentile_disc(0.9) WITHIN GROUP (ORDER BY c) FILTER (WHERE bl) AS capacity,
         max(ARRAY[p, -e]) FILTER (WHERE p IS NOT NULL AND bucket >= $5::timestamptz) AS pk,
         max(ARRAY[lag_max::float8, -e]) FILTER (WHERE lag_max IS NOT NULL) AS lp,
         max(ARRAY[time_lag_max_ms::float8, -e]) FILTER (WHERE time_lag_max_ms IS NOT NULL) AS tp
  FROM h GROUP BY g
),
per AS (
  SELECT g, season,
         CASE WHEN season = 0 THEN first_h
              ELSE last_h + interval '1 hour' - make_interval(hours => (span / season) * season) END AS fit_from
  FROM (
    SELECT g, first_h, last_h,
           (extract(epoch FROM last_h - first_h)::bigint / 3600 + 1)::int AS span,
           CASE WHEN last_h - first_h >= interval '335 hours' THEN 168
                WHEN last_h - first_h >= interval '47 hours' THEN 24
                ELSE 0 END AS season
    FROM prof WHERE hours > 0
  ) s
),
cells AS (
  SELECT h.g, count(*) AS n, sum(h.p) AS sp, sum(h.w) AS sw,
         regr_sxx(h.p, h.w) AS sxx, regr_sxy(h.p, h.w) AS sxy
  FROM h JOIN per USING (g)
  WHERE h.p IS NOT NULL AND h.bucket >= per.fit_from
  GROUP BY h.g, CASE WHEN per.season = 0 THEN 0 ELSE (h.e::bigint / 3600) % per.season END
),
tr AS (
  SELECT g, sum(n) AS fit_hours, sum(sp) / sum(n) AS fit_mean, sum(sw) / sum(n) AS fit_w,
         sum(sxy) / nullif(sum(sxx), 0) AS slope
  FROM cells GROUP BY g
),
rr AS (
  SELECT g, coalesce(capacity, c_max) AS rate
  FROM prof
  WHERE coalesce(capacity, c_max) > 0
),
r1 AS (
  SELECT h.g, h.bucket, h.e, h.p, rr.rate, sum((h.p - rr.rate) * 3600) OVER w AS s
  FROM h JOIN rr USING (g)
  WHERE h.p IS NOT NULL
  WINDOW w AS (PARTITION BY h.g ORDER BY h.bucket)
),
r2 AS (
  SELECT g, bucket, e, p, rate, s - least(0, min(s) OVER w) AS b
  FROM r1
  WINDOW w AS (PARTITION BY g ORDER BY bucket)
),
r3 AS (
  SELECT g, e, p, rate, b, lag(b, 1, 0::float8) OVER w AS prev_b, max(b) OVER w AS run_max
  FROM r2
  WINDOW w AS (PARTITION BY g ORDER BY bucket)
),
rp AS (
  SELECT g, max(ARRAY[b, -e]) AS worst,
         max(ARRAY[run_max, -(e + prev_b / (rate - p))]) FILTER (WHERE b = 0 AND run_max > 0 AND rate > p) AS drain
  FROM r3 GROUP BY g
)
SELECT n.region, n.instance_id, n.consumer_group,
       coalesce(prof.hours, 0)::int AS hours, prof.p_mean, prof.pct[1] AS p50, prof.pct[2] AS p95,
       prof.pct[3] AS p99, prof.p_max,
       coalesce(per.season, 0) AS season, per.fit_from,
       coalesce(tr.fit_hours, 0)::int AS fit_hours, tr.fit_mean,
       $2::timestamptz + make_interval(secs => tr.fit_w * 604800) AS fit_at, tr.slope,
       prof.c_max,
       coalesce(prof.bl_hours, 0)::int AS bl_hours, coalesce(prof.bl_days, 0)::int AS bl_days, prof.capacity,
       prof.pk[1] AS peak, to_timestamp(-prof.pk[2]) AS peak_at,
       rr.rate AS replay_rate, rp.worst[1] AS worst, to_timestamp(-rp.worst[2]) + interval '1 hour' AS worst_at,
       CASE WHEN rp.drain[1] = rp.worst[1] THEN to_timestamp(-rp.drain[2]) END AS drained_at,
       prof.lp[1]::bigint AS lag_peak, to_timestamp(-prof.lp[2]) AS lag_peak_at,
       prof.tp[1]::bigint AS tl_peak_ms, to_timestamp(-prof.tp[2]) AS tl_peak_at
FROM k
JOIN lagtrail.group_names n ON n.group_key = k.g
LEFT JOIN prof ON prof.g = k.g
LEFT JOIN per ON per.g = k.g
LEFT JOIN tr ON tr.g = k.g
LEFT JOIN rr ON rr.g = k.g
LEFT JOIN rp ON rp.g = k.g
ORDER BY n.consumer_group, n.region, n.instance_id`

// capacityWeekSQL averages group $1's hourly rates in [$2, $3) per UTC
// weekday (1 Monday .. 7 Sunday, returned as 0 Sunday .. 6 Saturday) and
// hour of day.
const capacityWeekSQL = `
SELECT (extract(isodow FROM bucket AT TIME ZONE 'UTC')::int % 7) AS dow,
       extract(hour FROM bucket AT TIME ZONE 'UTC')::int AS hour,
       count(*)::int AS hours,
       avg(produce_rate)::float8 AS p_mean,
       avg(consume_rate)::float8 AS c_mean
FROM lagtrail.group_hourly
WHERE group_key = $1 AND bucket >= $2::timestamptz AND bucket < $3::timestamptz AND produce_rate IS NOT NULL
GROUP BY extract(isodow FROM bucket AT TIME ZONE 'UTC'), 2
ORDER BY extract(isodow FROM bucket AT TIME ZONE 'UTC'), 2`

// capacityHoursSQL reads group $1's hourly rows in [$2, $3).
const capacityHoursSQL = `
SELECT bucket, produce_rate::float8 AS p, consume_rate::float8 AS c, lag_max
FROM lagtrail.group_hourly
WHERE group_key = $1 AND bucket >= $2::timestamptz AND bucket < $3::timestamptz
ORDER BY bucket`
