package deploy

import (
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5/pgtype"
	"gopkg.in/yaml.v3"
)

// dashboardDir holds the dashboards Grafana provisions.
const dashboardDir = "grafana/dashboards"

// datasourceFile provisions the PostgreSQL data source the dashboards use.
const datasourceFile = "grafana/provisioning/datasources/lagtrail.yaml"

// dashboard is the part of a Grafana dashboard's JSON model the tests read.
type dashboard struct {
	UID           string   `json:"uid"`
	Title         string   `json:"title"`
	SchemaVersion int      `json:"schemaVersion"`
	Tags          []string `json:"tags"`
	Templating    struct {
		List []variable `json:"list"`
	} `json:"templating"`
	Panels []panel `json:"panels"`

	// file is the file the dashboard was read from, relative to this
	// package.
	file string
}

// datasourceRef is how panels, targets and variables name a data source.
type datasourceRef struct {
	Type string `json:"type"`
	UID  string `json:"uid"`
}

// panel is a dashboard panel; a row keeps its panels in Panels when it is
// collapsed.
type panel struct {
	ID            int            `json:"id"`
	Type          string         `json:"type"`
	Title         string         `json:"title"`
	Description   string         `json:"description"`
	Interval      string         `json:"interval"`
	MaxDataPoints int            `json:"maxDataPoints"`
	Datasource    *datasourceRef `json:"datasource"`
	GridPos       struct {
		H int `json:"h"`
		W int `json:"w"`
		X int `json:"x"`
		Y int `json:"y"`
	} `json:"gridPos"`
	Targets     []target        `json:"targets"`
	Panels      []panel         `json:"panels"`
	FieldConfig json.RawMessage `json:"fieldConfig"`
}

// target is one query of a panel.
type target struct {
	RefID      string         `json:"refId"`
	RawSQL     string         `json:"rawSql"`
	RawQuery   bool           `json:"rawQuery"`
	EditorMode string         `json:"editorMode"`
	Format     string         `json:"format"`
	Datasource *datasourceRef `json:"datasource"`
}

// variable is a template variable.
type variable struct {
	Type       string          `json:"type"`
	Name       string          `json:"name"`
	Query      json.RawMessage `json:"query"`
	Multi      bool            `json:"multi"`
	IncludeAll bool            `json:"includeAll"`
	AllValue   string          `json:"allValue"`
	Datasource *datasourceRef  `json:"datasource"`
}

// queryText returns the variable's query: Grafana stores a SQL variable's
// query as a string, or as an object with rawSql in newer editors.
func (v variable) queryText() (string, error) {
	var s string
	if err := json.Unmarshal(v.Query, &s); err == nil {
		return s, nil
	}
	var obj struct {
		RawSQL string `json:"rawSql"`
		Query  string `json:"query"`
	}
	if err := json.Unmarshal(v.Query, &obj); err != nil {
		return "", fmt.Errorf("variable %s: query is neither a string nor an object: %w", v.Name, err)
	}
	if obj.RawSQL != "" {
		return obj.RawSQL, nil
	}
	return obj.Query, nil
}

// flatPanels returns the dashboard's panels with the panels of collapsed
// rows, rows left out.
func (d dashboard) flatPanels() []panel {
	var out []panel
	for _, p := range d.Panels {
		if p.Type == "row" {
			out = append(out, p.Panels...)
			continue
		}
		out = append(out, p)
	}
	return out
}

// loadDashboards reads every dashboard JSON file of dashboardDir, sorted by
// file name.
func loadDashboards() ([]dashboard, error) {
	files, err := filepath.Glob(filepath.Join(dashboardDir, "*.json"))
	if err != nil {
		return nil, fmt.Errorf("list dashboards: %w", err)
	}
	if len(files) == 0 {
		return nil, fmt.Errorf("no dashboards in %s", dashboardDir)
	}
	slices.Sort(files)
	out := make([]dashboard, 0, len(files))
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			return nil, fmt.Errorf("read dashboard: %w", err)
		}
		var d dashboard
		if err := json.Unmarshal(b, &d); err != nil {
			return nil, fmt.Errorf("dashboard %s: %w", f, err)
		}
		d.file = f
		out = append(out, d)
	}
	return out, nil
}

// provisionedDatasource is the part of the data source provisioning file
// the tests read.
type provisionedDatasource struct {
	Name     string `yaml:"name"`
	UID      string `yaml:"uid"`
	Type     string `yaml:"type"`
	URL      string `yaml:"url"`
	User     string `yaml:"user"`
	JSONData struct {
		Database     string `yaml:"database"`
		SSLMode      string `yaml:"sslmode"`
		TimeInterval string `yaml:"timeInterval"`
	} `yaml:"jsonData"`
	SecureJSONData struct {
		Password string `yaml:"password"`
	} `yaml:"secureJsonData"`
}

// loadDatasource reads the single data source of datasourceFile.
func loadDatasource() (provisionedDatasource, error) {
	b, err := os.ReadFile(datasourceFile)
	if err != nil {
		return provisionedDatasource{}, fmt.Errorf("read data source provisioning: %w", err)
	}
	var f struct {
		APIVersion  int                     `yaml:"apiVersion"`
		Datasources []provisionedDatasource `yaml:"datasources"`
	}
	if err := yaml.Unmarshal(b, &f); err != nil {
		return provisionedDatasource{}, fmt.Errorf("%s: %w", datasourceFile, err)
	}
	if f.APIVersion != 1 || len(f.Datasources) != 1 {
		return provisionedDatasource{}, fmt.Errorf("%s: apiVersion %d with %d data sources, want 1 and 1", datasourceFile, f.APIVersion, len(f.Datasources))
	}
	return f.Datasources[0], nil
}

// grafanaValue is the value of a template variable.
type grafanaValue struct {
	values []string
	// quote is set for multi-value and include-all variables: Grafana's SQL
	// data sources then write each value as a quoted literal, joined by
	// commas. A single-value variable is written as it is, its quotes
	// doubled, for the query to put inside quotes.
	quote bool
}

// sql returns the value as Grafana's SQL data sources interpolate it.
func (v grafanaValue) sql() string {
	if !v.quote {
		return strings.ReplaceAll(strings.Join(v.values, ","), "'", "''")
	}
	q := make([]string, len(v.values))
	for i, s := range v.values {
		q[i] = "'" + strings.ReplaceAll(s, "'", "''") + "'"
	}
	return strings.Join(q, ",")
}

// grafanaScope is what Grafana knows when it runs one panel's query: the
// time range, the interval and the values of the template variables.
type grafanaScope struct {
	from, to time.Time
	interval time.Duration
	vars     map[string]grafanaValue
}

var (
	// templateVar matches $name, ${name}, ${name:format}, [[name]] and
	// [[name:format]]: the syntaxes of Grafana's template variables.
	templateVar = regexp.MustCompile(`\$(\w+)|\$\{(\w+)(?::([^}]*))?\}|\[\[(\w+)(?::([^\]]*))?\]\]`)
	// macroCall is the PostgreSQL data source's macro syntax (its sExpr).
	macroCall = regexp.MustCompile(`\$([_a-zA-Z0-9]+)\(([^\)]*)\)`)
	// leftover finds what looks like a macro or variable that nothing
	// expanded.
	leftover = regexp.MustCompile(`\$\w|\$\{|\[\[\w`)
)

// expand does to sql what Grafana does before it reaches PostgreSQL: the
// frontend replaces template and global variables, then the PostgreSQL data
// source's backend expands its macros. Anything left that looks like a
// variable or a macro is an error, as are macros the data source does not
// have.
func (s grafanaScope) expand(sql string) (string, error) {
	var errs []error
	sql = templateVar.ReplaceAllStringFunc(sql, func(m string) string {
		sub := templateVar.FindStringSubmatch(m)
		name := sub[1] + sub[2] + sub[4]
		if format := sub[3] + sub[5]; format != "" {
			errs = append(errs, fmt.Errorf("%s: variable formats are not used by these dashboards", m))
			return m
		}
		if v, ok := s.global(name); ok {
			return v
		}
		if v, ok := s.vars[name]; ok {
			return v.sql()
		}
		// Grafana leaves what it does not know; macros pass through here.
		return m
	})
	if err := errors.Join(errs...); err != nil {
		return "", err
	}
	sql, err := s.macros(sql)
	if err != nil {
		return "", err
	}
	if loc := leftover.FindStringIndex(sql); loc != nil {
		end := min(loc[1]+30, len(sql))
		return "", fmt.Errorf("unknown variable or macro at %q", sql[loc[0]:end])
	}
	return sql, nil
}

// global returns the value of Grafana's global variable name.
func (s grafanaScope) global(name string) (string, bool) {
	rng := s.to.Sub(s.from)
	switch name {
	case "__interval":
		return formatInterval(s.interval), true
	case "__interval_ms":
		return strconv.FormatInt(s.interval.Milliseconds(), 10), true
	case "__from":
		return strconv.FormatInt(s.from.UnixMilli(), 10), true
	case "__to":
		return strconv.FormatInt(s.to.UnixMilli(), 10), true
	case "__range":
		return formatInterval(rng), true
	case "__range_s":
		return strconv.FormatInt(int64(rng/time.Second), 10), true
	case "__range_ms":
		return strconv.FormatInt(rng.Milliseconds(), 10), true
	}
	return "", false
}

// macros expands the PostgreSQL data source's macros as its backend does
// (pkg/tsdb/grafana-postgresql-datasource/macros.go and sqleng's
// Interpolate, TimescaleDB off).
func (s grafanaScope) macros(sql string) (string, error) {
	var errs []error
	var b strings.Builder
	last := 0
	for _, m := range macroCall.FindAllStringSubmatchIndex(sql, -1) {
		whole, name, argText := sql[m[0]:m[1]], sql[m[2]:m[3]], sql[m[4]:m[5]]
		// Grafana's compatibility with dashboards older than 5.3: a
		// $__timeGroup directly followed by a comma gets the alias too. It
		// looks at the first occurrence of the same text.
		if name == "__timeGroup" {
			if i := strings.Index(sql, whole); i >= 0 && i+len(whole) < len(sql) && sql[i+len(whole)] == ',' {
				name = "__timeGroupAlias"
			}
		}
		args := strings.Split(argText, ",")
		for i := range args {
			args[i] = strings.Trim(args[i], " ")
		}
		res, err := s.macro(name, args)
		if err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", whole, err))
		}
		b.WriteString(sql[last:m[0]])
		b.WriteString(res)
		last = m[1]
	}
	b.WriteString(sql[last:])
	return b.String(), errors.Join(errs...)
}

// macro evaluates one macro.
func (s grafanaScope) macro(name string, args []string) (string, error) {
	from, to := s.from.UTC(), s.to.UTC()
	column := func() (string, error) {
		if len(args) == 0 || args[0] == "" {
			return "", errors.New("missing time column argument")
		}
		return args[0], nil
	}
	group := func(format string) (string, error) {
		if len(args) < 2 {
			return "", errors.New("needs a time column and an interval")
		}
		iv, err := parseInterval(strings.Trim(args[1], "'"))
		if err != nil {
			return "", err
		}
		if len(args) == 3 && !validFill(args[2]) {
			return "", fmt.Errorf("unknown fill value %q", args[2])
		}
		return fmt.Sprintf(format, args[0], iv.Seconds(), iv.Seconds()), nil
	}
	switch name {
	case "__time":
		c, err := column()
		return c + ` AS "time"`, err
	case "__timeEpoch":
		c, err := column()
		return "extract(epoch from " + c + `) as "time"`, err
	case "__timeFilter":
		c, err := column()
		return fmt.Sprintf("%s BETWEEN '%s' AND '%s'", c, from.Format(time.RFC3339Nano), to.Format(time.RFC3339Nano)), err
	case "__timeFrom":
		return "'" + from.Format(time.RFC3339Nano) + "'", nil
	case "__timeTo":
		return "'" + to.Format(time.RFC3339Nano) + "'", nil
	case "__timeGroup":
		return group("floor(extract(epoch from %s)/%v)*%v")
	case "__timeGroupAlias":
		g, err := group("floor(extract(epoch from %s)/%v)*%v")
		return g + ` AS "time"`, err
	case "__unixEpochFilter":
		c, err := column()
		return fmt.Sprintf("%s >= %d AND %s <= %d", c, from.Unix(), c, to.Unix()), err
	case "__unixEpochNanoFilter":
		c, err := column()
		return fmt.Sprintf("%s >= %d AND %s <= %d", c, from.UnixNano(), c, to.UnixNano()), err
	case "__unixEpochFrom":
		return strconv.FormatInt(from.Unix(), 10), nil
	case "__unixEpochTo":
		return strconv.FormatInt(to.Unix(), 10), nil
	case "__unixEpochNanoFrom":
		return strconv.FormatInt(from.UnixNano(), 10), nil
	case "__unixEpochNanoTo":
		return strconv.FormatInt(to.UnixNano(), 10), nil
	case "__unixEpochGroup":
		return group("floor((%s)/%v)*%v")
	case "__unixEpochGroupAlias":
		g, err := group("floor((%s)/%v)*%v")
		return g + ` AS "time"`, err
	}
	return "macro_error()", fmt.Errorf("unknown macro %q", name)
}

// validFill reports whether s is a fill mode of $__timeGroup: NULL,
// previous or a number.
func validFill(s string) bool {
	if s == "NULL" || s == "previous" {
		return true
	}
	_, err := strconv.ParseFloat(s, 64)
	return err == nil
}

// intervalSyntax is what Grafana's gtime.ParseInterval takes: a count and a
// unit.
var intervalSyntax = regexp.MustCompile(`^(\d+)(ms|s|m|h|d|w|M|y)$`)

// parseInterval parses an interval such as 5m, 1h or 1d.
func parseInterval(s string) (time.Duration, error) {
	m := intervalSyntax.FindStringSubmatch(s)
	if m == nil {
		return 0, fmt.Errorf("error parsing interval %q", s)
	}
	n, err := strconv.ParseInt(m[1], 10, 64)
	if err != nil || n <= 0 {
		return 0, fmt.Errorf("error parsing interval %q", s)
	}
	unit := map[string]time.Duration{
		"ms": time.Millisecond, "s": time.Second, "m": time.Minute, "h": time.Hour,
		"d": 24 * time.Hour, "w": 7 * 24 * time.Hour, "M": 30 * 24 * time.Hour, "y": 365 * 24 * time.Hour,
	}[m[2]]
	return time.Duration(n) * unit, nil
}

// formatInterval writes an interval the way Grafana writes $__interval:
// whole units, the largest that fits.
func formatInterval(d time.Duration) string {
	const day, year = 24 * time.Hour, 365 * 24 * time.Hour
	switch {
	case d >= year:
		return fmt.Sprintf("%dy", d/year)
	case d >= day:
		return fmt.Sprintf("%dd", d/day)
	case d >= time.Hour:
		return fmt.Sprintf("%dh", d/time.Hour)
	case d >= time.Minute:
		return fmt.Sprintf("%dm", d/time.Minute)
	case d >= time.Second:
		return fmt.Sprintf("%ds", d/time.Second)
	case d >= time.Millisecond:
		return fmt.Sprintf("%dms", d/time.Millisecond)
	}
	return "1ms"
}

// roundSteps are the nice intervals Grafana rounds a raw interval to
// (rangeutil's roundInterval): below limit, the interval becomes step.
var roundSteps = []struct{ limit, step time.Duration }{
	{10 * time.Millisecond, time.Millisecond},
	{15 * time.Millisecond, 10 * time.Millisecond},
	{35 * time.Millisecond, 20 * time.Millisecond},
	{75 * time.Millisecond, 50 * time.Millisecond},
	{150 * time.Millisecond, 100 * time.Millisecond},
	{350 * time.Millisecond, 200 * time.Millisecond},
	{750 * time.Millisecond, 500 * time.Millisecond},
	{1500 * time.Millisecond, time.Second},
	{3500 * time.Millisecond, 2 * time.Second},
	{7500 * time.Millisecond, 5 * time.Second},
	{12500 * time.Millisecond, 10 * time.Second},
	{17500 * time.Millisecond, 15 * time.Second},
	{25 * time.Second, 20 * time.Second},
	{45 * time.Second, 30 * time.Second},
	{90 * time.Second, time.Minute},
	{210 * time.Second, 2 * time.Minute},
	{450 * time.Second, 5 * time.Minute},
	{750 * time.Second, 10 * time.Minute},
	{1050 * time.Second, 15 * time.Minute},
	{1500 * time.Second, 20 * time.Minute},
	{2700 * time.Second, 30 * time.Minute},
	{5400 * time.Second, time.Hour},
	{9000 * time.Second, 2 * time.Hour},
	{16200 * time.Second, 3 * time.Hour},
	{32400 * time.Second, 6 * time.Hour},
	{24 * time.Hour, 12 * time.Hour},
	{7 * 24 * time.Hour, 24 * time.Hour},
	{21 * 24 * time.Hour, 7 * 24 * time.Hour},
	{42 * 24 * time.Hour, 30 * 24 * time.Hour},
}

// panelInterval is the $__interval Grafana computes for a panel: the range
// over the panel's data points (maxDataPoints, else its width in pixels,
// taken as 75 per grid column), rounded to a nice interval, and at least the
// panel's min interval (else the data source's).
func panelInterval(rng time.Duration, p panel, datasourceMin time.Duration) (time.Duration, error) {
	points := p.MaxDataPoints
	if points <= 0 {
		points = max(p.GridPos.W, 1) * 75
	}
	raw := rng / time.Duration(points)
	iv := 365 * 24 * time.Hour
	for _, s := range roundSteps {
		if raw < s.limit {
			iv = s.step
			break
		}
	}
	low := datasourceMin
	if p.Interval != "" {
		var err error
		if low, err = parseInterval(p.Interval); err != nil {
			return 0, fmt.Errorf("panel %q: min interval: %w", p.Title, err)
		}
	}
	return max(iv, low), nil
}

// toFloat turns a time column's value into a number that orders like it.
func toFloat(v any) (float64, bool) {
	switch x := v.(type) {
	case time.Time:
		return float64(x.UnixMicro()), true
	case float64:
		return x, true
	case float32:
		return float64(x), true
	case int64:
		return float64(x), true
	case int32:
		return float64(x), true
	case pgtype.Numeric:
		f, err := x.Float64Value()
		return f.Float64, err == nil && f.Valid
	}
	return math.NaN(), false
}
