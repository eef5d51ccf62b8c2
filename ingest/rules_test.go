package ingest_test

import (
	"context"
	"testing"

	"github.com/lagtrail/lagtrail/ingest"
	"github.com/lagtrail/lagtrail/internal/alisim"
)

// TestRecorderStoresStatusRules checks that the targets' allowed lags reach
// the database, where every reader's status takes them from: RunOnce
// stores them before it polls, and Run when it starts, replacing the rules
// of the recorder before it.
func TestRecorderStoresStatusRules(t *testing.T) {
	t.Parallel()
	h := newHarness(t, alisim.Config{Fleet: alisim.ExampleFleet()})
	allowed := func() int64 {
		t.Helper()
		var v int64
		if err := h.pool.QueryRow(context.Background(), `SELECT allowed_lag FROM lagtrail.group_rules WHERE consumer_group = 'kafka-test'`).Scan(&v); err != nil {
			t.Fatal(err)
		}
		return v
	}
	lag := func(v int64) *int64 { return &v }

	target := exampleTarget
	target.AllowedLag = lag(250)
	region := ingest.Target{Region: "cn-hangzhou", AllowedLag: lag(40)}
	if res, err := h.recorder(t, h.config(target, region)).RunOnce(context.Background()); err != nil || len(res.Failed) != 0 {
		t.Fatalf("RunOnce = %+v, %v", res, err)
	}
	if got := allowed(); got != 250 {
		t.Fatalf("after RunOnce: kafka-test has allowed lag %d, want 250 (its group's target)", got)
	}

	// A recorder whose only rule is the region's replaces them.
	stop := runRecorder(t, h.recorder(t, h.config(exampleTarget, region)))
	waitFor(t, waitLimit, "the region's allowed lag", func() bool { return allowed() == 40 })
	if err := stop(); err != nil {
		t.Fatal(err)
	}
}
