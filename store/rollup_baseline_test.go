package store

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
)

// The rollup refresh as of commit b645b2a, before it was tuned: the
// baseline BenchmarkRefreshRollups measures the tuned refresh against, in
// the same process and on the same data, and whose rows the tuned refresh
// must reproduce exactly.

// baselineBatch and baselineSpan are refreshBatch and refreshSpan as of the
// baseline.
const (
	baselineBatch = 2000
	baselineSpan  = 24 * time.Hour
)

// refreshRollupsBaseline is RefreshRollups with the baseline batches.
func (s *Store) refreshRollupsBaseline(ctx context.Context) (RollupResult, error) {
	var res RollupResult
	for {
		n, prows, grows, err := s.refreshBatchBaseline(ctx)
		if err != nil {
			return res, fmt.Errorf("refresh rollups (baseline): %w", err)
		}
		res.Hours += n
		res.PartitionRows += prows
		res.GroupRows += grows
		if n == 0 {
			return res, nil
		}
	}
}

// refreshBatchBaseline is refreshBatch as it was before the rollup refresh
// was tuned (commit b645b2a), kept to measure against and to check that the
// tuned refresh writes exactly the same rows.
func (s *Store) refreshBatchBaseline(ctx context.Context) (int, int64, int64, error) {
	var n int
	var prows, grows int64
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		rows, err := tx.Query(ctx, `
DELETE FROM lagtrail.rollup_queue q
USING (
  SELECT group_key, hour FROM lagtrail.rollup_queue
  WHERE hour < (SELECT min(hour) FROM lagtrail.rollup_queue) + $1::interval
  ORDER BY hour, group_key
  LIMIT $2
  FOR UPDATE SKIP LOCKED
) t
WHERE q.group_key = t.group_key AND q.hour = t.hour
RETURNING q.group_key, q.hour`, baselineSpan, baselineBatch)
		if err != nil {
			return fmt.Errorf("take queue: %w", err)
		}
		taken, err := pgx.CollectRows(rows, pgx.RowToStructByName[queued])
		if err != nil {
			return fmt.Errorf("take queue: %w", err)
		}
		n = len(taken)
		if n == 0 {
			return nil
		}
		w := batchWindow(taken)
		var p, g int64
		if err := tx.QueryRow(ctx, baselineHourlySQL, append([]any{pgx.QueryExecModeExec}, w.hourlyArgs()...)...).Scan(&p, &g); err != nil {
			return fmt.Errorf("hourly rollups: %w", err)
		}
		prows, grows = prows+p, grows+g
		dayFrom, dayTo := w.from.Truncate(Day), w.to.Add(-time.Nanosecond).Truncate(Day).Add(Day)
		if err := tx.QueryRow(ctx, baselineDailySQL, pgx.QueryExecModeExec, w.groups, dayFrom, dayTo).Scan(&p, &g); err != nil {
			return fmt.Errorf("daily rollups: %w", err)
		}
		prows, grows = prows+p, grows+g
		return nil
	})
	return n, prows, grows, err
}

// baselineHourlySQL and baselineDailySQL are rollupHourlySQL and
// rollupDailySQL as of the baseline.
var baselineHourlySQL = seriesCTE + `,
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
         (array_agg(s.b ORDER BY s.t))[1] AS first_b, (array_agg(s.c ORDER BY s.t))[1] AS first_c,
         (array_agg(s.b ORDER BY s.t DESC))[1] AS last_b, (array_agg(s.c ORDER BY s.t DESC))[1] AS last_c,
         min(greatest(s.b - s.c, 0)) AS lag_min, max(greatest(s.b - s.c, 0)) AS lag_max,
         sum(greatest(s.b - s.c, 0)) AS lag_sum,
         max(CASE WHEN s.b <= s.c THEN 0
                  WHEN s.lt > 0 THEN greatest(floor(extract(epoch FROM s.t) * 1000)::bigint - s.lt, 0) END) AS tl_max
  FROM s CROSS JOIN e
  WHERE s.t >= e.edges[1] AND s.t < e.edges[e.n + 1]
  GROUP BY 1, 2, 3, 4
),
pkeys AS (
  SELECT g, tp, p, bucket FROM st UNION SELECT g, tp, p, bucket FROM pb
),
ph AS (
  INSERT INTO lagtrail.partition_hourly AS x (
      bucket, group_key, topic_key, partition, samples, first_at, last_at,
      first_broker_offset, first_consumer_offset, last_broker_offset, last_consumer_offset,
      lag_min, lag_max, lag_sum, time_lag_max_ms, consumed, consumed_s, produced, produced_s, stalled_s)
  SELECT e.edges[pk.bucket], pk.g, pk.tp, pk.p, coalesce(st.samples, 0), st.first_at, st.last_at,
         st.first_b, st.first_c, st.last_b, st.last_c,
         st.lag_min, st.lag_max, st.lag_sum, st.tl_max, pb.consumed, pb.c_cov, pb.produced, pb.p_cov,
         coalesce(ss.stalled, 0)
  FROM pkeys pk CROSS JOIN e
  LEFT JOIN st ON (st.g, st.tp, st.p, st.bucket) = (pk.g, pk.tp, pk.p, pk.bucket)
  LEFT JOIN pb ON (pb.g, pb.tp, pb.p, pb.bucket) = (pk.g, pk.tp, pk.p, pk.bucket)
  LEFT JOIN ss ON (ss.g, ss.tp, ss.p, ss.bucket) = (pk.g, pk.tp, pk.p, pk.bucket)
  ORDER BY pk.g, pk.bucket, pk.tp, pk.p
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

var baselineDailySQL = `
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
