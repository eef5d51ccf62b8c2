package store

import "strings"

// The SQL of Top. Parameters: $1 the window's first hour, $2 its end (At),
// $3 a region or '' for any, $4 an instance or '' for any, $5 the limit,
// $6 and $7 the Backlog rule's seconds and minimum rate.
//
//	sel  the selected groups and their names;
//	gw   per group, its hourly rows in the window (topWindowCond): polls,
//	     first and last poll, the lag at each (the value of the first or
//	     last hour with a poll, found as min or max of [epoch, value] with
//	     no sort), the largest time lag, whether an hour had lag with every
//	     timestamp hidden, summed counts and the seconds they cover, and
//	     the largest stalled_s of its hours (NULL when no hour has stall
//	     data); groups without a poll in the window are left out;
//	gf   the figures derived from gw: growth, time lag, rates and ETA;
//	ps   per partition of the groups it reads, its stalled seconds in the
//	     window; sg per group, the largest, the partition it is on, and how
//	     many partitions stalled at all;
//	top  the Limit groups first in the ranking.
//
// Every figure but stall reads group_hourly only. A group's stall is
// above zero exactly when one of its hours has stalled_s above zero (the
// largest of its partitions' in that hour), so partition_hourly is read
// only for those groups: every such group when ranking by stall, and only
// those among the Limit groups returned otherwise. The others' stall is 0,
// or NULL when no hour of the window has stall data. Both tables are read
// through their primary keys, (group_key, bucket, ...), with the group
// keys as an array and the window's hours as a range, so only the monthly
// partitions the window overlaps are scanned.

// topWindowCond selects the rollup rows of table alias h that belong to the
// window: hours from $1 that start before $2, where an hour that is not
// over by $2 counts only if it holds no sample at or after $2. With $2 now
// that is the current hour as far as it is rolled up; with $2 in the past
// and not on the hour, the hour holding $2 is left out, so no poll at or
// after $2 is ever read.
const topWindowCond = `h.bucket >= $1::timestamptz AND h.bucket < $2::timestamptz
    AND (h.bucket <= $2::timestamptz - interval '1 hour' OR h.last_at < $2::timestamptz)`

// A lag that is no backlog (Backlog, parameters $6 and $7) has an ETA of
// 0: a group that keeps up carries the messages in flight as lag, at a
// net rate whose sign is noise; calling that "never drains" would rank
// every healthy group first.

// topBacklog is the Backlog rule over the window's last lag and its
// production rate.
var topBacklog = backlogExpr("gw.lag", "gw.produced / nullif(gw.produced_s, 0)", 6, 7)

var topSelCTE = `
WITH sel AS (
  SELECT g.group_key, r.name AS region, i.instance_id, g.name AS consumer_group
  FROM lagtrail.consumer_groups g
  JOIN lagtrail.instances i ON i.instance_key = g.instance_key
  JOIN lagtrail.regions r ON r.region_key = i.region_key
  WHERE ($3::text = '' OR r.name = $3::text) AND ($4::text = '' OR i.instance_id = $4::text)
),
gw AS (
  SELECT h.group_key, sum(h.polls)::int AS polls, min(h.first_at) AS first_at, max(h.last_at) AS lag_at,
         (min(ARRAY[extract(epoch FROM h.bucket)::bigint, h.lag_first]) FILTER (WHERE h.polls > 0))[2] AS lag_first,
         (max(ARRAY[extract(epoch FROM h.bucket)::bigint, h.lag_last]) FILTER (WHERE h.polls > 0))[2] AS lag,
         max(h.time_lag_max_ms) AS tl_max_ms,
         coalesce(bool_or(h.lag_max > 0 AND h.time_lag_max_ms IS NULL), false) AS tl_hidden,
         sum(h.consumed) AS consumed, sum(h.consumed_s) AS consumed_s,
         sum(h.produced) AS produced, sum(h.produced_s) AS produced_s,
         max(h.stalled_s) AS stall_hour_max
  FROM lagtrail.group_hourly h
  WHERE h.group_key = ANY(ARRAY(SELECT sel.group_key FROM sel))
    AND ` + topWindowCond + `
  GROUP BY h.group_key
  HAVING sum(h.polls) > 0
),
gf AS (
  SELECT gw.*, sel.region, sel.instance_id, sel.consumer_group,
         gw.lag - gw.lag_first AS growth,
         CASE WHEN NOT gw.tl_hidden THEN gw.tl_max_ms / 1000.0 END AS tl,
         gw.consumed / nullif(gw.consumed_s, 0) AS c_rate,
         gw.produced / nullif(gw.produced_s, 0) AS p_rate,
         CASE WHEN NOT ` + topBacklog + ` THEN 0
              WHEN gw.consumed / nullif(gw.consumed_s, 0) > gw.produced / nullif(gw.produced_s, 0)
              THEN gw.lag / (gw.consumed / nullif(gw.consumed_s, 0) - gw.produced / nullif(gw.produced_s, 0))
         END AS eta
  FROM gw JOIN sel USING (group_key)
),`

// topStallCTE computes ps and sg for the groups {{keys}} selects, those of
// a relation with a stall_hour_max above zero.
const topStallCTE = `
ps AS (
  SELECT h.group_key, h.topic_key, h.partition, sum(h.stalled_s) AS stalled
  FROM lagtrail.partition_hourly h
  WHERE h.group_key = ANY(ARRAY(SELECT {{keys}} WHERE stall_hour_max > 0))
    AND ` + topWindowCond + `
  GROUP BY 1, 2, 3
),
sg AS (
  SELECT ps.group_key, max(ps.stalled) AS stall,
         count(*) FILTER (WHERE ps.stalled > 0)::int AS stalled_partitions,
         (array_agg(ps.topic_key ORDER BY ps.stalled DESC, ps.topic_key, ps.partition) FILTER (WHERE ps.stalled > 0))[1] AS stall_tk,
         (array_agg(ps.partition ORDER BY ps.stalled DESC, ps.topic_key, ps.partition) FILTER (WHERE ps.stalled > 0))[1] AS stall_p
  FROM ps GROUP BY 1
),`

// topSelect returns the rows of top, ranked by {{order}}.
const topSelect = `
SELECT (row_number() OVER (ORDER BY {{order}}))::int AS rank,
       top.region, top.instance_id, top.consumer_group, top.polls, top.first_at, top.lag_at,
       top.lag_first, top.lag, top.growth, top.tl::float8 AS time_lag,
       top.consumed::float8 AS consumed, top.produced::float8 AS produced,
       top.c_rate::float8 AS c_rate, top.p_rate::float8 AS p_rate, top.eta::float8 AS eta,
       top.stall::float8 AS stall, coalesce(top.stalled_partitions, 0) AS stalled_partitions,
       tn.name AS stall_topic, top.stall_p AS stall_partition
FROM top LEFT JOIN lagtrail.topics tn ON tn.topic_key = top.stall_tk
ORDER BY rank`

// topStallCols are the stall columns of top: those of sg, or no stall
// where no hour had one, unknown where no hour has stall data.
const topStallCols = `CASE WHEN sg.stall IS NOT NULL THEN sg.stall WHEN stall_hour_max IS NOT NULL THEN 0 END AS stall,
         sg.stalled_partitions, sg.stall_tk, sg.stall_p`

// topOrder is the ranking of each TopBy over the columns of gf and sg;
// names break ties.
var topOrder = map[TopBy]string{
	TopByLag:     "lag DESC",
	TopByGrowth:  "growth DESC",
	TopByTimeLag: "tl DESC NULLS LAST",
	// Not draining (NULL) first, the largest lag first among them, then
	// the longest time to drain; no lag (0) comes last.
	TopByETA:   "eta DESC NULLS FIRST, lag DESC",
	TopByStall: "stall DESC NULLS LAST",
}

// topSQL returns the query of Top ranking by by, which must be valid.
func topSQL(by TopBy) string {
	order := topOrder[by] + ", region, instance_id, consumer_group"
	var q string
	if by == TopByStall {
		// Rank every group by its stall, then return the first ones.
		q = topSelCTE + strings.Replace(topStallCTE, "{{keys}}", "gf.group_key FROM gf", 1) + `
top AS (
  SELECT gf.*, ` + topStallCols + `
  FROM gf LEFT JOIN sg USING (group_key)
  ORDER BY {{order}}
  LIMIT $5
)` + topSelect
	} else {
		// Rank from group_hourly alone, then read the stalls of the
		// groups returned.
		q = topSelCTE + `
ranked AS (
  SELECT gf.* FROM gf ORDER BY {{order}} LIMIT $5
),` + strings.Replace(topStallCTE, "{{keys}}", "ranked.group_key FROM ranked", 1) + `
top AS (
  SELECT ranked.*, ` + topStallCols + `
  FROM ranked LEFT JOIN sg USING (group_key)
)` + topSelect
	}
	return strings.ReplaceAll(q, "{{order}}", order)
}
