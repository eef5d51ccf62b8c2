-- Reverts 000004: drops the rollups and their views, and ensure_partitions
-- goes back to making raw_polls partitions only. Raw data is untouched.
DROP VIEW lagtrail.partition_daily_summary;
DROP VIEW lagtrail.partition_lag_hourly;
DROP VIEW lagtrail.partition_rates_hourly;
DROP VIEW lagtrail.group_rates_daily;
DROP VIEW lagtrail.group_rates_hourly;
DROP VIEW lagtrail.group_lag_daily;
DROP VIEW lagtrail.group_lag_hourly;
DROP TABLE lagtrail.rollup_queue;
DROP TABLE lagtrail.group_daily;
DROP TABLE lagtrail.group_hourly;
DROP TABLE lagtrail.partition_daily;
DROP TABLE lagtrail.partition_hourly;

CREATE OR REPLACE FUNCTION lagtrail.ensure_partitions(p_from date, p_days integer)
RETURNS integer
LANGUAGE plpgsql AS $$
DECLARE
    parent  text;
    child   text;
    d       date;
    created integer := 0;
BEGIN
    IF p_days < 1 OR p_days > 366 THEN
        RAISE EXCEPTION 'ensure_partitions: days must be between 1 and 366, got %', p_days;
    END IF;
    PERFORM pg_advisory_xact_lock(hashtext('lagtrail.ensure_partitions'));
    FOR i IN 0 .. p_days - 1 LOOP
        d := p_from + i;
        FOREACH parent IN ARRAY ARRAY['raw_polls'] LOOP
            child := parent || '_' || to_char(d, 'YYYYMMDD');
            IF to_regclass(format('lagtrail.%I', child)) IS NULL THEN
                EXECUTE format(
                    'CREATE TABLE lagtrail.%I PARTITION OF lagtrail.%I FOR VALUES FROM (%L) TO (%L)',
                    child, parent,
                    to_char(d, 'YYYY-MM-DD') || ' 00:00:00+00',
                    to_char(d + 1, 'YYYY-MM-DD') || ' 00:00:00+00');
                created := created + 1;
            END IF;
        END LOOP;
    END LOOP;
    RETURN created;
END;
$$;
