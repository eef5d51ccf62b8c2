package store

// The SQL of the recorder leases (migration 000007). Every time is the
// database's now(): the start of the transaction, the same in every
// statement of it.
//
// Lock order: every statement that writes group_leases rows another
// recorder may also write takes their locks in primary key order, or skips
// rows it cannot lock at once, so concurrent SyncLeases, Heartbeat and
// Leave calls cannot deadlock.

// syncLeasesSQL claims, renews and marks for release recorder $1's leases
// in one INSERT ... ON CONFLICT over the wanted groups ($2, $3, $4: region,
// instance and group arrays, deduplicated) and the groups it holds but no
// longer wants, in primary key order. Each row is locked (an existing row
// by ON CONFLICT, a new one by its speculative insertion) as the INSERT
// reaches it, so two calls lock their common groups in the same order.
//
// A wanted group is taken when nobody holds it, renewed until now() + $5
// when $1 holds it, and taken over when its lease has expired; the WHERE
// of DO UPDATE sees the row's latest committed version, so of two claimers
// of one expired lease the second sees the first's fresh lease and gets
// nothing. acquired_at is kept across renewals without a lapse. A group no
// longer wanted is marked released with expires_at -infinity, if $1 still
// holds it; releaseSQL deletes it in the same transaction. It returns the
// groups $1 holds afterwards.
const syncLeasesSQL = `
WITH want AS (
  SELECT DISTINCT w.region, w.instance_id, w.group_name
  FROM unnest($2::text[], $3::text[], $4::text[]) AS w(region, instance_id, group_name)
), src AS (
  SELECT region, instance_id, group_name, now() + $5::interval AS expires_at
  FROM want
  UNION ALL
  SELECT l.region, l.instance_id, l.group_name, '-infinity'::timestamptz
  FROM lagtrail.group_leases l
  WHERE l.recorder_id = $1
    AND NOT EXISTS (SELECT 1 FROM want w
                    WHERE w.region = l.region AND w.instance_id = l.instance_id AND w.group_name = l.group_name)
), up AS (
  INSERT INTO lagtrail.group_leases AS l (region, instance_id, group_name, recorder_id, acquired_at, expires_at)
  SELECT region, instance_id, group_name, $1, now(), expires_at
  FROM src
  ORDER BY region, instance_id, group_name
  ON CONFLICT (region, instance_id, group_name) DO UPDATE
  SET recorder_id = excluded.recorder_id,
      acquired_at = CASE WHEN l.recorder_id = excluded.recorder_id AND l.expires_at > now()
                         THEN l.acquired_at ELSE excluded.acquired_at END,
      expires_at = excluded.expires_at
  WHERE l.recorder_id = excluded.recorder_id
     OR (l.expires_at <= now() AND excluded.expires_at > now())
  RETURNING l.region, l.instance_id, l.group_name, l.expires_at
)
SELECT region, instance_id, group_name FROM up WHERE expires_at > now()`

// releaseSQL deletes the leases syncLeasesSQL marked released, whose rows
// the transaction already holds locked, and returns the transaction's
// time.
const releaseSQL = `
WITH released AS (
  DELETE FROM lagtrail.group_leases
  WHERE recorder_id = $1 AND expires_at = '-infinity'
  RETURNING 1
)
SELECT now() AS at, (SELECT count(*) FROM released) AS released`

// heartbeatSQL upserts recorder $1 as alive until now() + $4, deletes the
// member rows expired for longer than $5 (other than $1) and the expired
// leases of those members or expired for longer than $5, and returns the
// live members, $1 first. Cleanup skips rows another transaction holds:
// that transaction is renewing, claiming or cleaning them.
//
// started_at is kept while the same host and pid heartbeat without a
// lapse, and reset otherwise.
const heartbeatSQL = `
WITH me AS (
  INSERT INTO lagtrail.recorders AS r (recorder_id, host, pid, started_at, heartbeat_at, expires_at)
  VALUES ($1, $2, $3, now(), now(), now() + $4::interval)
  ON CONFLICT (recorder_id) DO UPDATE
  SET host = excluded.host,
      pid = excluded.pid,
      started_at = CASE WHEN r.host = excluded.host AND r.pid = excluded.pid AND r.expires_at > now()
                        THEN r.started_at ELSE excluded.started_at END,
      heartbeat_at = excluded.heartbeat_at,
      expires_at = excluded.expires_at
  RETURNING r.recorder_id, r.host, r.pid, r.started_at, r.heartbeat_at, r.expires_at
), dead AS (
  DELETE FROM lagtrail.recorders r
  USING (SELECT recorder_id FROM lagtrail.recorders
         WHERE expires_at < now() - $5::interval AND recorder_id <> $1
         ORDER BY recorder_id
         FOR UPDATE SKIP LOCKED) d
  WHERE r.recorder_id = d.recorder_id
  RETURNING r.recorder_id
), stale AS (
  DELETE FROM lagtrail.group_leases l
  USING (SELECT region, instance_id, group_name FROM lagtrail.group_leases
         WHERE expires_at <= now()
           AND (expires_at < now() - $5::interval OR recorder_id IN (SELECT recorder_id FROM dead))
         ORDER BY region, instance_id, group_name
         FOR UPDATE SKIP LOCKED) s
  WHERE l.region = s.region AND l.instance_id = s.instance_id AND l.group_name = s.group_name
  RETURNING 1
)
SELECT recorder_id, host, pid, started_at, heartbeat_at, expires_at FROM me
UNION ALL
SELECT recorder_id, host, pid, started_at, heartbeat_at, expires_at
FROM lagtrail.recorders
WHERE expires_at > now() AND recorder_id <> $1`

// leaveSQL deletes recorder $1's leases, locking them in primary key order,
// and its member row.
const leaveSQL = `
WITH gone AS (
  DELETE FROM lagtrail.group_leases l
  USING (SELECT region, instance_id, group_name FROM lagtrail.group_leases
         WHERE recorder_id = $1
         ORDER BY region, instance_id, group_name
         FOR UPDATE) o
  WHERE l.region = o.region AND l.instance_id = o.instance_id AND l.group_name = o.group_name
    AND l.recorder_id = $1
  RETURNING 1
), me AS (
  DELETE FROM lagtrail.recorders WHERE recorder_id = $1
  RETURNING 1
)
SELECT (SELECT count(*) FROM gone) AS leases, (SELECT count(*) FROM me) AS members`

// leasesSQL lists every lease.
const leasesSQL = `
SELECT region, instance_id, group_name, recorder_id, acquired_at, expires_at, expires_at > now() AS live
FROM lagtrail.group_leases`
