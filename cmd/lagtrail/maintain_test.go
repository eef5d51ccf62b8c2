package main

import (
	"bytes"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/lagtrail/lagtrail/internal/pgtest"
	"github.com/lagtrail/lagtrail/store"
)

// maintain makes partitions ahead, and steps aside while another process
// holds the upkeep lock.
func TestMaintain(t *testing.T) {
	t.Parallel()
	pool, dbURL := pgtest.Pool(t)
	run1 := func() (int, string, string) {
		var out, errb bytes.Buffer
		code := run(t.Context(), []string{"maintain", "--database-url", dbURL}, &out, &errb, func(string) string { return "" })
		return code, out.String(), errb.String()
	}
	// Today and 3 days ahead, and the hourly rollup tables' partitions of
	// the months those days fall in.
	months := map[time.Month]bool{}
	for d := range 4 {
		months[time.Now().UTC().AddDate(0, 0, d).Month()] = true
	}
	want := fmt.Sprintf("upkeep done: %d partitions created; 0 rollup hours refreshed; 0 groups' now-state refreshed", 4+2*len(months))
	code, out, stderr := run1()
	if code != 0 || !strings.HasPrefix(out, want) {
		t.Fatalf("first maintain: exit %d, stdout %q, stderr %q; want it to start %q", code, out, stderr, want)
	}
	var n int
	if err := pool.QueryRow(t.Context(), `SELECT count(*) FROM pg_inherits i JOIN pg_class p ON p.oid = i.inhparent WHERE p.relname = 'raw_polls'`).Scan(&n); err != nil || n < 4 {
		t.Errorf("raw_polls partitions: %d, %v; want at least 4", n, err)
	}
	holder, err := store.Open(t.Context(), store.Config{DatabaseURL: dbURL}, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer holder.Close()
	if res, err := holder.Upkeep(t.Context(), store.UpkeepConfig{}, time.Now()); err != nil || !res.Leader {
		t.Fatalf("holder Upkeep: %+v, %v", res, err)
	}
	code, out, _ = run1()
	if code != 0 || !strings.Contains(out, "upkeep skipped: another lagtrail process holds the upkeep lock") {
		t.Errorf("maintain beside a leader: exit %d, %q", code, out)
	}
}
