// Package migrations holds lagtrail's database schema as numbered, embedded
// SQL files and applies them with golang-migrate (pgx/v5 driver, iofs
// source).
//
// Everything lives in the PostgreSQL schema "lagtrail", including
// golang-migrate's version table (lagtrail.schema_migrations). Migrations
// create parent tables, views, functions, comments, and the cluster-wide
// NOLOGIN role lagtrail_reader (SELECT on the views only); daily partitions
// are made at run time by the store through lagtrail.ensure_partitions.
// A migration that adds a view must GRANT SELECT on it to lagtrail_reader.
//
// Each migration file is one statement batch, without x-multi-statement,
// because that option splits $$ function bodies.
//
// This package may import pgx and golang-migrate. It must not import other
// lagtrail packages.
package migrations
