package main

import (
	"encoding/json"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/lagtrail/lagtrail/internal/pgtest"
)

// TestQuerySkewBadInput runs the binary with each bad skew request and
// checks it exits 2 with one line naming the problem, printing nothing on
// stdout. The database is not migrated: flags alone are refused before it
// is opened.
func TestQuerySkewBadInput(t *testing.T) {
	t.Parallel()
	l := lagtrail{t: t, dbURL: pgtest.EmptyURL(t), secret: e2eSecret}
	g := []string{"--group", "order-sync"}
	for _, tc := range []struct {
		name string
		args []string
		want string
	}{
		{"no group", []string{"--window", "1h"}, "--group is required: skew compares the partitions of one consumer group"},
		{"window 0", join(g, []string{"--window", "0"}), "--window must be positive, got 0s"},
		{"negative window", join(g, []string{"--window", "-1h"}), "--window must be positive, got -1h0m0s"},
		{"hot factor 1", join(g, []string{"--hot-factor", "1"}), "--hot-factor must be greater than 1, got 1"},
		{"hot factor below 1", join(g, []string{"--hot-factor", "0.5"}), "--hot-factor must be greater than 1, got 0.5"},
		{"negative hot factor", join(g, []string{"--hot-factor", "-2"}), "--hot-factor must be greater than 1, got -2"},
		{"NaN hot factor", join(g, []string{"--hot-factor", "NaN"}), "--hot-factor must be greater than 1, got NaN"},
		{"hot min rate 0", join(g, []string{"--hot-min-rate", "0"}), "--hot-min-rate must be positive, got 0"},
		{"stuck min growth 0", join(g, []string{"--stuck-min-growth", "0s"}), "--stuck-min-growth must be positive, got 0s"},
		{"a partition", join(g, []string{"--partition", "3"}), "--partition does not apply to skew"},
		{"bad at", join(g, []string{"--at", "yesterday"}), `--at: invalid query: bad time "yesterday"`},
		{"bad format", join(g, []string{"--format", "xml"}), `--format must be table, csv or json, got "xml"`},
		{"step", join(g, []string{"--step", "1m"}), "unknown flag: --step"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			r := l.run(join([]string{"query", "skew"}, tc.args)...)
			if r.code != exitUsage {
				t.Errorf("exit code %d, want %d; stderr: %s", r.code, exitUsage, r.stderr)
			}
			if line := oneErrorLine(t, r.stderr); !strings.Contains(line, tc.want) {
				t.Errorf("error %q does not say %q", line, tc.want)
			}
			if r.stdout != "" {
				t.Errorf("printed to stdout:\n%s", r.stdout)
			}
		})
	}
}

// TestQuerySkew generates query/testdata/skew-stall.yaml with the binary
// and asks it for skew: order-sync's partitions 2 and 5 of orders stall
// from 07:00 to 07:40, so the hour ending 07:40 flags them stuck; audit's
// partition 2 takes three times the others' production, so it is hot for
// audit-reader. The outputs are also compared with golden files under
// testdata/skew.
func TestQuerySkew(t *testing.T) {
	t.Parallel()
	l := lagtrail{t: t, dbURL: pgtest.URL(t), secret: e2eSecret}
	scn := filepath.Join("..", "..", "query", "testdata", "skew-stall.yaml")
	if r := l.run("generate", "--scenario", scn, "--start", "2025-01-06T00:00:00Z", "--to", "+11h"); r.code != exitOK {
		t.Fatalf("generate: exit %d\n%s", r.code, r.stderr)
	}
	stall := []string{"query", "skew", "--group", "order-sync", "--at", "2025-01-06T07:40:00Z", "--window", "1h"}
	audit := []string{"query", "skew", "--group", "audit-reader", "--at", "2025-01-06T10:00:00Z", "--window", "2h"}

	flags := func(args ...string) (hot, stuck []string) {
		t.Helper()
		r := l.run(join(args, []string{"--format", "csv"})...)
		if r.code != exitOK || r.stderr != "" {
			t.Fatalf("%v: exit %d\n%s", args, r.code, r.stderr)
		}
		for _, row := range csvRows(t, r.stdout) {
			name := row["topic"] + "/" + row["partition"]
			for _, c := range []struct {
				col  string
				list *[]string
			}{{"hot", &hot}, {"stuck", &stuck}} {
				switch row[c.col] {
				case "true":
					*c.list = append(*c.list, name)
				case "false":
				default:
					t.Errorf("%v: %s %s = %q, want true or false", args, name, c.col, row[c.col])
				}
			}
		}
		return hot, stuck
	}
	for _, tc := range []struct {
		name       string
		args       []string
		hot, stuck []string
	}{
		{"stall", stall, nil, []string{"orders/2", "orders/5"}},
		{"stall, a longer minimum growth", join(stall, []string{"--stuck-min-growth", "1h"}), nil, nil},
		{"well after the stall", []string{"query", "skew", "--group", "order-sync", "--at", "2025-01-06T10:00:00Z", "--window", "1h"}, nil, nil},
		{"hot", audit, []string{"audit/2"}, nil},
		{"hot, a larger factor", join(audit, []string{"--hot-factor", "4"}), nil, nil},
		{"hot, a floor above its rate", join(audit, []string{"--hot-min-rate", "100"}), nil, nil},
		{"a topic", join(audit, []string{"--topic", "audit"}), []string{"audit/2"}, nil},
	} {
		hot, stuck := flags(tc.args...)
		if !slices.Equal(hot, tc.hot) || !slices.Equal(stuck, tc.stuck) {
			t.Errorf("%s: hot %v stuck %v, want %v and %v", tc.name, hot, stuck, tc.hot, tc.stuck)
		}
	}

	for _, c := range []struct {
		name string
		args []string
	}{{"stall", stall}, {"hot", audit}} {
		for _, format := range []string{"table", "csv", "json"} {
			r := l.run(join(c.args, []string{"--format", format})...)
			if r.code != exitOK || r.stderr != "" {
				t.Fatalf("%s %s: exit %d\n%s", c.name, format, r.code, r.stderr)
			}
			compareGolden(t, filepath.Join("testdata", "skew", c.name+"."+format+".golden"), r.stdout)
			switch format {
			case "table":
				checkSkewTable(t, c.name, r.stdout)
			case "json":
				checkSkewJSON(t, c.name, r.stdout)
			}
		}
	}

	// An unknown group is a bad request too, once the database says so.
	r := l.run("query", "skew", "--group", "nope")
	if r.code != exitUsage || !strings.Contains(oneErrorLine(t, r.stderr), `unknown group "nope"`) {
		t.Errorf("unknown group: exit %d, stderr %s", r.code, r.stderr)
	}
}

// checkSkewTable checks that the table marks the flagged partitions and
// says why.
func checkSkewTable(t *testing.T, name, out string) {
	t.Helper()
	want := map[string][]string{
		"stall": {"cn-hangzhou/alikafka_post-cn-skew0001/order-sync, 2025-01-06 06:40:00 to 2025-01-06 07:40:00 UTC (1h)",
			"orders/2 stuck: lag grew by", "orders/5 stuck: ", "topic orders", "LAG_MAX/MEDIAN"},
		"hot": {"audit/2 hot: produces", "× the median partition of topic audit"},
	}[name]
	for _, w := range want {
		if !strings.Contains(out, w) {
			t.Errorf("%s table does not say %q:\n%s", name, w, out)
		}
	}
	marked := map[string]string{"stall": "STUCK", "hot": "HOT"}[name]
	var rows []string
	for line := range strings.Lines(out) {
		if f := strings.Fields(line); len(f) > 2 && f[len(f)-1] == marked {
			rows = append(rows, f[0]+"/"+f[1])
		}
	}
	wantRows := map[string][]string{"stall": {"orders/2", "orders/5"}, "hot": {"audit/2"}}[name]
	if !slices.Equal(rows, wantRows) {
		t.Errorf("%s table marks %v %s, want %v:\n%s", name, rows, marked, wantRows, out)
	}
}

// checkSkewJSON checks the JSON document: its rows, and the ratios of the
// group and of each topic.
func checkSkewJSON(t *testing.T, name, out string) {
	t.Helper()
	var doc struct {
		Query  string           `json:"query"`
		Rows   []map[string]any `json:"rows"`
		Ratios struct {
			Group  map[string]any   `json:"group"`
			Topics []map[string]any `json:"topics"`
		} `json:"ratios"`
		HotFactor float64 `json:"hot_factor"`
	}
	if err := json.Unmarshal([]byte(out), &doc); err != nil {
		t.Fatalf("%s: not one JSON document: %v", name, err)
	}
	wantRows := map[string]int{"stall": 8, "hot": 4}[name]
	if doc.Query != "skew" || len(doc.Rows) != wantRows || doc.HotFactor != 2 || len(doc.Ratios.Topics) != 1 {
		t.Errorf("%s: query %q, %d rows, hot factor %v, %d topic ratios", name, doc.Query, len(doc.Rows), doc.HotFactor, len(doc.Ratios.Topics))
	}
	for _, scope := range []map[string]any{doc.Ratios.Group, doc.Ratios.Topics[0]} {
		for _, fig := range []string{"lag", "produce_rate", "consume_rate"} {
			m, ok := scope[fig].(map[string]any)
			if !ok {
				t.Errorf("%s: ratios have no %s: %v", name, fig, scope)
				continue
			}
			if r, ok := m["ratio"].(float64); !ok || r < 1 {
				t.Errorf("%s: %s max/median %v, want a number >= 1", name, fig, m["ratio"])
			}
		}
	}
	for _, row := range doc.Rows {
		if _, ok := row["hot"].(bool); !ok {
			t.Errorf("%s: row hot %v is not a boolean", name, row["hot"])
		}
	}
}
