package pgtest

import (
	"context"
	"fmt"
	"os"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"
)

func TestDatabaseName(t *testing.T) {
	for _, in := range []string{"TestX", "TestParallel/group/db01", "", "ÄÖÜ/ /__", strings.Repeat("TestVeryLong", 20)} {
		got := databaseName(in)
		if len(got) > 63 {
			t.Errorf("databaseName(%q) = %q: longer than 63 bytes", in, got)
		}
		for _, r := range got {
			if !(r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || r == '_') {
				t.Errorf("databaseName(%q) = %q: character %q", in, got, r)
			}
		}
		if !strings.HasPrefix(got, databasePrefix) {
			t.Errorf("databaseName(%q) = %q: no prefix", in, got)
		}
	}
	if databaseName("TestX") == databaseName("TestX") {
		t.Error("two names for the same test are equal")
	}
}

// TestSharedCacheRestoresTheFill makes the same shared database three
// times on one server, as three test binaries would: the first fills and
// dumps it, the second restores the dump without filling, and the third,
// finding the dump damaged, fills again. All three hold the same data and
// the whole migrated schema.
func TestSharedCacheRestoresTheFill(t *testing.T) {
	t.Setenv(EnvCacheDir, t.TempDir())
	srv := requireServer(t)
	if srv.binDir == "" {
		t.Skipf("the dump cache needs a local cluster's pg_dump; the server is %s", srv.source)
	}
	key := "cache probe " + randomSuffix()
	fills := 0
	fill := func(ctx context.Context, url string) error {
		fills++
		conn, err := pgx.Connect(ctx, url)
		if err != nil {
			return err
		}
		defer conn.Close(ctx)
		_, err = conn.Exec(ctx, "CREATE TABLE lagtrail.cache_probe AS SELECT g, md5(g::text) AS h FROM generate_series(1, 5000) AS g")
		return err
	}
	// fingerprint sums the probe's rows and counts the schema's tables,
	// views and functions.
	fingerprint := func(url string) string {
		t.Helper()
		conn, err := pgx.Connect(t.Context(), url)
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close(t.Context())
		var rows, objects int64
		var digest string
		err = conn.QueryRow(t.Context(), `SELECT count(*), md5(string_agg(h, '' ORDER BY g)),
			(SELECT count(*) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = 'lagtrail')
			 + (SELECT count(*) FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace WHERE n.nspname = 'lagtrail')
			FROM lagtrail.cache_probe`).Scan(&rows, &digest, &objects)
		if err != nil {
			t.Fatal(err)
		}
		return fmt.Sprintf("%d rows, digest %s, %d schema objects", rows, digest, objects)
	}

	filled, err := srv.makeShared(t, key, fill)
	if err != nil {
		t.Fatal(err)
	}
	want := fingerprint(filled)
	c, why := srv.cache()
	if c == nil {
		t.Fatalf("no cache: %s", why)
	}
	e := c.entry(key)
	if !e.has() {
		t.Fatalf("no dump at %s after the first fill", e.dump)
	}

	restored, err := srv.makeShared(t, key, fill)
	if err != nil {
		t.Fatal(err)
	}
	if fills != 1 || restored == filled {
		t.Errorf("second make: %d fills, url %s (first %s); want 1 fill and a new database", fills, restored, filled)
	}
	if got := fingerprint(restored); got != want {
		t.Errorf("restored database holds %s, the filled one %s", got, want)
	}

	if err := os.WriteFile(e.dump, []byte("not an archive"), 0o600); err != nil {
		t.Fatal(err)
	}
	refilled, err := srv.makeShared(t, key, fill)
	if err != nil {
		t.Fatal(err)
	}
	if fills != 2 {
		t.Errorf("after a damaged dump: %d fills, want 2", fills)
	}
	if got := fingerprint(refilled); got != want {
		t.Errorf("refilled database holds %s, want %s", got, want)
	}
}
