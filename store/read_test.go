package store_test

import (
	"cmp"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/lagtrail/lagtrail/store"
)

// readFixture is what TestRead* write: 3 groups (two share a name across
// instances) polled 4 times, 2 topics × 3 partitions per poll, and one
// failed poll.
type readFixture struct {
	store   *store.Store
	samples []store.PartitionSample // every sample written, unordered
	polls   []store.PollRecord
	times   []time.Time
}

var (
	groupB2 = store.GroupRef{Region: "cn-shanghai", InstanceID: "alikafka-2", Group: "billing"}
	groupS  = store.GroupRef{Region: "cn-hangzhou", InstanceID: "alikafka-pre-cn-1", Group: "search"}
)

func newReadFixture(t *testing.T) *readFixture {
	t.Helper()
	s, _ := newStore(t)
	f := &readFixture{store: s}
	t0 := day0.Add(12 * time.Hour)
	f.times = []time.Time{t0, t0.Add(time.Minute), t0.Add(2 * time.Minute), t0.Add(24 * time.Hour)}
	for _, g := range []store.GroupRef{testGroup, groupB2, groupS} {
		for i, at := range f.times {
			p := okPoll(g, at, 2, 3)
			if i == 0 {
				p.Rebalances = []store.Rebalance{{Generation: 1, Reason: "start"}}
			}
			if i == 3 {
				p.Rebalances = []store.Rebalance{{Generation: 2, Reason: "later", Success: true}}
			}
			if err := s.WritePoll(t.Context(), p); err != nil {
				t.Fatalf("WritePoll: %v", err)
			}
			f.polls = append(f.polls, store.PollRecord{
				StartedAt: p.StartedAt, Group: g, OK: true, DurationMs: 150, RequestID: p.RequestID,
				SampledAt: p.SampledAt, TotalDiff: ptr(p.TotalDiff),
				LastConsumedAt: ptr(time.UnixMilli(p.LastTimestampMs).UTC()), PartitionCount: 6,
			})
			for _, ts := range p.Topics {
				for _, po := range ts.Partitions {
					f.samples = append(f.samples, store.PartitionSample{
						SampledAt: at, Group: g, Topic: ts.Topic, Partition: po.Partition,
						BrokerOffset: po.BrokerOffset, ConsumerOffset: po.ConsumerOffset,
						Lag:            max(po.BrokerOffset-po.ConsumerOffset, 0),
						LastConsumedAt: ptr(time.UnixMilli(po.LastTimestampMs).UTC()),
					})
				}
			}
		}
	}
	failedAt := t0.Add(30 * time.Second)
	failed := &store.Poll{Group: groupS, StartedAt: failedAt.Add(-time.Second), SampledAt: failedAt,
		Duration: time.Second, ErrorCode: "Timeout", ErrorMessage: "deadline"}
	if err := s.WritePoll(t.Context(), failed); err != nil {
		t.Fatal(err)
	}
	f.polls = append(f.polls, store.PollRecord{StartedAt: failed.StartedAt, Group: groupS, ErrorCode: "Timeout",
		ErrorMessage: "deadline", DurationMs: 1000, SampledAt: failedAt})
	return f
}

func compareGroups(a, b store.GroupRef) int {
	return cmp.Or(cmp.Compare(a.Region, b.Region), cmp.Compare(a.InstanceID, b.InstanceID), cmp.Compare(a.Group, b.Group))
}

// matches reports whether a sample of group g, topic, partition at time at
// falls in r.
func matches(r store.Range, g store.GroupRef, topic string, partition int32, at time.Time) bool {
	return (r.Region == "" || r.Region == g.Region) &&
		(r.InstanceID == "" || r.InstanceID == g.InstanceID) &&
		(r.Group == "" || r.Group == g.Group) &&
		(r.Topic == "" || r.Topic == topic) &&
		(r.Partition == nil || *r.Partition == partition) &&
		(r.From.IsZero() || !at.Before(r.From)) &&
		(r.To.IsZero() || at.Before(r.To))
}

func TestReadRanges(t *testing.T) {
	t.Parallel()
	f := newReadFixture(t)
	t0, t1, t2 := f.times[0], f.times[1], f.times[2]
	tests := []struct {
		name        string
		r           store.Range
		wantSamples int
		wantPolls   int // OK and failed polls
	}{
		{"everything", store.Range{}, 72, 13},
		{"group name across instances", store.Range{Group: "billing"}, 48, 8},
		{"group in one region", store.Range{Region: "cn-hangzhou", Group: "billing"}, 24, 4},
		{"instance", store.Range{InstanceID: "alikafka-2"}, 24, 4},
		{"group and topic", store.Range{Group: "search", Topic: "topic-01"}, 12, 5},
		{"group, topic and partition", store.Range{Group: "search", Topic: "topic-01", Partition: ptr(int32(2))}, 4, 5},
		{"partition of every topic", store.Range{Partition: ptr(int32(0))}, 24, 13},
		{"half-open window", store.Range{From: t1, To: t2}, 18, 3},
		{"window with failed poll", store.Range{Group: "search", From: t0.Add(time.Second), To: t2}, 6, 2},
		{"from only", store.Range{From: t2}, 36, 6},
		{"to only", store.Range{To: t1}, 18, 4},
		{"group and day", store.Range{Group: "billing", Region: "cn-shanghai", From: day0, To: day0.AddDate(0, 0, 1)}, 18, 3},
		{"empty window", store.Range{From: t1, To: t1}, 0, 0},
		{"unknown group", store.Range{Group: "nope"}, 0, 0},
		{"unknown topic", store.Range{Topic: "nope"}, 0, 13},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, err := f.store.ReadPartitionOffsets(t.Context(), tt.r)
			if err != nil {
				t.Fatalf("ReadPartitionOffsets: %v", err)
			}
			var want []store.PartitionSample
			for _, s := range f.samples {
				if matches(tt.r, s.Group, s.Topic, s.Partition, s.SampledAt) {
					want = append(want, s)
				}
			}
			slices.SortFunc(want, func(a, b store.PartitionSample) int {
				return cmp.Or(compareGroups(a.Group, b.Group), cmp.Compare(a.Topic, b.Topic),
					cmp.Compare(a.Partition, b.Partition), a.SampledAt.Compare(b.SampledAt))
			})
			if len(want) != tt.wantSamples {
				t.Fatalf("fixture: %d samples match, test expects %d", len(want), tt.wantSamples)
			}
			if len(got) != len(want) || (len(want) > 0 && !reflect.DeepEqual(got, want)) {
				t.Errorf("ReadPartitionOffsets returned %d samples, want %d:\n got %+v\nwant %+v", len(got), len(want), got, want)
			}

			polls, err := f.store.ReadPolls(t.Context(), tt.r)
			if err != nil {
				t.Fatalf("ReadPolls: %v", err)
			}
			var wantPolls []store.PollRecord
			for _, p := range f.polls {
				if matches(store.Range{Region: tt.r.Region, InstanceID: tt.r.InstanceID, Group: tt.r.Group,
					From: tt.r.From, To: tt.r.To}, p.Group, "", 0, p.SampledAt) {
					wantPolls = append(wantPolls, p)
				}
			}
			slices.SortFunc(wantPolls, func(a, b store.PollRecord) int {
				return cmp.Or(compareGroups(a.Group, b.Group), a.SampledAt.Compare(b.SampledAt))
			})
			if len(wantPolls) != tt.wantPolls {
				t.Fatalf("fixture: %d polls match, test expects %d", len(wantPolls), tt.wantPolls)
			}
			if len(polls) != len(wantPolls) || (len(wantPolls) > 0 && !reflect.DeepEqual(polls, wantPolls)) {
				t.Errorf("ReadPolls returned %d polls, want %d:\n got %+v\nwant %+v", len(polls), len(wantPolls), polls, wantPolls)
			}
		})
	}
}

func TestReadRebalancesRanges(t *testing.T) {
	t.Parallel()
	f := newReadFixture(t)
	tests := []struct {
		name string
		r    store.Range
		want []int64 // generations, in result order
	}{
		{"all", store.Range{}, []int64{1, 2, 1, 2, 1, 2}}, // cn-hangzhou billing, cn-hangzhou search, cn-shanghai billing
		{"group", store.Range{Region: "cn-hangzhou", Group: "search"}, []int64{1, 2}},
		{"first seen before day 2", store.Range{Group: "billing", To: day0.AddDate(0, 0, 1)}, []int64{1, 1}},
		{"first seen on day 2", store.Range{From: day0.AddDate(0, 0, 1)}, []int64{2, 2, 2}},
		{"topic and partition ignored", store.Range{InstanceID: "alikafka-2", Topic: "x", Partition: ptr(int32(7))}, []int64{1, 2}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, err := f.store.ReadRebalances(t.Context(), tt.r)
			if err != nil {
				t.Fatalf("ReadRebalances: %v", err)
			}
			var gens []int64
			for _, r := range got {
				if !matches(store.Range{Region: tt.r.Region, InstanceID: tt.r.InstanceID, Group: tt.r.Group,
					From: tt.r.From, To: tt.r.To}, r.Group, "", 0, r.FirstSeenAt) {
					t.Errorf("rebalance %+v is outside %+v", r, tt.r)
				}
				wantFirst := f.times[0]
				if r.Generation == 2 {
					wantFirst = f.times[3]
				}
				if !r.FirstSeenAt.Equal(wantFirst) || r.RebalancedAt != nil {
					t.Errorf("rebalance %+v: want first_seen_at %v and no rebalanced_at", r, wantFirst)
				}
				gens = append(gens, r.Generation)
			}
			if !slices.Equal(gens, tt.want) {
				t.Errorf("generations = %v, want %v", gens, tt.want)
			}
		})
	}
}

func TestReadInvalidRange(t *testing.T) {
	t.Parallel()
	s, _ := newStore(t)
	from := day0.Add(time.Hour)
	tests := []struct {
		name    string
		r       store.Range
		wantMsg string
	}{
		{"from after to", store.Range{From: from, To: from.Add(-time.Nanosecond)}, "from 2025-03-14T01:00:00Z is after to"},
		{"negative partition", store.Range{Partition: ptr(int32(-1))}, "negative partition -1"},
	}
	reads := map[string]func(store.Range) error{
		"ReadPartitionOffsets": func(r store.Range) error { _, err := s.ReadPartitionOffsets(t.Context(), r); return err },
		"ReadPolls":            func(r store.Range) error { _, err := s.ReadPolls(t.Context(), r); return err },
		"ReadRebalances":       func(r store.Range) error { _, err := s.ReadRebalances(t.Context(), r); return err },
	}
	for _, tt := range tests {
		for name, read := range reads {
			t.Run(tt.name+"/"+name, func(t *testing.T) {
				err := read(tt.r)
				if !errors.Is(err, store.ErrInvalidRange) || !strings.Contains(err.Error(), tt.wantMsg) {
					t.Errorf("%s error = %v, want ErrInvalidRange containing %q", name, err, tt.wantMsg)
				}
			})
		}
	}
}

// TestReadGolden pins the read results of the twelve-partition poll and a
// failed poll. Run with -update to rewrite testdata/*.golden.json.
func TestReadGolden(t *testing.T) {
	t.Parallel()
	s, _ := newStore(t)
	p, _ := twelvePartitionPoll()
	failedAt := p.SampledAt.Add(time.Minute)
	failed := &store.Poll{Group: testGroup, StartedAt: failedAt.Add(-2 * time.Second), SampledAt: failedAt,
		Duration: 2 * time.Second, ErrorCode: "Throttling.User", ErrorMessage: "flow control", RequestID: "R-9"}
	for _, w := range []*store.Poll{p, failed} {
		if err := s.WritePoll(t.Context(), w); err != nil {
			t.Fatal(err)
		}
	}
	offsets, err := s.ReadPartitionOffsets(t.Context(), store.Range{})
	if err != nil {
		t.Fatal(err)
	}
	polls, err := s.ReadPolls(t.Context(), store.Range{})
	if err != nil {
		t.Fatal(err)
	}
	checkGolden(t, "partition_offsets.golden.json", offsets)
	checkGolden(t, "polls.golden.json", polls)
}

func checkGolden(t *testing.T, name string, v any) {
	t.Helper()
	got, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	got = append(got, '\n')
	path := filepath.Join("testdata", name)
	if *update {
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test -run TestReadGolden -update to create it)", err)
	}
	if string(got) != string(want) {
		t.Errorf("%s differs from the golden file (run with -update if the change is intended):\n got %s\nwant %s", path, got, want)
	}
}
