-- Reverts 000002: removes the comments it added and lagtrail_reader's
-- privileges in this database, and drops the role when nothing else needs it.

COMMENT ON COLUMN lagtrail.partition_offsets.region IS NULL;
COMMENT ON COLUMN lagtrail.partition_offsets.instance_id IS NULL;
COMMENT ON COLUMN lagtrail.partition_offsets.consumer_group IS NULL;
COMMENT ON COLUMN lagtrail.partition_offsets.topic IS NULL;
COMMENT ON COLUMN lagtrail.partition_offsets.partition IS NULL;

COMMENT ON COLUMN lagtrail.polls.started_at IS NULL;
COMMENT ON COLUMN lagtrail.polls.region IS NULL;
COMMENT ON COLUMN lagtrail.polls.instance_id IS NULL;
COMMENT ON COLUMN lagtrail.polls.consumer_group IS NULL;
COMMENT ON COLUMN lagtrail.polls.ok IS NULL;
COMMENT ON COLUMN lagtrail.polls.error_message IS NULL;
COMMENT ON COLUMN lagtrail.polls.duration_ms IS NULL;
COMMENT ON COLUMN lagtrail.polls.request_id IS NULL;
COMMENT ON COLUMN lagtrail.polls.sampled_at IS NULL;
COMMENT ON COLUMN lagtrail.polls.total_diff IS NULL;
COMMENT ON COLUMN lagtrail.polls.last_consumed_at IS NULL;
COMMENT ON COLUMN lagtrail.polls.partition_count IS NULL;

COMMENT ON COLUMN lagtrail.rebalances.region IS NULL;
COMMENT ON COLUMN lagtrail.rebalances.instance_id IS NULL;
COMMENT ON COLUMN lagtrail.rebalances.consumer_group IS NULL;
COMMENT ON COLUMN lagtrail.rebalances.generation IS NULL;
COMMENT ON COLUMN lagtrail.rebalances.rebalanced_at IS NULL;
COMMENT ON COLUMN lagtrail.rebalances.duration_ms IS NULL;
COMMENT ON COLUMN lagtrail.rebalances.success IS NULL;
COMMENT ON COLUMN lagtrail.rebalances.reason IS NULL;
COMMENT ON COLUMN lagtrail.rebalances.reported_group IS NULL;
COMMENT ON COLUMN lagtrail.rebalances.first_seen_at IS NULL;

-- The role belongs to the cluster: other databases may use it, and login
-- roles may have been granted it. So it is dropped only when it has no
-- members; DROP ROLE itself refuses (dependent_objects_still_exist) while any
-- database still grants it something, and a migrator without the right to
-- drop it (insufficient_privilege) leaves it too. undefined_object means the
-- role is already gone, so there is nothing left to revoke or drop.
DO $$
BEGIN
    IF to_regrole('lagtrail_reader') IS NULL THEN
        RETURN;
    END IF;
    REVOKE SELECT ON lagtrail.partition_offsets, lagtrail.polls, lagtrail.rebalances FROM lagtrail_reader;
    REVOKE USAGE ON SCHEMA lagtrail FROM lagtrail_reader;
    IF EXISTS (SELECT FROM pg_auth_members WHERE roleid = to_regrole('lagtrail_reader')) THEN
        RAISE NOTICE 'role lagtrail_reader kept: other roles are members of it';
        RETURN;
    END IF;
    BEGIN
        DROP ROLE lagtrail_reader;
    EXCEPTION WHEN dependent_objects_still_exist OR insufficient_privilege THEN
        RAISE NOTICE 'role lagtrail_reader kept: %', SQLERRM;
    END;
EXCEPTION WHEN undefined_object THEN
    NULL;
END
$$;
