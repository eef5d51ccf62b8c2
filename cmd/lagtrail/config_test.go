package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/lagtrail/lagtrail/internal/pgtest"
	"github.com/lagtrail/lagtrail/store"
)

func writeFile(t *testing.T, name, content string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// TestBadConfigExitsTwoAndWritesNothing runs `record` with broken
// configurations against a real, migrated database and checks the one-line
// error, the exit code and that the database stayed empty.
func TestBadConfigExitsTwoAndWritesNothing(t *testing.T) {
	t.Parallel()
	dbURL := pgtest.URL(t)
	const targets = "targets:\n  - region: cn-hangzhou\n    instance: i-1\n    groups: [g]\n"
	tests := []struct {
		name    string
		yaml    string // "" means: no file at all
		args    []string
		wantErr string
	}{
		{"unknown key", "interval: 60s\nintervall: 30s\n" + targets, nil, `line 2: unknown key "intervall"`},
		{"unknown nested key", "alibaba:\n  endpoint: x\n  secret: hunter2\n" + targets, nil, `line 3: unknown key "secret"`},
		{"no targets", "interval: 60s\n", nil, "no targets"},
		{"empty targets", "targets: []\n", nil, "no targets"},
		{"zero interval", "interval: 0s\n" + targets, nil, "interval must be positive, got 0s"},
		{"negative interval", "interval: -5s\n" + targets, nil, "interval must be positive, got -5s"},
		{"interval not a duration", "interval: soon\n" + targets, nil, "line 1: want a duration such as 60s or 7d"},
		{"http to a public endpoint", "alibaba:\n  scheme: http\n  endpoint: alikafka.cn-hangzhou.aliyuncs.com\n" + targets, nil, "scheme http is refused for non-loopback endpoint"},
		{"rate above the quota", "alibaba:\n  requests_per_second: 500\n" + targets, nil, "requests_per_second must be in (0, 100]"},
		{"timeout longer than interval", "interval: 10s\npoll_timeout: 20s\n" + targets, nil, "shorter than interval"},
		{"not yaml", "targets: [\n", nil, "config"},
		{"empty file", "\n", nil, "file is empty"},
		{"two documents", targets + "---\n" + targets, nil, "only one YAML document"},
		{"missing file", "", []string{"--config", "/nonexistent/lagtrail.yaml"}, "no such file"},
		{"no config flag", "", []string{}, "--config is required"},
		{"bad log level", targets, []string{"--log-level", "loud"}, "--log-level"},
		{"zero retention", "storage:\n  raw_retention_days: 0\n" + targets, nil, "storage.raw_retention_days must be at least 1, got 0"},
		{"partitions too far ahead", "storage:\n  partitions_ahead_days: 400\n" + targets, nil, "storage.partitions_ahead_days must be between 1 and 365, got 400"},
		{"no linger", "buffer:\n  linger: 0s\n" + targets, nil, "buffer.linger must be between 1ms and 10s and shorter than interval (1m0s), got 0s"},
		{"linger too long", "buffer:\n  linger: 1m\n" + targets, nil, "buffer.linger must be between 1ms and 10s"},
		{"linger as long as the interval", "interval: 1s\nbuffer:\n  linger: 1s\n" + targets, nil, "shorter than interval (1s), got 1s"},
		{"upkeep too often", "storage:\n  upkeep_interval: 5s\n" + targets, nil, "storage.upkeep_interval must be at least 1m, got 5s"},
		{"now-state too often", "storage:\n  now_interval: 10ms\n" + targets, nil, "storage.now_interval must be between 100ms and 1m, got 10ms"},
		{"now-state too rarely", "storage:\n  now_interval: 5m\n" + targets, nil, "storage.now_interval must be between 100ms and 1m, got 5m0s"},
		{"unknown storage key", "storage:\n  retention: 3\n" + targets, nil, `unknown key "retention"`},
		{"negative allowed lag", "targets:\n  - region: cn-hangzhou\n    allowed_lag: -5\n", nil, "targets[0]: allowed lag must not be negative, got -5"},
		{"allowed lag not a number", "targets:\n  - region: cn-hangzhou\n    allowed_lag: lots\n", nil, "line 3"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			args := []string{"record", "--once", "--database-url", dbURL}
			if tt.yaml != "" {
				args = append(args, "--config", writeFile(t, "lagtrail.yaml", tt.yaml))
			}
			args = append(args, tt.args...)
			var stdout, stderr bytes.Buffer
			code := run(context.Background(), args, &stdout, &stderr, func(string) string { return "" })
			if code != exitUsage {
				t.Errorf("exit code %d, want %d; stderr: %s", code, exitUsage, stderr.String())
			}
			lines := strings.Split(strings.TrimRight(stderr.String(), "\n"), "\n")
			if len(lines) != 1 || !strings.HasPrefix(lines[0], "lagtrail: ") {
				t.Errorf("stderr is %d lines, want one 'lagtrail: ...' line:\n%s", len(lines), stderr.String())
			}
			if !strings.Contains(stderr.String(), tt.wantErr) {
				t.Errorf("stderr %q does not name the problem %q", stderr.String(), tt.wantErr)
			}
			if strings.Contains(stderr.String(), "hunter2") {
				t.Errorf("stderr repeats a value from the config: %s", stderr.String())
			}
		})
	}
	t.Cleanup(func() {
		st, err := store.Open(context.Background(), store.Config{DatabaseURL: dbURL}, nil)
		if err != nil {
			t.Errorf("open store: %v", err)
			return
		}
		defer st.Close()
		polls, err := st.ReadPolls(context.Background(), store.Range{})
		if err != nil || len(polls) != 0 {
			t.Errorf("bad configs wrote %d polls (err %v); want none", len(polls), err)
		}
	})
}

func TestDatabaseURLPrecedence(t *testing.T) {
	t.Parallel()
	file := &fileConfig{DatabaseURL: "postgres://file/db"}
	env := func(v string) func(string) string {
		return func(k string) string {
			if k == envDatabaseURL {
				return v
			}
			return ""
		}
	}
	tests := []struct {
		name, flag, env string
		file            *fileConfig
		want, wantErr   string
	}{
		{"flag wins", "postgres://flag/db", "postgres://env/db", file, "postgres://flag/db", ""},
		{"env beats file", "", "postgres://env/db", file, "postgres://env/db", ""},
		{"file last", "", "", file, "postgres://file/db", ""},
		{"none", "", "", nil, "", "no database URL"},
		{"not a url", "host=x dbname=y", "", nil, "", "must start with postgres://"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, err := databaseURL(tt.flag, env(tt.env), tt.file)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err = %v, want %q", err, tt.wantErr)
				}
				return
			}
			if err != nil || got != tt.want {
				t.Fatalf("databaseURL = %q, %v; want %q", got, err, tt.want)
			}
		})
	}
}

func TestExampleConfigIsValid(t *testing.T) {
	t.Parallel()
	cfg, err := loadConfig("../../lagtrail.example.yaml")
	if err != nil {
		t.Fatalf("the shipped example config does not load: %v", err)
	}
	ic, err := cfg.ingestConfig()
	if err != nil {
		t.Fatalf("the shipped example config is invalid: %v", err)
	}
	if len(ic.Targets) != 1 || ic.Targets[0].Groups[0] != "kafka-test" || ic.Interval.Seconds() != 60 {
		t.Errorf("example config decoded to %+v", ic)
	}
}
