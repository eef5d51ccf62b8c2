package deploy

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/lagtrail/lagtrail/internal/pgtest"
)

// grafanaLoginScript is the postgres image's initdb script that creates
// Grafana's login.
const grafanaLoginScript = "postgres/initdb/10-grafana-login.sh"

// findPsql looks for psql where internal/pgtest looks for the server
// binaries: LAGTRAIL_TEST_PG_BINDIR, PATH, /usr/lib/postgresql/*/bin.
func findPsql() (string, error) {
	if dir := os.Getenv("LAGTRAIL_TEST_PG_BINDIR"); dir != "" {
		p := filepath.Join(dir, "psql")
		_, err := os.Stat(p)
		return p, err
	}
	if p, err := exec.LookPath("psql"); err == nil {
		return p, nil
	}
	found, _ := filepath.Glob("/usr/lib/postgresql/*/bin/psql")
	if len(found) == 0 {
		return "", errors.New("psql is not on PATH nor under /usr/lib/postgresql/*/bin")
	}
	slices.Sort(found)
	return found[len(found)-1], nil
}

// TestGrafanaLogin runs the initdb script as the postgres image would (with
// psql, on the database's server), twice, and connects as the login it
// creates: the login has Grafana's settings, reads the views the dashboards
// read, and cannot read a table.
func TestGrafanaLogin(t *testing.T) {
	t.Parallel()
	psql, err := findPsql()
	if err != nil {
		t.Skipf("%v: the script needs it", err)
	}
	ctx := t.Context()
	url := pgtest.URL(t)
	admin, err := pgx.ParseConfig(url)
	if err != nil {
		t.Fatal(err)
	}
	// Roles belong to the cluster, which other tests share.
	suffix := make([]byte, 4)
	_, _ = rand.Read(suffix)
	login, password := "grafana_"+hex.EncodeToString(suffix), "it's "+hex.EncodeToString(suffix)
	adminConn, err := pgx.ConnectConfig(ctx, admin)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if _, err := adminConn.Exec(context.Background(), "DROP ROLE IF EXISTS "+pgx.Identifier{login}.Sanitize()); err != nil {
			t.Errorf("drop role %s: %v", login, err)
		}
		_ = adminConn.Close(context.Background())
	})

	for run := range 2 {
		cmd := exec.CommandContext(ctx, "sh", grafanaLoginScript)
		cmd.Env = append(os.Environ(),
			"PATH="+filepath.Dir(psql)+string(os.PathListSeparator)+os.Getenv("PATH"),
			"PGHOST="+admin.Host, "PGPORT="+strconv.Itoa(int(admin.Port)), "PGPASSWORD="+admin.Password, "PGSSLMODE=disable",
			"POSTGRES_USER="+admin.User, "POSTGRES_DB="+admin.Database,
			"LAGTRAIL_GRAFANA_DB_USER="+login, "LAGTRAIL_GRAFANA_DB_PASSWORD="+password,
		)
		if out, err := cmd.CombinedOutput(); err != nil || len(out) > 0 {
			t.Fatalf("run %d of %s: %v\n%s", run+1, grafanaLoginScript, err, out)
		}
	}

	cfg := admin.Copy()
	cfg.User, cfg.Password = login, password
	conn, err := pgx.ConnectConfig(ctx, cfg)
	if err != nil {
		t.Fatalf("connect as %s: %v", login, err)
	}
	defer func() { _ = conn.Close(context.Background()) }()
	var user, searchPath, jit, timeout string
	var member bool
	err = conn.QueryRow(ctx, `SELECT current_user, current_setting('search_path'), current_setting('jit'),
       current_setting('statement_timeout'), pg_has_role(current_user, 'lagtrail_reader', 'MEMBER')`).Scan(&user, &searchPath, &jit, &timeout, &member)
	if err != nil {
		t.Fatal(err)
	}
	if user != login || searchPath != "lagtrail" || jit != "off" || timeout != "1min" || !member {
		t.Errorf("as %s: user %s, search_path %s, jit %s, statement_timeout %s, member of lagtrail_reader %v; want search_path lagtrail, jit off, 1min, a member",
			login, user, searchPath, jit, timeout, member)
	}
	// Unqualified names resolve in schema lagtrail, as in Grafana's query
	// editor.
	for _, view := range []string{"group_status", "partition_status", "group_lag_hourly", "partition_samples", "polls"} {
		if _, err := conn.Exec(ctx, "SELECT * FROM "+view+" LIMIT 1"); err != nil {
			t.Errorf("as %s: read %s: %v", login, view, err)
		}
	}
	_, err = conn.Exec(ctx, "SELECT * FROM raw_polls LIMIT 1")
	var pgErr *pgconn.PgError
	if !errors.As(err, &pgErr) || pgErr.Code != "42501" || !strings.Contains(pgErr.Message, "raw_polls") {
		t.Errorf("as %s: read table raw_polls: %v, want permission denied", login, err)
	}
}
