package main

import (
	"bytes"
	"fmt"
	"net/url"
	"reflect"
	"regexp"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"gopkg.in/yaml.v3"

	"github.com/lagtrail/lagtrail/ingest"
	"github.com/lagtrail/lagtrail/internal/spool"
	"github.com/lagtrail/lagtrail/store"
)

// redacted replaces every secret config print shows.
const redacted = "xxxxx"

func newConfigCmd(g *globals) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "config print",
		Short: "Show the configuration record runs with",
		Args:  cobra.NoArgs,
	}
	cmd.AddCommand(newConfigPrintCmd(g))
	return cmd
}

func newConfigPrintCmd(g *globals) *cobra.Command {
	var dbURL, configPath string
	cmd := &cobra.Command{
		Use:   "print --config FILE [--database-url URL]",
		Short: "Print the effective configuration, defaults filled in and secrets redacted",
		Long: `print shows the configuration record would run with, as YAML: the file's
values, the database URL record would use (--database-url, else
$` + envDatabaseURL + `, else database_url of the file), and every key the file
leaves out with its default. Keys filled in are marked "# default", keys
that do not apply "# unused". It connects to nothing.

It checks the file as record does, with the same errors, and exits 2 on a
bad one. Secrets are redacted as xxxxx: the database URL's password (and
any password in its query), and the value of every key whose name says it
holds a password, secret, token or credential. AccessKeys and STS tokens
are not part of the file and are never printed.`,
		Example: `  lagtrail config print --config lagtrail.yaml`,
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			file, err := loadConfig(configPath)
			if err != nil {
				return err
			}
			if _, err := file.ingestConfig(); err != nil {
				return usagef("config %s: %v", configPath, err)
			}
			u, err := databaseURL(dbURL, g.getenv, file)
			if err != nil {
				return err
			}
			source := ""
			switch {
			case dbURL != "":
				source = "from --database-url"
			case g.getenv(envDatabaseURL) != "":
				source = "from $" + envDatabaseURL
			}
			out, err := effectiveConfigYAML(file, u, source)
			if err != nil {
				return err
			}
			fmt.Fprintf(g.stdout, "# effective configuration of %s; defaults filled in, secrets redacted\n", configPath)
			_, err = g.stdout.Write(out)
			return err
		},
	}
	cmd.Flags().StringVar(&configPath, "config", "", "config file (required)")
	cmd.Flags().StringVar(&dbURL, "database-url", "", "PostgreSQL URL (default $"+envDatabaseURL+", then database_url of the config file)")
	return cmd
}

// configDefault is what record uses for a key the file leaves out, as a
// function of the file: a value, or nil and a note saying what the empty
// key means (or why it is unused).
type configDefault func(c *fileConfig) (value any, note string)

// constant is a default that does not depend on the file.
func constant(v any) configDefault {
	return func(*fileConfig) (any, string) { return v, "" }
}

// none is a key that stays empty, with what that means.
func none(note string) configDefault {
	return func(*fileConfig) (any, string) { return nil, note }
}

// fileInterval is the file's interval or its default.
func fileInterval(c *fileConfig) time.Duration {
	if c.Interval != nil {
		return time.Duration(*c.Interval)
	}
	return ingest.DefaultInterval
}

// configDefaults maps the dotted YAML path of a key to its default. A key
// whose Go type is a pointer (so that "left out" can be told from zero) and
// that is missing here prints as null, which TestConfigPrintShowsEveryKey
// refuses: add the new key's default here, or a note when it has none.
var configDefaults = map[string]configDefault{
	"interval":                      constant(ingest.DefaultInterval),
	"poll_timeout":                  func(c *fileConfig) (any, string) { return ingest.DefaultPollTimeout(fileInterval(c)), "" },
	"discovery_interval":            constant(ingest.DefaultDiscoveryInterval),
	"alibaba.endpoint":              none("the region's public endpoint, chosen by the SDK"),
	"alibaba.scheme":                constant("https"),
	"alibaba.requests_per_second":   constant(ingest.DefaultRequestsPerSecond),
	"alibaba.clients_per_region":    constant(ingest.DefaultClientsPerRegion),
	"targets[].instance":            none("every running instance of the region"),
	"targets[].groups":              none("every group of the instance"),
	"targets[].allowed_lag":         none("a broader target's, else 0 (only no lag counts as caught up)"),
	"storage.partitions_ahead_days": constant(store.DefaultDaysAhead),
	"storage.raw_retention_days":    constant(store.DefaultRawRetentionDays),
	"storage.hourly_retention_days": constant(store.DefaultHourlyRetentionDays),
	"storage.upkeep_interval":       constant(ingest.DefaultUpkeepInterval),
	"storage.rollup_interval":       constant(ingest.DefaultRollupInterval),
	"storage.now_interval":          constant(ingest.DefaultNowInterval),
	"data_dir":                      none("none, so no spool: polls wait in memory only while the database is down"),
	"buffer.memory_polls":           constant(ingest.DefaultMemoryPolls),
	"buffer.batch_polls":            constant(ingest.DefaultBatchPolls),
	"buffer.linger":                 constant(ingest.DefaultLinger),
	"spool.max_mb": func(c *fileConfig) (any, string) {
		if c.DataDir == "" {
			return nil, "unused: no data_dir"
		}
		return spool.DefaultMaxBytes >> 20, ""
	},
	"ha.id": func(c *fileConfig) (any, string) {
		if !c.HA.Enabled {
			return nil, "unused: ha is not enabled"
		}
		return nil, "host name, process id and a random suffix"
	},
	"ha.lease_ttl": func(c *fileConfig) (any, string) {
		if !c.HA.Enabled {
			return nil, "unused: ha is not enabled"
		}
		return ingest.DefaultLeaseTTL(fileInterval(c)), ""
	},
}

// effectiveConfigYAML renders a copy of file with the database URL set to
// dbURL (noted with source, when not from the file), every left-out key
// set to its default, and every secret redacted.
func effectiveConfigYAML(file *fileConfig, dbURL, source string) ([]byte, error) {
	eff := *file
	eff.DatabaseURL = dbURL
	comments := map[string]string{}
	if source != "" {
		comments["database_url"] = source
	}
	durations := map[string]bool{}
	fillDefaults(reflect.ValueOf(&eff).Elem(), "", "", file, comments, durations)

	root, err := toNode(reflect.ValueOf(eff))
	if err != nil {
		return nil, fmt.Errorf("encode config: %w", err)
	}
	decorate(root, "", "", comments, durations)
	var buf bytes.Buffer
	enc := yaml.NewEncoder(&buf)
	enc.SetIndent(2)
	if err := enc.Encode(root); err != nil {
		return nil, fmt.Errorf("encode config: %w", err)
	}
	if err := enc.Close(); err != nil {
		return nil, fmt.Errorf("encode config: %w", err)
	}
	return buf.Bytes(), nil
}

var (
	yamlMarshaler = reflect.TypeFor[yaml.Marshaler]()
	durationType  = reflect.TypeFor[duration]()
)

// yamlKey returns the key yaml.v3 uses for a struct field, and whether the
// field is encoded at all.
func yamlKey(f reflect.StructField) (key string, inline, ok bool) {
	if !f.IsExported() {
		return "", false, false
	}
	tag := f.Tag.Get("yaml")
	name, opts, _ := strings.Cut(tag, ",")
	if name == "-" {
		return "", false, false
	}
	if strings.Contains(","+opts+",", ",inline,") {
		return "", true, true
	}
	if name == "" {
		name = strings.ToLower(f.Name)
	}
	return name, false, true
}

func joinPath(path, key string) string {
	if path == "" {
		return key
	}
	return path + "." + key
}

// fillDefaults walks the struct v, setting every zero field that has an
// entry in configDefaults and allocating nil struct pointers so that their
// keys show. Defaults are looked up by the generic path (targets[].groups);
// comments and durations are noted by the concrete one (targets[1].groups).
func fillDefaults(v reflect.Value, path, generic string, file *fileConfig, comments map[string]string, durations map[string]bool) {
	t := v.Type()
	for i := range t.NumField() {
		key, inline, ok := yamlKey(t.Field(i))
		if !ok {
			continue
		}
		f := v.Field(i)
		p, gp := path, generic
		if !inline {
			p, gp = joinPath(path, key), joinPath(generic, key)
		}
		ft := f.Type()
		if ft.Kind() == reflect.Pointer {
			ft = ft.Elem()
		}
		if ft == durationType {
			durations[p] = true
		}
		if d, has := configDefaults[gp]; has && f.IsZero() {
			switch v, note := d(file); {
			case v != nil:
				setValue(f, v)
				comments[p] = "default"
			case strings.HasPrefix(note, "unused"):
				comments[p] = note
			case note != "":
				comments[p] = "default: " + note
			}
		}
		descend(f, p, gp, file, comments, durations)
	}
}

// descend continues fillDefaults into structs, struct pointers and slices
// of them.
func descend(f reflect.Value, p, gp string, file *fileConfig, comments map[string]string, durations map[string]bool) {
	if f.Type().Implements(yamlMarshaler) {
		return
	}
	switch f.Kind() {
	case reflect.Pointer:
		if f.Type().Elem().Kind() != reflect.Struct || f.Type().Elem().Implements(yamlMarshaler) {
			return
		}
		if f.IsNil() {
			f.Set(reflect.New(f.Type().Elem()))
		}
		fillDefaults(f.Elem(), p, gp, file, comments, durations)
	case reflect.Struct:
		fillDefaults(f, p, gp, file, comments, durations)
	case reflect.Slice:
		if f.Type().Elem().Kind() != reflect.Struct {
			if f.Type().Elem() == durationType {
				for j := range f.Len() {
					durations[fmt.Sprintf("%s[%d]", p, j)] = true
				}
			}
			return
		}
		// Copy the elements, so that the file's own slice stays as read.
		cp := reflect.MakeSlice(f.Type(), f.Len(), f.Len())
		reflect.Copy(cp, f)
		f.Set(cp)
		for j := range f.Len() {
			fillDefaults(f.Index(j), fmt.Sprintf("%s[%d]", p, j), gp+"[]", file, comments, durations)
		}
	}
}

// toNode encodes v as yaml.v3 would, except that every key of a struct is
// written, omitempty or not.
func toNode(v reflect.Value) (*yaml.Node, error) {
	t := v.Type()
	if !t.Implements(yamlMarshaler) {
		switch {
		case t.Kind() == reflect.Pointer && t.Elem().Kind() == reflect.Struct && !v.IsNil():
			return toNode(v.Elem())
		case t.Kind() == reflect.Struct:
			n := &yaml.Node{Kind: yaml.MappingNode, Tag: "!!map"}
			for i := range t.NumField() {
				key, inline, ok := yamlKey(t.Field(i))
				if !ok {
					continue
				}
				c, err := toNode(v.Field(i))
				if err != nil {
					return nil, err
				}
				if inline {
					n.Content = append(n.Content, c.Content...)
					continue
				}
				n.Content = append(n.Content, &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!str", Value: key}, c)
			}
			return n, nil
		case t.Kind() == reflect.Slice && t.Elem().Kind() == reflect.Struct:
			n := &yaml.Node{Kind: yaml.SequenceNode, Tag: "!!seq"}
			for j := range v.Len() {
				c, err := toNode(v.Index(j))
				if err != nil {
					return nil, err
				}
				n.Content = append(n.Content, c)
			}
			return n, nil
		}
	}
	n := &yaml.Node{}
	if err := n.Encode(v.Interface()); err != nil {
		return nil, err
	}
	return n, nil
}

// setValue sets the field f, a T or a *T, to def converted to T.
func setValue(f reflect.Value, def any) {
	dv := reflect.ValueOf(def)
	t := f.Type()
	if t.Kind() == reflect.Pointer {
		p := reflect.New(t.Elem())
		p.Elem().Set(dv.Convert(t.Elem()))
		f.Set(p)
		return
	}
	f.Set(dv.Convert(t))
}

// decorate walks the encoded YAML: it redacts secrets, writes durations
// briefly and adds the comments.
func decorate(n *yaml.Node, path, key string, comments map[string]string, durations map[string]bool) {
	switch n.Kind {
	case yaml.DocumentNode:
		for _, c := range n.Content {
			decorate(c, path, key, comments, durations)
		}
	case yaml.MappingNode:
		for i := 0; i+1 < len(n.Content); i += 2 {
			k, v := n.Content[i], n.Content[i+1]
			p := joinPath(path, k.Value)
			if c, ok := comments[p]; ok {
				// A block collection takes the comment on its key; yaml.v3
				// would move it past the collection otherwise.
				if v.Kind == yaml.ScalarNode || len(v.Content) == 0 {
					v.LineComment = c
				} else {
					k.LineComment = c
				}
			}
			decorate(v, p, k.Value, comments, durations)
		}
	case yaml.SequenceNode:
		for i, c := range n.Content {
			decorate(c, fmt.Sprintf("%s[%d]", path, i), key, comments, durations)
		}
	case yaml.ScalarNode:
		if durations[path] {
			if d, err := time.ParseDuration(n.Value); err == nil {
				n.Value = shortDuration(d)
			}
		}
		if n.Tag == "!!str" || n.Tag == "" {
			n.Value = redact(key, n.Value)
		}
	}
}

// shortDuration writes d without trailing zero units: 1h, not 1h0m0s.
func shortDuration(d time.Duration) string {
	s := d.String()
	if strings.HasSuffix(s, "m0s") {
		s = s[:len(s)-2]
	}
	if strings.HasSuffix(s, "h0m") {
		s = s[:len(s)-2]
	}
	return s
}

// secretWords are the parts of a key name that mark its value as secret.
var secretWords = []string{"password", "passwd", "secret", "token", "credential", "private_key", "access_key"}

// secretKey reports whether a key's name says its value is secret.
func secretKey(key string) bool {
	k := strings.ToLower(key)
	for _, w := range secretWords {
		if strings.Contains(k, w) {
			return true
		}
	}
	return false
}

// keywordPassword finds password=... in libpq keyword/value strings.
var keywordPassword = regexp.MustCompile(`(?i)\b(password|sslpassword)\s*=\s*('(?:[^'\\]|\\.)*'|\S+)`)

// redact returns s with its secrets replaced: the whole value when key names
// a secret, else a URL's password and secret query values, or libpq
// password=... settings.
func redact(key, s string) string {
	if s == "" {
		return s
	}
	if secretKey(key) {
		return redacted
	}
	if strings.Contains(s, "://") {
		return redactURL(s)
	}
	return keywordPassword.ReplaceAllString(s, "${1}="+redacted)
}

// redactURL replaces the password and secret query values of a URL. A
// value that does not parse loses everything between the scheme and the
// last '@'.
func redactURL(s string) string {
	u, err := url.Parse(s)
	if err != nil {
		scheme, rest, _ := strings.Cut(s, "://")
		if i := strings.LastIndex(rest, "@"); i >= 0 {
			return scheme + "://" + redacted + rest[i:]
		}
		return s
	}
	changed := false
	if u.User != nil {
		if _, has := u.User.Password(); has {
			u.User = url.UserPassword(u.User.Username(), redacted)
			changed = true
		}
	}
	if u.RawQuery != "" {
		q := u.Query()
		for k := range q {
			if secretKey(k) {
				q[k] = []string{redacted}
				changed = true
			}
		}
		if changed {
			u.RawQuery = q.Encode()
		}
	}
	if !changed {
		return s
	}
	return u.String()
}
