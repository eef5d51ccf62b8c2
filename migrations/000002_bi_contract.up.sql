-- BI contract: every view and view column is described, and the role
-- lagtrail_reader may read the views and nothing else.

-- View and column comments. 000001 already described the three views and
-- partition_offsets.{sampled_at, broker_offset, consumer_offset, lag,
-- last_consumed_at} and polls.error_code; these are the remaining columns.
COMMENT ON COLUMN lagtrail.partition_offsets.region IS 'Alibaba Cloud region id of the instance, e.g. cn-hangzhou.';
COMMENT ON COLUMN lagtrail.partition_offsets.instance_id IS 'Id of the alikafka instance.';
COMMENT ON COLUMN lagtrail.partition_offsets.consumer_group IS 'Consumer group id (ConsumerId) that was polled.';
COMMENT ON COLUMN lagtrail.partition_offsets.topic IS 'Topic name.';
COMMENT ON COLUMN lagtrail.partition_offsets.partition IS 'Partition number within the topic.';

COMMENT ON COLUMN lagtrail.polls.started_at IS 'Recorder clock (UTC) when the request was sent.';
COMMENT ON COLUMN lagtrail.polls.region IS 'Alibaba Cloud region id of the instance, e.g. cn-hangzhou.';
COMMENT ON COLUMN lagtrail.polls.instance_id IS 'Id of the alikafka instance.';
COMMENT ON COLUMN lagtrail.polls.consumer_group IS 'Consumer group id (ConsumerId) that was polled.';
COMMENT ON COLUMN lagtrail.polls.ok IS 'True when the API answered Success=true with a usable body.';
COMMENT ON COLUMN lagtrail.polls.error_message IS 'Error message, control characters removed, at most 1000 bytes; NULL when ok or when there was none.';
COMMENT ON COLUMN lagtrail.polls.duration_ms IS 'How long the attempt took, in milliseconds.';
COMMENT ON COLUMN lagtrail.polls.request_id IS 'The API''s RequestId; NULL when none came back.';
COMMENT ON COLUMN lagtrail.polls.sampled_at IS 'Recorder clock (UTC) when the response or the failure arrived. With the group it identifies the poll, and it is the sampled_at of the poll''s partition_offsets rows.';
COMMENT ON COLUMN lagtrail.polls.total_diff IS 'Group-level total lag as the API reported it (TotalDiff); NULL for a failed attempt.';
COMMENT ON COLUMN lagtrail.polls.last_consumed_at IS 'Group-level produce time of the last consumed message (LastTimestamp); NULL for a failed attempt or when the API hid it (LastTimestamp -1).';
COMMENT ON COLUMN lagtrail.polls.partition_count IS 'Number of partition samples the poll stored (its rows in partition_offsets); 0 for a failed attempt.';

COMMENT ON COLUMN lagtrail.rebalances.region IS 'Alibaba Cloud region id of the instance, e.g. cn-hangzhou.';
COMMENT ON COLUMN lagtrail.rebalances.instance_id IS 'Id of the alikafka instance.';
COMMENT ON COLUMN lagtrail.rebalances.consumer_group IS 'Consumer group id (ConsumerId) whose poll reported the rebalance.';
COMMENT ON COLUMN lagtrail.rebalances.generation IS 'Group generation the rebalance produced (Generation); one row per generation.';
COMMENT ON COLUMN lagtrail.rebalances.rebalanced_at IS 'When the rebalance happened (LastRebalanceTimestamp); NULL when the API gave no time.';
COMMENT ON COLUMN lagtrail.rebalances.duration_ms IS 'How long the rebalance took, in milliseconds (RebalanceTimeConsuming).';
COMMENT ON COLUMN lagtrail.rebalances.success IS 'Whether the rebalance succeeded (RebalanceSuccess).';
COMMENT ON COLUMN lagtrail.rebalances.reason IS 'Why the group rebalanced, as the API said (Reason), control characters removed.';
COMMENT ON COLUMN lagtrail.rebalances.reported_group IS 'Group id the API put in the entry (GroupId), as reported.';
COMMENT ON COLUMN lagtrail.rebalances.first_seen_at IS 'sampled_at of the first poll that reported this generation.';

-- lagtrail_reader: a NOLOGIN role for BI tools. Grant it to a login role
-- (GRANT lagtrail_reader TO some_user) to give read access to the views.
--
-- It gets USAGE on the schema and SELECT on the views only, never on tables:
-- views run with their owner's privileges, so the reader sees the data
-- through them without any table privilege.
--
-- Views are granted explicitly (there are no default privileges): a later
-- migration that creates or replaces a view in schema lagtrail must
-- GRANT SELECT ON it TO lagtrail_reader. (CREATE OR REPLACE VIEW keeps the
-- grants; DROP and CREATE does not.)
--
-- Roles belong to the cluster, not the database, so the role may already
-- exist, and databases of one cluster may migrate at the same moment: the
-- CREATE ROLE of one then fails with duplicate_object (or unique_violation on
-- pg_authid), or the role is dropped by another database's down migration
-- between the check and the GRANT (undefined_object). The block retries on
-- those. to_regrole, unlike a query on pg_roles, looks at the current catalog
-- even under REPEATABLE READ, so a retry sees what the other session did.
DO $$
DECLARE
    attempts constant integer := 5;
BEGIN
    FOR attempt IN 1 .. attempts LOOP
        BEGIN
            IF to_regrole('lagtrail_reader') IS NULL THEN
                BEGIN
                    CREATE ROLE lagtrail_reader NOLOGIN;
                EXCEPTION WHEN insufficient_privilege THEN
                    RAISE EXCEPTION 'role lagtrail_reader does not exist and % may not create it: have a superuser run CREATE ROLE lagtrail_reader NOLOGIN, then migrate again', current_user
                        USING ERRCODE = 'insufficient_privilege';
                END;
                COMMENT ON ROLE lagtrail_reader IS 'Read-only access to the lagtrail views (the BI contract); lagtrail migrations grant it per database.';
            END IF;
            GRANT USAGE ON SCHEMA lagtrail TO lagtrail_reader;
            GRANT SELECT ON lagtrail.partition_offsets, lagtrail.polls, lagtrail.rebalances TO lagtrail_reader;
            RETURN;
        EXCEPTION WHEN duplicate_object OR unique_violation OR undefined_object THEN
            IF attempt = attempts THEN
                RAISE;
            END IF;
        END;
    END LOOP;
END
$$;
