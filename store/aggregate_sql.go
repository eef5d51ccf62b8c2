package store

import (
	"strings"
	"time"
)

// The aggregate queries share one pipeline of CTEs over the partition
// series of the selected groups:
//
//	s   the partition samples read: [$2, $3), selected groups, topic and
//	    partition; $2 is the first edge minus the lookback (at least
//	    EdgeSlack), $3 the last edge plus EdgeSlack.
//	pr  each sample with the previous one of its partition (t0, b0, c0).
//	gm  the gap limit per group: GapFactor ($6) times the median interval.
//	k0  each pair classified: first, broker_decrease, rewind, gap or ok.
//	k   ok pairs that are implausibly fast jumps to the broker offset become
//	    reset_to_latest ($7 times the partition's fastest earlier ok pair);
//	    seg numbers the stretches between broker decreases.
//
// Parameters: $1 group keys, $2 read start, $3 read end, $4 topic
// name or NULL, $5 partition or NULL, $6 gap factor, $7 reset factor, $8
// bucket edges.
const seriesCTE = `
WITH e AS (
  SELECT $8::timestamptz[] AS edges, cardinality($8::timestamptz[]) - 1 AS n
),
` + samplesCTE + `,
pr AS (
  SELECT s.*,
         lag(s.t) OVER w AS t0, lag(s.b) OVER w AS b0, lag(s.c) OVER w AS c0,
         row_number() OVER w AS rn
  FROM s
  WINDOW w AS (PARTITION BY s.g, s.tp, s.p ORDER BY s.t)
),
gm AS (
  SELECT pr.g,
         percentile_cont(0.5) WITHIN GROUP (ORDER BY extract(epoch FROM pr.t - pr.t0)::float8) * $6::float8 AS max_gap
  FROM pr WHERE pr.t0 IS NOT NULL
  GROUP BY pr.g
),
k0 AS (
  SELECT pr.*, extract(epoch FROM pr.t - pr.t0)::float8 AS dt,
         CASE WHEN pr.t0 IS NULL THEN 'first'
              WHEN pr.b < pr.b0 THEN 'broker_decrease'
              WHEN pr.c < pr.c0 THEN 'rewind'
              WHEN extract(epoch FROM pr.t - pr.t0)::float8 > gm.max_gap THEN 'gap'
              ELSE 'ok' END AS cls0
  FROM pr LEFT JOIN gm ON gm.g = pr.g
),
k AS (
  SELECT k0.*,
         CASE WHEN k0.cls0 = 'ok' AND k0.b0 > k0.c0 AND k0.c >= k0.b0 AND k0.c > k0.c0
                   AND (k0.c - k0.c0)::float8 / k0.dt > $7::float8 * max(CASE WHEN k0.cls0 = 'ok' THEN (k0.c - k0.c0)::float8 / k0.dt END) OVER wp
              THEN 'reset_to_latest' ELSE k0.cls0 END AS cls,
         sum(CASE WHEN k0.cls0 = 'broker_decrease' THEN 1 ELSE 0 END) OVER wa AS seg
  FROM k0
  WINDOW wp AS (PARTITION BY k0.g, k0.tp, k0.p ORDER BY k0.t ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING),
         wa AS (PARTITION BY k0.g, k0.tp, k0.p ORDER BY k0.t ROWS UNBOUNDED PRECEDING)
)`

// samplesCTE is the CTE s of seriesCTE and statesSQL: the partition samples
// read, of the groups $1 in [$2, $3), of topic $4 and partition $5 when not
// NULL.
const samplesCTE = `s AS (
  SELECT ps.group_key AS g, ps.topic_key AS tp, ps.partition AS p, ps.sampled_at AS t,
         ps.broker_offset AS b, ps.consumer_offset AS c, ps.last_timestamp_ms AS lt
  FROM lagtrail.partition_samples ps
  WHERE ps.group_key = ANY($1::int[])
    AND ps.sampled_at >= $2::timestamptz AND ps.sampled_at < $3::timestamptz
    AND ($4::text IS NULL OR ps.topic_key = (SELECT tk.topic_key FROM lagtrail.topics tk WHERE tk.name = $4::text))
    AND ($5::int IS NULL OR ps.partition = $5::int)
)`

// endtCTE is the CTE endt of statesSQL: the last poll of each group in each
// bucket, from the samples s and the edges e; bucket 0 is before the first
// edge.
const endtCTE = `endt AS (
  SELECT s.g, width_bucket(s.t, e.edges) AS bucket, max(s.t) AS t
  FROM s CROSS JOIN e WHERE s.t < e.edges[e.n + 1]
  GROUP BY 1, 2
)`

// statesSelect ends statesSQL: it returns the features of the CTE fe, the
// window features of each partition at the last poll of its group in each
// bucket, named as stateRow's fields.
const statesSelect = `
SELECT r.name AS region, i.instance_id, cg.name AS consumer_group, tn.name AS topic,
       fe.p AS partition, fe.bucket - 1 AS bucket, fe.t AS at,
       fe.b AS broker_offset, fe.c AS consumer_offset, fe.lag,
       fe.samples_w AS samples, fe.lag_min_w AS lag_min, fe.lag_first_w AS lag_first,
       fe.lag_decreases_w AS lag_decreases, fe.rewound_w AS rewound,
       coalesce(fe.changed_at, fe.first_t) AS unchanged_since,
       fe.rn - coalesce(fe.changed_rn, 1) + 1 AS unchanged_samples,
       fe.changed_at IS NULL AS since_is_lower_bound,
       fe.caught_up_at, coalesce(fe.rn - fe.caught_up_rn, 0) AS since_caught_up,
       fe.window_start_w AS window_start, fe.rewind_from_w AS rewind_from,
       gr.allowed_lag
FROM fe
JOIN lagtrail.consumer_groups cg ON cg.group_key = fe.g
JOIN lagtrail.group_rules gr ON gr.group_key = fe.g
JOIN lagtrail.instances i ON i.instance_key = cg.instance_key
JOIN lagtrail.regions r ON r.region_key = i.region_key
JOIN lagtrail.topics tn ON tn.topic_key = fe.tp
ORDER BY r.name, i.instance_id, cg.name, tn.name, fe.p, fe.bucket`

// keyCols returns the select-list key columns g, tp, pk of table alias a at
// level l: coarser levels use -1 for what they do not keep apart.
func keyCols(a string, l Level) string {
	switch l {
	case LevelTopic:
		return a + ".g AS g, " + a + ".tp AS tp, -1 AS pk"
	case LevelPartition:
		return a + ".g AS g, " + a + ".tp AS tp, " + a + ".p AS pk"
	}
	return a + ".g AS g, -1 AS tp, -1 AS pk"
}

// bucketsSQL returns the query of Buckets at level l.
//
//	sp, pb  spreadCTE: counted pairs spread over the buckets, summed per
//	     partition and bucket;
//	rb   per key and bucket, with the sum of the
//	     partitions' rates.
//	ls   the key's lag per poll; lb per bucket: last, peak, clamped count and
//	     the least-squares fit over the polls.
//	endt the last poll of each group in each bucket; q the partition samples
//	     of those polls.
//	qe   the samples whose time lag must be estimated (lag > 0, timestamp
//	     hidden). m merges them, keyed by consumer offset, with the broker
//	     samples of their partitions keyed by broker offset; est finds, in
//	     one sort each way, the last broker sample below each consumer
//	     offset and the first at or above it, within the segment. The
//	     broker offset does not decrease within a segment, so the largest
//	     time below is the latest sample below and the smallest time above
//	     the earliest sample above: running max and min, no self-join.
//	tlp  each partition's time lag and kind; tlb the key's largest, with
//	     the kind of the partition it comes from, or lower_bound when any
//	     partition's is (the true largest may then be larger). tlb is
//	     MATERIALIZED: inlined at the group level, its constant keys left
//	     the planner only g to merge on, and a 4.5-day incident report
//	     compared 21 M pairs of rows to join 6,540 (3.8 s, now 2.5 s).
//	evb  the kinds of breaks per key and bucket.
func bucketsSQL(l Level) string {
	q := seriesCTE + `,
{{spread}}
rb AS (
  SELECT {{keys pb}}, pb.bucket,
         sum(pb.consumed)::float8 AS consumed, sum(pb.consumed / nullif(pb.c_cov, 0))::float8 AS c_rate, coalesce(max(pb.c_cov), 0)::float8 AS c_cov,
         sum(pb.produced)::float8 AS produced, sum(pb.produced / nullif(pb.p_cov, 0))::float8 AS p_rate, coalesce(max(pb.p_cov), 0)::float8 AS p_cov
  FROM pb GROUP BY 1, 2, 3, 4
),
ls AS (
  SELECT {{keys s}}, s.t, width_bucket(s.t, e.edges) AS bucket,
         extract(epoch FROM s.t - e.edges[width_bucket(s.t, e.edges)])::float8 AS x,
         sum(greatest(s.b - s.c, 0))::bigint AS lag,
         count(*) FILTER (WHERE s.b < s.c) AS clamped
  FROM s CROSS JOIN e
  WHERE s.t >= e.edges[1] AND s.t < e.edges[e.n + 1]
  GROUP BY 1, 2, 3, 4, 5, 6
),
lb AS (
  SELECT ls.g, ls.tp, ls.pk, ls.bucket, count(*) AS polls,
         (array_agg(ls.lag ORDER BY ls.t DESC))[1] AS lag, max(ls.lag) AS lag_max, max(ls.t) AS lag_at,
         sum(ls.clamped)::bigint AS clamped,
         regr_slope(ls.lag::float8, ls.x) AS slope, regr_intercept(ls.lag::float8, ls.x) AS intercept
  FROM ls GROUP BY 1, 2, 3, 4
),
endt AS (
  SELECT s.g, width_bucket(s.t, e.edges) AS bucket, max(s.t) AS t
  FROM s CROSS JOIN e WHERE s.t >= e.edges[1] AND s.t < e.edges[e.n + 1]
  GROUP BY 1, 2
),
q AS (
  SELECT k.g, k.tp, k.p, k.seg, k.t, k.b, k.c, k.lt, endt.bucket
  FROM k JOIN endt ON endt.g = k.g AND endt.t = k.t
),
qe AS (
  SELECT q.* FROM q WHERE q.b > q.c AND q.lt <= 0
),
m AS (
  SELECT qe.g, qe.tp, qe.p, qe.seg, qe.c AS off, 0 AS o, qe.t FROM qe
  UNION ALL
  SELECT k.g, k.tp, k.p, k.seg, k.b, 1, k.t FROM k
  WHERE (k.g, k.tp, k.p) IN (SELECT qe.g, qe.tp, qe.p FROM qe)
),
est AS (
  SELECT m.g, m.tp, m.p, m.t, m.o,
         max(m.off) FILTER (WHERE m.o = 1) OVER below AS b_lo,
         max(m.t) FILTER (WHERE m.o = 1) OVER below AS t_lo,
         min(m.off) FILTER (WHERE m.o = 1) OVER above AS b_hi,
         min(m.t) FILTER (WHERE m.o = 1) OVER above AS t_hi
  FROM m
  WINDOW below AS (PARTITION BY m.g, m.tp, m.p, m.seg ORDER BY m.off, m.o, m.t ROWS UNBOUNDED PRECEDING),
         above AS (PARTITION BY m.g, m.tp, m.p, m.seg ORDER BY m.off DESC, m.o DESC, m.t DESC ROWS UNBOUNDED PRECEDING)
),
tlp AS (
  SELECT q.g, q.tp, q.p, q.bucket,
         CASE WHEN q.b <= q.c THEN 0::float8
              WHEN q.lt > 0 THEN greatest(extract(epoch FROM q.t)::float8 - q.lt / 1000.0::float8, 0)
              WHEN x.t_lo IS NOT NULL THEN greatest(extract(epoch FROM q.t - x.t_lo)::float8
                   - (q.c - x.b_lo)::float8 / (x.b_hi - x.b_lo)::float8 * extract(epoch FROM x.t_hi - x.t_lo)::float8, 0)
              ELSE extract(epoch FROM q.t - x.t_hi)::float8 END AS tl,
         CASE WHEN q.b <= q.c OR q.lt > 0 THEN 0 WHEN x.t_lo IS NOT NULL THEN 1 ELSE 2 END AS tl_kind
  FROM q LEFT JOIN est x ON x.g = q.g AND x.tp = q.tp AND x.p = q.p AND x.t = q.t AND x.o = 0
),
tlb AS MATERIALIZED (
  SELECT {{keys tlp}}, tlp.bucket, max(tlp.tl) AS tl,
         CASE WHEN max(tlp.tl_kind) = 2 THEN 2 ELSE (array_agg(tlp.tl_kind ORDER BY tlp.tl DESC))[1] END AS tl_kind
  FROM tlp GROUP BY 1, 2, 3, 4
),
evb AS (
  SELECT {{keys k}}, width_bucket(k.t, e.edges) AS bucket,
         array_agg(DISTINCT k.cls ORDER BY k.cls) AS events
  FROM k CROSS JOIN e
  WHERE k.cls NOT IN ('ok', 'first') AND k.t >= e.edges[1] AND k.t < e.edges[e.n + 1]
  GROUP BY 1, 2, 3, 4
),
kb AS (
  SELECT g, tp, pk, bucket FROM lb
  UNION SELECT g, tp, pk, bucket FROM rb
  UNION SELECT g, tp, pk, bucket FROM evb
)
SELECT r.name AS region, i.instance_id, cg.name AS consumer_group,
       coalesce(tn.name, '') AS topic, kb.pk AS partition, kb.bucket - 1 AS bucket,
       coalesce(lb.polls, 0) AS polls, lb.lag, lb.lag_max, lb.lag_at, coalesce(lb.clamped, 0) AS clamped,
       lb.slope, lb.intercept,
       rb.consumed, rb.c_rate, coalesce(rb.c_cov, 0) AS c_cov,
       rb.produced, rb.p_rate, coalesce(rb.p_cov, 0) AS p_cov,
       tlb.tl, coalesce(tlb.tl_kind, 0) AS tl_kind,
       coalesce(evb.events, '{}') AS events
FROM kb
JOIN lagtrail.consumer_groups cg ON cg.group_key = kb.g
JOIN lagtrail.instances i ON i.instance_key = cg.instance_key
JOIN lagtrail.regions r ON r.region_key = i.region_key
LEFT JOIN lagtrail.topics tn ON tn.topic_key = kb.tp
LEFT JOIN lb ON (lb.g, lb.tp, lb.pk, lb.bucket) = (kb.g, kb.tp, kb.pk, kb.bucket)
LEFT JOIN rb ON (rb.g, rb.tp, rb.pk, rb.bucket) = (kb.g, kb.tp, kb.pk, kb.bucket)
LEFT JOIN tlb ON (tlb.g, tlb.tp, tlb.pk, tlb.bucket) = (kb.g, kb.tp, kb.pk, kb.bucket)
LEFT JOIN evb ON (evb.g, evb.tp, evb.pk, evb.bucket) = (kb.g, kb.tp, kb.pk, kb.bucket)
ORDER BY r.name, i.instance_id, cg.name, topic, kb.pk, kb.bucket`
	return expandKeys(strings.Replace(q, "{{spread}}", spreadCTE, 1), l)
}

// spreadCTE spreads every counted pair of samples over the buckets it
// overlaps (sp) and sums per partition and bucket (pb), in numeric so that
// sums are exact whatever their order:
//
//	share(x, e)  the part of an offset advance x over the pair (t0, t]
//	             that lies before e: 0 for e <= t0, x for e >= t, and
//	             otherwise x (e - t0) / (t - t0) rounded to 6 decimals;
//	consumed     in bucket [e0, e1): share(c - c0, e1) - share(c - c0, e0),
//	             for pairs classified ok;
//	produced     the same for b - b0, for every pair but gaps and broker
//	             decreases;
//	c_cov, p_cov the seconds of the bucket the counted pairs cover.
//
// The lateral o keeps OFFSET 0: pulled up, its edge lookups would make the
// sort under pb carry the whole edges array in every row (2.3 GB of temp
// files for a week at 5-minute steps, where it now sorts 145k small rows).
//
// A share depends only on the pair and the edge, so a pair's parts in
// adjacent buckets add up to its whole advance exactly, and the count of a
// bucket equals the sum of the counts of any finer buckets that tile it:
// a day's consumption is exactly the sum of its hours'. The rollups rely on
// it.
const spreadCTE = `sp AS (
  SELECT k.g, k.tp, k.p, o.bucket,
         CASE WHEN k.cls = 'ok' THEN
           CASE WHEN o.e1 >= k.t THEN (k.c - k.c0)::numeric
                ELSE round((k.c - k.c0)::numeric * extract(epoch FROM o.e1 - k.t0) / extract(epoch FROM k.t - k.t0), 6) END
         - CASE WHEN o.e0 <= k.t0 THEN 0::numeric
                ELSE round((k.c - k.c0)::numeric * extract(epoch FROM o.e0 - k.t0) / extract(epoch FROM k.t - k.t0), 6) END
         END AS consumed,
         CASE WHEN k.cls = 'ok' THEN o.ov END AS c_cov,
         CASE WHEN o.e1 >= k.t THEN (k.b - k.b0)::numeric
              ELSE round((k.b - k.b0)::numeric * extract(epoch FROM o.e1 - k.t0) / extract(epoch FROM k.t - k.t0), 6) END
       - CASE WHEN o.e0 <= k.t0 THEN 0::numeric
              ELSE round((k.b - k.b0)::numeric * extract(epoch FROM o.e0 - k.t0) / extract(epoch FROM k.t - k.t0), 6) END AS produced,
         o.ov AS p_cov
  FROM k CROSS JOIN e
  CROSS JOIN LATERAL (
    SELECT i AS bucket, e.edges[i] AS e0, e.edges[i + 1] AS e1,
           extract(epoch FROM least(k.t, e.edges[i + 1]) - greatest(k.t0, e.edges[i])) AS ov
    FROM generate_series(greatest(width_bucket(k.t0, e.edges), 1), least(width_bucket(k.t, e.edges), e.n)) AS i
    OFFSET 0
  ) o
  WHERE k.cls IN ('ok', 'rewind', 'reset_to_latest') AND k.t > e.edges[1] AND o.ov > 0
),
pb AS (
  SELECT sp.g, sp.tp, sp.p, sp.bucket,
         sum(sp.consumed) AS consumed, sum(sp.c_cov) AS c_cov,
         sum(sp.produced) AS produced, sum(sp.p_cov) AS p_cov
  FROM sp GROUP BY 1, 2, 3, 4
),`

// eventsSQL is the query of Events: the breaks whose later sample lies in
// [first edge, last edge), one row per topic and pair of polls.
const eventsSQL = seriesCTE + `
SELECT r.name AS region, i.instance_id, cg.name AS consumer_group, tn.name AS topic,
       k.cls AS kind, k.t0 AS from_time, k.t AS to_time,
       array_agg(k.p ORDER BY k.p) AS partitions,
       sum(k.c0)::bigint AS consumer_from, sum(k.c)::bigint AS consumer_to,
       sum(k.b0)::bigint AS broker_from, sum(k.b)::bigint AS broker_to
FROM k CROSS JOIN e
JOIN lagtrail.consumer_groups cg ON cg.group_key = k.g
JOIN lagtrail.instances i ON i.instance_key = cg.instance_key
JOIN lagtrail.regions r ON r.region_key = i.region_key
JOIN lagtrail.topics tn ON tn.topic_key = k.tp
WHERE k.cls NOT IN ('ok', 'first') AND k.t >= e.edges[1] AND k.t < e.edges[e.n + 1]
GROUP BY r.name, i.instance_id, cg.name, tn.name, k.cls, k.t0, k.t
ORDER BY k.t, r.name, i.instance_id, cg.name, tn.name, k.cls`

// statesSQL is the query of PartitionStates: window features of every
// partition at the last poll of its group in each bucket, and at the last
// poll before the first edge (bucket -1).
//
// It reads the samples as seriesCTE does ($1 to $5 are the same), but does
// not classify the pairs: the features need only whether a pair is the
// first of its partition and whether it is a rewind (the consumer offset
// went back while the broker offset did not), and neither depends on
// seriesCTE's gap limit or reset rule, which would cost a percentile and
// two window passes over every sample. And it computes the sliding-window
// features only over the samples that some bucket's last poll has in its
// window. TestStatesMatchSeriesClassification checks that it returns what
// the features computed over seriesCTE's classification, at every sample,
// return. $6 is the bucket edges, $7 the window; statesArgs builds them.
//
//	pr   each sample with the previous one of its partition and its number;
//	wa   with the last change of the consumer offset up to it;
//	endt the last poll of each group in each bucket;
//	near the samples in the window before the last poll of their bucket:
//	     every sample in the window of a later bucket's last poll is in
//	     that of its own bucket's, which is no earlier;
//	f    with the features over the window before each (ww), right at the
//	     last polls since their windows lost no sample;
//	fe   those last polls.
const statesSQL = `
WITH e AS (
  SELECT $6::timestamptz[] AS edges, cardinality($6::timestamptz[]) - 1 AS n
),
` + samplesCTE + `,
pr AS (
  SELECT s.g, s.tp, s.p, s.t, s.b, s.c, greatest(s.b - s.c, 0) AS lag,
         lag(s.b) OVER w AS b0, lag(s.c) OVER w AS c0, row_number() OVER w AS rn
  FROM s
  WINDOW w AS (PARTITION BY s.g, s.tp, s.p ORDER BY s.t)
),
wa AS (
  SELECT pr.*,
         max(CASE WHEN pr.rn > 1 AND pr.c <> pr.c0 THEN pr.t END) OVER w AS changed_at,
         max(CASE WHEN pr.rn > 1 AND pr.c <> pr.c0 THEN pr.rn END) OVER w AS changed_rn,
         max(CASE WHEN pr.lag = 0 THEN pr.t END) OVER w AS caught_up_at,
         max(CASE WHEN pr.lag = 0 THEN pr.rn END) OVER w AS caught_up_rn,
         first_value(pr.t) OVER w AS first_t
  FROM pr
  WINDOW w AS (PARTITION BY pr.g, pr.tp, pr.p ORDER BY pr.t ROWS UNBOUNDED PRECEDING)
),
` + endtCTE + `,
near AS (
  SELECT wa.*, endt.bucket, endt.t AS end_t
  FROM wa CROSS JOIN e
  JOIN endt ON endt.g = wa.g AND endt.bucket = width_bucket(wa.t, e.edges)
  WHERE wa.t >= endt.t - $7::interval
),
f AS (
  SELECT near.*,
         count(*) OVER ww AS samples_w,
         min(near.lag) OVER ww AS lag_min_w,
         first_value(near.lag) OVER ww AS lag_first_w,
         sum(CASE WHEN near.rn > 1 AND near.lag < greatest(near.b0 - near.c0, 0) THEN 1 ELSE 0 END) OVER ww AS lag_decreases_w,
         (sum(CASE WHEN near.rn > 1 AND near.b >= near.b0 AND near.c < near.c0 THEN near.c0 - near.c ELSE 0 END) OVER ww)::bigint AS rewound_w,
         coalesce(max(CASE WHEN near.rn > 1 AND near.b >= near.b0 AND near.c < near.c0 THEN near.c0 END) OVER ww, 0) AS rewind_from_w,
         first_value(near.t) OVER ww AS window_start_w
  FROM near
  WINDOW ww AS (PARTITION BY near.g, near.tp, near.p ORDER BY near.t RANGE BETWEEN $7::interval PRECEDING AND CURRENT ROW)
),
fe AS (
  SELECT f.* FROM f WHERE f.t = f.end_t
)` + statesSelect

// statesArgs returns the arguments of statesSQL from those aggregateArgs
// returned and the window.
func statesArgs(args []any, window time.Duration) []any {
	return []any{args[0], args[1], args[2], args[3], args[4], args[7], window}
}

// expandKeys replaces each {{keys alias}} with keyCols(alias, l).
func expandKeys(q string, l Level) string {
	for {
		i := strings.Index(q, "{{keys ")
		if i < 0 {
			return q
		}
		j := strings.Index(q[i:], "}}")
		alias := q[i+len("{{keys ") : i+j]
		q = q[:i] + keyCols(alias, l) + q[i+j+2:]
	}
}
