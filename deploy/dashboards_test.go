package deploy

import (
	"context"
	"encoding/json"
	"fmt"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/lagtrail/lagtrail/internal/pgtest"
)

func TestGrafanaExpand(t *testing.T) {
	t.Parallel()
	from := time.Date(2025, 1, 6, 0, 0, 0, 0, time.UTC)
	scope := grafanaScope{
		from: from, to: from.Add(24 * time.Hour), interval: 5 * time.Minute,
		vars: map[string]grafanaValue{
			"group":    {values: []string{"orders", "o'brien"}, quote: true},
			"instance": {values: []string{"alikafka-1'"}},
		},
	}
	tests := []struct {
		name, sql, want, wantErr string
	}{
		{name: "time filter", sql: "WHERE $__timeFilter(s.sampled_at)",
			want: "WHERE s.sampled_at BETWEEN '2025-01-06T00:00:00Z' AND '2025-01-07T00:00:00Z'"},
		{name: "from and to", sql: "$__timeFrom()::timestamptz < $__timeTo()",
			want: "'2025-01-06T00:00:00Z'::timestamptz < '2025-01-07T00:00:00Z'"},
		{name: "group alias with the interval", sql: "SELECT $__timeGroupAlias(bucket, $__interval), x",
			want: `SELECT floor(extract(epoch from bucket)/300)*300 AS "time", x`},
		{name: "group with a quoted interval", sql: "SELECT $__timeGroup(bucket, '1h') AS t",
			want: "SELECT floor(extract(epoch from bucket)/3600)*3600 AS t"},
		{name: "group before a comma gets the alias", sql: "SELECT $__timeGroup(bucket, 1d), x",
			want: `SELECT floor(extract(epoch from bucket)/86400)*86400 AS "time", x`},
		{name: "group with a fill", sql: "$__timeGroup(t, 1m, NULL) AS t",
			want: "floor(extract(epoch from t)/60)*60 AS t"},
		{name: "epoch filter", sql: "$__unixEpochFilter(ts) AND $__unixEpochFrom() < $__unixEpochTo()",
			want: "ts >= 1736121600 AND ts <= 1736208000 AND 1736121600 < 1736208000"},
		{name: "interval in ms", sql: "x / $__interval_ms", want: "x / 300000"},
		{name: "multi-value variable", sql: "consumer_group IN ($group)", want: "consumer_group IN ('orders','o''brien')"},
		{name: "other syntaxes", sql: "IN (${group}) OR x IN ([[group]])",
			want: "IN ('orders','o''brien') OR x IN ('orders','o''brien')"},
		{name: "single-value variable", sql: "instance_id = '$instance'", want: "instance_id = 'alikafka-1'''"},
		{name: "unknown macro", sql: "WHERE $__timeBucket(t)", wantErr: `unknown macro "__timeBucket"`},
		{name: "unknown variable", sql: "WHERE g = '$nope'", wantErr: "unknown variable or macro"},
		{name: "unknown global", sql: "WHERE x > $__rate_interval", wantErr: "unknown variable or macro"},
		{name: "variable format", sql: "IN (${group:csv})", wantErr: "variable formats"},
		{name: "bad interval", sql: "$__timeGroup(t, soon)", wantErr: "error parsing interval"},
		{name: "missing column", sql: "$__timeFilter()", wantErr: "missing time column"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, err := scope.expand(tt.sql)
			switch {
			case tt.wantErr != "":
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Errorf("expand(%q) = %q, %v; want an error containing %q", tt.sql, got, err, tt.wantErr)
				}
			case err != nil || got != tt.want:
				t.Errorf("expand(%q) = %q, %v\nwant %q", tt.sql, got, err, tt.want)
			}
		})
	}
}

func TestPanelInterval(t *testing.T) {
	t.Parallel()
	full := panel{}
	full.GridPos.W = 24
	half := full
	half.GridPos.W = 12
	hourly := full
	hourly.Interval = "1h"
	tests := []struct {
		name string
		rng  time.Duration
		p    panel
		want time.Duration
	}{
		{"the data source's minimum", 6 * time.Hour, full, time.Minute},
		{"a week, full width", 7 * 24 * time.Hour, full, 5 * time.Minute},
		{"a week, half width", 7 * 24 * time.Hour, half, 10 * time.Minute},
		{"thirty days", 30 * 24 * time.Hour, full, 20 * time.Minute},
		{"the panel's minimum", 7 * 24 * time.Hour, hourly, time.Hour},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if got, err := panelInterval(tt.rng, tt.p, time.Minute); err != nil || got != tt.want {
				t.Errorf("panelInterval(%s) = %s, %v; want %s", tt.rng, got, err, tt.want)
			}
		})
	}
}

// dashboardLink matches links from one dashboard to another by uid.
var dashboardLink = regexp.MustCompile(`/d/([A-Za-z0-9_-]+)`)

// TestDashboardsWellFormed checks what Grafana needs of the dashboards
// besides working SQL: unique uids and panel ids, every query of the
// provisioned data source's type through the ds variable, in code mode,
// with a format the panel can show, and links to dashboards that exist.
func TestDashboardsWellFormed(t *testing.T) {
	t.Parallel()
	dashboards, err := loadDashboards()
	if err != nil {
		t.Fatal(err)
	}
	ds, err := loadDatasource()
	if err != nil {
		t.Fatal(err)
	}
	if ds.Type != "grafana-postgresql-datasource" && ds.Type != "postgres" {
		t.Errorf("provisioned data source type %q, want grafana-postgresql-datasource", ds.Type)
	}
	uids := map[string]string{}
	for _, d := range dashboards {
		if prev, ok := uids[d.UID]; ok || d.UID == "" {
			t.Errorf("%s: uid %q is empty or also that of %s", d.file, d.UID, prev)
		}
		uids[d.UID] = d.file
	}
	want := &datasourceRef{Type: ds.Type, UID: "${ds}"}
	for _, d := range dashboards {
		t.Run(d.UID, func(t *testing.T) {
			t.Parallel()
			if d.Title == "" || !slices.Contains(d.Tags, "lagtrail") {
				t.Errorf("title %q, tags %v: want a title and the tag lagtrail (the dashboards link each other by it)", d.Title, d.Tags)
			}
			// Grafana 10.4 writes 39, Grafana 11 up to 41.
			if d.SchemaVersion < 36 || d.SchemaVersion > 41 {
				t.Errorf("schemaVersion %d, want one of Grafana 10 or 11 (36 to 41)", d.SchemaVersion)
			}
			vars := map[string]variable{}
			for _, v := range d.Templating.List {
				vars[v.Name] = v
				if v.Type == "query" && (v.Datasource == nil || *v.Datasource != *want) {
					t.Errorf("variable %s: data source %+v, want %+v", v.Name, v.Datasource, *want)
				}
			}
			if v, ok := vars["ds"]; !ok || v.Type != "datasource" || string(v.Query) != `"`+ds.Type+`"` {
				t.Errorf("variable ds: %+v; want a data source variable of type %s", v, ds.Type)
			}
			ids := map[int]bool{}
			for _, p := range d.Panels {
				if ids[p.ID] {
					t.Errorf("panel id %d used twice", p.ID)
				}
				ids[p.ID] = true
			}
			for _, p := range d.flatPanels() {
				if p.Title == "" || p.Description == "" {
					t.Errorf("panel %d: title %q, description %q; want both", p.ID, p.Title, p.Description)
				}
				if len(p.Targets) == 0 {
					t.Errorf("panel %q has no query", p.Title)
				}
				if p.Datasource == nil || *p.Datasource != *want {
					t.Errorf("panel %q: data source %+v, want %+v", p.Title, p.Datasource, *want)
				}
				wantFormat := "table"
				if p.Type == "timeseries" {
					wantFormat = "time_series"
				}
				for _, tg := range p.Targets {
					if tg.Datasource == nil || *tg.Datasource != *want || !tg.RawQuery || tg.EditorMode != "code" ||
						tg.Format != wantFormat || strings.TrimSpace(tg.RawSQL) == "" {
						t.Errorf("panel %q query %s: data source %+v, rawQuery %v, editorMode %q, format %q, %d bytes of SQL; want %+v, raw SQL in code mode, format %s",
							p.Title, tg.RefID, tg.Datasource, tg.RawQuery, tg.EditorMode, tg.Format, len(tg.RawSQL), *want, wantFormat)
					}
				}
				for _, m := range dashboardLink.FindAllStringSubmatch(string(p.FieldConfig), -1) {
					if _, ok := uids[m[1]]; !ok {
						t.Errorf("panel %q links to dashboard %q, which is not in %s", p.Title, m[1], dashboardDir)
					}
				}
			}
		})
	}
}

// ranges are the time ranges, ending now, every dashboard query is run
// for: the fleet-wide panels read every poll up to 6 hours and the
// single-group panels up to 24 hours, the rollups beyond.
var ranges = []struct {
	name string
	rng  time.Duration
}{
	{"6h", 6 * time.Hour},
	{"24h", 24 * time.Hour},
	{"7d", 7 * 24 * time.Hour},
	{"30d", 30 * 24 * time.Hour},
}

// resolveVariables gives d's template variables values as Grafana does on
// loading the dashboard: each query variable's query runs (as the reader)
// with the variables before it; a multi-value or include-all variable gets
// All (every value), a single-value one its first value.
func resolveVariables(ctx context.Context, pool *pgxpool.Pool, d dashboard, scope grafanaScope, ds provisionedDatasource) (map[string]grafanaValue, error) {
	vars := map[string]grafanaValue{}
	for _, v := range d.Templating.List {
		switch v.Type {
		case "datasource":
			vars[v.Name] = grafanaValue{values: []string{ds.Name}}
			continue
		case "query":
		default:
			return nil, fmt.Errorf("variable %s: type %q is not covered by these tests", v.Name, v.Type)
		}
		text, err := v.queryText()
		if err != nil {
			return nil, err
		}
		scope.vars = vars
		sql, err := scope.expand(text)
		if err != nil {
			return nil, fmt.Errorf("variable %s: %w", v.Name, err)
		}
		res, err := readerQuery(ctx, pool, sql)
		if err != nil {
			return nil, fmt.Errorf("variable %s: %w\n%s", v.Name, err, sql)
		}
		col := max(res.column("__value"), 0)
		var values []string
		for _, r := range res.rows {
			values = append(values, fmt.Sprint(r[col]))
		}
		if len(values) == 0 {
			return nil, fmt.Errorf("variable %s: its query returned no values\n%s", v.Name, sql)
		}
		if v.AllValue != "" {
			return nil, fmt.Errorf("variable %s: a custom all value is not covered by these tests", v.Name)
		}
		val := grafanaValue{values: values, quote: v.Multi || v.IncludeAll}
		if !v.Multi && !v.IncludeAll {
			val.values = values[:1]
		}
		vars[v.Name] = val
	}
	return vars, nil
}

// TestDashboardQueries runs every query of every dashboard, with Grafana's
// macros and variables expanded, as lagtrail_reader against generated
// history, for ranges that take the raw and the rollup branches. Each must
// succeed and return rows; time series must come sorted by time, one row
// per time and series.
func TestDashboardQueries(t *testing.T) {
	t.Parallel()
	pool, url := pgtest.Pool(t)
	writeFleet(t, url, testFleet)
	// The fleet has failed polls and rebalances in every range: no query
	// may come back empty.
	checkDashboardQueries(t, pool, time.Now().UTC(), nil)
}

// dashboardQuery is one panel query as Grafana would send it for one range.
type dashboardQuery struct {
	name   string // dashboard uid/panel title/refId/range
	panel  string // the panel's title
	format string // time_series or table
	sql    string
}

// expandDashboards returns every query of every dashboard for each of
// ranges ending at now, with the macros and variables expanded; the
// variables' queries run on pool as the reader.
func expandDashboards(ctx context.Context, pool *pgxpool.Pool, now time.Time) ([]dashboardQuery, error) {
	dashboards, err := loadDashboards()
	if err != nil {
		return nil, err
	}
	ds, err := loadDatasource()
	if err != nil {
		return nil, err
	}
	dsMin, err := parseInterval(ds.JSONData.TimeInterval)
	if err != nil {
		return nil, fmt.Errorf("%s: timeInterval: %w", datasourceFile, err)
	}
	var out []dashboardQuery
	for _, d := range dashboards {
		for _, r := range ranges {
			scope := grafanaScope{from: now.Add(-r.rng), to: now, interval: dsMin}
			vars, err := resolveVariables(ctx, pool, d, scope, ds)
			if err != nil {
				return nil, fmt.Errorf("%s, %s: %w", d.UID, r.name, err)
			}
			scope.vars = vars
			for _, p := range d.flatPanels() {
				if scope.interval, err = panelInterval(r.rng, p, dsMin); err != nil {
					return nil, err
				}
				for _, tg := range p.Targets {
					name := fmt.Sprintf("%s/%s/%s/%s", d.UID, p.Title, tg.RefID, r.name)
					sql, err := scope.expand(tg.RawSQL)
					if err != nil {
						return nil, fmt.Errorf("%s: %w", name, err)
					}
					out = append(out, dashboardQuery{name: name, panel: p.Title, format: tg.Format, sql: sql})
				}
			}
		}
	}
	return out, nil
}

// checkDashboardQueries runs every dashboard query for each of ranges
// ending at now, as TestDashboardQueries describes. A query that returns no
// rows fails, unless mayBeEmpty has its panel's title (with why).
func checkDashboardQueries(t *testing.T, pool *pgxpool.Pool, now time.Time, mayBeEmpty map[string]string) {
	t.Helper()
	ctx := t.Context()
	queries, err := expandDashboards(ctx, pool, now)
	if err != nil {
		t.Fatal(err)
	}
	for _, q := range queries {
		t.Run(q.name, func(t *testing.T) {
			t.Parallel()
			began := time.Now()
			res, err := readerQuery(ctx, pool, q.sql)
			if err != nil {
				t.Fatalf("%v\n%s", err, q.sql)
			}
			t.Logf("%d rows in %s", len(res.rows), time.Since(began).Round(time.Millisecond))
			if len(res.rows) == 0 {
				if why, ok := mayBeEmpty[q.panel]; ok {
					t.Logf("no rows: %s", why)
				} else {
					t.Errorf("no rows\n%s", q.sql)
				}
			}
			if q.format == "time_series" {
				if err := checkTimeSeries(res); err != nil {
					t.Errorf("%v\n%s", err, q.sql)
				}
			}
		})
	}
}

// checkTimeSeries checks a time-series result as Grafana reads it: a time
// column, rows sorted by it, at most one row per time and metric.
func checkTimeSeries(res result) error {
	ti := res.column("time")
	if ti < 0 {
		return fmt.Errorf("no column named time among %d columns", len(res.fields))
	}
	mi := res.column("metric")
	seen := map[string]bool{}
	prev := -1.0
	for i, r := range res.rows {
		tv, ok := toFloat(r[ti])
		if !ok {
			return fmt.Errorf("row %d: time %v (%T) is not a time or a number", i, r[ti], r[ti])
		}
		if i > 0 && tv < prev {
			return fmt.Errorf("row %d: time %v before the previous row's", i, r[ti])
		}
		prev = tv
		key := fmt.Sprint(tv)
		if mi >= 0 {
			m, ok := r[mi].(string)
			if !ok {
				return fmt.Errorf("row %d: metric %v is not text", i, r[mi])
			}
			key += "\x00" + m
		}
		if seen[key] {
			b, _ := json.Marshal(r)
			return fmt.Errorf("row %d: a second row for the same time and metric: %s", i, b)
		}
		seen[key] = true
	}
	return nil
}
