package store

import "strings"

// partitionRollupSet and groupRollupSet are the ON CONFLICT updates of the
// partition and group rollup tables, hourly and daily alike: every column
// but the key takes the recomputed value.
const (
	partitionRollupSet = `
      samples = excluded.samples, first_at = excluded.first_at, last_at = excluded.last_at,
      first_broker_offset = excluded.first_broker_offset, first_consumer_offset = excluded.first_consumer_offset,
      last_broker_offset = excluded.last_broker_offset, last_consumer_offset = excluded.last_consumer_offset,
      lag_min = excluded.lag_min, lag_max = excluded.lag_max, lag_sum = excluded.lag_sum,
      time_lag_max_ms = excluded.time_lag_max_ms, consumed = excluded.consumed, consumed_s = excluded.consumed_s,
      produced = excluded.produced, produced_s = excluded.produced_s, stalled_s = excluded.stalled_s`
	groupRollupSet = `
      polls = excluded.polls, first_at = excluded.first_at, last_at = excluded.last_at,
      lag_first = excluded.lag_first, lag_last = excluded.lag_last, lag_min = excluded.lag_min,
      lag_max = excluded.lag_max, lag_sum = excluded.lag_sum, time_lag_max_ms = excluded.time_lag_max_ms,
      consumed = excluded.consumed, consumed_s = excluded.consumed_s, consume_rate = excluded.consume_rate,
      produced = excluded.produced, produced_s = excluded.produced_s, produce_rate = excluded.produce_rate,
      stalled_s = excluded.stalled_s`
)

// rollupHourlySQL recomputes the hourly rollups of the groups $1 for the
// hours that $8's edges delimit, from the raw samples, and upserts them.
// It runs seriesCTE and spreadCTE, the SQL of Buckets, so that an hourly
// rollup holds exactly what Buckets computes for that hour:
//
//	ss  stalled seconds per partition and hour: the pairs k classifies ok
//	    (no gap, no broker decrease) whose consumer offset is unchanged
//	    while the lag at the earlier sample is above zero, each split over
//	    the hours it overlaps as spreadCTE splits counts;
//	st  sample statistics per partition and hour. The offsets at the first
//	    and last sample are the tail of the least and greatest array
//	    [microseconds since the epoch, b, c]: a partition has one sample
//	    per time, so this picks the same sample as array_agg(... ORDER BY
//	    t) did, without its sort per aggregate and group, which made st
//	    twice as slow;
//	pu, pg st, pb and ss stacked and merged per key: each has at most one
//	    row per key, so max() picks its value. (The union and left joins
//	    this replaces were planned from the samples' estimate, 1,250 times
//	    too many: a hash join of 2,048 batches for 1,600 rows, 30% of the
//	    statement.)
//	ph  partition_hourly rows from pg (stalled_s is 0, not NULL, where no
//	    pair stalled);
//	ls  the group's lag at each poll; gl its statistics per hour;
//	gr  the group's counts and rates per hour (sums over pb, as rb sums);
//	gs  the group's largest partition stalled seconds per hour;
//	gh  group_hourly rows (stalled_s 0 where no partition stalled).
var rollupHourlySQL = seriesCTE + `,
` + spreadCTE + `
ss AS (
  SELECT k.g, k.tp, k.p, o.bucket, sum(o.ov) AS stalled
  FROM k CROSS JOIN e
  CROSS JOIN LATERAL (
    SELECT i AS bucket, extract(epoch FROM least(k.t, e.edges[i + 1]) - greatest(k.t0, e.edges[i])) AS ov
    FROM generate_series(greatest(width_bucket(k.t0, e.edges), 1), least(width_bucket(k.t, e.edges), e.n)) AS i
    OFFSET 0
  ) o
  WHERE k.cls = 'ok' AND k.c = k.c0 AND k.b0 > k.c0 AND k.t > e.edges[1] AND o.ov > 0
  GROUP BY 1, 2, 3, 4
),
st AS (
  SELECT s.g, s.tp, s.p, width_bucket(s.t, e.edges) AS bucket,
         count(*) AS samples, min(s.t) AS first_at, max(s.t) AS last_at,
         (min(ARRAY[(extract(epoch FROM s.t) * 1000000)::bigint, s.b, s.c]))[2:3] AS first_bc,
         (max(ARRAY[(extract(epoch FROM s.t) * 1000000)::bigint, s.b, s.c]))[2:3] AS last_bc,
         min(greatest(s.b - s.c, 0)) AS lag_min, max(greatest(s.b - s.c, 0)) AS lag_max,
         sum(greatest(s.b - s.c, 0)) AS lag_sum,
         max(CASE WHEN s.b <= s.c THEN 0
                  WHEN s.lt > 0 THEN greatest(floor(extract(epoch FROM s.t) * 1000)::bigint - s.lt, 0) END) AS tl_max
  FROM s CROSS JOIN e
  WHERE s.t >= e.edges[1] AND s.t < e.edges[e.n + 1]
  GROUP BY 1, 2, 3, 4
),
pu AS (
  SELECT st.g, st.tp, st.p, st.bucket, st.samples, st.first_at, st.last_at,
         st.first_bc[1] AS first_b, st.first_bc[2] AS first_c, st.last_bc[1] AS last_b, st.last_bc[2] AS last_c,
         st.lag_min, st.lag_max, st.lag_sum, st.tl_max,
         NULL::numeric AS consumed, NULL::numeric AS c_cov, NULL::numeric AS produced, NULL::numeric AS p_cov, NULL::numeric AS stalled
  FROM st
  UNION ALL
  SELECT pb.g, pb.tp, pb.p, pb.bucket, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL,
         pb.consumed, pb.c_cov, pb.produced, pb.p_cov, NULL
  FROM pb
  UNION ALL
  SELECT ss.g, ss.tp, ss.p, ss.bucket, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL,
         NULL, NULL, NULL, NULL, ss.stalled
  FROM ss
),
pg AS (
  SELECT pu.g, pu.tp, pu.p, pu.bucket, max(pu.samples) AS samples, max(pu.first_at) AS first_at, max(pu.last_at) AS last_at,
         max(pu.first_b) AS first_b, max(pu.first_c) AS first_c, max(pu.last_b) AS last_b, max(pu.last_c) AS last_c,
         max(pu.lag_min) AS lag_min, max(pu.lag_max) AS lag_max, max(pu.lag_sum) AS lag_sum, max(pu.tl_max) AS tl_max,
         max(pu.consumed) AS consumed, max(pu.c_cov) AS c_cov, max(pu.produced) AS produced, max(pu.p_cov) AS p_cov,
         max(pu.stalled) AS stalled
  FROM pu GROUP BY pu.g, pu.bucket, pu.tp, pu.p
),
ph AS (
  INSERT INTO lagtrail.partition_hourly AS x (
      bucket, group_key, topic_key, partition, samples, first_at, last_at,
      first_broker_offset, first_consumer_offset, last_broker_offset, last_consumer_offset,
      lag_min, lag_max, lag_sum, time_lag_max_ms, consumed, consumed_s, produced, produced_s, stalled_s)
  SELECT e.edges[pg.bucket], pg.g, pg.tp, pg.p, coalesce(pg.samples, 0), pg.first_at, pg.last_at,
         pg.first_b, pg.first_c, pg.last_b, pg.last_c,
         pg.lag_min, pg.lag_max, pg.lag_sum, pg.tl_max, pg.consumed, pg.c_cov, pg.produced, pg.p_cov,
         coalesce(pg.stalled, 0)
  FROM pg CROSS JOIN e
  ORDER BY pg.g, pg.bucket, pg.tp, pg.p
  ON CONFLICT (group_key, bucket, topic_key, partition) DO UPDATE SET
` + partitionRollupSet + `
  RETURNING 1
),
ls AS (
  SELECT s.g, s.t, width_bucket(s.t, e.edges) AS bucket, sum(greatest(s.b - s.c, 0))::bigint AS lag
  FROM s CROSS JOIN e
  WHERE s.t >= e.edges[1] AND s.t < e.edges[e.n + 1]
  GROUP BY 1, 2, 3
),
gl AS (
  SELECT ls.g, ls.bucket, count(*) AS polls, min(ls.t) AS first_at, max(ls.t) AS last_at,
         (array_agg(ls.lag ORDER BY ls.t))[1] AS lag_first, (array_agg(ls.lag ORDER BY ls.t DESC))[1] AS lag_last,
         min(ls.lag) AS lag_min, max(ls.lag) AS lag_max, sum(ls.lag) AS lag_sum
  FROM ls GROUP BY 1, 2
),
gt AS (
  SELECT st.g, st.bucket, max(st.tl_max) AS tl_max FROM st GROUP BY 1, 2
),
gr AS (
  SELECT pb.g, pb.bucket,
         sum(pb.consumed) AS consumed, max(pb.c_cov) AS c_cov, sum(pb.consumed / nullif(pb.c_cov, 0)) AS c_rate,
         sum(pb.produced) AS produced, max(pb.p_cov) AS p_cov, sum(pb.produced / nullif(pb.p_cov, 0)) AS p_rate
  FROM pb GROUP BY 1, 2
),
gs AS (
  SELECT ss.g, ss.bucket, max(ss.stalled) AS stalled FROM ss GROUP BY 1, 2
),
gkeys AS (
  SELECT g, bucket FROM gl UNION SELECT g, bucket FROM gr
),
gh AS (
  INSERT INTO lagtrail.group_hourly AS x (
      bucket, group_key, polls, first_at, last_at, lag_first, lag_last, lag_min, lag_max, lag_sum,
      time_lag_max_ms, consumed, consumed_s, consume_rate, produced, produced_s, produce_rate, stalled_s)
  SELECT e.edges[gk.bucket], gk.g, coalesce(gl.polls, 0), gl.first_at, gl.last_at, gl.lag_first, gl.lag_last,
         gl.lag_min, gl.lag_max, gl.lag_sum, gt.tl_max,
         gr.consumed, gr.c_cov, gr.c_rate, gr.produced, gr.p_cov, gr.p_rate, coalesce(gs.stalled, 0)
  FROM gkeys gk CROSS JOIN e
  LEFT JOIN gl ON (gl.g, gl.bucket) = (gk.g, gk.bucket)
  LEFT JOIN gt ON (gt.g, gt.bucket) = (gk.g, gk.bucket)
  LEFT JOIN gr ON (gr.g, gr.bucket) = (gk.g, gk.bucket)
  LEFT JOIN gs ON (gs.g, gs.bucket) = (gk.g, gk.bucket)
  ORDER BY gk.g, gk.bucket
  ON CONFLICT (group_key, bucket) DO UPDATE SET
` + groupRollupSet + `
  RETURNING 1
)
SELECT (SELECT count(*) FROM ph) AS partition_rows, (SELECT count(*) FROM gh) AS group_rows`

// rollupDailySQL recomputes the daily rollups of the groups $1 for the UTC
// days in [$2, $3) by adding up their hourly rollups: counts, sums and
// stalled seconds exactly, first values from the first hour with samples,
// last values from the last. A group's stalled_s is its largest
// partition's of the day. Group rates are summed over the partitions' daily rates, as
// Buckets sums them over a day bucket.
var rollupDailySQL = `
WITH pd AS (
  INSERT INTO lagtrail.partition_daily AS x (
      bucket, group_key, topic_key, partition, samples, first_at, last_at,
      first_broker_offset, first_consumer_offset, last_broker_offset, last_consumer_offset,
      lag_min, lag_max, lag_sum, time_lag_max_ms, consumed, consumed_s, produced, produced_s, stalled_s)
  SELECT date_trunc('day', h.bucket, 'UTC'), h.group_key, h.topic_key, h.partition, sum(h.samples),
         min(h.first_at), max(h.last_at),
         (array_agg(h.first_broker_offset ORDER BY h.bucket) FILTER (WHERE h.samples > 0))[1],
         (array_agg(h.first_consumer_offset ORDER BY h.bucket) FILTER (WHERE h.samples > 0))[1],
         (array_agg(h.last_broker_offset ORDER BY h.bucket DESC) FILTER (WHERE h.samples > 0))[1],
         (array_agg(h.last_consumer_offset ORDER BY h.bucket DESC) FILTER (WHERE h.samples > 0))[1],
         min(h.lag_min), max(h.lag_max), sum(h.lag_sum), max(h.time_lag_max_ms),
         sum(h.consumed), sum(h.consumed_s), sum(h.produced), sum(h.produced_s), sum(h.stalled_s)
  FROM lagtrail.partition_hourly h
  WHERE h.group_key = ANY($1::int[]) AND h.bucket >= $2::timestamptz AND h.bucket < $3::timestamptz
  GROUP BY 1, 2, 3, 4
  ORDER BY 2, 1, 3, 4
  ON CONFLICT (group_key, bucket, topic_key, partition) DO UPDATE SET
` + partitionRollupSet + `
  RETURNING x.bucket, x.group_key, x.consumed, x.consumed_s, x.produced, x.produced_s, x.stalled_s
),
gr AS (
  SELECT pd.bucket, pd.group_key,
         sum(pd.consumed) AS consumed, max(pd.consumed_s) AS c_cov, sum(pd.consumed / nullif(pd.consumed_s, 0)) AS c_rate,
         sum(pd.produced) AS produced, max(pd.produced_s) AS p_cov, sum(pd.produced / nullif(pd.produced_s, 0)) AS p_rate,
         max(pd.stalled_s) AS stalled
  FROM pd GROUP BY 1, 2
),
gl AS (
  SELECT date_trunc('day', h.bucket, 'UTC') AS bucket, h.group_key, sum(h.polls) AS polls,
         min(h.first_at) AS first_at, max(h.last_at) AS last_at,
         (array_agg(h.lag_first ORDER BY h.bucket) FILTER (WHERE h.polls > 0))[1] AS lag_first,
         (array_agg(h.lag_last ORDER BY h.bucket DESC) FILTER (WHERE h.polls > 0))[1] AS lag_last,
         min(h.lag_min) AS lag_min, max(h.lag_max) AS lag_max, sum(h.lag_sum) AS lag_sum,
         max(h.time_lag_max_ms) AS tl_max
  FROM lagtrail.group_hourly h
  WHERE h.group_key = ANY($1::int[]) AND h.bucket >= $2::timestamptz AND h.bucket < $3::timestamptz
  GROUP BY 1, 2
),
gd AS (
  INSERT INTO lagtrail.group_daily AS x (
      bucket, group_key, polls, first_at, last_at, lag_first, lag_last, lag_min, lag_max, lag_sum,
      time_lag_max_ms, consumed, consumed_s, consume_rate, produced, produced_s, produce_rate, stalled_s)
  SELECT coalesce(gl.bucket, gr.bucket), coalesce(gl.group_key, gr.group_key), coalesce(gl.polls, 0),
         gl.first_at, gl.last_at, gl.lag_first, gl.lag_last, gl.lag_min, gl.lag_max, gl.lag_sum, gl.tl_max,
         gr.consumed, gr.c_cov, gr.c_rate, gr.produced, gr.p_cov, gr.p_rate, gr.stalled
  FROM gl FULL JOIN gr ON (gr.bucket, gr.group_key) = (gl.bucket, gl.group_key)
  ORDER BY 2, 1
  ON CONFLICT (group_key, bucket) DO UPDATE SET
` + groupRollupSet + `
  RETURNING 1
)
SELECT (SELECT count(*) FROM pd) AS partition_rows, (SELECT count(*) FROM gd) AS group_rows`

// rollupBucketsSQL answers Buckets from a rollup tier: {{part}} and
// {{group}} are the partition and group tables of the tier, $1 the group
// keys, $2 the edges (aligned to the tier's buckets), $3 a topic name or
// NULL, $4 a partition or NULL. It returns the columns of bucketsSQL; the
// slope, the time lag and the events, which the rollups do not keep, are
// NULL or empty. At LevelGroup the lag comes from the group table, at
// LevelPartition from the partition table.
func rollupBucketsSQL(l Level, part, group string) string {
	q := `
WITH e AS (
  SELECT $2::timestamptz[] AS edges, cardinality($2::timestamptz[]) - 1 AS n
),
ph AS (
  SELECT h.*, width_bucket(h.bucket, e.edges) AS b
  FROM {{part}} h CROSS JOIN e
  WHERE h.group_key = ANY($1::int[]) AND h.bucket >= e.edges[1] AND h.bucket < e.edges[e.n + 1]
    AND ($3::text IS NULL OR h.topic_key = (SELECT tk.topic_key FROM lagtrail.topics tk WHERE tk.name = $3::text))
    AND ($4::int IS NULL OR h.partition = $4::int)
),
pb AS (
  SELECT ph.group_key AS g, ph.topic_key AS tp, ph.partition AS p, ph.b AS bucket,
         sum(ph.consumed) AS consumed, sum(ph.consumed_s) AS c_cov,
         sum(ph.produced) AS produced, sum(ph.produced_s) AS p_cov,
         sum(ph.samples) AS samples,
         (array_agg(greatest(ph.last_broker_offset - ph.last_consumer_offset, 0) ORDER BY ph.bucket DESC) FILTER (WHERE ph.samples > 0))[1] AS lag,
         max(ph.lag_max) AS lag_max, max(ph.last_at) AS lag_at,
         sum(ph.lag_sum) AS lag_sum
  FROM ph GROUP BY 1, 2, 3, 4
),
rb AS (
  SELECT {{keys pb}}, pb.bucket,
         sum(pb.consumed)::float8 AS consumed, sum(pb.consumed / nullif(pb.c_cov, 0))::float8 AS c_rate, coalesce(max(pb.c_cov), 0)::float8 AS c_cov,
         sum(pb.produced)::float8 AS produced, sum(pb.produced / nullif(pb.p_cov, 0))::float8 AS p_rate, coalesce(max(pb.p_cov), 0)::float8 AS p_cov,
         sum(pb.samples)::int AS polls, sum(pb.lag)::bigint AS lag, max(pb.lag_max)::bigint AS lag_max, max(pb.lag_at) AS lag_at
  FROM pb GROUP BY 1, 2, 3, 4
),
gb AS (
  SELECT h.group_key AS g, width_bucket(h.bucket, e.edges) AS bucket, sum(h.polls)::int AS polls,
         (array_agg(h.lag_last ORDER BY h.bucket DESC) FILTER (WHERE h.polls > 0))[1] AS lag,
         max(h.lag_max) AS lag_max, max(h.last_at) AS lag_at
  FROM {{group}} h CROSS JOIN e
  WHERE h.group_key = ANY($1::int[]) AND h.bucket >= e.edges[1] AND h.bucket < e.edges[e.n + 1]
  GROUP BY 1, 2
),
kb AS (
  SELECT rb.g, rb.tp, rb.pk, rb.bucket FROM rb
  UNION SELECT gb.g, -1, -1, gb.bucket FROM gb
)
SELECT r.name AS region, i.instance_id, cg.name AS consumer_group,
       coalesce(tn.name, '') AS topic, kb.pk AS partition, kb.bucket - 1 AS bucket,
       {{lag}},
       0::bigint AS clamped, NULL::float8 AS slope, NULL::float8 AS intercept,
       rb.consumed, rb.c_rate, coalesce(rb.c_cov, 0) AS c_cov,
       rb.produced, rb.p_rate, coalesce(rb.p_cov, 0) AS p_cov,
       NULL::float8 AS tl, 0 AS tl_kind, '{}'::text[] AS events
FROM {{from}}
JOIN lagtrail.consumer_groups cg ON cg.group_key = kb.g
JOIN lagtrail.instances i ON i.instance_key = cg.instance_key
JOIN lagtrail.regions r ON r.region_key = i.region_key
LEFT JOIN lagtrail.topics tn ON tn.topic_key = kb.tp
{{rbjoin}}
ORDER BY r.name, i.instance_id, cg.name, topic, kb.pk, kb.bucket`
	var r *strings.Replacer
	if l == LevelGroup {
		// Every bucket with either rollup, each joined by its key.
		r = strings.NewReplacer("{{part}}", part, "{{group}}", group,
			"{{from}}", "kb",
			"{{rbjoin}}", "LEFT JOIN rb ON (rb.g, rb.tp, rb.pk, rb.bucket) = (kb.g, kb.tp, kb.pk, kb.bucket)\n"+
				"LEFT JOIN gb ON (gb.g, gb.bucket) = (kb.g, kb.bucket)",
			"{{lag}}", "coalesce(gb.polls, 0) AS polls, gb.lag, gb.lag_max, gb.lag_at")
	} else {
		// The keys are rb's own: read rb once, with no self-join. (A
		// join of the CTE with itself is planned from a guess of a few
		// rows as a nested loop, quadratic in the partitions x buckets.)
		r = strings.NewReplacer("{{part}}", part, "{{group}}", group,
			"{{from}}", "rb CROSS JOIN LATERAL (SELECT rb.g, rb.tp, rb.pk, rb.bucket) kb",
			"{{rbjoin}}", "",
			"{{lag}}", "coalesce(rb.polls, 0) AS polls, rb.lag, rb.lag_max, rb.lag_at")
	}
	return expandKeys(r.Replace(q), l)
}
