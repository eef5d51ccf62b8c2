package migrations_test

import (
	"context"
	"fmt"
	"slices"
	"testing"

	"github.com/jackc/pgx/v5"

	"github.com/lagtrail/lagtrail/internal/pgtest"
	"github.com/lagtrail/lagtrail/migrations"
)

// legacySeedSQL writes version 2's tables (poll_log, topic_samples): a poll
// of two topics with partitions out of order and a hidden timestamp, a poll
// of one topic, a failed poll, on two days.
const legacySeedSQL = `
SELECT lagtrail.ensure_partitions('2024-01-02', 2);
INSERT INTO lagtrail.regions (name) VALUES ('cn-hangzhou');
INSERT INTO lagtrail.instances (region_key, instance_id) SELECT region_key, 'alikafka-1' FROM lagtrail.regions;
INSERT INTO lagtrail.consumer_groups (instance_key, name) SELECT instance_key, g FROM lagtrail.instances, unnest('{g1,g2}'::text[]) g;
INSERT INTO lagtrail.topics (name) VALUES ('orders'), ('payments');
INSERT INTO lagtrail.poll_log (group_key, sampled_at, started_at, ok, duration_ms, request_id, total_diff, last_timestamp_ms, partition_count)
SELECT group_key, '2024-01-02 10:00:01.123456+00', '2024-01-02 10:00:00+00', true, 1123, 'REQ-1', 7, 1704189600000, 5
FROM lagtrail.consumer_groups WHERE name = 'g1';
INSERT INTO lagtrail.topic_samples SELECT g.group_key, '2024-01-02 10:00:01.123456+00', t.topic_key,
       '{2,0,1}', '{30,10,9000000000000}', '{29,10,1}', '{1704189600000,-1,0}'
FROM lagtrail.consumer_groups g, lagtrail.topics t WHERE g.name = 'g1' AND t.name = 'orders';
INSERT INTO lagtrail.topic_samples SELECT g.group_key, '2024-01-02 10:00:01.123456+00', t.topic_key,
       '{0,1}', '{5,6}', '{5,6}', '{-1,-1}'
FROM lagtrail.consumer_groups g, lagtrail.topics t WHERE g.name = 'g1' AND t.name = 'payments';
INSERT INTO lagtrail.poll_log (group_key, sampled_at, started_at, ok, duration_ms, error_code, error_message, partition_count)
SELECT group_key, '2024-01-03 00:00:00+00', '2024-01-02 23:59:59+00', false, 1000, 'Timeout', 'poll timed out', 0
FROM lagtrail.consumer_groups WHERE name = 'g2';
INSERT INTO lagtrail.poll_log (group_key, sampled_at, started_at, ok, duration_ms, total_diff, last_timestamp_ms, partition_count)
SELECT group_key, '2024-01-03 00:01:00+00', '2024-01-03 00:00:59+00', true, 20, 0, -1, 1
FROM lagtrail.consumer_groups WHERE name = 'g2';
INSERT INTO lagtrail.topic_samples SELECT g.group_key, '2024-01-03 00:01:00+00', t.topic_key, '{0}', '{100}', '{100}', '{-1}'
FROM lagtrail.consumer_groups g, lagtrail.topics t WHERE g.name = 'g2' AND t.name = 'orders';`

// contractRows reads every row of the read-contract views as text, sorted.
func contractRows(t *testing.T, url string) map[string][]string {
	t.Helper()
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	out := map[string][]string{}
	for _, v := range []string{"partition_offsets", "polls", "rebalances"} {
		rows, err := conn.Query(ctx, fmt.Sprintf(`SELECT x::text FROM lagtrail.%s x`, v))
		if err != nil {
			t.Fatalf("read %s: %v", v, err)
		}
		got, err := pgx.CollectRows(rows, pgx.RowTo[string])
		if err != nil {
			t.Fatalf("read %s: %v", v, err)
		}
		slices.Sort(got)
		out[v] = got
	}
	return out
}

// TestCompactRawKeepsData shows that migration 000003 moves every stored
// poll into raw_polls without changing a value the views show, and that
// reverting it gives the same rows back.
func TestCompactRawKeepsData(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	url := pgtest.EmptyURL(t)
	if err := migrations.To(ctx, url, 2); err != nil {
		t.Fatalf("migrate to 2: %v", err)
	}
	conn, err := pgx.Connect(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := conn.Exec(ctx, legacySeedSQL); err != nil {
		t.Fatalf("seed version 2: %v", err)
	}
	conn.Close(ctx)
	before := contractRows(t, url)
	if len(before["partition_offsets"]) != 6 || len(before["polls"]) != 3 {
		t.Fatalf("seeded %d partition rows and %d polls, want 6 and 3", len(before["partition_offsets"]), len(before["polls"]))
	}

	if err := migrations.To(ctx, url, 3); err != nil {
		t.Fatalf("migrate to 3: %v", err)
	}
	after := contractRows(t, url)
	for v, want := range before {
		if !slices.Equal(after[v], want) {
			t.Errorf("%s after 000003:\n got %q\nwant %q", v, after[v], want)
		}
	}

	if err := migrations.To(ctx, url, 2); err != nil {
		t.Fatalf("migrate back to 2: %v", err)
	}
	back := contractRows(t, url)
	for v, want := range before {
		if !slices.Equal(back[v], want) {
			t.Errorf("%s after reverting 000003:\n got %q\nwant %q", v, back[v], want)
		}
	}
}
