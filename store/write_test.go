package store_test

import (
	"errors"
	"fmt"
	"maps"
	"reflect"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/lagtrail/lagtrail/store"
)

// twelvePartitionPoll is one topic of 12 partitions covering the cases of
// the read contract: lag floored at 0, hidden (-1) and unset (0) last
// timestamps, and positive ones with millisecond precision.
func twelvePartitionPoll() (*store.Poll, []store.PartitionSample) {
	at := day0.Add(10*time.Hour + 123456789*time.Nanosecond) // sub-µs part is dropped
	stored := at.Truncate(time.Microsecond)
	p := &store.Poll{
		Group:           testGroup,
		StartedAt:       at.Add(-42 * time.Millisecond),
		SampledAt:       at,
		Duration:        42 * time.Millisecond,
		OK:              true,
		RequestID:       "5E3F-REQ",
		ErrorCode:       "200", // the API's code of a success: not stored
		ErrorMessage:    "operation success",
		TotalDiff:       66,
		LastTimestampMs: 1741946400123,
		Topics:          []store.TopicSample{{Topic: "orders"}},
	}
	var want []store.PartitionSample
	for i := range 12 {
		po := store.PartitionOffsets{
			Partition:       int32(i),
			BrokerOffset:    1_000_000_000_000 + int64(i)*1000,
			ConsumerOffset:  1_000_000_000_000 + int64(i)*1000 - int64(i),
			LastTimestampMs: 1741946400000 + int64(i)*1001,
		}
		var last *time.Time
		switch i {
		case 3:
			po.LastTimestampMs = -1
		case 4:
			po.LastTimestampMs = 0
		case 5:
			po.ConsumerOffset = po.BrokerOffset + 7 // committed past the log end
		}
		if po.LastTimestampMs > 0 {
			last = ptr(time.UnixMilli(po.LastTimestampMs).UTC())
		}
		lag := max(po.BrokerOffset-po.ConsumerOffset, 0)
		// Store partitions out of order: the read orders them.
		p.Topics[0].Partitions = append([]store.PartitionOffsets{po}, p.Topics[0].Partitions...)
		want = append(want, store.PartitionSample{
			SampledAt: stored, Group: testGroup, Topic: "orders", Partition: int32(i),
			BrokerOffset: po.BrokerOffset, ConsumerOffset: po.ConsumerOffset, Lag: lag,
			LastConsumedAt: last,
		})
	}
	return p, want
}

func TestWritePollTwelvePartitions(t *testing.T) {
	t.Parallel()
	s, pool := newStore(t)
	p, want := twelvePartitionPoll()
	if err := s.WritePoll(t.Context(), p); err != nil {
		t.Fatalf("WritePoll: %v", err)
	}
	if n := count(t, pool, "partition_offsets"); n != 12 {
		t.Errorf("partition_offsets rows = %d, want 12", n)
	}
	if n := count(t, pool, "raw_polls"); n != 1 {
		t.Errorf("raw_polls rows = %d, want 1 (one row per poll)", n)
	}
	var packed bool
	if err := pool.QueryRow(t.Context(), `SELECT samples IS NOT NULL AND partitions IS NULL FROM lagtrail.raw_polls`).Scan(&packed); err != nil {
		t.Fatal(err)
	}
	if !packed {
		t.Error("twelve dense partitions with small offsets were not stored in the packed form")
	}
	got, err := s.ReadPartitionOffsets(t.Context(), store.Range{Group: testGroup.Group})
	if err != nil {
		t.Fatalf("ReadPartitionOffsets: %v", err)
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("ReadPartitionOffsets:\n got %+v\nwant %+v", got, want)
	}
	// Spot-check the exact timestamptz in SQL too, independent of Go decoding.
	var last string
	err = pool.QueryRow(t.Context(), `
SELECT to_char(last_consumed_at AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI:SS.MS')
FROM lagtrail.partition_offsets WHERE partition = 2`).Scan(&last)
	if err != nil {
		t.Fatal(err)
	}
	if wantLast := time.UnixMilli(1741946400000 + 2*1001).UTC().Format("2006-01-02 15:04:05.000"); last != wantLast {
		t.Errorf("last_consumed_at of partition 2 = %s, want %s", last, wantLast)
	}

	var nullCode, nullMessage bool
	err = pool.QueryRow(t.Context(),
		`SELECT error_code IS NULL, error_message IS NULL FROM lagtrail.raw_polls`).Scan(&nullCode, &nullMessage)
	if err != nil {
		t.Fatal(err)
	}
	if !nullCode || !nullMessage {
		t.Errorf("ok poll: error_code NULL = %v, error_message NULL = %v, want both NULL", nullCode, nullMessage)
	}

	polls, err := s.ReadPolls(t.Context(), store.Range{})
	if err != nil {
		t.Fatalf("ReadPolls: %v", err)
	}
	wantPoll := store.PollRecord{
		StartedAt: p.StartedAt.Truncate(time.Microsecond), Group: testGroup, OK: true,
		DurationMs: 42, RequestID: "5E3F-REQ", SampledAt: p.SampledAt.Truncate(time.Microsecond),
		TotalDiff: ptr(int64(66)), LastConsumedAt: ptr(time.UnixMilli(1741946400123).UTC()),
		PartitionCount: 12,
	}
	if len(polls) != 1 || !reflect.DeepEqual(polls[0], wantPoll) {
		t.Errorf("ReadPolls:\n got %+v\nwant [%+v]", polls, wantPoll)
	}
	groups, err := s.Groups(t.Context())
	if err != nil {
		t.Fatalf("Groups: %v", err)
	}
	if !reflect.DeepEqual(groups, []store.GroupRef{testGroup}) {
		t.Errorf("Groups = %+v, want [%+v]", groups, testGroup)
	}
}

func TestWritePollIdempotent(t *testing.T) {
	t.Parallel()
	at := day0.Add(5*time.Hour + 777*time.Microsecond)
	tests := []struct {
		name   string
		second func(p *store.Poll) *store.Poll
	}{
		{"same value", func(p *store.Poll) *store.Poll { return p }},
		{"copy", func(p *store.Poll) *store.Poll {
			q := okPoll(p.Group, p.SampledAt, 3, 4)
			return q
		}},
		{"same microsecond, other nanoseconds", func(p *store.Poll) *store.Poll {
			q := okPoll(p.Group, p.SampledAt, 3, 4)
			q.SampledAt = q.SampledAt.Add(999 * time.Nanosecond)
			return q
		}},
		{"same identity, other content", func(p *store.Poll) *store.Poll {
			q := okPoll(p.Group, p.SampledAt, 5, 6)
			q.Rebalances = []store.Rebalance{{Generation: 9}}
			return q
		}},
		{"same identity, failed", func(p *store.Poll) *store.Poll {
			return &store.Poll{Group: p.Group, StartedAt: p.StartedAt, SampledAt: p.SampledAt,
				ErrorCode: "Timeout"}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			s, pool := newStore(t)
			first := okPoll(testGroup, at, 3, 4)
			if err := s.WritePoll(t.Context(), first); err != nil {
				t.Fatalf("first WritePoll: %v", err)
			}
			before := counts(t, pool)
			offsets, err := s.ReadPartitionOffsets(t.Context(), store.Range{})
			if err != nil {
				t.Fatal(err)
			}
			if err := s.WritePoll(t.Context(), tt.second(first)); err != nil {
				t.Fatalf("second WritePoll: %v", err)
			}
			if after := counts(t, pool); !maps.Equal(before, after) {
				t.Errorf("row counts changed by the second write:\nbefore %v\n after %v", before, after)
			}
			if before["raw_polls"] != 1 || before["partition_offsets"] != 12 {
				t.Errorf("first write stored %v, want 1 poll, 12 partition rows", before)
			}
			offsets2, err := s.ReadPartitionOffsets(t.Context(), store.Range{})
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(offsets, offsets2) {
				t.Errorf("stored offsets changed by the second write")
			}
		})
	}
}

func TestWritePollConcurrent(t *testing.T) {
	t.Parallel()
	const writers = 8
	tests := []struct {
		name      string
		distinct  bool // each writer writes its own SampledAt
		precreate bool // create the day's partition first
		wantPolls int
	}{
		{"same poll", false, true, 1},
		{"distinct polls, same new names", true, true, writers},
		{"same poll, no partition yet", false, false, 1},
		{"distinct polls, no partition yet", true, false, writers},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			s, pool := newStore(t)
			if tt.precreate {
				// Writers then race on the rows, not on the partition.
				if _, err := s.EnsurePartitions(t.Context(), day0, 1); err != nil {
					t.Fatal(err)
				}
			}
			var (
				wg    sync.WaitGroup
				start = make(chan struct{})
				errs  = make(chan error, writers)
			)
			for i := range writers {
				at := day0.Add(time.Hour)
				if tt.distinct {
					at = at.Add(time.Duration(i) * time.Second)
				}
				p := okPoll(testGroup, at, 4, 3)
				p.Rebalances = []store.Rebalance{{Generation: 2}, {Generation: 1}}
				wg.Go(func() {
					<-start
					errs <- s.WritePoll(t.Context(), p)
				})
			}
			close(start)
			wg.Wait()
			close(errs)
			for err := range errs {
				if err != nil {
					t.Errorf("WritePoll: %v", err)
				}
			}
			got := counts(t, pool)
			want := map[string]int{
				"regions": 1, "instances": 1, "consumer_groups": 1, "topics": 4,
				"raw_polls":     tt.wantPolls,
				"rebalance_log": 2, "partition_offsets": 12 * tt.wantPolls,
				"polls": tt.wantPolls, "rebalances": 2,
			}
			if !maps.Equal(got, want) {
				t.Errorf("row counts = %v, want %v", got, want)
			}
		})
	}
}

// TestWritePollsNewGroupsInAnyOrder has two writers at a time store batches
// naming the same new groups in opposite orders, round after round. Each
// writer creates the groups it does not know in its transaction; created
// in batch order, each writer held one new group and waited for the
// other's, and PostgreSQL broke the cycle with a deadlock error.
func TestWritePollsNewGroupsInAnyOrder(t *testing.T) {
	t.Parallel()
	s, pool := newStore(t)
	other, err := store.Open(t.Context(), store.Config{DatabaseURL: pool.Config().ConnString()}, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(other.Close)
	if _, err := s.EnsurePartitions(t.Context(), day0, 1); err != nil {
		t.Fatal(err)
	}
	const rounds, groups = 20, 6
	for r := range rounds {
		var batch []*store.Poll
		for g := range groups {
			ref := store.GroupRef{Region: "cn-hangzhou", InstanceID: "alikafka-order", Group: fmt.Sprintf("round-%02d-group-%d", r, g)}
			batch = append(batch, okPoll(ref, day0.Add(time.Duration(r)*time.Minute), 1, 2))
		}
		reversed := slices.Clone(batch)
		slices.Reverse(reversed)
		var wg sync.WaitGroup
		errs := make([]error, 2)
		start := make(chan struct{})
		for w, job := range []struct {
			st    *store.Store
			polls []*store.Poll
		}{{s, batch}, {other, reversed}} {
			wg.Go(func() {
				<-start
				_, errs[w] = job.st.WritePolls(t.Context(), job.polls)
			})
		}
		close(start)
		wg.Wait()
		for w, err := range errs {
			if err != nil {
				t.Fatalf("round %d, writer %d: %v", r, w, err)
			}
		}
	}
	if n := count(t, pool, "consumer_groups"); n != rounds*groups {
		t.Errorf("consumer_groups rows = %d, want %d", n, rounds*groups)
	}
	if n := count(t, pool, "raw_polls"); n != rounds*groups {
		t.Errorf("raw_polls rows = %d, want %d (each poll once)", n, rounds*groups)
	}
}

func TestWritePollSecondPollAddsRows(t *testing.T) {
	t.Parallel()
	s, pool := newStore(t)
	at := day0.Add(8 * time.Hour)
	for i, want := range []int{12, 24, 36} {
		p := okPoll(testGroup, at.Add(time.Duration(i)*time.Microsecond), 2, 6)
		if err := s.WritePoll(t.Context(), p); err != nil {
			t.Fatalf("WritePoll %d: %v", i, err)
		}
		if n := count(t, pool, "partition_offsets"); n != want {
			t.Errorf("after poll %d: partition_offsets rows = %d, want %d", i, n, want)
		}
		if n := count(t, pool, "raw_polls"); n != i+1 {
			t.Errorf("after poll %d: raw_polls rows = %d, want %d", i, n, i+1)
		}
	}
	if n := count(t, pool, "topics"); n != 2 {
		t.Errorf("topics rows = %d, want 2 (names are stored once)", n)
	}
}

func TestWritePollFailed(t *testing.T) {
	t.Parallel()
	at := day0.Add(3 * time.Hour)
	tests := []struct {
		name string
		poll store.Poll
		want store.PollRecord
	}{
		{
			name: "api error",
			poll: store.Poll{Group: testGroup, StartedAt: at.Add(-1500 * time.Millisecond), SampledAt: at,
				Duration: 1500*time.Millisecond + 400*time.Microsecond, ErrorCode: "Throttling.User",
				ErrorMessage: "Request was denied due to user flow control.", RequestID: "R-1",
				TotalDiff: 5, LastTimestampMs: 1741946400123}, // ignored: failed poll
			want: store.PollRecord{StartedAt: at.Add(-1500 * time.Millisecond), Group: testGroup,
				ErrorCode: "Throttling.User", ErrorMessage: "Request was denied due to user flow control.",
				DurationMs: 1500, RequestID: "R-1", SampledAt: at},
		},
		{
			name: "timeout, rounded duration",
			poll: store.Poll{Group: testGroup, StartedAt: at.Add(-10 * time.Second), SampledAt: at,
				Duration: 2500 * time.Microsecond, ErrorCode: "Timeout", ErrorMessage: "context deadline exceeded"},
			want: store.PollRecord{StartedAt: at.Add(-10 * time.Second), Group: testGroup,
				ErrorCode: "Timeout", ErrorMessage: "context deadline exceeded", DurationMs: 3, SampledAt: at},
		},
		{
			name: "negative duration clamped",
			poll: store.Poll{Group: testGroup, StartedAt: at, SampledAt: at, Duration: -time.Second, ErrorCode: "X"},
			want: store.PollRecord{StartedAt: at, Group: testGroup, ErrorCode: "X", SampledAt: at},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			s, pool := newStore(t)
			if err := s.WritePoll(t.Context(), &tt.poll); err != nil {
				t.Fatalf("WritePoll: %v", err)
			}
			got, err := s.ReadPolls(t.Context(), store.Range{Group: testGroup.Group})
			if err != nil {
				t.Fatalf("ReadPolls: %v", err)
			}
			if len(got) != 1 || !reflect.DeepEqual(got[0], tt.want) {
				t.Errorf("ReadPolls:\n got %+v\nwant [%+v]", got, tt.want)
			}
			var nullDiff, nullLast bool
			err = pool.QueryRow(t.Context(),
				`SELECT total_diff IS NULL, last_timestamp_ms IS NULL FROM lagtrail.raw_polls`).Scan(&nullDiff, &nullLast)
			if err != nil {
				t.Fatal(err)
			}
			if !nullDiff || !nullLast {
				t.Errorf("failed poll: total_diff NULL = %v, last_timestamp_ms NULL = %v, want both NULL", nullDiff, nullLast)
			}
			for _, rel := range []string{"partition_offsets", "rebalance_log", "topics"} {
				if n := count(t, pool, rel); n != 0 {
					t.Errorf("%s rows = %d, want 0", rel, n)
				}
			}
		})
	}
}

func TestWritePollRebalances(t *testing.T) {
	t.Parallel()
	s, _ := newStore(t)
	t1 := day0.Add(time.Hour)
	t2 := t1.Add(time.Minute)
	t3 := t2.Add(time.Minute)
	rebAt := time.UnixMilli(1741910400555).UTC()

	p1 := okPoll(testGroup, t1, 1, 1)
	p1.Rebalances = []store.Rebalance{{Generation: 5, RebalancedAt: rebAt, DurationMs: 320, Success: true,
		Reason: "consumer joined", ReportedGroup: "billing"}}
	p2 := okPoll(testGroup, t2, 1, 1)
	p2.Rebalances = []store.Rebalance{
		{Generation: 6, DurationMs: 10, Reason: "member left"}, // no time: NULL
		{Generation: 5, RebalancedAt: rebAt, DurationMs: 999, Reason: "changed"},
	}
	p3 := okPoll(testGroup, t3, 1, 1)
	p3.Rebalances = p2.Rebalances

	want := []store.RebalanceRecord{
		{Group: testGroup, Generation: 5, RebalancedAt: &rebAt, DurationMs: 320, Success: true,
			Reason: "consumer joined", ReportedGroup: "billing", FirstSeenAt: t1},
		{Group: testGroup, Generation: 6, DurationMs: 10, Reason: "member left", FirstSeenAt: t2},
	}
	steps := []struct {
		poll *store.Poll
		want []store.RebalanceRecord
	}{
		{p1, want[:1]},
		{p2, want}, // generation 5 again: ignored; 6 added
		{p3, want}, // both again: nothing added
	}
	for i, st := range steps {
		if err := s.WritePoll(t.Context(), st.poll); err != nil {
			t.Fatalf("WritePoll %d: %v", i+1, err)
		}
		got, err := s.ReadRebalances(t.Context(), store.Range{})
		if err != nil {
			t.Fatalf("ReadRebalances: %v", err)
		}
		if !reflect.DeepEqual(got, st.want) {
			t.Errorf("after poll %d:\n got %+v\nwant %+v", i+1, got, st.want)
		}
	}
}

func TestWritePollInvalid(t *testing.T) {
	t.Parallel()
	s, pool := newStore(t)
	at := day0.Add(time.Hour)
	valid := func() *store.Poll { return okPoll(testGroup, at, 2, 3) }
	tests := []struct {
		name    string
		poll    func() *store.Poll
		wantMsg string
	}{
		{"nil", func() *store.Poll { return nil }, "nil poll"},
		{"empty region", func() *store.Poll { p := valid(); p.Group.Region = ""; return p }, "empty region"},
		{"empty instance", func() *store.Poll { p := valid(); p.Group.InstanceID = ""; return p }, "empty instance id"},
		{"empty group", func() *store.Poll { p := valid(); p.Group.Group = ""; return p }, "empty group"},
		{"NUL in group", func() *store.Poll { p := valid(); p.Group.Group = "a\x00b"; return p }, "NUL"},
		{"invalid UTF-8 region", func() *store.Poll { p := valid(); p.Group.Region = "\xff"; return p }, "UTF-8"},
		{"zero sampled at", func() *store.Poll { p := valid(); p.SampledAt = time.Time{}; return p }, "zero sampled at"},
		{"zero started at", func() *store.Poll { p := valid(); p.StartedAt = time.Time{}; return p }, "zero started at"},
		{"empty topic name", func() *store.Poll { p := valid(); p.Topics[1].Topic = ""; return p }, "empty topic name"},
		{"duplicate topic", func() *store.Poll { p := valid(); p.Topics[1].Topic = p.Topics[0].Topic; return p }, "duplicate topic"},
		{"duplicate partition", func() *store.Poll {
			p := valid()
			p.Topics[1].Partitions[2].Partition = p.Topics[1].Partitions[0].Partition
			return p
		}, "duplicate partition 0"},
		{"negative partition", func() *store.Poll { p := valid(); p.Topics[0].Partitions[1].Partition = -1; return p }, "negative partition -1"},
		{"failed poll with topics", func() *store.Poll { p := valid(); p.OK = false; p.ErrorCode = "X"; return p }, "failed poll carries 2 topic"},
		{"failed poll with rebalances", func() *store.Poll {
			p := valid()
			p.OK, p.Topics, p.Rebalances = false, nil, []store.Rebalance{{Generation: 1}}
			return p
		}, "failed poll carries 1 rebalance"},
	}
	t.Run("cases", func(t *testing.T) { // returns once its parallel subtests are done
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				t.Parallel()
				err := s.WritePoll(t.Context(), tt.poll())
				if !errors.Is(err, store.ErrInvalidPoll) {
					t.Fatalf("WritePoll error = %v, want ErrInvalidPoll", err)
				}
				if !strings.Contains(err.Error(), tt.wantMsg) {
					t.Errorf("WritePoll error = %q, want it to contain %q", err, tt.wantMsg)
				}
			})
		}
	})
	// Nothing may have been written, not even a dictionary row or a
	// partition.
	for rel, n := range counts(t, pool) {
		if n != 0 {
			t.Errorf("%s has %d rows after invalid polls, want 0", rel, n)
		}
	}
	var parts int
	if err := pool.QueryRow(t.Context(), `SELECT count(*) FROM pg_inherits`).Scan(&parts); err != nil {
		t.Fatal(err)
	}
	if parts != 0 {
		t.Errorf("%d partitions exist after invalid polls, want 0", parts)
	}
}
