package migrations_test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/lagtrail/lagtrail/internal/pgtest"
	"github.com/lagtrail/lagtrail/migrations"
)

// readerRole is the read-only role of the BI contract (migration 000002).
const readerRole = "lagtrail_reader"

// contractViews are the views the BI contract promises. The tests enumerate
// views from the catalog, so views added later are covered too; these must
// be among them.
var contractViews = []string{
	"partition_offsets", "polls", "rebalances", "partition_samples", "group_names", "topic_names",
	"group_lag_hourly", "group_rates_hourly", "group_lag_daily", "group_rates_daily",
	"partition_rates_hourly", "partition_lag_hourly", "partition_daily_summary",
	"partition_status", "group_status", "group_rules",
}

const (
	sqlstateInsufficientPrivilege = "42501"
	sqlstateWrongObjectType       = "42809"
)

// readerSeedSQL creates one day's partitions and one row behind each
// contract view, so that reading a view as the reader returns data.
const readerSeedSQL = `
SELECT lagtrail.ensure_partitions('2024-01-02', 1);
INSERT INTO lagtrail.regions (name) VALUES ('cn-hangzhou');
INSERT INTO lagtrail.instances (region_key, instance_id)
    SELECT region_key, 'alikafka-1' FROM lagtrail.regions;
INSERT INTO lagtrail.consumer_groups (instance_key, name)
    SELECT instance_key, 'group-1' FROM lagtrail.instances;
INSERT INTO lagtrail.topics (name) VALUES ('topic-1');
INSERT INTO lagtrail.raw_polls (group_key, sampled_at, started_at, ok, duration_ms,
                                total_diff, last_timestamp_ms, broker_base, topic_keys, samples)
    SELECT g.group_key, '2024-01-02 10:00:01+00', '2024-01-02 10:00:00+00', true, 1000,
           5, 1704189600000, 10, ARRAY[t.topic_key], '{0,5,1000}'
    FROM lagtrail.consumer_groups g, lagtrail.topics t;
INSERT INTO lagtrail.partition_hourly (bucket, group_key, topic_key, partition, samples, consumed, consumed_s)
    SELECT '2024-01-02 10:00:00+00', g.group_key, t.topic_key, 0, 1, 5, 60
    FROM lagtrail.consumer_groups g, lagtrail.topics t;
INSERT INTO lagtrail.partition_daily SELECT * FROM lagtrail.partition_hourly;
INSERT INTO lagtrail.group_hourly (bucket, group_key, polls, lag_last, consumed, consume_rate)
    SELECT '2024-01-02 10:00:00+00', group_key, 1, 5, 5, 0.1 FROM lagtrail.consumer_groups;
INSERT INTO lagtrail.group_daily SELECT * FROM lagtrail.group_hourly;
-- Queued and never refreshed: partition_status evaluates the group when
-- read, as the reader too.
INSERT INTO lagtrail.now_queue (group_key) SELECT group_key FROM lagtrail.consumer_groups;
INSERT INTO lagtrail.rebalance_log (group_key, generation, rebalanced_at, duration_ms,
                                    success, reason, reported_group, first_seen_at)
    SELECT group_key, 7, '2024-01-02 09:00:00+00', 300, true, 'join', 'group-1',
           '2024-01-02 10:00:01+00'
    FROM lagtrail.consumer_groups;`

// relation is a table, partition, sequence or view in schema lagtrail.
type relation struct {
	name string
	// kind is pg_class.relkind.
	kind string
	// column is a column that is neither an identity nor a generated
	// column, for UPDATE probes; empty when there is none.
	column string
}

func (r relation) qualified() string { return pgx.Identifier{migrations.Schema, r.name}.Sanitize() }

// isView reports whether the reader is meant to read r: views and
// materialized views.
func (r relation) isView() bool { return r.kind == "v" || r.kind == "m" }

// isTable reports whether r holds rows of its own: tables, partitioned
// tables (and so partitions) and foreign tables.
func (r relation) isTable() bool { return r.kind == "r" || r.kind == "p" || r.kind == "f" }

func (r relation) isSequence() bool { return r.kind == "S" }

// readerConnect opens a connection that is closed at cleanup.
func readerConnect(t *testing.T, url string) *pgx.Conn {
	t.Helper()
	conn, err := pgx.Connect(t.Context(), url)
	if err != nil {
		t.Fatalf("connect: %v", err)
	}
	t.Cleanup(func() { _ = conn.Close(context.Background()) })
	return conn
}

// lagtrailRelations lists every table, partition, sequence and view in
// schema lagtrail, golang-migrate's version table included. Indexes and
// composite types hold no rows and are left out.
func lagtrailRelations(t *testing.T, conn *pgx.Conn) []relation {
	t.Helper()
	rows, err := conn.Query(t.Context(), `
SELECT c.relname::text, c.relkind::text,
       coalesce((SELECT a.attname::text FROM pg_attribute a
                 WHERE a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped
                   AND a.attidentity = '' AND a.attgenerated = ''
                 ORDER BY a.attnum LIMIT 1), '')
FROM pg_class c
WHERE c.relnamespace = $1::regnamespace
  AND c.relkind IN ('r', 'p', 'f', 'S', 'v', 'm')`, migrations.Schema)
	if err != nil {
		t.Fatalf("list relations: %v", err)
	}
	rels, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (relation, error) {
		var r relation
		err := row.Scan(&r.name, &r.kind, &r.column)
		return r, err
	})
	if err != nil {
		t.Fatalf("list relations: %v", err)
	}
	slices.SortFunc(rels, func(a, b relation) int { return strings.Compare(a.name, b.name) })
	var views []string
	for _, r := range rels {
		if r.isView() {
			views = append(views, r.name)
		}
	}
	for _, v := range contractViews {
		if !slices.Contains(views, v) {
			t.Fatalf("view %s is missing; views: %v", v, views)
		}
	}
	return rels
}

// sqlstate returns the SQLSTATE of a PostgreSQL error, or "" for nil and
// other errors.
func sqlstate(err error) string {
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) {
		return pgErr.Code
	}
	return ""
}

// execInSavepoint runs sql in a savepoint of tx and rolls the savepoint back
// whatever happened, so that a statement that wrongly succeeds changes
// nothing and a failed one leaves tx usable.
func execInSavepoint(t *testing.T, tx pgx.Tx, sql string, args ...any) error {
	t.Helper()
	ctx := t.Context()
	sp, err := tx.Begin(ctx)
	if err != nil {
		t.Fatalf("savepoint: %v", err)
	}
	_, execErr := sp.Exec(ctx, sql, args...)
	if err := sp.Rollback(ctx); err != nil {
		t.Fatalf("rollback to savepoint after %q: %v", sql, err)
	}
	return execErr
}

// expectRefused fails t unless sql, run in a savepoint of tx, fails with one
// of codes.
func expectRefused(t *testing.T, tx pgx.Tx, codes []string, sql string, args ...any) {
	t.Helper()
	err := execInSavepoint(t, tx, sql, args...)
	switch {
	case err == nil:
		t.Errorf("%s: succeeded, want SQLSTATE %s", sql, strings.Join(codes, " or "))
	case !slices.Contains(codes, sqlstate(err)):
		t.Errorf("%s: %v, want SQLSTATE %s", sql, err, strings.Join(codes, " or "))
	}
}

// randomHex returns 12 random lowercase hex digits, for names of roles that
// must not clash across tests and test binaries sharing a server.
func randomHex() string {
	var b [6]byte
	_, _ = rand.Read(b[:]) // crypto/rand.Read never fails
	return hex.EncodeToString(b[:])
}

var (
	insufficientPrivilege = []string{sqlstateInsufficientPrivilege}
	// notATable is what TRUNCATE says of a view before it looks at
	// privileges.
	notATable = []string{sqlstateInsufficientPrivilege, sqlstateWrongObjectType}
)

// TestReaderReadsViewsOnly runs statements as lagtrail_reader, and as a role
// granted lagtrail_reader the way a BI login would be: every view can be
// read, with the rows behind it although the reader has no table
// privileges; nothing else can be read, written or created.
func TestReaderReadsViewsOnly(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	conn := readerConnect(t, pgtest.URL(t))
	if _, err := conn.Exec(ctx, readerSeedSQL); err != nil {
		t.Fatalf("seed: %v", err)
	}
	rels := lagtrailRelations(t, conn)
	if !slices.ContainsFunc(rels, func(r relation) bool { return r.name == "raw_polls_20240102" }) {
		t.Fatalf("partition raw_polls_20240102 is not among the relations: %v", rels)
	}

	for _, as := range []string{"reader", "member"} {
		t.Run(as, func(t *testing.T) {
			// Everything happens in one transaction that is rolled back,
			// including the member role and the triggers below.
			tx, err := conn.Begin(ctx)
			if err != nil {
				t.Fatal(err)
			}
			defer func() { _ = tx.Rollback(context.WithoutCancel(ctx)) }()

			// The views join several tables, so PostgreSQL refuses writes
			// to them as not updatable before it checks privileges. An
			// INSTEAD OF trigger makes them writable for anyone with the
			// privilege, so a write below is refused for lack of privilege
			// alone, as it would be if a view became updatable.
			var setup strings.Builder
			setup.WriteString(`CREATE FUNCTION lagtrail.reader_test_ignore_write() RETURNS trigger
LANGUAGE plpgsql AS $$ BEGIN RETURN NULL; END $$;
`)
			for _, r := range rels {
				if r.kind == "v" {
					fmt.Fprintf(&setup, "CREATE TRIGGER reader_test_ignore_write INSTEAD OF INSERT OR UPDATE OR DELETE ON %s FOR EACH ROW EXECUTE FUNCTION lagtrail.reader_test_ignore_write();\n", r.qualified())
				}
			}
			role := readerRole
			if as == "member" {
				role = "lagtrail_reader_member_" + randomHex()
				fmt.Fprintf(&setup, "CREATE ROLE %s NOLOGIN IN ROLE %s;\n",
					pgx.Identifier{role}.Sanitize(), pgx.Identifier{readerRole}.Sanitize())
			}
			fmt.Fprintf(&setup, "SET LOCAL ROLE %s;\n", pgx.Identifier{role}.Sanitize())
			if _, err := tx.Exec(ctx, setup.String()); err != nil {
				t.Fatalf("set up as %s: %v", role, err)
			}
			var current string
			if err := tx.QueryRow(ctx, "SELECT current_user::text").Scan(&current); err != nil || current != role {
				t.Fatalf("current_user = %q, %v; want %s", current, err, role)
			}

			for _, r := range rels {
				q := r.qualified()
				switch {
				case r.isView():
					var n int64
					if err := tx.QueryRow(ctx, "SELECT count(*) FROM "+q).Scan(&n); err != nil {
						t.Fatalf("read view %s: %v", q, err)
					}
					if slices.Contains(contractViews, r.name) && n == 0 {
						t.Errorf("view %s: 0 rows, want the seeded row", q)
					}
					writeRefused := insufficientPrivilege
					if r.kind == "m" {
						writeRefused = notATable
					}
					expectRefused(t, tx, writeRefused, "INSERT INTO "+q+" DEFAULT VALUES")
					if r.column != "" {
						c := pgx.Identifier{r.column}.Sanitize()
						expectRefused(t, tx, writeRefused, "UPDATE "+q+" SET "+c+" = "+c+" WHERE false")
					}
					expectRefused(t, tx, writeRefused, "DELETE FROM "+q+" WHERE false")
					expectRefused(t, tx, notATable, "TRUNCATE "+q)
				case r.isSequence():
					expectRefused(t, tx, insufficientPrivilege, "SELECT last_value FROM "+q)
					expectRefused(t, tx, insufficientPrivilege, "SELECT nextval($1::regclass)", q)
					expectRefused(t, tx, insufficientPrivilege, "SELECT setval($1::regclass, 1)", q)
				case r.isTable():
					expectRefused(t, tx, insufficientPrivilege, "SELECT 1 FROM "+q+" LIMIT 1")
					expectRefused(t, tx, insufficientPrivilege, "INSERT INTO "+q+" DEFAULT VALUES")
					if r.column != "" {
						c := pgx.Identifier{r.column}.Sanitize()
						expectRefused(t, tx, insufficientPrivilege, "UPDATE "+q+" SET "+c+" = "+c+" WHERE false")
					}
					expectRefused(t, tx, insufficientPrivilege, "DELETE FROM "+q+" WHERE false")
					expectRefused(t, tx, insufficientPrivilege, "TRUNCATE "+q)
				default:
					t.Errorf("relation %s of kind %q is not covered by this test", q, r.kind)
				}
			}

			expectRefused(t, tx, insufficientPrivilege, "CREATE TABLE lagtrail.reader_test_probe (i integer)")
			expectRefused(t, tx, insufficientPrivilege, "CREATE VIEW lagtrail.reader_test_probe AS SELECT 1 AS i")
			// ensure_partitions is executable by PUBLIC, as functions are by
			// default, but it creates tables as its caller.
			expectRefused(t, tx, insufficientPrivilege, "SELECT lagtrail.ensure_partitions('2030-01-01', 1)")
		})
	}
}

// TestReaderGrants checks lagtrail_reader's attributes and privileges in the
// catalog: USAGE on the schema, SELECT on every view (table-level, so every
// column), and nothing else on any relation, partitions included.
func TestReaderGrants(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	conn := readerConnect(t, pgtest.URL(t))
	if _, err := conn.Exec(ctx, "SELECT lagtrail.ensure_partitions('2024-01-02', 1)"); err != nil {
		t.Fatal(err)
	}
	rels := lagtrailRelations(t, conn)

	var login, super, createRole, createDB, replication, bypassRLS bool
	var memberOf int
	err := conn.QueryRow(ctx, `
SELECT rolcanlogin, rolsuper, rolcreaterole, rolcreatedb, rolreplication, rolbypassrls,
       (SELECT count(*) FROM pg_auth_members m WHERE m.member = r.oid)
FROM pg_roles r WHERE rolname = $1`, readerRole).Scan(&login, &super, &createRole, &createDB, &replication, &bypassRLS, &memberOf)
	if err != nil {
		t.Fatalf("role %s: %v", readerRole, err)
	}
	if login || super || createRole || createDB || replication || bypassRLS || memberOf != 0 {
		t.Errorf("role %s: login=%v superuser=%v createrole=%v createdb=%v replication=%v bypassrls=%v member of %d roles; want NOLOGIN, no attributes, no memberships",
			readerRole, login, super, createRole, createDB, replication, bypassRLS, memberOf)
	}

	var usage, create bool
	if err := conn.QueryRow(ctx, "SELECT has_schema_privilege($1, $2, 'USAGE'), has_schema_privilege($1, $2, 'CREATE')",
		readerRole, migrations.Schema).Scan(&usage, &create); err != nil {
		t.Fatal(err)
	}
	if !usage || create {
		t.Errorf("schema %s: USAGE %v, CREATE %v; want USAGE only", migrations.Schema, usage, create)
	}

	rows, err := conn.Query(ctx, `
SELECT c.relname || ' ' || p.priv
FROM pg_class c
CROSS JOIN unnest(ARRAY['SELECT', 'INSERT', 'UPDATE', 'DELETE', 'TRUNCATE', 'REFERENCES', 'TRIGGER']) AS p(priv)
WHERE c.relnamespace = $2::regnamespace AND c.relkind IN ('r', 'p', 'f', 'v', 'm')
  AND has_table_privilege($1, c.oid, p.priv)
UNION ALL
SELECT c.relname || ' ' || p.priv || ' on some column'
FROM pg_class c
CROSS JOIN unnest(ARRAY['SELECT', 'INSERT', 'UPDATE', 'REFERENCES']) AS p(priv)
WHERE c.relnamespace = $2::regnamespace AND c.relkind IN ('r', 'p', 'f', 'v', 'm')
  AND has_any_column_privilege($1, c.oid, p.priv) AND NOT has_table_privilege($1, c.oid, p.priv)
UNION ALL
SELECT c.relname || ' ' || p.priv
FROM pg_class c
CROSS JOIN unnest(ARRAY['USAGE', 'SELECT', 'UPDATE']) AS p(priv)
WHERE c.relnamespace = $2::regnamespace AND c.relkind = 'S'
  AND has_sequence_privilege($1, c.oid, p.priv)`, readerRole, migrations.Schema)
	if err != nil {
		t.Fatal(err)
	}
	got, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		t.Fatal(err)
	}
	var want []string
	for _, r := range rels {
		if r.isView() {
			want = append(want, r.name+" SELECT")
		}
	}
	slices.Sort(got)
	if !slices.Equal(got, want) {
		t.Errorf("%s holds %q\nwant %q", readerRole, got, want)
	}
}

// undescribed lists the views in schema lagtrail without a comment, and
// their columns without one, as view or view.column.
func undescribed(ctx context.Context, conn *pgx.Conn) ([]string, error) {
	rows, err := conn.Query(ctx, `
SELECT c.relname::text
FROM pg_class c
WHERE c.relnamespace = $1::regnamespace AND c.relkind IN ('v', 'm')
  AND coalesce(btrim(obj_description(c.oid, 'pg_class'), E' \t\r\n'), '') = ''
UNION ALL
SELECT c.relname || '.' || a.attname
FROM pg_class c
JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped
WHERE c.relnamespace = $1::regnamespace AND c.relkind IN ('v', 'm')
  AND coalesce(btrim(col_description(c.oid, a.attnum), E' \t\r\n'), '') = ''`, migrations.Schema)
	if err != nil {
		return nil, err
	}
	missing, err := pgx.CollectRows(rows, pgx.RowTo[string])
	slices.Sort(missing)
	return missing, err
}

// describedColumns lists the view columns in schema lagtrail that have a
// comment, as view.column.
func describedColumns(ctx context.Context, conn *pgx.Conn) ([]string, error) {
	rows, err := conn.Query(ctx, `
SELECT c.relname || '.' || a.attname
FROM pg_class c
JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped
WHERE c.relnamespace = $1::regnamespace AND c.relkind IN ('v', 'm')
  AND col_description(c.oid, a.attnum) IS NOT NULL`, migrations.Schema)
	if err != nil {
		return nil, err
	}
	cols, err := pgx.CollectRows(rows, pgx.RowTo[string])
	slices.Sort(cols)
	return cols, err
}

// TestViewsAreDescribed checks that every view in schema lagtrail, and
// every column of it, has a non-blank comment.
func TestViewsAreDescribed(t *testing.T) {
	t.Parallel()
	conn := readerConnect(t, pgtest.URL(t))
	_ = lagtrailRelations(t, conn) // the contract views exist
	missing, err := undescribed(t.Context(), conn)
	if err != nil {
		t.Fatal(err)
	}
	if len(missing) > 0 {
		t.Errorf("views and view columns without a comment (COMMENT ON VIEW / COMMENT ON COLUMN): %s", strings.Join(missing, ", "))
	}
}

// grantsTo lists what role is granted on schema lagtrail and its relations
// in the connected database, as "object PRIVILEGE", sorted. It reads the
// ACLs, so a role that does not exist has no grants rather than an error.
func grantsTo(ctx context.Context, conn *pgx.Conn, role string) ([]string, error) {
	rows, err := conn.Query(ctx, `
SELECT 'schema ' || a.privilege_type
FROM pg_namespace n
CROSS JOIN LATERAL aclexplode(n.nspacl) a
JOIN pg_roles r ON r.oid = a.grantee
WHERE n.nspname = $2 AND r.rolname = $1
UNION ALL
SELECT c.relname || ' ' || a.privilege_type
FROM pg_class c
CROSS JOIN LATERAL aclexplode(c.relacl) a
JOIN pg_roles r ON r.oid = a.grantee
WHERE c.relnamespace = $2::regnamespace AND r.rolname = $1`, role, migrations.Schema)
	if err != nil {
		return nil, err
	}
	grants, err := pgx.CollectRows(rows, pgx.RowTo[string])
	slices.Sort(grants)
	return grants, err
}

// grants000002 is what migration 000002 alone grants the reader in one
// database.
var grants000002 = []string{"partition_offsets SELECT", "polls SELECT", "rebalances SELECT", "schema USAGE"}

// wantGrants is what the reader holds in one database at the latest
// version: 000003, 000004, 000005, 000007 and 000009 add the views they
// create.
var wantGrants = []string{
	"group_lag_daily SELECT", "group_lag_hourly SELECT", "group_names SELECT", "group_rates_daily SELECT",
	"group_rates_hourly SELECT", "group_rules SELECT", "group_status SELECT", "partition_daily_summary SELECT", "partition_lag_hourly SELECT",
	"partition_offsets SELECT", "partition_rates_hourly SELECT", "partition_samples SELECT", "partition_status SELECT",
	"polls SELECT", "rebalances SELECT", "recorder_assignments SELECT", "recorder_status SELECT",
	"schema USAGE", "topic_names SELECT",
}

// roleExists reports whether role exists in the cluster.
func roleExists(t *testing.T, conn *pgx.Conn, role string) bool {
	t.Helper()
	var ok bool
	if err := conn.QueryRow(t.Context(), "SELECT to_regrole($1) IS NOT NULL", pgx.Identifier{role}.Sanitize()).Scan(&ok); err != nil {
		t.Fatal(err)
	}
	return ok
}

// TestDownRevokesReader migrates a database down past 000002 and up again:
// down revokes the reader's grants and removes the comments 000002 added,
// keeps those of 000001, and keeps the role, which other databases use.
func TestDownRevokesReader(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	// Another database that grants the reader privileges, so that the role
	// must survive down here whatever else runs.
	_ = pgtest.URL(t)
	url := pgtest.EmptyURL(t)
	if err := migrations.Up(ctx, url); err != nil {
		t.Fatalf("up: %v", err)
	}
	conn := readerConnect(t, url)
	check := func(step string, wantGrants []string, wantUndescribed bool) {
		t.Helper()
		grants, err := grantsTo(ctx, conn, readerRole)
		if err != nil {
			t.Fatal(err)
		}
		if !slices.Equal(grants, wantGrants) {
			t.Errorf("%s: %s holds %q, want %q", step, readerRole, grants, wantGrants)
		}
		missing, err := undescribed(ctx, conn)
		if err != nil {
			t.Fatal(err)
		}
		if (len(missing) > 0) != wantUndescribed {
			t.Errorf("%s: undescribed view columns %q, want some = %v", step, missing, wantUndescribed)
		}
	}
	check("up", wantGrants, false)

	if err := migrations.To(ctx, url, 1); err != nil {
		t.Fatalf("down to 1: %v", err)
	}
	if v, dirty, err := migrations.Version(ctx, url); err != nil || dirty || v != 1 {
		t.Fatalf("after down 1: version %d dirty %v err %v, want 1 clean", v, dirty, err)
	}
	check("down 1", nil, true)
	cols, err := describedColumns(ctx, conn)
	if err != nil {
		t.Fatal(err)
	}
	want := []string{ // the column comments of 000001
		"partition_offsets.broker_offset", "partition_offsets.consumer_offset", "partition_offsets.lag",
		"partition_offsets.last_consumed_at", "partition_offsets.sampled_at", "polls.error_code",
	}
	if !slices.Equal(cols, want) {
		t.Errorf("down 1: described view columns %q, want those of 000001 %q", cols, want)
	}
	if !roleExists(t, conn, readerRole) {
		t.Errorf("down 1 dropped role %s although another database grants it privileges", readerRole)
	}

	if err := migrations.Up(ctx, url); err != nil {
		t.Fatalf("up again: %v", err)
	}
	check("up again", wantGrants, false)
}

// migration000002 returns the up and down SQL of migration 000002 with the
// reader role renamed to role, so that the role's lifecycle can be tested
// without touching the lagtrail_reader every test database depends on.
func migration000002(t *testing.T, role string) (up, down string) {
	t.Helper()
	read := func(direction string) string {
		paths, err := filepath.Glob("000002_*." + direction + ".sql")
		if err != nil || len(paths) != 1 {
			t.Fatalf("000002 %s migration: %v %v", direction, paths, err)
		}
		b, err := os.ReadFile(paths[0])
		if err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(string(b), readerRole) {
			t.Fatalf("%s does not name %s", paths[0], readerRole)
		}
		return strings.ReplaceAll(string(b), readerRole, role)
	}
	return read("up"), read("down")
}

// TestReaderRoleConcurrentMigrations runs migration 000002, with the role
// renamed, in several databases of one cluster at once: up and down
// interleaved in every order, then up everywhere while the role does not
// exist (the CREATE ROLE race). Every migration must succeed and leave its
// database with exactly the grants it should have. Down keeps the role while
// it has members and drops it when nothing uses it any more.
func TestReaderRoleConcurrentMigrations(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	role := "lagtrail_reader_t" + randomHex()
	member := role + "_member"
	up, down := migration000002(t, role)

	// admin outlives the databases below, whose cleanups run first, so it
	// can drop the roles at the end.
	admin := readerConnect(t, pgtest.EmptyURL(t))
	t.Cleanup(func() {
		for _, r := range []string{member, role} {
			if _, err := admin.Exec(context.Background(), "DROP ROLE IF EXISTS "+pgx.Identifier{r}.Sanitize()); err != nil {
				t.Errorf("drop role %s: %v", r, err)
			}
		}
	})

	const databases, rounds = 6, 8
	conns := make([]*pgx.Conn, databases)
	for i := range conns {
		conns[i] = readerConnect(t, pgtest.URL(t))
	}
	migrate := func(conn *pgx.Conn, sql string, want []string) error {
		if _, err := conn.Exec(ctx, sql); err != nil {
			return err
		}
		got, err := grantsTo(ctx, conn, role)
		if err != nil {
			return err
		}
		if !slices.Equal(got, want) {
			return fmt.Errorf("%s holds %q, want %q", role, got, want)
		}
		return nil
	}
	// together runs fn for every database at once.
	together := func(fn func(i int, conn *pgx.Conn)) {
		start := make(chan struct{})
		var wg sync.WaitGroup
		for i, conn := range conns {
			wg.Go(func() {
				<-start
				fn(i, conn)
			})
		}
		close(start)
		wg.Wait()
	}

	together(func(i int, conn *pgx.Conn) {
		for r := range rounds {
			if err := migrate(conn, up, grants000002); err != nil {
				t.Errorf("database %d round %d: up: %v", i, r, err)
				return
			}
			if err := migrate(conn, down, nil); err != nil {
				t.Errorf("database %d round %d: down: %v", i, r, err)
				return
			}
		}
	})
	if t.Failed() {
		return
	}

	// Every database is down, so nothing uses the role; if the last down
	// left it (it raced another database's grants), it can go now.
	if _, err := admin.Exec(ctx, "DROP ROLE IF EXISTS "+pgx.Identifier{role}.Sanitize()); err != nil {
		t.Fatalf("drop role %s after all downs: %v", role, err)
	}
	together(func(i int, conn *pgx.Conn) {
		if err := migrate(conn, up, grants000002); err != nil {
			t.Errorf("database %d: up while the role is missing: %v", i, err)
		}
	})
	if t.Failed() {
		return
	}
	var login bool
	var comment *string
	if err := admin.QueryRow(ctx, "SELECT rolcanlogin, shobj_description(oid, 'pg_authid') FROM pg_roles WHERE rolname = $1", role).Scan(&login, &comment); err != nil {
		t.Fatalf("role %s after concurrent ups: %v", role, err)
	}
	if login || comment == nil || *comment == "" {
		t.Errorf("role %s: login %v, comment %v; want NOLOGIN with a comment", role, login, comment)
	}

	// A role granted the reader role, as a BI login would be, keeps it
	// alive through every down.
	if _, err := admin.Exec(ctx, fmt.Sprintf("CREATE ROLE %s NOLOGIN IN ROLE %s",
		pgx.Identifier{member}.Sanitize(), pgx.Identifier{role}.Sanitize())); err != nil {
		t.Fatal(err)
	}
	for i, conn := range conns {
		if err := migrate(conn, down, nil); err != nil {
			t.Fatalf("database %d: down with a member: %v", i, err)
		}
	}
	if !roleExists(t, admin, role) {
		t.Fatalf("down dropped role %s although %s is a member of it", role, member)
	}
	if _, err := admin.Exec(ctx, "DROP ROLE "+pgx.Identifier{member}.Sanitize()); err != nil {
		t.Fatal(err)
	}
	// Without members and without grants in any database, the next down
	// drops the role.
	if err := migrate(conns[0], up, grants000002); err != nil {
		t.Fatalf("up: %v", err)
	}
	if err := migrate(conns[0], down, nil); err != nil {
		t.Fatalf("down: %v", err)
	}
	if roleExists(t, admin, role) {
		t.Errorf("role %s is still there after the last down, with nothing using it", role)
	}
}
