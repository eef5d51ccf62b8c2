package main

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/getkin/kin-openapi/routers"

	"github.com/lagtrail/lagtrail/internal/scenariotest"
)

// TestOpenAPIDescribesTheAPI loads the served OpenAPI document, validates
// it, checks that each endpoint's parameters are its command's flags, and
// validates real requests and responses (bodies too, for JSON) against it.
func TestOpenAPIDescribesTheAPI(t *testing.T) {
	t.Parallel()
	h := scenariotest.Generate(t, "incident", scenariotest.Monday, 7*24*time.Hour)
	srv := apiTestServer(t, h.URL, "")
	resp, body := apiGet(t, srv, apiPrefix+"openapi.json", "")
	if resp.StatusCode != 200 {
		t.Fatalf("openapi.json: %d", resp.StatusCode)
	}
	ctx := context.Background()
	doc, err := openapi3.NewLoader().LoadFromData(body)
	if err != nil {
		t.Fatalf("load: %v", err)
	}
	if err := doc.Validate(ctx); err != nil {
		t.Fatalf("the OpenAPI document is invalid: %v", err)
	}

	g := &globals{stdout: io.Discard, stderr: io.Discard, getenv: func(string) string { return "" }}
	for _, ep := range apiEndpoints {
		item := doc.Paths.Value(apiPrefix + ep.name)
		if item == nil || item.Get == nil {
			t.Errorf("%s is not described", ep.name)
			continue
		}
		var params []string
		for _, p := range item.Get.Parameters {
			params = append(params, p.Value.Name)
		}
		slices.Sort(params)
		_, cmd := ep.command(g)
		if want := ep.paramNames(cmd); !slices.Equal(params, want) {
			t.Errorf("%s: described parameters %v, the command's flags %v", ep.name, params, want)
		}
		if !strings.HasPrefix(item.Get.Summary, "lagtrail "+strings.Join(ep.path, " ")) {
			t.Errorf("%s: summary %q does not name its command", ep.name, item.Get.Summary)
		}
	}

	validate := func(path string, wantStatus int) {
		t.Helper()
		req, err := http.NewRequest(http.MethodGet, srv.URL+path, nil)
		if err != nil {
			t.Fatal(err)
		}
		name := strings.TrimPrefix(req.URL.Path, apiPrefix)
		item := doc.Paths.Value(req.URL.Path)
		if item == nil {
			t.Fatalf("%s: no path item", path)
		}
		route := &routers.Route{Spec: doc, Path: req.URL.Path, PathItem: item, Method: http.MethodGet, Operation: item.Get}
		in := &openapi3filter.RequestValidationInput{Request: req, Route: route, Options: &openapi3filter.Options{AuthenticationFunc: openapi3filter.NoopAuthenticationFunc}}
		if err := openapi3filter.ValidateRequest(ctx, in); err != nil {
			t.Errorf("%s: the request does not match the document: %v", path, err)
		}
		resp, body := apiGet(t, srv, path, "")
		if resp.StatusCode != wantStatus {
			t.Fatalf("%s: status %d, want %d: %.300s", path, resp.StatusCode, wantStatus, body)
		}
		ct := strings.Split(resp.Header.Get("Content-Type"), ";")[0]
		out := &openapi3filter.ResponseValidationInput{
			RequestValidationInput: in, Status: resp.StatusCode, Header: resp.Header,
			Body:    io.NopCloser(bytes.NewReader(body)),
			Options: &openapi3filter.Options{IncludeResponseStatus: true, ExcludeResponseBody: ct != "application/json"},
		}
		if err := openapi3filter.ValidateResponse(ctx, out); err != nil {
			t.Errorf("%s (%s): the response does not match the document: %.1000v", path, name, err)
		}
	}
	for _, c := range apiCases {
		for _, format := range c.formats {
			validate(c.url(format), 200)
		}
	}
	validate(apiPrefix+"lag?from=yesterday", 400)
	validate(apiPrefix+"lag?group=no-such-group", 404)
}
