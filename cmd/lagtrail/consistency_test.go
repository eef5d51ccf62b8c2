package main

import (
	"encoding/csv"
	"encoding/json"
	"fmt"
	"math"
	"net/http/httptest"
	"net/url"
	"slices"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/lagtrail/lagtrail/internal/scenariotest"
	"github.com/lagtrail/lagtrail/query"
	"github.com/lagtrail/lagtrail/store"
)

// consistencyScenario is the one history definition of the consistency
// tests, shared with query's TestSurfacesAgree: an idle group, a quiet
// one, a stall, a rewind and a growing backlog.
const consistencyScenario = "../../query/testdata/consistency.yaml"

// reading is what one surface says of one group at its last poll. A field
// the surface does not show is left unshown.
type reading struct {
	status  string // "" when not shown
	verdict string // "" when not shown
	eta     optFloat
	lag     optFloat
}

// optFloat is a figure a surface may show; shown with a nil v is the
// surface saying "unknown" (an empty cell, a JSON null, SQL NULL).
type optFloat struct {
	shown bool
	v     *float64
}

func (o optFloat) String() string {
	switch {
	case !o.shown:
		return "not shown"
	case o.v == nil:
		return "unknown"
	}
	return strconv.FormatFloat(*o.v, 'g', 8, 64)
}

func shownFloat(v *float64) optFloat { return optFloat{shown: true, v: v} }

func shownInt(v *int64) optFloat {
	if v == nil {
		return optFloat{shown: true}
	}
	f := float64(*v)
	return optFloat{shown: true, v: &f}
}

// anyFloat reads a JSON cell: a number, or null (unknown).
func anyFloat(t *testing.T, what string, v any) optFloat {
	t.Helper()
	switch x := v.(type) {
	case nil:
		return optFloat{shown: true}
	case float64:
		return optFloat{shown: true, v: &x}
	}
	t.Fatalf("%s: %v (%T) is not a number", what, v, v)
	return optFloat{}
}

// closeETA reports whether two ETAs in seconds agree: both unknown, or
// within 1% (they fit the same polls, in Go or in SQL).
func closeETA(a, b *float64) bool {
	if a == nil || b == nil {
		return a == nil && b == nil
	}
	return math.Abs(*a-*b) <= 0.01*math.Max(math.Abs(*a), 1)
}

// TestEverySurfaceAgrees checks, on the history of query's
// TestSurfacesAgree (an idle group, a quiet one, a stall, a rewind and a
// growing backlog), that every surface gives each group the same status,
// drain ETA, lag and capacity verdict at its last poll (checkSurfaces).
// The history is read at two ends: at 6 hours, 3 minutes after the rewind,
// with each status of query's test and every backlog not draining; and 20
// minutes later, with the rewound group draining its backlog (an ETA of
// about 15 minutes) and OK again.
//
// Each history ends in the future: its last poll lies an hour or more
// after the wall clock. The views (and so the fleet, the API's fleet and
// /metrics) call a group NODATA when its last poll is more than 3 poll
// intervals before now(); with that poll ahead of now() they evaluate
// every group at its last poll, as the surfaces given an explicit time do,
// however slowly the test runs, instead of racing the clock (query's test
// runs on a history of 2025 and can only compare last_status).
func TestEverySurfaceAgrees(t *testing.T) {
	t.Parallel()
	start := time.Now().UTC().Truncate(time.Hour).Add(-4 * time.Hour)
	for _, c := range []struct {
		name string
		span time.Duration
		// status is each group's status at its last poll; eta says what
		// its drain ETA is: "0" (no backlog), "unknown" (a backlog not
		// draining) or "draining" (a backlog with a positive ETA).
		status map[string]query.Status
		eta    map[string]string
	}{
		{"6h, the rewind 3 minutes old", 6 * time.Hour,
			map[string]query.Status{"idle-reader": query.StatusOK, "quiet": query.StatusOK, "stalled": query.StatusStop, "rewinder": query.StatusRewind, "backlogged": query.StatusWarn},
			map[string]string{"idle-reader": "0", "quiet": "0", "stalled": "unknown", "rewinder": "unknown", "backlogged": "unknown"}},
		{"6h20m, the rewound backlog draining", 6*time.Hour + 20*time.Minute,
			map[string]query.Status{"idle-reader": query.StatusOK, "quiet": query.StatusOK, "stalled": query.StatusStop, "rewinder": query.StatusOK, "backlogged": query.StatusWarn},
			map[string]string{"idle-reader": "0", "quiet": "0", "stalled": "unknown", "rewinder": "draining", "backlogged": "unknown"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			h := scenariotest.GenerateFile(t, consistencyScenario, start, c.span)
			checkSurfaces(t, h.URL, h.To, c.status, c.eta)
		})
	}
}

// checkSurfaces checks that every surface of the history in the database
// at dbURL, which ends at end, gives each group the status wantStatus
// says, the ETA and lag of Engine.Drain at its last poll (whose kind
// wantETA says), and the capacity verdict of Engine.CapacityReport over
// the 24 hours before end: query fleet, query drain, query status, query
// top and report capacity on the command line; /api/v1/fleet,
// /api/v1/drain and /api/v1/capacity; /metrics; the group_status and
// partition_status views that Grafana reads; Engine.Fleet.
func checkSurfaces(t *testing.T, dbURL string, end time.Time, wantStatus map[string]query.Status, wantETA map[string]string) {
	t.Helper()
	ctx := t.Context()
	st, err := store.Open(ctx, store.Config{DatabaseURL: dbURL}, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(st.Close)
	e, err := query.New(st, query.Config{}, nil)
	if err != nil {
		t.Fatal(err)
	}
	pool, err := pgxpool.New(ctx, dbURL)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(pool.Close)
	srv := apiTestServer(t, dbURL, "")

	fleet, err := e.Fleet(ctx, query.FleetRequest{})
	if err != nil {
		t.Fatal(err)
	}
	if len(fleet) != len(wantStatus) {
		t.Fatalf("the fleet has %d groups, want %d", len(fleet), len(wantStatus))
	}
	lastPoll := map[string]time.Time{}
	for _, fg := range fleet {
		if fg.LagAt == nil {
			t.Fatalf("%s has no successful poll", fg.Group.Group)
		}
		lastPoll[fg.Group.Group] = *fg.LagAt
		// The premise of the test: no surface can see this poll as stale
		// (see TestEverySurfaceAgrees).
		if now := time.Now(); !fg.LagAt.After(now) {
			t.Fatalf("%s: last poll %s is not after now (%s): the history should end in the future", fg.Group.Group, fg.LagAt.Format(time.RFC3339), now.Format(time.RFC3339))
		}
	}

	// The surfaces given a time are asked once per last poll, for the
	// groups polled then.
	instants := map[time.Time][]string{}
	for name, at := range lastPoll {
		instants[at] = append(instants[at], name)
	}

	// The reference: the one definition, in Go.
	ref := map[string]reading{}
	capRep, err := e.CapacityReport(ctx, query.CapacityRequest{At: end, Window: query.MinCapacityWindow})
	if err != nil {
		t.Fatal(err)
	}
	verdict := map[string]string{}
	for _, g := range capRep.Groups {
		verdict[g.Group.Group] = string(g.Verdict)
		if v := query.HeadroomVerdict(g.Headroom, g.Confidence); g.Verdict != v {
			t.Errorf("%s: capacity verdict %s, HeadroomVerdict(%v, %s) = %s", g.Group.Group, g.Verdict, g.Headroom, g.Confidence, v)
		}
	}
	for name, at := range lastPoll {
		ds, err := e.Drain(ctx, query.DrainRequest{Selection: query.Selection{Group: name}, By: store.LevelGroup, At: at})
		if err != nil || len(ds) != 1 {
			t.Fatalf("%s: Engine.Drain: %v, %v", name, ds, err)
		}
		var eta *float64
		if ds[0].ETA != nil {
			v := ds[0].ETA.Seconds()
			eta = &v
		}
		ref[name] = reading{status: wantStatus[name].String(), verdict: verdict[name], eta: shownFloat(eta), lag: shownInt(ds[0].Lag)}
		// The history holds the case the test means it to.
		got, want := ref[name].eta, wantETA[name]
		if want == "draining" && (got.v == nil || *got.v <= 0) || want != "draining" && got.String() != want {
			t.Errorf("%s: Engine.Drain's ETA at the last poll is %s, want %s (seconds): the history does not hold the case", name, got, want)
		}
		// Under the 24 hours a capacity report needs for a capacity,
		// every verdict is unknown.
		if verdict[name] != string(query.VerdictUnknown) {
			t.Errorf("%s: capacity verdict %q from the hours %s to %s, want %q", name, verdict[name], capRep.From.Format(time.RFC3339), capRep.To.Format(time.RFC3339), query.VerdictUnknown)
		}
	}

	surfaces := []struct {
		name string
		read func(t *testing.T) map[string]reading
	}{
		{"Engine.Fleet", func(t *testing.T) map[string]reading {
			out := map[string]reading{}
			for _, fg := range fleet {
				out[fg.Group.Group] = reading{status: fg.Status, eta: shownFloat(fg.ETA), lag: shownInt(fg.Lag)}
			}
			return out
		}},
		{"lagtrail query fleet --format json", func(t *testing.T) map[string]reading {
			return fleetRows(t, cliOut(t, "query", "fleet", "--format", "json", "--database-url", dbURL))
		}},
		{"GET /api/v1/fleet", func(t *testing.T) map[string]reading {
			return fleetRows(t, apiOK(t, srv, "/api/v1/fleet?format=json"))
		}},
		{"lagtrail query drain --at <last poll>", func(t *testing.T) map[string]reading {
			out := map[string]reading{}
			for at, names := range instants {
				rows := jsonRows(t, cliOut(t, "query", "drain", "--by", "group", "--at", at.Format(time.RFC3339Nano), "--format", "json", "--database-url", dbURL))
				drainRows(t, rows, names, out)
			}
			return out
		}},
		{"GET /api/v1/drain?at=<last poll>", func(t *testing.T) map[string]reading {
			out := map[string]reading{}
			for at, names := range instants {
				q := url.Values{"by": {"group"}, "at": {at.Format(time.RFC3339Nano)}, "format": {"json"}}
				drainRows(t, jsonRows(t, apiOK(t, srv, "/api/v1/drain?"+q.Encode())), names, out)
			}
			return out
		}},
		{"lagtrail query status (the minute holding the last poll)", func(t *testing.T) map[string]reading {
			out := map[string]reading{}
			for at, names := range instants {
				from := at.Truncate(time.Minute)
				seen := map[string]bool{}
				for _, r := range jsonRows(t, cliOut(t, "query", "status", "--from", from.Format(time.RFC3339), "--to", from.Add(time.Minute).Format(time.RFC3339), "--step", "1m", "--format", "json", "--database-url", dbURL)) {
					name := fmt.Sprint(r["group"])
					if seen[name] {
						t.Fatalf("%s: query status gives several intervals for one minute", name)
					}
					seen[name] = true
					if slices.Contains(names, name) {
						out[name] = reading{status: fmt.Sprint(r["status"])}
					}
				}
			}
			return out
		}},
		// Top's eta_seconds is another figure, the lag over the net rate
		// of the window's hourly rollups (at least an hour): not compared.
		{"lagtrail query top --at <last poll + 1s>", func(t *testing.T) map[string]reading {
			out := map[string]reading{}
			for at, names := range instants {
				for _, r := range jsonRows(t, cliOut(t, "query", "top", "--by", "lag", "-n", "10", "--window", "1h", "--at", at.Add(time.Second).Format(time.RFC3339Nano), "--format", "json", "--database-url", dbURL)) {
					if name := fmt.Sprint(r["group"]); slices.Contains(names, name) {
						out[name] = reading{status: fmt.Sprint(r["status"]), lag: anyFloat(t, name+" lag", r["lag"])}
					}
				}
			}
			return out
		}},
		{"/metrics", func(t *testing.T) map[string]reading {
			return metricsReadings(t, apiOK(t, srv, "/metrics"))
		}},
		{"lagtrail.group_status (status, eta_s, lag)", func(t *testing.T) map[string]reading {
			return viewRows(t, pool, `SELECT consumer_group, status, eta_s, lag::float8 FROM lagtrail.group_status`)
		}},
		{"lagtrail.group_status (last_status)", func(t *testing.T) map[string]reading {
			out := viewRows(t, pool, `SELECT consumer_group, last_status, NULL::float8, NULL::float8 FROM lagtrail.group_status`)
			for name, r := range out {
				out[name] = reading{status: r.status}
			}
			return out
		}},
		{"lagtrail.partition_status (worst status, summed lag)", func(t *testing.T) map[string]reading {
			out := viewRows(t, pool, `
SELECT consumer_group, (array_agg(status ORDER BY severity DESC))[1], NULL::float8, sum(lag)::float8
FROM lagtrail.partition_status GROUP BY consumer_group`)
			for name, r := range out {
				out[name] = reading{status: r.status, lag: r.lag}
			}
			return out
		}},
		{"lagtrail report capacity --format csv", func(t *testing.T) map[string]reading {
			recs, err := csv.NewReader(strings.NewReader(cliOut(t, "report", "capacity", "--window", "24h", "--at", end.Format(time.RFC3339), "--format", "csv", "--database-url", dbURL))).ReadAll()
			if err != nil || len(recs) < 2 {
				t.Fatalf("report capacity CSV: %v, %d records", err, len(recs))
			}
			col := map[string]int{}
			for i, c := range recs[0] {
				col[c] = i
			}
			out := map[string]reading{}
			for _, r := range recs[1:] {
				out[r[col["group"]]] = reading{verdict: r[col["verdict"]]}
			}
			return out
		}},
		{"lagtrail report capacity --format json", func(t *testing.T) map[string]reading {
			return capacityRows(t, cliOut(t, "report", "capacity", "--window", "24h", "--at", end.Format(time.RFC3339), "--format", "json", "--database-url", dbURL))
		}},
		{"GET /api/v1/capacity", func(t *testing.T) map[string]reading {
			q := url.Values{"window": {"24h"}, "at": {end.Format(time.RFC3339)}, "format": {"json"}}
			return capacityRows(t, apiOK(t, srv, "/api/v1/capacity?"+q.Encode()))
		}},
	}

	for _, s := range surfaces {
		t.Run(s.name, func(t *testing.T) {
			got := s.read(t)
			var names []string
			for name := range got {
				names = append(names, name)
			}
			sort.Strings(names)
			if len(got) != len(ref) {
				t.Errorf("%d groups %v, want %d", len(got), names, len(ref))
			}
			for name, want := range ref {
				g, ok := got[name]
				if !ok {
					t.Errorf("%s: missing", name)
					continue
				}
				if g.status != "" && g.status != want.status {
					t.Errorf("%s: status %s, want %s", name, g.status, want.status)
				}
				if g.verdict != "" && g.verdict != want.verdict {
					t.Errorf("%s: capacity verdict %s, want %s", name, g.verdict, want.verdict)
				}
				if g.eta.shown && !closeETA(g.eta.v, want.eta.v) {
					t.Errorf("%s: ETA %s, want %s (seconds; Engine.Drain at %s)", name, g.eta, want.eta, lastPoll[name].Format(time.RFC3339))
				}
				if g.lag.shown && g.lag.String() != want.lag.String() {
					t.Errorf("%s: lag %s, want %s", name, g.lag, want.lag)
				}
				if g.status == "" && g.verdict == "" && !g.eta.shown && !g.lag.shown {
					t.Errorf("%s: the surface shows nothing compared", name)
				}
			}
		})
	}
}

// cliOut runs the command in process and returns what it printed; it
// must succeed.
func cliOut(t *testing.T, args ...string) string {
	t.Helper()
	r := runCLI(t, args...)
	if r.code != exitOK {
		t.Fatalf("lagtrail %s: exit %d: %s", strings.Join(args[:2], " "), r.code, r.stderr)
	}
	return r.stdout
}

// apiOK fetches path from srv; it must answer 200.
func apiOK(t *testing.T, srv *httptest.Server, path string) string {
	t.Helper()
	resp, body := apiGet(t, srv, path, "")
	if resp.StatusCode != 200 {
		t.Fatalf("GET %s: %d %s", path, resp.StatusCode, body)
	}
	return string(body)
}

// jsonRows returns the rows of a table printed with --format json.
func jsonRows(t *testing.T, doc string) []map[string]any {
	t.Helper()
	var d struct {
		Rows []map[string]any `json:"rows"`
	}
	if err := json.Unmarshal([]byte(doc), &d); err != nil {
		t.Fatalf("not a JSON table: %v\n%.500s", err, doc)
	}
	return d.Rows
}

// fleetRows reads query fleet's JSON.
func fleetRows(t *testing.T, doc string) map[string]reading {
	t.Helper()
	out := map[string]reading{}
	for _, r := range jsonRows(t, doc) {
		name := fmt.Sprint(r["group"])
		out[name] = reading{status: fmt.Sprint(r["status"]), eta: anyFloat(t, name+" eta_seconds", r["eta_seconds"]), lag: anyFloat(t, name+" lag", r["lag"])}
	}
	return out
}

// drainRows reads query drain's JSON rows (by group) of the named groups
// into out.
func drainRows(t *testing.T, rows []map[string]any, names []string, out map[string]reading) {
	t.Helper()
	for _, r := range rows {
		if name := fmt.Sprint(r["group"]); slices.Contains(names, name) {
			out[name] = reading{eta: anyFloat(t, name+" eta_seconds", r["eta_seconds"]), lag: anyFloat(t, name+" lag", r["lag"])}
		}
	}
}

// capacityRows reads report capacity's JSON.
func capacityRows(t *testing.T, doc string) map[string]reading {
	t.Helper()
	out := map[string]reading{}
	for _, r := range jsonRows(t, doc) {
		out[fmt.Sprint(r["group"])] = reading{verdict: fmt.Sprint(r["verdict"])}
	}
	return out
}

// viewRows reads (group, status, eta, lag) rows of a SQL query.
func viewRows(t *testing.T, pool *pgxpool.Pool, sql string) map[string]reading {
	t.Helper()
	rows, err := pool.Query(t.Context(), sql)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	out := map[string]reading{}
	for rows.Next() {
		var name, status string
		var eta, lag *float64
		if err := rows.Scan(&name, &status, &eta, &lag); err != nil {
			t.Fatal(err)
		}
		out[name] = reading{status: status, eta: shownFloat(eta), lag: shownFloat(lag)}
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

// metricsReadings reads each group's status (lagtrail_consumergroup_status,
// a number: query.Status) and total lag (kafka_consumergroup_group_sum_lag)
// from a /metrics exposition. /metrics has no ETA gauge.
func metricsReadings(t *testing.T, body string) map[string]reading {
	t.Helper()
	parser := expfmt.NewTextParser(model.LegacyValidation)
	families, err := parser.TextToMetricFamilies(strings.NewReader(body))
	if err != nil {
		t.Fatalf("the exposition does not parse: %v", err)
	}
	label := func(m *dto.Metric, name string) string {
		for _, lp := range m.GetLabel() {
			if lp.GetName() == name {
				return lp.GetValue()
			}
		}
		return ""
	}
	out := map[string]reading{}
	for _, m := range families["lagtrail_consumergroup_status"].GetMetric() {
		v := m.GetGauge().GetValue()
		if v != math.Trunc(v) || v < float64(query.StatusNoData) || v > float64(query.StatusStop) {
			t.Fatalf("lagtrail_consumergroup_status{group=%q} = %v, not a status", label(m, "group"), v)
		}
		out[label(m, "group")] = reading{status: query.Status(v).String()}
	}
	for _, m := range families["kafka_consumergroup_group_sum_lag"].GetMetric() {
		name := label(m, "group")
		r, ok := out[name]
		if !ok {
			t.Errorf("%s has a lag gauge and no status gauge", name)
		}
		v := m.GetGauge().GetValue()
		r.lag = optFloat{shown: true, v: &v}
		out[name] = r
	}
	return out
}
