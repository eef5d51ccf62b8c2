package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/lagtrail/lagtrail/internal/pgtest"
	"github.com/lagtrail/lagtrail/store"
)

// unreachableURL is a database URL nothing listens on: a command that gets
// as far as opening the store fails with exit 1, not 2.
const unreachableURL = "postgres://lagtrail@127.0.0.1:1/lagtrail?connect_timeout=1"

func TestExportBadFlags(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		args []string
		want string
	}{
		{"missing view", []string{}, "--view is required"},
		{"unknown view", []string{"--view", "topic_samples"}, "unknown view \"topic_samples\": want one of group_lag_daily, group_lag_hourly"},
		{"unknown format", []string{"--view", "polls", "--format", "json"}, "--format must be csv or jsonl"},
		{"bad from", []string{"--view", "polls", "--from", "yesterday"}, "--from"},
		{"bad to", []string{"--view", "polls", "--to", "2025-13-01"}, "--to"},
		{"from equals to", []string{"--view", "polls", "--from", "2025-03-14T00:00:00Z", "--to", "2025-03-14T00:00:00Z"}, "not before"},
		{"from after to", []string{"--view", "polls", "--from", "now", "--to", "-1h"}, "not before"},
		{"empty group", []string{"--view", "polls", "--group", ""}, "--group must not be empty"},
		{"argument", []string{"--view", "polls", "extra"}, "unknown command"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			out := filepath.Join(t.TempDir(), "out.csv")
			args := append([]string{"export", "--database-url", unreachableURL, "--output", out}, tt.args...)
			res := runCLI(t, args...)
			if res.code != exitUsage {
				t.Errorf("exit code %d, want %d; stderr: %s", res.code, exitUsage, res.stderr)
			}
			if line := oneErrorLine(t, res.stderr); !strings.Contains(line, tt.want) {
				t.Errorf("error %q does not contain %q", line, tt.want)
			}
			if _, err := os.Stat(out); !os.IsNotExist(err) {
				t.Errorf("--output was created on a usage error: %v", err)
			}
		})
	}
}

// TestExportDatabaseUnreachable keeps an existing --output file when the
// store cannot be opened, and exits 1.
func TestExportDatabaseUnreachable(t *testing.T) {
	t.Parallel()
	out := filepath.Join(t.TempDir(), "keep.csv")
	if err := os.WriteFile(out, []byte("old\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	res := runCLI(t, "export", "--database-url", unreachableURL, "--view", "polls", "--output", out)
	if res.code != exitFailure {
		t.Errorf("exit code %d, want %d; stderr: %s", res.code, exitFailure, res.stderr)
	}
	if b, err := os.ReadFile(out); err != nil || string(b) != "old\n" {
		t.Errorf("--output is %q, %v; want it untouched", b, err)
	}
}

func TestExportCSVToFile(t *testing.T) {
	t.Parallel()
	u := fixtureURL(t)
	out := filepath.Join(t.TempDir(), "offsets.csv")
	if err := os.WriteFile(out, []byte(strings.Repeat("old content\n", 100)), 0o644); err != nil {
		t.Fatal(err)
	}
	const polls = 3
	res := runCLI(t, "export", "--database-url", u, "--view", "partition_offsets", "--format", "csv",
		"--from", fixtureStart.Format(time.RFC3339), "--to", fixtureStart.Add(polls*time.Minute).Format(time.RFC3339),
		"--group", fixtureGroup.Group, "--region", fixtureGroup.Region, "--instance", fixtureGroup.InstanceID,
		"--output", out)
	if res.code != exitOK || res.stdout != "" || res.stderr != "" {
		t.Fatalf("exit %d, stdout %q, stderr %q; want 0 and nothing printed", res.code, res.stdout, res.stderr)
	}
	var want strings.Builder
	want.WriteString("sampled_at,region,instance_id,consumer_group,topic,partition,broker_offset,consumer_offset,lag,last_consumed_at\n")
	for i := range polls {
		at := fixtureStart.Add(time.Duration(i) * time.Minute)
		for p := range int32(2) {
			b, c, lt := fixtureOffsets(p, i)
			last := ""
			if lt > 0 {
				last = time.UnixMilli(lt).UTC().Format(time.RFC3339Nano)
			}
			fmt.Fprintf(&want, "%s,cn-hangzhou,alikafka-a,billing,orders,%d,%d,%d,%d,%s\n",
				at.Format(time.RFC3339Nano), p, b, c, max(b-c, 0), last)
		}
	}
	got, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	if string(got) != want.String() {
		t.Errorf("--output:\n%s\nwant:\n%s", got, want.String())
	}

	// Another group's name selects nothing: the header only.
	res = runCLI(t, "export", "--database-url", u, "--view", "partition_offsets",
		"--from", fixtureStart.Format(time.RFC3339), "--to", "now", "--group", "nope")
	if res.code != exitOK || strings.Count(res.stdout, "\n") != 1 || !strings.HasPrefix(res.stdout, "sampled_at,") {
		t.Errorf("export of an unknown group: exit %d, stdout %q", res.code, res.stdout)
	}
}

func TestExportJSONLParsesBack(t *testing.T) {
	t.Parallel()
	u := fixtureURL(t)
	res := runCLI(t, "export", "--database-url", u, "--view", "polls", "--format", "jsonl",
		"--from", fixtureStart.Format(time.RFC3339), "--to", "now", "--group", "billing")
	if res.code != exitOK || res.stderr != "" {
		t.Fatalf("exit %d, stderr %q", res.code, res.stderr)
	}
	lines := strings.Split(strings.TrimSuffix(res.stdout, "\n"), "\n")
	if len(lines) != fixturePolls {
		t.Fatalf("%d lines, want %d", len(lines), fixturePolls)
	}
	for i, line := range lines {
		var row struct {
			SampledAt      time.Time `json:"sampled_at"`
			ConsumerGroup  string    `json:"consumer_group"`
			OK             bool      `json:"ok"`
			ErrorCode      *string   `json:"error_code"`
			TotalDiff      *int64    `json:"total_diff"`
			PartitionCount int64     `json:"partition_count"`
		}
		var raw map[string]any
		if err := json.Unmarshal([]byte(line), &raw); err != nil {
			t.Fatalf("line %d does not parse: %v: %s", i, err, line)
		}
		if err := json.Unmarshal([]byte(line), &row); err != nil {
			t.Fatalf("line %d: %v: %s", i, err, line)
		}
		at := fixtureStart.Add(time.Duration(i) * time.Minute)
		var total int64
		for p := range int32(2) {
			b, c, _ := fixtureOffsets(p, i)
			total += max(b-c, 0)
		}
		if !row.SampledAt.Equal(at) || row.ConsumerGroup != "billing" || !row.OK || row.ErrorCode != nil ||
			row.TotalDiff == nil || *row.TotalDiff != total || row.PartitionCount != 2 {
			t.Errorf("line %d = %+v; want billing at %s, ok, total_diff %d, 2 partitions", i, row, at, total)
		}
		if v, ok := raw["error_code"]; !ok || v != nil {
			t.Errorf("line %d: error_code is %v (present %v), want null", i, v, ok)
		}
		if !strings.Contains(line, `"sampled_at":"`+at.Format(time.RFC3339Nano)+`"`) {
			t.Errorf("line %d: sampled_at is not RFC3339Nano UTC: %s", i, line)
		}
	}
}

// TestExportFailureRemovesOutput makes the export fail after --output was
// created (the view divides by zero once it has a row) and checks that the
// partial file is removed.
func TestExportFailureRemovesOutput(t *testing.T) {
	t.Parallel()
	u := pgtest.URL(t)
	writePoll(t, openStore(t, u), &store.Poll{
		Group: fixtureGroup, StartedAt: fixtureStart, SampledAt: fixtureStart, OK: true, LastTimestampMs: -1,
		Rebalances: []store.Rebalance{{Generation: 1, Reason: "start"}},
	})
	conn, err := pgx.Connect(context.Background(), u)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(context.Background())
	var def string
	if err := conn.QueryRow(context.Background(), "SELECT pg_get_viewdef('lagtrail.rebalances')").Scan(&def); err != nil {
		t.Fatal(err)
	}
	broken := "CREATE OR REPLACE VIEW lagtrail.rebalances AS SELECT * FROM (" + strings.TrimSuffix(strings.TrimSpace(def), ";") +
		") v WHERE 1 / (v.generation - 1) = 0"
	if _, err := conn.Exec(context.Background(), broken); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(t.TempDir(), "rebalances.jsonl")
	if err := os.WriteFile(out, []byte("old\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	var stdout, stderr bytes.Buffer
	code := run(context.Background(), []string{"export", "--database-url", u, "--view", "rebalances", "--format", "jsonl",
		"--from", fixtureStart.Format(time.RFC3339), "--to", "now", "--output", out},
		&stdout, &stderr, func(string) string { return "" })
	if code != exitFailure || !strings.Contains(stderr.String(), "division by zero") {
		t.Errorf("exit %d, stderr %q; want 1 and division by zero", code, stderr.String())
	}
	if _, err := os.Stat(out); !os.IsNotExist(err) {
		t.Errorf("partial --output was not removed: %v", err)
	}
}
