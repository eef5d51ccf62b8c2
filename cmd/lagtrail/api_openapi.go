package main

import (
	"encoding/json"
	"io"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/spf13/pflag"

	"github.com/lagtrail/lagtrail/query"
	"github.com/lagtrail/lagtrail/store"
)

// apiColumns returns the columns an endpoint's CSV and JSON rows can have,
// from the command's own table builder run on an empty result at the most
// detailed level; nil for export, whose columns are the view's.
func apiColumns(name string) []column {
	var t *table
	switch name {
	case "fleet":
		t = fleetTable(nil, time.Time{})
	case "lag":
		t = lagTable(&query.History{By: store.LevelPartition})
	case "rates":
		t = ratesTable(&query.History{By: store.LevelPartition})
	case "drain":
		t = drainTable(nil, store.LevelPartition, time.Time{}, 0, 0)
	case "status":
		t = statusTable(nil, time.Time{}, time.Time{}, 0)
	case "events":
		t = eventsTable(nil)
	case "top":
		t = topTable(&query.Top{By: store.TopByLag})
	case "skew":
		t = skewTable(&query.Skew{})
	case "capacity":
		t = capacityTable(&query.CapacityReport{}, 0)
	case "incident":
		t = incidentTable(&query.IncidentReport{})
	default:
		return nil
	}
	return t.columns
}

// columnSchema is the JSON schema of one column's values.
func columnSchema(c column) *openapi3.Schema {
	var s *openapi3.Schema
	switch c.kind {
	case kTime:
		s = openapi3.NewDateTimeSchema()
	case kInt:
		s = openapi3.NewIntegerSchema()
	case kCount, kRate, kSeconds:
		s = openapi3.NewFloat64Schema()
	default:
		// Text columns hold words, and a few flags and shares.
		s = openapi3.NewSchema()
	}
	s.Nullable = true
	return s
}

// apiDescription introduces the API in the OpenAPI document.
const apiDescription = `The HTTP API of lagtrail serve (and of lagtrail record --listen). Each
endpoint runs the lagtrail command named in its summary, with the query
parameters as that command's flags (without the dashes): the same names,
defaults, validation and meaning, and the same column names. See lagtrail
COMMAND --help, or README.md, for what every figure means.

Times are RFC3339, a date (2006-01-02, midnight UTC), "now", or relative to
now (-24h, -90m, -7d, -2w); durations take Go's units and d (24h) and w (7
days): 90m, 7d, 1d12h, 2w. format=json (the default) is one document with
the query's parameters, "columns" and "rows" (each row an object keyed by
column name; null where a value is unknown); format=csv is a header row and
one record per row, with RFC3339 UTC times and plain numbers. Responses are
written as they are computed, and gzip-compressed when the client accepts it.

Errors are JSON objects {"error", "parameter", "status"}: 400 for a bad
parameter (named in "parameter"), 401 without the bearer token when the
server requires one, 404 for a group or topic never recorded, 503 when the
database cannot be reached and 504 when a request runs past the server's
timeout.`

// buildOpenAPI describes every endpoint from its command's flags.
func buildOpenAPI() *openapi3.T {
	doc := &openapi3.T{
		OpenAPI: "3.0.3",
		Info: &openapi3.Info{
			Title:       "lagtrail",
			Version:     "1",
			Description: apiDescription,
		},
		Paths: openapi3.NewPaths(),
		Components: &openapi3.Components{
			Schemas: openapi3.Schemas{
				"Error": openapi3.NewSchemaRef("", &openapi3.Schema{
					Type:     &openapi3.Types{openapi3.TypeObject},
					Required: []string{"error", "status"},
					Properties: openapi3.Schemas{
						"error":     openapi3.NewSchemaRef("", described(openapi3.NewStringSchema(), "What is wrong, naming parameters without dashes.")),
						"parameter": openapi3.NewSchemaRef("", described(openapi3.NewStringSchema(), "The parameter at fault, when one is.")),
						"status":    openapi3.NewSchemaRef("", described(openapi3.NewIntegerSchema(), "The HTTP status code.")),
					},
				}),
			},
			SecuritySchemes: openapi3.SecuritySchemes{
				"bearer": &openapi3.SecuritySchemeRef{Value: openapi3.NewJWTSecurityScheme().WithBearerFormat("opaque token")},
			},
		},
		Security: openapi3.SecurityRequirements{{"bearer": []string{}}, {}},
	}
	errResponse := func(desc string) *openapi3.ResponseRef {
		return &openapi3.ResponseRef{Value: openapi3.NewResponse().WithDescription(desc).
			WithJSONSchemaRef(openapi3.NewSchemaRef("#/components/schemas/Error", nil))}
	}
	g := &globals{stdout: io.Discard, stderr: io.Discard, getenv: func(string) string { return "" }}
	for _, ep := range apiEndpoints {
		_, cmd := ep.command(g)
		op := openapi3.NewOperation()
		op.OperationID = ep.name
		op.Summary = "lagtrail " + strings.Join(ep.path, " ") + ": " + cmd.Short
		op.Description = cmd.Long
		op.Tags = []string{ep.path[0]}
		cmd.Flags().VisitAll(func(f *pflag.Flag) {
			if f.Hidden || apiExcluded[f.Name] {
				return
			}
			p := openapi3.NewQueryParameter(f.Name).WithDescription(f.Usage).WithSchema(flagSchema(f, ep))
			if strings.Contains(f.Usage, "(required)") {
				p.Required = true
			}
			op.AddParameter(p)
		})
		content := openapi3.NewContent()
		for _, format := range ep.formats {
			mt := openapi3.NewMediaType()
			switch format {
			case "json":
				mt.Schema = openapi3.NewSchemaRef("", jsonSchema(ep))
			default:
				mt.Schema = openapi3.NewSchemaRef("", openapi3.NewStringSchema())
			}
			content[strings.Split(contentTypes[format], ";")[0]] = mt
		}
		ok := openapi3.NewResponse().WithDescription("The command's output in the requested format.").WithContent(content)
		op.AddResponse(http.StatusOK, ok)
		op.Responses.Set("400", errResponse("A parameter is unknown, repeated or invalid; parameter names it."))
		op.Responses.Set("401", errResponse("The server requires a bearer token and none, or a wrong one, was sent."))
		op.Responses.Set("404", errResponse("No recorded group or topic matches."))
		op.Responses.Set("500", errResponse("The command failed; the server log has the details."))
		op.Responses.Set("503", errResponse("The database cannot be reached."))
		op.Responses.Set("504", errResponse("The request ran past the server's timeout."))
		doc.AddOperation(apiPrefix+ep.name, http.MethodGet, op)
	}
	return doc
}

// described sets s's description.
func described(s *openapi3.Schema, desc string) *openapi3.Schema {
	s.Description = desc
	return s
}

// flagSchema is the schema of the parameter a flag becomes.
func flagSchema(f *pflag.Flag, ep apiEndpoint) *openapi3.Schema {
	var s *openapi3.Schema
	def := any(f.DefValue)
	switch f.Value.Type() {
	case "int", "int32", "int64":
		s = openapi3.NewIntegerSchema()
		if n, err := strconv.ParseInt(f.DefValue, 10, 64); err == nil {
			def = n
		}
	case "float64":
		s = openapi3.NewFloat64Schema()
		if x, err := strconv.ParseFloat(f.DefValue, 64); err == nil {
			def = x
		}
	case "bool":
		s = openapi3.NewBoolSchema()
		def = f.DefValue == "true"
	case "stringArray", "stringSlice":
		s = openapi3.NewArraySchema().WithItems(openapi3.NewStringSchema())
		def = nil
	case "duration":
		s = openapi3.NewStringSchema()
		s.Format = "duration"
	default:
		s = openapi3.NewStringSchema()
	}
	if f.Name == "format" {
		enum := make([]any, len(ep.formats))
		for i, v := range ep.formats {
			enum[i] = v
		}
		s.Enum = enum
		def = ep.formats[0]
	}
	if def != nil && def != "" {
		s.Default = def
	}
	return s
}

// jsonSchema is the schema of an endpoint's JSON document.
func jsonSchema(ep apiEndpoint) *openapi3.Schema {
	doc := openapi3.NewObjectSchema()
	if ep.name == "incident" {
		doc.Description = "The whole incident report: the group, range, normal, incidents with their timelines, status intervals, events, rebalances, poll failures, and the group and partition series at every poll."
		doc.Required = []string{"group", "from", "to", "incidents"}
		return doc
	}
	cols := apiColumns(ep.name)
	row := openapi3.NewObjectSchema()
	names := make([]any, len(cols))
	for i, c := range cols {
		row.WithPropertyRef(c.name, openapi3.NewSchemaRef("", columnSchema(c)))
		names[i] = c.name
	}
	colSchema := openapi3.NewStringSchema()
	colSchema.Enum = names
	doc.Description = "The query's parameters as keys, the columns in order, and one object per row keyed by column name. Key columns appear as the level of detail (by) asks."
	doc.Required = []string{"columns", "rows"}
	doc.WithPropertyRef("columns", openapi3.NewSchemaRef("", openapi3.NewArraySchema().WithItems(colSchema)))
	doc.WithPropertyRef("rows", openapi3.NewSchemaRef("", openapi3.NewArraySchema().WithItems(row)))
	return doc
}

var (
	openAPIOnce sync.Once
	openAPIJSON []byte
)

// openAPI serves the OpenAPI document.
func (a *apiServer) openAPI(w http.ResponseWriter, _ *http.Request) {
	openAPIOnce.Do(func() {
		var err error
		openAPIJSON, err = json.MarshalIndent(buildOpenAPI(), "", "  ")
		if err != nil {
			panic(err)
		}
	})
	w.Header().Set("Content-Type", contentTypes["json"])
	_, _ = w.Write(openAPIJSON)
}
