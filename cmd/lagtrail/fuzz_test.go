package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"math"
	"reflect"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/spf13/cobra"

	"github.com/lagtrail/lagtrail/query"
)

// configKeys returns every YAML key of fileConfig, nested ones as both
// "leaf" and "leaf with spaces" (Validate words some keys that way).
func configKeys() []string {
	var keys []string
	var walk func(t reflect.Type)
	walk = func(t reflect.Type) {
		for t.Kind() == reflect.Pointer || t.Kind() == reflect.Slice {
			t = t.Elem()
		}
		if t.Kind() != reflect.Struct {
			return
		}
		for i := range t.NumField() {
			f := t.Field(i)
			if tag := strings.Split(f.Tag.Get("yaml"), ",")[0]; tag != "" && tag != "-" {
				keys = append(keys, tag, strings.ReplaceAll(tag, "_", " "))
			}
			walk(f.Type)
		}
	}
	walk(reflect.TypeFor[fileConfig]())
	return keys
}

// goType matches Go type names leaking into an error, such as
// "main.fileConfig" or "[]string".
var goType = regexp.MustCompile(`\b(main|strictyaml|ingest|store)\.[A-Za-z]|\[\][a-z]|map\[`)

// quoted matches a Go-quoted string in an error, such as an unknown key,
// which may look like anything.
var quoted = regexp.MustCompile(`"(?:[^"\\]|\\.)*"`)

// FuzzConfig feeds configuration files to parseConfig and ingestConfig. It
// never panics, and either:
//   - a YAML error is one line saying what is wrong (with its line where
//     the YAML parser knows it), with no Go type name in it;
//   - an error about a setting names its key; or
//   - the config is one ingest.Config.Validate accepts, with every number
//     finite and in range.
func FuzzConfig(f *testing.F) {
	keys := configKeys()
	f.Add([]byte("targets:\n  - region: cn-hangzhou\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		fc, err := parseConfig(data)
		if err != nil {
			// YAML syntax errors on the first line, and a few others, carry
			// no line: they must still be one line saying what is wrong,
			// with no Go type in it.
			msg := err.Error()
			if msg == "" || strings.Contains(msg, "\n") || goType.MatchString(quoted.ReplaceAllString(msg, `""`)) {
				t.Fatalf("parse error %q", msg)
			}
			return
		}
		cfg, err := fc.ingestConfig()
		if err != nil {
			msg := err.Error()
			for _, k := range keys {
				if strings.Contains(msg, k) {
					return
				}
			}
			t.Fatalf("config error %q names no key", msg)
		}
		if err := cfg.Validate(); err != nil {
			t.Fatalf("ingestConfig accepted a config Validate refuses: %v", err)
		}
		rps := cfg.Alibaba.RequestsPerSecond
		if math.IsNaN(rps) || math.IsInf(rps, 0) || rps < 0 || rps > 100 {
			t.Fatalf("alibaba.requests_per_second %v accepted", rps)
		}
		for what, d := range map[string]time.Duration{
			"interval": cfg.Interval, "poll_timeout": cfg.PollTimeout, "discovery_interval": cfg.DiscoveryInterval,
			"storage.upkeep_interval": cfg.UpkeepInterval, "storage.rollup_interval": cfg.RollupInterval,
			"storage.now_interval": cfg.NowInterval,
		} {
			if d < 0 {
				t.Fatalf("%s %s accepted", what, d)
			}
		}
	})
}

// fuzzNow is the clock the flag fuzz parses against.
var fuzzNow = time.Date(2025, 1, 6, 12, 0, 0, 0, time.UTC)

// firstYear and lastYear bound the times a command may accept: RFC 3339,
// and so every output format, writes years 0000 to 9999 only.
const firstYear, lastYear = 0, 9999

// queryFlagCommands are the commands FuzzQueryFlags runs, each with the
// flags it takes among from, to, at, window and step.
var queryFlagCommands = []struct {
	path  []string
	flags []string
}{
	{[]string{"query", "lag"}, []string{"from", "to", "step"}},
	{[]string{"query", "events"}, []string{"from", "to"}},
	{[]string{"query", "status"}, []string{"from", "to", "step", "window"}},
	{[]string{"query", "drain"}, []string{"at", "window"}},
	{[]string{"query", "top"}, []string{"at", "window"}},
	{[]string{"query", "skew", "--group=g"}, []string{"at", "window"}},
	{[]string{"report", "capacity"}, []string{"at", "window"}},
	{[]string{"report", "incident", "--group=g"}, []string{"from", "to"}},
}

// FuzzQueryFlags feeds --from, --to, --at, --window and --step values to
// the shared queryFlags.parse and to every command that takes them, run as
// the binary runs with no database configured. It never panics, and:
//   - parse either accepts, with from before to and both within years
//     1..9999, or returns a usage error naming a flag;
//   - each command either gets past its flags (and stops at the missing
//     database URL), having accepted only times within years 0..9999, or
//     exits 2 with one error line naming a flag.
func FuzzQueryFlags(f *testing.F) {
	f.Add(uint8(0), "-24h", "now", "now", "1h", "5m")
	f.Fuzz(func(t *testing.T, which uint8, from, to, at, window, step string) {
		vals := map[string]string{"from": from, "to": to, "at": at, "window": window, "step": step}
		checkSharedParse(t, from, to, step)
		c := queryFlagCommands[int(which)%len(queryFlagCommands)]
		args := append([]string{}, c.path...)
		for _, fl := range c.flags {
			args = append(args, "--"+fl+"="+vals[fl])
		}
		var stdout, stderr bytes.Buffer
		code := -1
		func() {
			defer func() {
				if r := recover(); r != nil {
					t.Fatalf("lagtrail %q panicked: %v", args, r)
				}
			}()
			code = run(context.Background(), args, &stdout, &stderr, func(string) string { return "" })
		}()
		msg := strings.TrimSpace(stderr.String())
		if code != exitUsage || strings.Count(msg, "\n") > 0 {
			t.Fatalf("lagtrail %q: exit %d, stderr %q; want exit 2 and one line", args, code, msg)
		}
		if strings.Contains(msg, "no database URL") {
			// Accepted: the times the command took must be printable.
			for _, fl := range []string{"from", "to", "at"} {
				if !contains(c.flags, fl) {
					continue
				}
				tm, err := query.ParseTime(vals[fl], time.Now())
				if err == nil && (tm.Year() < firstYear || tm.Year() > lastYear) {
					t.Fatalf("lagtrail %q accepted --%s %s", args, fl, tm)
				}
			}
			return
		}
		for _, fl := range c.flags {
			if strings.Contains(msg, "--"+fl) {
				return
			}
		}
		t.Fatalf("lagtrail %q: error %q names none of the flags %v", args, msg, c.flags)
	})
}

// checkSharedParse runs queryFlags.parse with --from, --to and --step.
func checkSharedParse(t *testing.T, from, to, step string) {
	t.Helper()
	f := &queryFlags{}
	cmd := &cobra.Command{Use: "fuzz"}
	f.register(cmd, true, true, true)
	// A bad --step is cobra's to report, before parse runs: left unset.
	_ = cmd.Flags().Set("step", step)
	if err := cmd.Flags().Set("from", from); err != nil {
		t.Fatal(err)
	}
	if err := cmd.Flags().Set("to", to); err != nil {
		t.Fatal(err)
	}
	var p parsed
	var err error
	func() {
		defer func() {
			if r := recover(); r != nil {
				t.Fatalf("parse --from %q --to %q --step %q panicked: %v", from, to, step, r)
			}
		}()
		p, err = f.parse(cmd, fuzzNow)
	}()
	if err != nil {
		var ue usageError
		if !errors.As(err, &ue) {
			t.Fatalf("parse --from %q --to %q --step %q: %v is not a usage error", from, to, step, err)
		}
		if msg := err.Error(); !strings.Contains(msg, "--from") && !strings.Contains(msg, "--to") && !strings.Contains(msg, "--step") {
			t.Fatalf("parse --from %q --to %q --step %q: error %q names no flag", from, to, step, msg)
		}
		return
	}
	if !p.from.Before(p.to) {
		t.Fatalf("parse --from %q --to %q accepted from %s, not before to %s", from, to, p.from, p.to)
	}
	for _, tm := range []time.Time{p.from, p.to} {
		if tm.Year() < firstYear || tm.Year() > lastYear {
			t.Fatalf("parse --from %q --to %q accepted %s", from, to, tm)
		}
	}
}

func contains(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}

// TestFuzzTargetsRunTheirCommands guards FuzzQueryFlags against testing
// nothing: valid flags get past the flags to the missing database URL, and
// a bad one is named.
func TestFuzzTargetsRunTheirCommands(t *testing.T) {
	t.Parallel()
	for _, c := range queryFlagCommands {
		args := append([]string{}, c.path...)
		for _, fl := range c.flags {
			args = append(args, "--"+fl+"="+map[string]string{"from": "-2d", "to": "-1d", "at": "-1h", "window": "48h", "step": "1h"}[fl])
		}
		var stdout, stderr bytes.Buffer
		if code := run(context.Background(), args, &stdout, &stderr, func(string) string { return "" }); code != exitUsage || !strings.Contains(stderr.String(), "no database URL") {
			t.Errorf("lagtrail %q: exit %d, %q; want the flags accepted", args, code, stderr.String())
		}
		stderr.Reset()
		bad := append(append([]string{}, c.path...), fmt.Sprintf("--%s=soon", c.flags[0]))
		if code := run(context.Background(), bad, &stdout, &stderr, func(string) string { return "" }); code != exitUsage || !strings.Contains(stderr.String(), "--"+c.flags[0]) {
			t.Errorf("lagtrail %q: exit %d, %q; want the flag named", bad, code, stderr.String())
		}
	}
}
