package main

import (
	"bytes"
	"context"
	"fmt"
	"reflect"
	"strings"
	"testing"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/lagtrail/lagtrail/ingest"
	"github.com/lagtrail/lagtrail/internal/spool"
	"github.com/lagtrail/lagtrail/store"
)

// minimalConfig is a valid file that sets only what has no default.
const minimalConfig = `targets:
  - region: cn-hangzhou
    instance: i-1
    groups: [g1, g2]
`

// runInProcess runs the command line in this process with env as the
// whole environment.
func runInProcess(args []string, env map[string]string) (code int, stdout, stderr string) {
	var out, errb bytes.Buffer
	code = run(context.Background(), args, &out, &errb, func(k string) string { return env[k] })
	return code, out.String(), errb.String()
}

// configPrint runs config print on content and returns its output, failing
// the test unless it exits 0.
func configPrint(t *testing.T, content string, env map[string]string, args ...string) string {
	t.Helper()
	args = append([]string{"config", "print", "--config", writeFile(t, "lagtrail.yaml", content)}, args...)
	code, out, errs := runInProcess(args, env)
	if code != exitOK {
		t.Fatalf("config print exited %d: %s", code, errs)
	}
	return out
}

// yamlPaths lists the dotted YAML path of every key of the struct type t,
// with [] for the elements of a list: targets[].region.
func yamlPaths(t reflect.Type, prefix string) []string {
	var out []string
	for i := range t.NumField() {
		key, inline, ok := yamlKey(t.Field(i))
		if !ok {
			continue
		}
		p := prefix
		if !inline {
			p = joinPath(prefix, key)
			out = append(out, p)
		}
		ft := t.Field(i).Type
		if ft.Kind() == reflect.Pointer {
			ft = ft.Elem()
		}
		suffix := ""
		if ft.Kind() == reflect.Slice {
			ft, suffix = ft.Elem(), "[]"
		}
		if ft.Kind() == reflect.Struct && !reflect.PointerTo(ft).Implements(yamlMarshaler) && !ft.Implements(yamlMarshaler) {
			out = append(out, yamlPaths(ft, p+suffix)...)
		}
	}
	return out
}

// lookupPath finds the node at a path of yamlPaths in a decoded document,
// taking a list's first element for [].
func lookupPath(n *yaml.Node, path string) (*yaml.Node, bool) {
	if n.Kind == yaml.DocumentNode {
		n = n.Content[0]
	}
	for _, part := range strings.Split(path, ".") {
		key, list := strings.CutSuffix(part, "[]")
		if n.Kind != yaml.MappingNode {
			return nil, false
		}
		var next *yaml.Node
		for i := 0; i+1 < len(n.Content); i += 2 {
			if n.Content[i].Value == key {
				next = n.Content[i+1]
			}
		}
		if next == nil {
			return nil, false
		}
		if list {
			if next.Kind != yaml.SequenceNode || len(next.Content) == 0 {
				return nil, false
			}
			next = next.Content[0]
		}
		n = next
	}
	return n, true
}

// TestConfigPrintShowsEveryKey walks fileConfig's yaml tags and checks that
// config print shows each key, so a key added to the file format shows up
// in the output or fails here.
func TestConfigPrintShowsEveryKey(t *testing.T) {
	t.Parallel()
	out := configPrint(t, minimalConfig, map[string]string{envDatabaseURL: "postgres://u:pw@db.internal/lagtrail"})
	var doc yaml.Node
	if err := yaml.Unmarshal([]byte(out), &doc); err != nil {
		t.Fatalf("output is not YAML: %v\n%s", err, out)
	}
	paths := yamlPaths(reflect.TypeFor[fileConfig](), "")
	if len(paths) < 15 {
		t.Fatalf("found only %d keys in fileConfig: %v", len(paths), paths)
	}
	for _, p := range paths {
		n, ok := lookupPath(&doc, p)
		if !ok {
			t.Errorf("config print does not show %s:\n%s", p, out)
			continue
		}
		if n.Tag == "!!null" && n.LineComment == "" {
			t.Errorf("config print shows %s as null, unexplained: give it a default (or a note) in configDefaults", p)
		}
	}
}

// TestConfigPrintFillsEveryDefault checks the printed defaults against the
// exported ingest and store defaults, and that the output is itself a valid
// configuration that means the same.
func TestConfigPrintFillsEveryDefault(t *testing.T) {
	t.Parallel()
	out := configPrint(t, minimalConfig, map[string]string{envDatabaseURL: "postgres://u@db.internal/lagtrail"})
	got, err := parseConfig([]byte(out))
	if err != nil {
		t.Fatalf("printed config does not parse as a config file: %v\n%s", err, out)
	}
	if _, err := got.ingestConfig(); err != nil {
		t.Fatalf("printed config is not valid: %v\n%s", err, out)
	}
	d := func(p *duration) time.Duration {
		if p == nil {
			return -1
		}
		return time.Duration(*p)
	}
	i := func(p *int) int {
		if p == nil {
			return -1
		}
		return *p
	}
	checks := []struct {
		key       string
		got, want any
	}{
		{"database_url", got.DatabaseURL, "postgres://u@db.internal/lagtrail"},
		{"interval", d(got.Interval), ingest.DefaultInterval},
		{"poll_timeout", d(got.PollTimeout), 30 * time.Second},
		{"discovery_interval", d(got.DiscoveryInterval), ingest.DefaultDiscoveryInterval},
		{"alibaba.scheme", got.Alibaba.Scheme, "https"},
		{"alibaba.endpoint", got.Alibaba.Endpoint, ""},
		{"alibaba.requests_per_second", *got.Alibaba.RequestsPerSecond, float64(ingest.DefaultRequestsPerSecond)},
		{"alibaba.clients_per_region", i(got.Alibaba.ClientsPerRegion), ingest.DefaultClientsPerRegion},
		{"storage.partitions_ahead_days", i(got.Storage.PartitionsAheadDays), store.DefaultDaysAhead},
		{"storage.raw_retention_days", i(got.Storage.RawRetentionDays), store.DefaultRawRetentionDays},
		{"storage.hourly_retention_days", i(got.Storage.HourlyRetentionDays), store.DefaultHourlyRetentionDays},
		{"storage.upkeep_interval", d(got.Storage.UpkeepInterval), ingest.DefaultUpkeepInterval},
		{"storage.rollup_interval", d(got.Storage.RollupInterval), ingest.DefaultRollupInterval},
		{"storage.now_interval", d(got.Storage.NowInterval), ingest.DefaultNowInterval},
		{"targets", fmt.Sprint(got.Targets), "[{cn-hangzhou i-1 [g1 g2] <nil>}]"},
		{"data_dir", got.DataDir, ""},
		{"buffer.memory_polls", i(got.Buffer.MemoryPolls), ingest.DefaultMemoryPolls},
		{"buffer.batch_polls", i(got.Buffer.BatchPolls), ingest.DefaultBatchPolls},
		{"buffer.linger", d(got.Buffer.Linger), ingest.DefaultLinger},
		{"spool.max_mb (no data_dir)", i(got.Spool.MaxMB), -1},
		{"ha.enabled", got.HA.Enabled, false},
		{"ha.lease_ttl (ha off)", d(got.HA.LeaseTTL), time.Duration(-1)},
	}
	for _, c := range checks {
		if !reflect.DeepEqual(c.got, c.want) {
			t.Errorf("%s = %v, want %v", c.key, c.got, c.want)
		}
	}
	for _, line := range []string{"interval: 1m # default", "upkeep_interval: 1h # default", "rollup_interval: 5m # default", "poll_timeout: 30s # default"} {
		if !strings.Contains(out, line) {
			t.Errorf("output lacks %q:\n%s", line, out)
		}
	}
}

// TestConfigPrintSpoolAndHADefaults checks the defaults that apply only
// with data_dir and ha.enabled.
func TestConfigPrintSpoolAndHADefaults(t *testing.T) {
	t.Parallel()
	out := configPrint(t, "interval: 20s\ndata_dir: /var/lib/lagtrail\nha:\n  enabled: true\n"+minimalConfig,
		map[string]string{envDatabaseURL: "postgres://u@db.internal/lagtrail"})
	for _, line := range []string{
		"  max_mb: 1024 # default\n",
		"  lease_ttl: 10s # default\n",
		`  id: "" # default: host name, process id and a random suffix`,
	} {
		if !strings.Contains(out, line) {
			t.Errorf("output lacks %q:\n%s", line, out)
		}
	}
	got, err := parseConfig([]byte(out))
	if err != nil {
		t.Fatalf("printed config does not parse: %v\n%s", err, out)
	}
	if _, err := got.ingestConfig(); err != nil {
		t.Fatalf("printed config is not valid: %v\n%s", err, out)
	}
	if got.Spool.MaxMB == nil || int64(*got.Spool.MaxMB)<<20 != spool.DefaultMaxBytes {
		t.Errorf("spool.max_mb = %v, want the spool's default %d bytes", got.Spool.MaxMB, spool.DefaultMaxBytes)
	}
}

// TestConfigPrintKeepsFileValues checks that values the file sets are
// shown as set, not marked as defaults, and that the poll timeout default
// follows the file's interval.
func TestConfigPrintKeepsFileValues(t *testing.T) {
	t.Parallel()
	out := configPrint(t, `database_url: postgres://lagtrail@localhost/lagtrail
interval: 20s
alibaba:
  endpoint: 127.0.0.1:9000
  scheme: http
  requests_per_second: 7.5
storage:
  raw_retention_days: 30
  upkeep_interval: 2h
targets:
  - region: cn-hangzhou
    instance: i-1
    groups: [g1]
  - region: cn-shanghai
`, nil)
	for _, line := range []string{
		"database_url: postgres://lagtrail@localhost/lagtrail\n",
		"interval: 20s\n",
		"poll_timeout: 15s # default\n",
		"  endpoint: 127.0.0.1:9000\n",
		"  scheme: http\n",
		"  requests_per_second: 7.5\n",
		"  raw_retention_days: 30\n",
		"  upkeep_interval: 2h\n",
		"    instance: i-1\n",
		`    instance: "" # default: every running instance of the region`,
		"    groups: [] # default: every group of the instance",
	} {
		if !strings.Contains(out, line) {
			t.Errorf("output lacks %q:\n%s", line, out)
		}
	}
}

// TestConfigPrintDatabaseURL checks the precedence flag > environment >
// file, that the source is named, and that every password is redacted.
func TestConfigPrintDatabaseURL(t *testing.T) {
	t.Parallel()
	const pw = "Pw-db-7c1e5a9f"
	tests := []struct {
		name string
		file string // database_url in the file
		env  string
		flag string
		want string // the database_url line
	}{
		{"file", "postgres://lagtrail:" + pw + "@db:5432/lagtrail?sslmode=verify-full", "", "",
			"database_url: postgres://lagtrail:xxxxx@db:5432/lagtrail?sslmode=verify-full\n"},
		{"environment wins over file", "postgres://file@db/lagtrail", "postgres://env:" + pw + "@db/lagtrail", "",
			"database_url: postgres://env:xxxxx@db/lagtrail # from $LAGTRAIL_DATABASE_URL\n"},
		{"flag wins over both", "postgres://file@db/lagtrail", "postgres://env@db/lagtrail", "postgresql://flag:" + pw + "@db/lagtrail",
			"database_url: postgresql://flag:xxxxx@db/lagtrail # from --database-url\n"},
		{"password in the query", "", "postgres://u@db/lagtrail?sslmode=require&password=" + pw, "",
			"database_url: postgres://u@db/lagtrail?password=xxxxx&sslmode=require # from $LAGTRAIL_DATABASE_URL\n"},
		{"escaped password", "", "postgres://u:" + pw + "%2F%40x@db/lagtrail", "",
			"database_url: postgres://u:xxxxx@db/lagtrail # from $LAGTRAIL_DATABASE_URL\n"},
		{"raw @ in password", "", "postgres://u:" + pw + "@x@db/lagtrail", "",
			"database_url: postgres://u:xxxxx@db/lagtrail # from $LAGTRAIL_DATABASE_URL\n"},
		{"unparsable", "", "postgres://u:" + pw + "@db:port/lagtrail", "",
			"database_url: postgres://xxxxx@db:port/lagtrail # from $LAGTRAIL_DATABASE_URL\n"},
		{"no password", "postgres://lagtrail@db/lagtrail", "", "",
			"database_url: postgres://lagtrail@db/lagtrail\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			content := minimalConfig
			if tt.file != "" {
				content = fmt.Sprintf("database_url: %q\n", tt.file) + content
			}
			var args []string
			if tt.flag != "" {
				args = []string{"--database-url", tt.flag}
			}
			out := configPrint(t, content, map[string]string{envDatabaseURL: tt.env}, args...)
			if !strings.Contains(out, tt.want) {
				t.Errorf("output lacks %q:\n%s", tt.want, out)
			}
			if strings.Contains(out, pw) {
				t.Errorf("output shows the password:\n%s", out)
			}
		})
	}
}

// TestConfigPrintRejectsLikeRecord runs record and config print on the same
// bad configurations: both must exit 2 with the same one-line error.
func TestConfigPrintRejectsLikeRecord(t *testing.T) {
	t.Parallel()
	const targets = "targets:\n  - region: cn-hangzhou\n    instance: i-1\n    groups: [g]\n"
	tests := []struct {
		name    string
		yaml    string // "" means: no --config
		env     string // LAGTRAIL_DATABASE_URL
		wantErr string
	}{
		{"no config flag", "", "postgres://u@db/x", "--config is required"},
		{"unknown key", "interval: 60s\nintervall: 30s\n" + targets, "postgres://u@db/x", `unknown key "intervall"`},
		{"secret in an unknown key", "alibaba:\n  access_key_secret: hunter2\n" + targets, "postgres://u@db/x", `unknown key "access_key_secret"`},
		{"no targets", "interval: 60s\n", "postgres://u@db/x", "no targets"},
		{"timeout longer than interval", "interval: 10s\npoll_timeout: 20s\n" + targets, "postgres://u@db/x", "shorter than interval"},
		{"http to a public endpoint", "alibaba:\n  scheme: http\n  endpoint: alikafka.cn-hangzhou.aliyuncs.com\n" + targets, "postgres://u@db/x", "scheme http is refused"},
		{"zero retention", "storage:\n  raw_retention_days: 0\n" + targets, "postgres://u@db/x", "raw_retention_days must be at least 1"},
		{"empty file", "\n", "postgres://u@db/x", "file is empty"},
		{"no database url", targets, "", "no database URL"},
		{"not a postgres url", targets, "mysql://u:hunter2@db/x", "must start with postgres://"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			var cfgArgs []string
			if tt.yaml != "" {
				cfgArgs = []string{"--config", writeFile(t, "lagtrail.yaml", tt.yaml)}
			}
			env := map[string]string{envDatabaseURL: tt.env}
			recCode, _, recErr := runInProcess(append([]string{"record", "--once"}, cfgArgs...), env)
			code, out, errs := runInProcess(append([]string{"config", "print"}, cfgArgs...), env)
			if code != exitUsage || recCode != exitUsage {
				t.Errorf("exit codes: config print %d, record %d; want %d", code, recCode, exitUsage)
			}
			if errs != recErr {
				t.Errorf("config print says %q, record says %q", errs, recErr)
			}
			if !strings.Contains(errs, tt.wantErr) || strings.Count(errs, "\n") != 1 {
				t.Errorf("stderr %q: want one line naming %q", errs, tt.wantErr)
			}
			if out != "" {
				t.Errorf("config print printed %q on a bad config", out)
			}
			if strings.Contains(errs, "hunter2") {
				t.Errorf("stderr repeats a secret: %s", errs)
			}
		})
	}
}

func TestRedact(t *testing.T) {
	t.Parallel()
	tests := []struct{ key, in, want string }{
		{"database_url", "postgres://u:pw@h:5432/db?sslmode=require", "postgres://u:xxxxx@h:5432/db?sslmode=require"},
		{"database_url", "postgres://u@h/db", "postgres://u@h/db"},
		{"database_url", "postgres://u:@h/db", "postgres://u:xxxxx@h/db"},
		{"database_url", "postgres://h/db?sslpassword=pw&user=u", "postgres://h/db?sslpassword=xxxxx&user=u"},
		{"database_url", "postgres://u:p w@h:bad/db", "postgres://xxxxx@h:bad/db"},
		{"dsn", "host=h user=u password='p w' dbname=d", "host=h user=u password=xxxxx dbname=d"},
		{"dsn", "host=h PASSWORD = pw", "host=h PASSWORD=xxxxx"},
		{"access_key_secret", "abc", redacted},
		{"security_token", "abc", redacted},
		{"db_password", "abc", redacted},
		{"credentials_file", "/etc/x", redacted},
		{"access_key_secret", "", ""},
		{"endpoint", "127.0.0.1:9000", "127.0.0.1:9000"},
		{"groups", "https://user:pw@example.com/x", "https://user:xxxxx@example.com/x"},
	}
	for _, tt := range tests {
		if got := redact(tt.key, tt.in); got != tt.want {
			t.Errorf("redact(%q, %q) = %q, want %q", tt.key, tt.in, got, tt.want)
		}
	}
}

func TestShortDuration(t *testing.T) {
	t.Parallel()
	for d, want := range map[time.Duration]string{
		time.Hour:                      "1h",
		5 * time.Minute:                "5m",
		90 * time.Second:               "1m30s",
		22*time.Second + time.Second/2: "22.5s",
		26*time.Hour + 30*time.Minute:  "26h30m",
		0:                              "0s",
		168 * time.Hour:                "168h",
	} {
		if got := shortDuration(d); got != want {
			t.Errorf("shortDuration(%v) = %q, want %q", d, got, want)
		}
	}
}
