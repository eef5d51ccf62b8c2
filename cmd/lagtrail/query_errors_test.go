package main

import (
	"strings"
	"testing"
	"time"

	"github.com/lagtrail/lagtrail/internal/pgtest"
	"github.com/lagtrail/lagtrail/store"
)

// TestQueryExitCodes runs the query commands with requests that are wrong
// and checks each exits 2 with one "lagtrail: " line naming the problem.
// The database records group billing under two instances, so the name alone
// is ambiguous.
func TestQueryExitCodes(t *testing.T) {
	t.Parallel()
	dbURL := pgtest.URL(t)
	writeFixture(t, dbURL)
	other := fixtureGroup
	other.InstanceID = "alikafka-b"
	st := openStore(t, dbURL)
	writePoll(t, st, &store.Poll{
		Group: other, StartedAt: fixtureStart.Add(-time.Second), SampledAt: fixtureStart, Duration: time.Second, OK: true,
		LastTimestampMs: -1, Topics: []store.TopicSample{{Topic: fixtureTopic, Partitions: []store.PartitionOffsets{{Partition: 0, BrokerOffset: 10, ConsumerOffset: 7, LastTimestampMs: -1}}}},
	})
	// An unmigrated database: a request refused for its flags alone must
	// be refused before the store is opened.
	emptyURL := pgtest.EmptyURL(t)

	rng := []string{"--from", "2025-03-14T00:00:00Z", "--to", "2025-03-14T00:40:00Z"}
	a := fixtureGroup.InstanceID
	tests := []struct {
		name string
		args []string
		want []string // substrings of the error line
		// flagsOnly: the flags alone are wrong; the same error must come
		// from the unmigrated database.
		flagsOnly bool
	}{
		{"unknown group", join([]string{"lag", "--group", "nope"}, rng), []string{`unknown group "nope"`, "no such group is recorded"}, false},
		{"unknown group, near a recorded one", join([]string{"lag", "--group", "billng"}, rng), []string{`unknown group "billng": no such group is recorded; did you mean "billing"?`}, false},
		{"unknown group, near, skew", []string{"skew", "--group", "Billing"}, []string{`did you mean "billing"?`}, false},
		{"unknown group in instance", join([]string{"rates", "--group", "billing", "--instance", "alikafka-z"}, rng),
			[]string{`unknown group "billing" in instance alikafka-z`, "did you mean cn-hangzhou/alikafka-a/billing or cn-hangzhou/alikafka-b/billing?"}, false},
		{"ambiguous group", join([]string{"lag", "--group", "billing"}, rng),
			[]string{`ambiguous group "billing"`, "cn-hangzhou/alikafka-a/billing", "cn-hangzhou/alikafka-b/billing", "--instance"}, false},
		{"ambiguous group, drain", []string{"drain", "--group", "billing"}, []string{"cn-hangzhou/alikafka-a/billing, cn-hangzhou/alikafka-b/billing"}, false},
		{"ambiguous group, status", join([]string{"status", "--group", "billing", "--region", "cn-hangzhou"}, rng), []string{`ambiguous group "billing"`}, false},
		{"ambiguous group, events", join([]string{"events", "--group", "billing"}, rng), []string{`ambiguous group "billing"`}, false},
		{"from after to", []string{"lag", "--group", "billing", "--instance", a, "--from", "2025-03-14T00:40:00Z", "--to", "2025-03-14T00:00:00Z"},
			[]string{"--from 2025-03-14T00:40:00Z must be before --to 2025-03-14T00:00:00Z"}, true},
		{"from equals to", []string{"events", "--from", "2025-03-14T00:40:00Z", "--to", "2025-03-14T00:40:00Z"}, []string{"must be before --to"}, true},
		{"step 0", join([]string{"lag", "--step", "0"}, rng), []string{"--step must be positive, got 0s"}, true},
		{"negative step", join([]string{"status", "--step", "-5m"}, rng), []string{"--step must be positive, got -5m0s"}, true},
		// 364 days of minutes: 524,160 buckets.
		{"too many buckets", []string{"rates", "--instance", a, "--from", "2025-01-01T00:00:00Z", "--to", "2025-12-31T00:00:00Z", "--step", "1m"},
			[]string{"524160 buckets, more than 100000", "--step"}, true},
		{"too many buckets, status", []string{"status", "--from", "2025-01-01T00:00:00Z", "--to", "2025-12-31T00:00:00Z", "--step", "1m"},
			[]string{"524160 buckets"}, true},
		{"negative partition", join([]string{"lag", "--partition", "-1"}, rng), []string{"--partition must be a partition number >= 0, got -1"}, true},
		{"bad format", join([]string{"lag", "--format", "xml"}, rng), []string{`--format must be table, csv or json, got "xml"`}, true},
		{"bad format, events", join([]string{"events", "--format", "yaml"}, rng), []string{`--format must be table, csv or json, got "yaml"`}, true},
		{"bad by", join([]string{"lag", "--by", "instance"}, rng), []string{`--by must be group, topic or partition, got "instance"`}, true},
		{"bad by, drain", []string{"drain", "--by", "consumer"}, []string{`--by must be group, topic or partition, got "consumer"`}, true},
		{"bad from", []string{"lag", "--from", "yesterday"}, []string{"--from", `bad time "yesterday"`, "RFC3339"}, true},
		{"bad to", []string{"rates", "--to", "-3x"}, []string{"--to", `bad relative time "-3x"`}, true},
		{"bad at", []string{"drain", "--at", "2025-03-14 00:39"}, []string{"--at", `bad time "2025-03-14 00:39"`}, true},
		{"zero drain window", []string{"drain", "--window", "0s"}, []string{"--window must be positive, got 0s"}, true},
		{"negative horizon", []string{"drain", "--horizon", "-1h"}, []string{"--horizon must not be negative, got -1h0m0s"}, true},
		{"zero status window", join([]string{"status", "--window", "0s"}, rng), []string{"--window must be positive, got 0s"}, true},
		{"negative allowed lag", join([]string{"status", "--allowed-lag", "-1"}, rng), []string{"--allowed-lag must not be negative, got -1"}, true},
		{"zero min polls", join([]string{"status", "--min-polls", "0"}, rng), []string{"--min-polls must be at least 1, got 0"}, true},
		{"step on events", join([]string{"events", "--step", "1m"}, rng), []string{"unknown flag: --step"}, true},
		{"argument", []string{"lag", "billing"}, []string{`unknown command "billing"`}, true},
		{"unknown command", []string{"lags", "--group", "billing"}, []string{`unknown command "lags" for "lagtrail query"; did you mean "lag"?`}, true},
		{"bad window", []string{"drain", "--window", "7days"}, []string{`invalid argument "7days" for "--window" flag`, "1d12h or 2w"}, true},
		{"weeks before days", []string{"status", "--window", "1d1w"}, []string{`invalid argument "1d1w" for "--window" flag`}, true},
		{"bad date", []string{"lag", "--from", "2025-02-30"}, []string{"--from", `bad time "2025-02-30"`}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			dbs := map[string]string{"recorded": dbURL}
			if tt.flagsOnly {
				dbs["unmigrated"] = emptyURL
			}
			for db, u := range dbs {
				r := runCLI(t, join([]string{"query"}, tt.args, []string{"--database-url", u})...)
				if r.code != exitUsage {
					t.Errorf("%s database: exit code %d, want %d; stderr: %s", db, r.code, exitUsage, r.stderr)
				}
				line := oneErrorLine(t, r.stderr)
				for _, w := range tt.want {
					if !strings.Contains(line, w) {
						t.Errorf("%s database: error %q does not say %q", db, line, w)
					}
				}
				if r.stdout != "" {
					t.Errorf("%s database: printed to stdout:\n%s", db, r.stdout)
				}
			}
		})
	}

	// Narrowed, the same name answers, with the rows of that instance only.
	for _, c := range []struct {
		instance string
		args     []string
	}{
		{"alikafka-b", join([]string{"lag", "--group", "billing", "--instance", "alikafka-b", "--format", "csv"}, rng)},
		{a, []string{"drain", "--group", "billing", "--region", "cn-hangzhou", "--instance", a, "--at", "2025-03-14T00:39:00Z", "--format", "csv"}},
	} {
		r := runCLI(t, join([]string{"query"}, c.args, []string{"--database-url", dbURL})...)
		if r.code != exitOK || r.stderr != "" {
			t.Errorf("query %v: exit code %d, stderr: %s", c.args, r.code, r.stderr)
			continue
		}
		rows := csvRows(t, r.stdout)
		if len(rows) == 0 {
			t.Errorf("query %v printed no rows", c.args)
		}
		for _, row := range rows {
			if row["instance"] != c.instance {
				t.Errorf("query %v: row of instance %s, want only %s", c.args, row["instance"], c.instance)
			}
		}
	}
}

// TestQueryUnmigratedDatabase: a query against a database without the
// schema fails (exit 1: the request was fine) and says to migrate.
func TestQueryUnmigratedDatabase(t *testing.T) {
	t.Parallel()
	u := pgtest.EmptyURL(t)
	for _, cmd := range []string{"lag", "rates", "drain", "status", "events"} {
		r := runCLI(t, "query", cmd, "--database-url", u)
		if r.code != exitFailure {
			t.Errorf("%s: exit code %d, want %d; stderr: %s", cmd, r.code, exitFailure, r.stderr)
		}
		line := oneErrorLine(t, r.stderr)
		if !strings.Contains(line, "not migrated") || !strings.Contains(line, "lagtrail migrate up") {
			t.Errorf("%s: error %q does not say to run lagtrail migrate up", cmd, line)
		}
		if r.stdout != "" {
			t.Errorf("%s: printed to stdout:\n%s", cmd, r.stdout)
		}
	}
}

// TestQueryNothingRecorded: a migrated database with no history yet names
// the problem rather than printing an empty table.
func TestQueryNothingRecorded(t *testing.T) {
	t.Parallel()
	u := pgtest.URL(t)
	for _, cmd := range []string{"lag", "rates", "drain", "status", "events"} {
		r := runCLI(t, "query", cmd, "--database-url", u)
		if r.code != exitUsage {
			t.Errorf("%s: exit code %d, want %d; stderr: %s", cmd, r.code, exitUsage, r.stderr)
		}
		if line := oneErrorLine(t, r.stderr); !strings.Contains(line, "no such group is recorded") {
			t.Errorf("%s: error %q does not say no group is recorded", cmd, line)
		}
	}
}

// TestQueryNoDatabaseURL: without --database-url, the environment or a
// config file, the query exits 2 and says how to give one.
func TestQueryNoDatabaseURL(t *testing.T) {
	t.Parallel()
	r := runCLI(t, "query", "lag")
	if r.code != exitUsage {
		t.Errorf("exit code %d, want %d; stderr: %s", r.code, exitUsage, r.stderr)
	}
	if line := oneErrorLine(t, r.stderr); !strings.Contains(line, "--database-url") || !strings.Contains(line, envDatabaseURL) {
		t.Errorf("error %q does not say how to give the database URL", line)
	}
}
