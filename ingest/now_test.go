package ingest_test

import (
	"context"
	"testing"
	"time"

	"github.com/lagtrail/lagtrail/ingest"
	"github.com/lagtrail/lagtrail/internal/alisim"
)

// TestRunKeepsTheNowStateFresh runs a recorder polling two groups every
// second and checks that the stored now-state (partition_now, which the
// fleet and /metrics read) follows the polls: it reaches each group's last
// stored poll, and stays within a few polls of it while recording, with
// no refresh anywhere but the recorder's own loop. RunOnce refreshes after
// its writes.
func TestRunKeepsTheNowStateFresh(t *testing.T) {
	t.Parallel()
	inst := alisim.Instance{Region: "cn-hangzhou", ID: "inst"}
	for _, id := range []string{"a", "b"} {
		inst.Groups = append(inst.Groups, alisim.Group{ID: id, Topics: []alisim.Topic{{Name: "t", Partitions: []alisim.Partition{{BrokerStart: 100, ConsumerStart: 40}, {BrokerStart: 10, ConsumerStart: 10}}}}})
	}
	h := newHarness(t, alisim.Config{Fleet: alisim.Fleet{Instances: []alisim.Instance{inst}}})
	cfg := h.config(ingest.Target{Region: "cn-hangzhou", Instance: "inst"})

	// behind counts the groups whose stored now-state is not at their
	// last successful poll, and rows the partition rows stored.
	state := func() (behind, rows int) {
		t.Helper()
		err := h.pool.QueryRow(context.Background(), `
SELECT (SELECT count(*) FROM lagtrail.consumer_groups g
        WHERE (SELECT max(p.sampled_at) FROM lagtrail.raw_polls p WHERE p.group_key = g.group_key AND p.ok)
              IS DISTINCT FROM (SELECT max(n.evaluated_at) FROM lagtrail.partition_now n WHERE n.group_key = g.group_key)),
       (SELECT count(*) FROM lagtrail.partition_now)`).Scan(&behind, &rows)
		if err != nil {
			t.Fatal(err)
		}
		return behind, rows
	}

	if _, err := h.recorder(t, cfg).RunOnce(context.Background()); err != nil {
		t.Fatal(err)
	}
	if behind, rows := state(); behind != 0 || rows != 4 {
		t.Fatalf("after RunOnce: %d groups behind, %d partition rows; want 0 and 4", behind, rows)
	}

	cfg.Interval = time.Second
	cfg.PollTimeout = 500 * time.Millisecond
	cfg.NowInterval = 100 * time.Millisecond
	stop := runRecorder(t, h.recorder(t, cfg))
	polls := len(h.polls(t))
	waitFor(t, waitLimit, "three more polls of each group", func() bool { return len(h.polls(t)) >= polls+6 })
	waitFor(t, waitLimit, "the now-state at every group's last poll while recording", func() bool {
		behind, rows := state()
		return behind == 0 && rows == 4
	})
	if err := stop(); err != nil {
		t.Fatal(err)
	}
	var status string
	if err := h.pool.QueryRow(context.Background(), `SELECT last_status FROM lagtrail.partition_status WHERE consumer_group = 'a' AND partition = 1`).Scan(&status); err != nil {
		t.Fatal(err)
	}
	if status != "OK" {
		t.Errorf("a/t/1, no lag: last_status %s, want OK", status)
	}
}
