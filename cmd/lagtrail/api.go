package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/jackc/pgx/v5/pgconn"
	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/lagtrail/lagtrail/query"
	"github.com/lagtrail/lagtrail/store"
)

// apiPrefix is where the HTTP API lives.
const apiPrefix = "/api/v1/"

// apiEndpoint is one endpoint of the HTTP API: the command it runs, whose
// flags are its parameters, and the output formats it serves.
type apiEndpoint struct {
	name string
	path []string
	// formats are the values of the format parameter, the default first.
	formats []string
	// cacheFor, when positive, serves a response computed less than this
	// long ago to a request with the same parameters, and shares one
	// computation among concurrent requests.
	cacheFor time.Duration
}

// apiEndpoints mirror the query, report and export commands. Each request
// runs the command itself, in process, with the request's parameters as
// its flags: the names, defaults, validation, semantics and columns are
// those of the command line by construction.
var apiEndpoints = []apiEndpoint{
	{"fleet", []string{"query", "fleet"}, []string{"json", "csv"}, fleetCacheFor},
	{"lag", []string{"query", "lag"}, []string{"json", "csv"}, 0},
	{"rates", []string{"query", "rates"}, []string{"json", "csv"}, 0},
	{"drain", []string{"query", "drain"}, []string{"json", "csv"}, 0},
	{"status", []string{"query", "status"}, []string{"json", "csv"}, 0},
	{"events", []string{"query", "events"}, []string{"json", "csv"}, 0},
	{"top", []string{"query", "top"}, []string{"json", "csv"}, 0},
	{"skew", []string{"query", "skew"}, []string{"json", "csv"}, 0},
	{"capacity", []string{"report", "capacity"}, []string{"json", "csv", "markdown"}, 0},
	{"incident", []string{"report", "incident"}, []string{"json", "csv", "markdown"}, 0},
	{"export", []string{"export"}, []string{"csv", "jsonl"}, 0},
}

// fleetCacheFor is how long a fleet answer is served again. The fleet is
// evaluated from each group's last poll (polled every interval, 60 s by
// default); reading it costs about 2 ms a group, so a page refreshing every
// 30 s for several viewers would otherwise keep the database busy.
const fleetCacheFor = 15 * time.Second

// apiExcluded are flags the API does not take: where to connect, which
// files to write, help, and explain (it runs EXPLAIN ANALYZE, an
// operator's tool).
var apiExcluded = map[string]bool{
	"database-url": true, "config": true, "out": true, "output": true, "chart-format": true, "help": true, "explain": true,
}

// contentTypes are the media types of the formats.
var contentTypes = map[string]string{
	"json":     "application/json",
	"csv":      "text/csv; charset=utf-8",
	"markdown": "text/markdown; charset=utf-8",
	"jsonl":    "application/x-ndjson",
}

// apiError is the body of every error response.
type apiError struct {
	// Error says what is wrong, naming parameters without their dashes.
	Error string `json:"error"`
	// Parameter is the parameter at fault, when one is.
	Parameter string `json:"parameter,omitempty"`
	// Status repeats the HTTP status code.
	Status int `json:"status"`
}

// apiServer serves the API endpoints on one store.
type apiServer struct {
	st      *store.Store
	log     *slog.Logger
	getenv  func(string) string
	timeout time.Duration
	cache   apiCache
}

// defaultRequestTimeout bounds each API request's database work.
const defaultRequestTimeout = 5 * time.Minute

// routes adds the API's endpoints to mux.
func (a *apiServer) routes(mux *http.ServeMux) {
	for _, ep := range apiEndpoints {
		mux.Handle("GET "+apiPrefix+ep.name, a.endpoint(ep))
	}
	mux.HandleFunc("GET "+apiPrefix+"openapi.json", a.openAPI)
	mux.HandleFunc("GET "+apiPrefix+"{$}", a.index)
	mux.HandleFunc(apiPrefix+"{rest...}", func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			w.Header().Set("Allow", "GET, HEAD")
			writeAPIError(w, http.StatusMethodNotAllowed, "method "+r.Method+" is not allowed: the API is read-only", "")
			return
		}
		writeAPIError(w, http.StatusNotFound, fmt.Sprintf("no endpoint %q: see %sopenapi.json", r.URL.Path, apiPrefix), "")
	})
}

// index lists the endpoints.
func (a *apiServer) index(w http.ResponseWriter, _ *http.Request) {
	type entry struct {
		Path    string   `json:"path"`
		Command string   `json:"command"`
		Formats []string `json:"formats"`
	}
	out := struct {
		OpenAPI   string  `json:"openapi"`
		Endpoints []entry `json:"endpoints"`
	}{OpenAPI: apiPrefix + "openapi.json"}
	for _, ep := range apiEndpoints {
		out.Endpoints = append(out.Endpoints, entry{apiPrefix + ep.name, "lagtrail " + strings.Join(ep.path, " "), ep.formats})
	}
	w.Header().Set("Content-Type", contentTypes["json"])
	_ = json.NewEncoder(w).Encode(out)
}

// command builds the command tree around g and returns ep's command.
func (ep apiEndpoint) command(g *globals) (*cobra.Command, *cobra.Command) {
	root := newRootCmdWith(g)
	cmd, _, err := root.Find(ep.path)
	if err != nil || cmd == root {
		panic(fmt.Sprintf("api endpoint %s: no command %q", ep.name, ep.path))
	}
	return root, cmd
}

// endpoint serves ep: it checks the parameters against the command's
// flags, runs the command with the response as its output, and turns its
// errors into JSON error responses.
func (a *apiServer) endpoint(ep apiEndpoint) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, cmd := ep.command(a.globals(io.Discard))
		args, format, perr := ep.args(cmd, r)
		if perr != nil {
			writeAPIError(w, http.StatusBadRequest, perr.msg, perr.param)
			return
		}
		if ep.cacheFor > 0 {
			a.serveCached(w, ep, args, format)
			return
		}
		out := &apiWriter{w: w, contentType: contentTypes[format]}
		status, msg, param, err := a.run(r.Context(), ep, args, out)
		if err == nil {
			if !out.started {
				// A command that printed nothing still answers.
				out.start()
			}
			return
		}
		if out.started {
			// The status line is gone: cut the response short, so that
			// the client sees a broken transfer, not a complete one.
			a.log.Error("api response failed after it started", slog.String("path", r.URL.Path), slog.Int("status", status), slog.String("err", oneLine(err.Error())))
			panic(http.ErrAbortHandler)
		}
		writeAPIError(w, status, msg, param)
	})
}

// globals are what a command run by the API shares: out as its output, the
// server's store and logger.
func (a *apiServer) globals(out io.Writer) *globals {
	return &globals{stdout: out, stderr: io.Discard, getenv: a.getenv, logLevel: "warn", logFormat: "text", shared: a.st, sharedLog: a.log}
}

// run runs ep's command with args, writing to out, under the server's
// timeout. On failure it returns the error response: status, message and
// parameter (see classify), and logs server-side failures.
func (a *apiServer) run(ctx context.Context, ep apiEndpoint, args []string, out io.Writer) (int, string, string, error) {
	root, cmd := ep.command(a.globals(out))
	ctx, cancel := context.WithTimeout(ctx, a.timeout)
	defer cancel()
	root.SetArgs(args)
	err := root.ExecuteContext(ctx)
	if err == nil {
		return http.StatusOK, "", "", nil
	}
	status, msg, param := a.classify(ctx, cmd, err)
	if status >= 500 {
		a.log.Error("api request failed", slog.String("endpoint", ep.name), slog.Int("status", status), slog.String("err", oneLine(err.Error())))
	}
	return status, msg, param, err
}

// paramError is a bad request parameter.
type paramError struct {
	msg, param string
}

// args turns the request's query parameters into the command's arguments,
// refusing parameters that are not the command's flags, are excluded or
// hidden, or are repeated where the flag takes one value. It returns the
// output format.
func (ep apiEndpoint) args(cmd *cobra.Command, r *http.Request) ([]string, string, *paramError) {
	q := r.URL.Query()
	names := make([]string, 0, len(q))
	for name := range q {
		names = append(names, name)
	}
	slices.Sort(names)
	args := slices.Clone(ep.path)
	format := ep.formats[0]
	for _, name := range names {
		vals := q[name]
		fl := cmd.Flags().Lookup(name)
		switch {
		case fl == nil || fl.Hidden:
			return nil, "", &paramError{fmt.Sprintf("unknown parameter %q: %s takes %s", name, ep.name, strings.Join(ep.paramNames(cmd), ", ")), name}
		case apiExcluded[name]:
			return nil, "", &paramError{fmt.Sprintf("parameter %q is not taken by the API", name), name}
		case len(vals) > 1 && !strings.HasSuffix(fl.Value.Type(), "Array") && !strings.HasSuffix(fl.Value.Type(), "Slice"):
			return nil, "", &paramError{fmt.Sprintf("parameter %q is given %d times; it takes one value", name, len(vals)), name}
		}
		if name == "format" {
			format = vals[0]
			if !slices.Contains(ep.formats, format) {
				return nil, "", &paramError{fmt.Sprintf("format must be %s, got %q", orList(ep.formats), format), "format"}
			}
			continue
		}
		for _, v := range vals {
			args = append(args, "--"+name+"="+v)
		}
	}
	if cmd.Flags().Lookup("format") != nil {
		args = append(args, "--format="+format)
	}
	return args, format, nil
}

// paramNames lists the parameters ep takes, sorted.
func (ep apiEndpoint) paramNames(cmd *cobra.Command) []string {
	var names []string
	cmd.Flags().VisitAll(func(f *pflag.Flag) {
		if !f.Hidden && !apiExcluded[f.Name] {
			names = append(names, f.Name)
		}
	})
	slices.Sort(names)
	return names
}

// flagMention finds a flag named in an error message: --name, or a
// shorthand such as -n.
var flagMention = regexp.MustCompile(`(^|[^\w-])(--?)([a-z][a-z0-9-]*)`)

// classify turns a command's error into a status, a message that names
// parameters as the API does (without dashes) and the parameter at fault.
func (a *apiServer) classify(ctx context.Context, cmd *cobra.Command, err error) (int, string, string) {
	var ue usageError
	status := http.StatusInternalServerError
	switch {
	case errors.Is(err, query.ErrUnknownGroup), errors.Is(err, query.ErrUnknownTopic):
		status = http.StatusNotFound
	case errors.As(err, &ue), isCobraUsage(err), errors.Is(err, query.ErrInvalidRequest), errors.Is(err, store.ErrInvalidRange), errors.Is(err, store.ErrUnknownView):
		status = http.StatusBadRequest
	case errors.Is(ctx.Err(), context.DeadlineExceeded):
		return http.StatusGatewayTimeout, fmt.Sprintf("the request took longer than %s", a.timeout), ""
	case isUnavailable(err):
		return http.StatusServiceUnavailable, "the database is unavailable", ""
	}
	if status == http.StatusInternalServerError {
		return status, "internal error; the server log has the details", ""
	}
	msg := oneLine(err.Error())
	param := ""
	msg = flagMention.ReplaceAllStringFunc(msg, func(m string) string {
		sub := flagMention.FindStringSubmatch(m)
		var fl *pflag.Flag
		if sub[2] == "--" {
			fl = cmd.Flags().Lookup(sub[3])
		} else if len(sub[3]) == 1 {
			fl = cmd.Flags().ShorthandLookup(sub[3])
		}
		if fl == nil {
			return m
		}
		if param == "" {
			param = fl.Name
		}
		return sub[1] + fl.Name
	})
	switch {
	case errors.Is(err, query.ErrUnknownGroup), errors.Is(err, query.ErrAmbiguousGroup):
		param = "group"
	case errors.Is(err, query.ErrUnknownTopic):
		param = "topic"
	}
	return status, msg, param
}

// isUnavailable reports whether err is a failure to reach the database.
func isUnavailable(err error) bool {
	var ce *pgconn.ConnectError
	return errors.As(err, &ce) || pgconn.SafeToRetry(err)
}

// orList writes "a, b or c".
func orList(s []string) string {
	if len(s) == 1 {
		return s[0]
	}
	return strings.Join(s[:len(s)-1], ", ") + " or " + s[len(s)-1]
}

// setAPIHeaders sets the headers of every API response with a body of
// contentType: never cached by the client (the history grows), never
// sniffed as another type.
func setAPIHeaders(h http.Header, contentType string) {
	h.Set("Content-Type", contentType)
	h.Set("Cache-Control", "no-store")
	h.Set("X-Content-Type-Options", "nosniff")
}

// writeAPIError writes an error response.
func writeAPIError(w http.ResponseWriter, status int, msg, param string) {
	setAPIHeaders(w.Header(), contentTypes["json"])
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(apiError{Error: msg, Parameter: param, Status: status})
}

// apiWriter is the output of a command run by the API. Its first write
// sends the status line and headers; until then an error can still be
// answered with an error status. Each write is flushed to the client, so
// large results stream as the command writes them.
type apiWriter struct {
	w           http.ResponseWriter
	contentType string
	started     bool
}

func (a *apiWriter) start() {
	a.started = true
	setAPIHeaders(a.w.Header(), a.contentType)
	a.w.WriteHeader(http.StatusOK)
}

func (a *apiWriter) Write(p []byte) (int, error) {
	if !a.started {
		a.start()
	}
	n, err := a.w.Write(p)
	if f, ok := a.w.(http.Flusher); ok {
		f.Flush()
	}
	return n, err
}
