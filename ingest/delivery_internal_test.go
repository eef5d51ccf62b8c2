package ingest

import (
	"context"
	"io"
	"log/slog"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/lagtrail/lagtrail/internal/pgtest"
	"github.com/lagtrail/lagtrail/store"
)

// batchRecorder is a Writer, the store, that notes the size of each write.
type batchRecorder struct {
	*store.Store
	mu    sync.Mutex
	sizes []int
}

func (b *batchRecorder) WritePolls(ctx context.Context, polls []*store.Poll) (int, error) {
	n, err := b.Store.WritePolls(ctx, polls)
	b.mu.Lock()
	b.sizes = append(b.sizes, len(polls))
	b.mu.Unlock()
	return n, err
}

func (b *batchRecorder) written() []int {
	b.mu.Lock()
	defer b.mu.Unlock()
	return slices.Clone(b.sizes)
}

// lingerPoll is the i-th poll of one group, a minute apart.
func lingerPoll(i int) *store.Poll {
	at := time.Date(2025, 1, 6, 0, i, 0, 0, time.UTC)
	return &store.Poll{
		Group:     store.GroupRef{Region: "cn-hangzhou", InstanceID: "alikafka-linger", Group: "g"},
		StartedAt: at.Add(-40 * time.Millisecond), SampledAt: at, Duration: 40 * time.Millisecond,
		OK: true, RequestID: "req-linger", LastTimestampMs: at.UnixMilli(),
		Topics: []store.TopicSample{{Topic: "t", Partitions: []store.PartitionOffsets{
			{Partition: 0, BrokerOffset: int64(100 + i), ConsumerOffset: int64(90 + i), LastTimestampMs: at.UnixMilli()}}}},
	}
}

// TestDeliveryLingersForABatchButNotPastAFullOne gives the writer a linger
// far longer than the test: a poll queued alone waits for others, the polls
// queued while it waits reach the database with it, in one write, as soon
// as a full batch waits; on stopping, what waits is written at once.
func TestDeliveryLingersForABatchButNotPastAFullOne(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	st, err := store.Open(ctx, store.Config{DatabaseURL: pgtest.URL(t)}, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(st.Close)
	if _, err := st.EnsurePartitions(ctx, lingerPoll(0).SampledAt, 2); err != nil {
		t.Fatal(err)
	}
	m, err := newMetrics(prometheus.NewRegistry())
	if err != nil {
		t.Fatal(err)
	}
	w := &batchRecorder{Store: st}
	d := newDelivery(w, nil, slog.New(slog.NewTextHandler(io.Discard, nil)), m, BufferConfig{MemoryPolls: 100, BatchPolls: 4, Linger: time.Hour})
	lingering := make(chan struct{}, 10)
	d.lingering = func() { lingering <- struct{}{} }
	runCtx, stop := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() { d.run(runCtx); close(done) }()

	// A poll queued alone: the writer waits for more instead of writing it.
	// Only a poll queued before the writer first looked is written at once
	// (while it starts); then the next one is queued alone. Deadlines here
	// are generous, and far short of the hour's linger.
	i := 0
	for lingered := false; !lingered; i++ {
		if i == 3 {
			t.Fatalf("the writer did not wait for a batch; writes so far: %v", w.written())
		}
		before := len(w.written())
		d.enqueue(lingerPoll(i))
		deadline := time.Now().Add(2 * time.Minute)
		for !lingered && len(w.written()) == before && time.Now().Before(deadline) {
			select {
			case <-lingering:
				lingered = true
			case <-time.After(10 * time.Millisecond):
			}
		}
	}
	early := w.written()
	if slices.ContainsFunc(early, func(n int) bool { return n != 1 }) {
		t.Fatalf("writes of %v polls before the writer lingered, want single polls only", early)
	}
	for range 3 {
		d.enqueue(lingerPoll(i))
		i++
	}
	deadline := time.Now().Add(2 * time.Minute)
	for len(w.written()) == len(early) && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	if got := w.written(); !slices.Equal(got, append(early, 4)) {
		t.Fatalf("writes of %v polls, want %v and then the full batch of 4 in one write", got, early)
	}
	d.enqueue(lingerPoll(i))
	d.enqueue(lingerPoll(i + 1))
	stop()
	select {
	case <-done:
	case <-time.After(2 * time.Minute):
		t.Fatal("the writer still lingers after it was stopped")
	}
	d.finish(ctx)
	if got := w.written(); !slices.Equal(got, append(early, 4, 2)) {
		t.Errorf("writes of %v polls, want %v, 4 and then the 2 waiting at the stop", got, early)
	}
	polls, err := st.ReadPolls(ctx, store.Range{Region: "cn-hangzhou", InstanceID: "alikafka-linger", Group: "g",
		From: lingerPoll(0).SampledAt, To: lingerPoll(i + 2).SampledAt})
	if err != nil {
		t.Fatal(err)
	}
	if len(polls) != i+2 {
		t.Errorf("%d polls stored, want %d", len(polls), i+2)
	}
}
