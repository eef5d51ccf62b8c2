package main

import (
	"bytes"
	"context"
	"encoding/csv"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/lagtrail/lagtrail/internal/scenariotest"
	"github.com/lagtrail/lagtrail/store"
)

// apiTestServer serves newHTTPHandler over dbURL with the given token.
func apiTestServer(t *testing.T, dbURL, token string) *httptest.Server {
	t.Helper()
	return apiTestServerWith(t, dbURL, httpConfig{token: token})
}

// apiTestServerWith serves newHTTPHandler over dbURL with c, whose store,
// logger, registry, timeout and readiness it fills in.
func apiTestServerWith(t *testing.T, dbURL string, c httpConfig) *httptest.Server {
	t.Helper()
	ctx := context.Background()
	st, err := store.Open(ctx, store.Config{DatabaseURL: dbURL}, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(st.Close)
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	c.st, c.log, c.reg, c.timeout = st, log, prometheus.NewRegistry(), time.Minute
	c.getenv = func(string) string { return "" }
	c.ready = func(context.Context) string { return "" }
	h, err := newHTTPHandler(c)
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	return srv
}

// apiGet fetches path with an optional bearer token.
func apiGet(t *testing.T, srv *httptest.Server, path, token string) (*http.Response, []byte) {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, srv.URL+path, nil)
	if err != nil {
		t.Fatal(err)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("GET %s: reading the body: %v", path, err)
	}
	return resp, body
}

// apiCase is one request of the mirror test: an endpoint and its
// parameters, each also a flag of the command.
type apiCase struct {
	endpoint string
	params   [][2]string
	formats  []string
}

// The incident scenario starts Monday 2025-01-06: warehouse-loader rewinds
// on Wednesday at 10:00, payments-ledger stalls on Saturday 02:10-02:55.
var apiCases = []apiCase{
	{"fleet", nil, []string{"csv"}},
	{"fleet", [][2]string{{"region", "cn-shanghai"}}, []string{"csv"}},
	{"lag", [][2]string{{"group", "payments-ledger"}, {"from", "2025-01-11T01:00:00Z"}, {"to", "2025-01-11T05:00:00Z"}, {"step", "15m"}, {"by", "partition"}}, []string{"json", "csv"}},
	{"lag", [][2]string{{"from", "2025-01-10T00:00:00Z"}, {"to", "2025-01-12T00:00:00Z"}, {"step", "1h"}}, []string{"json", "csv"}},
	{"rates", [][2]string{{"group", "payments-ledger"}, {"from", "2025-01-11T01:00:00Z"}, {"to", "2025-01-11T05:00:00Z"}, {"step", "30m"}, {"topic", "payments"}, {"partition", "3"}}, []string{"json", "csv"}},
	{"drain", [][2]string{{"group", "payments-ledger"}, {"at", "2025-01-11T03:00:00Z"}, {"window", "10m"}, {"horizon", "30m"}, {"by", "partition"}}, []string{"json", "csv"}},
	{"status", [][2]string{{"group", "payments-ledger"}, {"from", "2025-01-11T01:00:00Z"}, {"to", "2025-01-11T05:00:00Z"}, {"step", "5m"}}, []string{"json", "csv"}},
	{"events", [][2]string{{"group", "warehouse-loader"}, {"from", "2025-01-08T09:00:00Z"}, {"to", "2025-01-08T11:00:00Z"}}, []string{"json", "csv"}},
	{"top", [][2]string{{"by", "stall"}, {"at", "2025-01-11T06:00:00Z"}, {"window", "24h"}, {"limit", "3"}}, []string{"json", "csv"}},
	{"skew", [][2]string{{"group", "clickstream-etl"}, {"at", "2025-01-09T12:00:00Z"}, {"window", "1h"}}, []string{"json", "csv"}},
	{"capacity", [][2]string{{"group", "payments-ledger"}, {"at", "2025-01-13T00:00:00Z"}, {"window", "7d"}}, []string{"json", "csv", "markdown"}},
	{"incident", [][2]string{{"group", "payments-ledger"}, {"from", "2025-01-11T01:00:00Z"}, {"to", "2025-01-11T05:00:00Z"}}, []string{"json", "csv", "markdown"}},
	{"export", [][2]string{{"view", "group_lag_hourly"}, {"from", "2025-01-11T00:00:00Z"}, {"to", "2025-01-11T06:00:00Z"}, {"group", "payments-ledger"}, {"group", "fraud-scoring"}}, []string{"csv", "jsonl"}},
}

func (c apiCase) endpointDef(t *testing.T) apiEndpoint {
	t.Helper()
	for _, ep := range apiEndpoints {
		if ep.name == c.endpoint {
			return ep
		}
	}
	t.Fatalf("no endpoint %q", c.endpoint)
	return apiEndpoint{}
}

// url is the case's API path with format.
func (c apiCase) url(format string) string {
	q := url.Values{}
	for _, p := range c.params {
		q.Add(p[0], p[1])
	}
	q.Set("format", format)
	return apiPrefix + c.endpoint + "?" + q.Encode()
}

// args is the same request as command-line arguments.
func (c apiCase) args(t *testing.T, format, dbURL string) []string {
	args := slices.Clone(c.endpointDef(t).path)
	for _, p := range c.params {
		args = append(args, "--"+p[0]+"="+p[1])
	}
	return append(args, "--format="+format, "--database-url="+dbURL)
}

// TestAPIMirrorsTheCommands requests every endpoint in every format it
// serves and compares the body, byte for byte, with what the command
// prints for the same flags; and checks the content type, and that CSV
// headers and JSON columns are the endpoint's documented columns.
func TestAPIMirrorsTheCommands(t *testing.T) {
	t.Parallel()
	h := scenariotest.Generate(t, "incident", scenariotest.Monday, 7*24*time.Hour)
	srv := apiTestServer(t, h.URL, "")
	seen := map[string]bool{}
	for _, c := range apiCases {
		for _, format := range c.formats {
			seen[c.endpoint] = true
			t.Run(c.endpoint+"."+format, func(t *testing.T) {
				resp, body := apiGet(t, srv, c.url(format), "")
				if resp.StatusCode != http.StatusOK {
					t.Fatalf("GET %s: %d %s", c.url(format), resp.StatusCode, body)
				}
				if got, want := resp.Header.Get("Content-Type"), contentTypes[format]; got != want {
					t.Errorf("Content-Type %q, want %q", got, want)
				}
				cli := runCLI(t, c.args(t, format, h.URL)...)
				if cli.code != exitOK {
					t.Fatalf("lagtrail %q: exit %d: %s", c.args(t, format, "URL"), cli.code, cli.stderr)
				}
				if !bytes.Equal(body, []byte(cli.stdout)) {
					t.Fatalf("the API's body differs from the command's output\nAPI:\n%.2000s\nCLI:\n%.2000s", body, cli.stdout)
				}
				if len(body) < 10 {
					t.Fatalf("body %q is empty", body)
				}
				checkColumns(t, c.endpoint, format, body)
			})
		}
	}
	for _, ep := range apiEndpoints {
		if !seen[ep.name] {
			t.Errorf("endpoint %s is not tested", ep.name)
		}
	}
}

// checkColumns checks a table body's columns against apiColumns, which the
// OpenAPI document lists.
func checkColumns(t *testing.T, endpoint, format string, body []byte) {
	t.Helper()
	documented := apiColumns(endpoint)
	if documented == nil {
		return
	}
	names := map[string]bool{}
	for _, c := range documented {
		names[c.name] = true
	}
	var got []string
	switch format {
	case "csv":
		recs, err := csv.NewReader(bytes.NewReader(body)).ReadAll()
		if err != nil || len(recs) == 0 {
			t.Fatalf("CSV: %v", err)
		}
		got = recs[0]
	case "json":
		if endpoint == "incident" {
			return
		}
		var doc struct {
			Columns []string         `json:"columns"`
			Rows    []map[string]any `json:"rows"`
		}
		if err := json.Unmarshal(body, &doc); err != nil {
			t.Fatalf("JSON: %v", err)
		}
		got = doc.Columns
		for _, r := range doc.Rows {
			for k := range r {
				if !names[k] {
					t.Errorf("row key %q is not a documented column", k)
				}
			}
		}
	default:
		return
	}
	for _, c := range got {
		if !names[c] {
			t.Errorf("column %q is not among the documented columns of %s", c, endpoint)
		}
	}
}

// TestAPIBadParameters sends bad requests: each gets its status and one
// JSON error naming the parameter at fault.
func TestAPIBadParameters(t *testing.T) {
	t.Parallel()
	h := scenariotest.Generate(t, "incident", scenariotest.Monday, 7*24*time.Hour)
	srv := apiTestServer(t, h.URL, "")
	for _, tc := range []struct {
		path   string
		status int
		param  string
		says   string
	}{
		{"/api/v1/lag?foo=1", 400, "foo", `unknown parameter "foo"`},
		{"/api/v1/lag?database-url=postgres://x", 400, "database-url", "not taken by the API"},
		{"/api/v1/lag?config=/etc/passwd", 400, "config", "not taken by the API"},
		{"/api/v1/incident?group=payments-ledger&out=/tmp/x", 400, "out", "not taken by the API"},
		{"/api/v1/export?view=polls&output=/tmp/x", 400, "output", "not taken by the API"},
		{"/api/v1/lag?log-level=debug", 400, "log-level", "unknown parameter"},
		{"/api/v1/skew?group=g&partition=1", 400, "partition", "unknown parameter"},
		{"/api/v1/lag?from=-2h&from=-1h", 400, "from", "given 2 times"},
		{"/api/v1/lag?format=xml", 400, "format", "format must be json or csv"},
		{"/api/v1/lag?format=table", 400, "format", "format must be json or csv"},
		{"/api/v1/export?view=polls&format=json", 400, "format", "format must be csv or jsonl"},
		{"/api/v1/lag?from=yesterday", 400, "from", `bad time "yesterday"`},
		{"/api/v1/lag?from=-1h&to=-2h", 400, "from", "must be before to"},
		{"/api/v1/lag?step=banana", 400, "step", `invalid argument "banana" for "step"`},
		{"/api/v1/lag?step=-5m", 400, "step", "step must be positive"},
		{"/api/v1/lag?from=-3000d&step=1s", 400, "step", "buckets, more than 100000"},
		{"/api/v1/lag?by=cluster", 400, "by", "cluster"},
		{"/api/v1/lag?partition=-1", 400, "partition", "partition must be"},
		{"/api/v1/lag?group=no-such-group", 404, "group", `unknown group "no-such-group"`},
		{"/api/v1/lag?group=payments-ledgr", 404, "group", `unknown group "payments-ledgr": no such group is recorded; did you mean "payments-ledger"?`},
		{"/api/v1/drain?window=7x", 400, "window", `invalid argument "7x" for "window" flag`},
		{"/api/v1/lag?group=payments-ledger&topic=no-such-topic", 404, "topic", "no-such-topic"},
		{"/api/v1/top?limit=0", 400, "limit", "limit must be between 1 and 1000"},
		{"/api/v1/top?by=size", 400, "by", "size"},
		{"/api/v1/top?window=10m", 400, "window", "window must be at least 1h"},
		{"/api/v1/drain?window=0s", 400, "window", "window must be positive"},
		{"/api/v1/skew", 400, "group", "group is required"},
		{"/api/v1/skew?group=clickstream-etl&hot-factor=0.5", 400, "hot-factor", "hot-factor must be greater than 1"},
		{"/api/v1/capacity?window=2h", 400, "window", "window"},
		{"/api/v1/incident?group=payments-ledger&from=-30d&to=now", 400, "from", "at most"},
		{"/api/v1/incident?from=-1h", 400, "group", "group is required"},
		{"/api/v1/export", 400, "view", "view is required"},
		{"/api/v1/export?view=pg_shadow", 400, "view", "pg_shadow"},
		{"/api/v1/nothing", 404, "", "no endpoint"},
	} {
		t.Run(tc.path, func(t *testing.T) {
			resp, body := apiGet(t, srv, tc.path, "")
			if resp.StatusCode != tc.status {
				t.Fatalf("status %d, want %d: %s", resp.StatusCode, tc.status, body)
			}
			if ct := resp.Header.Get("Content-Type"); ct != contentTypes["json"] {
				t.Errorf("Content-Type %q", ct)
			}
			var e apiError
			dec := json.NewDecoder(bytes.NewReader(body))
			dec.DisallowUnknownFields()
			if err := dec.Decode(&e); err != nil {
				t.Fatalf("error body %q: %v", body, err)
			}
			if e.Status != tc.status || e.Parameter != tc.param || !strings.Contains(e.Error, tc.says) {
				t.Errorf("error %+v, want status %d, parameter %q and a message containing %q", e, tc.status, tc.param, tc.says)
			}
			if strings.Contains(e.Error, "--") {
				t.Errorf("error %q names a flag with dashes; the API's parameters have none", e.Error)
			}
			if strings.Contains(e.Error, h.URL) || strings.Contains(e.Error, "postgres://") {
				t.Errorf("error %q shows the database URL", e.Error)
			}
		})
	}
	// The API is read-only.
	resp, err := srv.Client().Post(srv.URL+"/api/v1/lag", "application/json", strings.NewReader("{}"))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusMethodNotAllowed {
		t.Errorf("POST answered %d, want 405", resp.StatusCode)
	}
}

// TestAPIAuth checks the bearer token: required on /api/ and /metrics
// when set, never on the health checks and the pages, which hold no data.
func TestAPIAuth(t *testing.T) {
	t.Parallel()
	h := scenariotest.Generate(t, "incident", scenariotest.Monday, 7*24*time.Hour)
	const token = "s3cret-token-for-the-api"
	locked := apiTestServer(t, h.URL, token)
	open := apiTestServer(t, h.URL, "")
	for _, tc := range []struct {
		path        string
		protected   bool
		wantContent string
	}{
		{"/api/v1/fleet?format=csv", true, "payments-ledger"},
		{"/api/v1/openapi.json", true, `"openapi": "3.0.3"`},
		{"/api/v1/", true, "openapi.json"},
		{"/metrics", true, "lagtrail_lag_metrics_up 1"},
		{"/healthz", false, "ok"},
		{"/readyz", false, "ready"},
		{"/", false, "<html"},
	} {
		t.Run(tc.path, func(t *testing.T) {
			for _, c := range []struct {
				srv    *httptest.Server
				token  string
				status int
			}{
				{open, "", 200},
				{open, "whatever", 200},
				{locked, token, 200},
				{locked, "", map[bool]int{true: 401, false: 200}[tc.protected]},
				{locked, "wrong", map[bool]int{true: 401, false: 200}[tc.protected]},
				{locked, token + "x", map[bool]int{true: 401, false: 200}[tc.protected]},
			} {
				resp, body := apiGet(t, c.srv, tc.path, c.token)
				if resp.StatusCode != c.status {
					t.Errorf("token %q on the %s server: status %d, want %d", c.token, map[bool]string{true: "locked", false: "open"}[c.srv == locked], resp.StatusCode, c.status)
					continue
				}
				if c.status == 401 {
					if resp.Header.Get("WWW-Authenticate") == "" || !strings.Contains(string(body), "bearer token is required") {
						t.Errorf("401 without WWW-Authenticate or a JSON reason: %s", body)
					}
					if strings.Contains(string(body), token) {
						t.Errorf("401 body shows the token")
					}
					continue
				}
				if !strings.Contains(string(body), tc.wantContent) {
					t.Errorf("token %q: body lacks %q:\n%.500s", c.token, tc.wantContent, body)
				}
			}
		})
	}
}

// TestAPIStreamsAndCompresses checks that a large export is sent as it is
// read (chunked, with no length known in advance) and that responses are
// gzip-compressed for clients that accept it.
func TestAPIStreamsAndCompresses(t *testing.T) {
	t.Parallel()
	h := scenariotest.Generate(t, "incident", scenariotest.Monday, 7*24*time.Hour)
	srv := apiTestServer(t, h.URL, "")
	// Half a day of samples, some megabytes of CSV: far more than any
	// buffer between the handler and the client holds.
	path := "/api/v1/export?view=partition_offsets&from=2025-01-06T00:00:00Z&to=2025-01-06T12:00:00Z&format=csv"
	req, _ := http.NewRequest(http.MethodGet, srv.URL+path, nil)
	req.Header.Set("Accept-Encoding", "identity")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != 200 || resp.ContentLength != -1 || !slices.Equal(resp.TransferEncoding, []string{"chunked"}) {
		t.Errorf("export: status %d, length %d, transfer encoding %v; want 200, unknown length, chunked", resp.StatusCode, resp.ContentLength, resp.TransferEncoding)
	}
	r := csv.NewReader(resp.Body)
	n := 0
	for {
		if _, err := r.Read(); err == io.EOF {
			break
		} else if err != nil {
			t.Fatalf("record %d: %v", n, err)
		}
		n++
	}
	cli := runCLI(t, "export", "--view", "partition_offsets", "--from", "2025-01-06T00:00:00Z", "--to", "2025-01-06T12:00:00Z", "--database-url", h.URL)
	if want := strings.Count(cli.stdout, "\n"); n < 20_000 || n != want {
		t.Errorf("streamed %d CSV records, the command printed %d; want the same, over 20,000", n, want)
	}
	t.Logf("streamed %d CSV records, chunked", n)

	// The default client asks for gzip and decompresses transparently.
	resp2, err := http.Get(srv.URL + "/api/v1/lag?from=2025-01-10T00:00:00Z&to=2025-01-12T00:00:00Z&step=1h&by=partition")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp2.Body)
	resp2.Body.Close()
	if !resp2.Uncompressed || !json.Valid(body) {
		t.Errorf("lag: uncompressed %v (want a gzip response), valid JSON %v", resp2.Uncompressed, json.Valid(body))
	}
}

// TestAPIFleetIsComputedOnceForConcurrentRequests sends the same fleet
// request from 8 clients at once, then again: every answer is the same
// computation (one Last-Modified), and a different request computes its own.
func TestAPIFleetIsComputedOnceForConcurrentRequests(t *testing.T) {
	t.Parallel()
	h := scenariotest.Generate(t, "incident", scenariotest.Monday, 7*24*time.Hour)
	srv := apiTestServer(t, h.URL, "")
	type answer struct {
		modified string
		body     string
	}
	get := func(path string) answer {
		resp, body := apiGet(t, srv, path, "")
		if resp.StatusCode != 200 || resp.Header.Get("Last-Modified") == "" || resp.Header.Get("Age") == "" {
			t.Errorf("%s: status %d, Last-Modified %q, Age %q", path, resp.StatusCode, resp.Header.Get("Last-Modified"), resp.Header.Get("Age"))
		}
		return answer{resp.Header.Get("Last-Modified"), string(body)}
	}
	answers := make(chan answer, 8)
	for range 8 {
		go func() { answers <- get("/api/v1/fleet?format=csv") }()
	}
	first := <-answers
	for range 7 {
		if a := <-answers; a != first {
			t.Errorf("concurrent fleet answers differ: %q at %s, %q at %s", a.body, a.modified, first.body, first.modified)
		}
	}
	if again := get("/api/v1/fleet?format=csv"); again != first {
		t.Errorf("a fleet request within %s was computed again", fleetCacheFor)
	}
	if !strings.Contains(first.body, "payments-ledger") {
		t.Errorf("fleet answer lacks the scenario's groups: %s", first.body)
	}
	if other := get("/api/v1/fleet?format=csv&region=cn-shanghai"); other.body == first.body || strings.Contains(other.body, "payments-ledger") {
		t.Errorf("the region=cn-shanghai fleet was answered from another request's cache:\n%s", other.body)
	}
	if resp, body := apiGet(t, srv, "/api/v1/fleet?region=1&region=2", ""); resp.StatusCode != 400 {
		t.Errorf("a bad fleet request: %d %s", resp.StatusCode, body)
	}
}
