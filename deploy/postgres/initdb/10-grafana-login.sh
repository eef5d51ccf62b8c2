#!/bin/sh
# Creates the login Grafana reads lagtrail's views with: a member of
# lagtrail_reader, which may read the views of schema lagtrail and nothing
# else. The postgres image runs this once, when it initialises an empty data
# directory, before lagtrail migrate up has run; so it creates
# lagtrail_reader too (NOLOGIN, as migration 000002 would), and the
# migrations then grant it the views.
#
# Environment: POSTGRES_USER and POSTGRES_DB (set by the postgres image),
# LAGTRAIL_GRAFANA_DB_USER (default grafana) and LAGTRAIL_GRAFANA_DB_PASSWORD
# (required). Running it again changes nothing but the login's password and
# settings.
set -e

psql --no-psqlrc --set=ON_ERROR_STOP=1 --quiet \
	--username="${POSTGRES_USER:-postgres}" --dbname="${POSTGRES_DB:-postgres}" \
	--set=login="${LAGTRAIL_GRAFANA_DB_USER:-grafana}" \
	--set=password="${LAGTRAIL_GRAFANA_DB_PASSWORD:?LAGTRAIL_GRAFANA_DB_PASSWORD must be set}" <<'SQL'
SET client_min_messages = warning;
SELECT 'CREATE ROLE lagtrail_reader NOLOGIN' WHERE to_regrole('lagtrail_reader') IS NULL
\gexec
COMMENT ON ROLE lagtrail_reader IS 'Read-only access to the lagtrail views (the BI contract); lagtrail migrations grant it per database.';
SELECT format('CREATE ROLE %I LOGIN IN ROLE lagtrail_reader', :'login') WHERE to_regrole(quote_ident(:'login')) IS NULL
\gexec
GRANT lagtrail_reader TO :"login";
ALTER ROLE :"login" LOGIN PASSWORD :'password';
-- As README.md's "Connecting a BI tool" advises: the views unpack arrays
-- with generate_series, whose row estimates make JIT compile for seconds.
ALTER ROLE :"login" SET search_path = lagtrail;
ALTER ROLE :"login" SET jit = off;
ALTER ROLE :"login" SET statement_timeout = '60s';
SQL
