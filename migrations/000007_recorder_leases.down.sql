-- Reverts 000007: drops the recorder views and the lease and member tables.
-- Running recorders lose their coordination; polls already written are
-- untouched.
DROP VIEW lagtrail.recorder_status;
DROP VIEW lagtrail.recorder_assignments;
DROP TABLE lagtrail.group_leases;
DROP TABLE lagtrail.recorders;
