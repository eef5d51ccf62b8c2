-- Reverts 000005: drops the status views. Nothing else depends on them.
DROP VIEW lagtrail.group_status;
DROP VIEW lagtrail.partition_status;
