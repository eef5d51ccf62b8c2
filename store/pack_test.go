package store_test

import (
	"fmt"
	"math"
	"slices"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/lagtrail/lagtrail/store"
)

// TestRawFormsReadBackExactly writes polls whose values take each storage
// form of raw_polls (packed, wide, dense or listed partitions, one or
// several topics) and checks that partition_samples and polls give every
// value back exactly, and that each poll took the form expected of it.
func TestRawFormsReadBackExactly(t *testing.T) {
	t.Parallel()
	// A sampled_at with microseconds: ages count from its millisecond.
	at := day0.Add(10*time.Hour + 123456789*time.Nanosecond)
	ms := at.UnixMilli()
	po := func(p int32, b, c, last int64) store.PartitionOffsets {
		return store.PartitionOffsets{Partition: p, BrokerOffset: b, ConsumerOffset: c, LastTimestampMs: last}
	}
	tests := []struct {
		name       string
		requestID  string
		topics     []store.TopicSample
		wantPacked bool // samples IS NOT NULL
		wantListed bool // partitions IS NOT NULL
		wantEnds   bool // topic_ends IS NOT NULL
		wantUUID   bool // request_uuid IS NOT NULL
	}{
		{name: "small dense", requestID: "5C4A8E0A-1A2B-4C3D-9E8F-0123456789AB",
			topics:     []store.TopicSample{{Topic: "a", Partitions: []store.PartitionOffsets{po(0, 100, 90, ms-5), po(1, 200, 200, ms)}}},
			wantPacked: true, wantUUID: true},
		{name: "out of order, hidden and zero timestamps, committed past the end", requestID: "5c4a8e0a-1a2b-4c3d-9e8f-0123456789ab",
			topics:     []store.TopicSample{{Topic: "a", Partitions: []store.PartitionOffsets{po(2, 1<<40+7, 1<<40+9, 0), po(0, 1<<40+5, 1<<40+5, -1), po(1, 1<<40, 1<<40-math.MaxInt32, ms-math.MaxInt32)}}},
			wantPacked: true},
		{name: "sparse partitions, two topics", requestID: "",
			topics: []store.TopicSample{
				{Topic: "a", Partitions: []store.PartitionOffsets{po(0, 1, 1, ms), po(2, 3, 1, ms)}},
				{Topic: "b", Partitions: []store.PartitionOffsets{po(5, 10, 0, ms+1000)}},
			},
			wantPacked: true, wantListed: true, wantEnds: true},
		{name: "broker spread beyond int32", requestID: "other-id",
			topics:     []store.TopicSample{{Topic: "a", Partitions: []store.PartitionOffsets{po(0, 0, 0, ms), po(1, math.MaxInt32+1, 0, ms)}}},
			wantPacked: false},
		{name: "lag beyond int32",
			topics:     []store.TopicSample{{Topic: "a", Partitions: []store.PartitionOffsets{po(0, math.MaxInt32+1, 0, ms)}}},
			wantPacked: false},
		{name: "timestamp older than 24 days",
			topics:     []store.TopicSample{{Topic: "a", Partitions: []store.PartitionOffsets{po(0, 1, 1, ms-math.MaxInt32-1)}}},
			wantPacked: false},
		{name: "a timestamp whose age is a reserved value",
			topics:     []store.TopicSample{{Topic: "a", Partitions: []store.PartitionOffsets{po(0, 1, 1, ms-math.MinInt32)}}},
			wantPacked: false},
		{name: "extreme int64 values",
			topics:     []store.TopicSample{{Topic: "a", Partitions: []store.PartitionOffsets{po(0, math.MaxInt64, math.MinInt64, math.MaxInt64), po(1, math.MinInt64, math.MaxInt64, math.MinInt64)}}},
			wantPacked: false},
		{name: "no topics", wantPacked: false},
		{name: "3000 partitions, stored out of line", topics: []store.TopicSample{{Topic: "wide", Partitions: func() []store.PartitionOffsets {
			var out []store.PartitionOffsets
			for i := range int32(3000) {
				out = append(out, po(i, 1<<35+int64(i)*7919%100003, 1<<35-int64(i)*104729%1000, ms-int64(i)*31))
			}
			return out
		}()}}, wantPacked: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			s, pool := newStore(t)
			p := &store.Poll{Group: testGroup, StartedAt: at.Add(-time.Second), SampledAt: at, Duration: time.Second,
				OK: true, RequestID: tt.requestID, TotalDiff: 3, LastTimestampMs: ms - 1, Topics: tt.topics}
			if err := s.WritePoll(t.Context(), p); err != nil {
				t.Fatalf("WritePoll: %v", err)
			}
			var want []string
			for _, ts := range tt.topics {
				for _, o := range ts.Partitions {
					want = append(want, fmt.Sprintf("%s/%d %d %d %d", ts.Topic, o.Partition, o.BrokerOffset, o.ConsumerOffset, o.LastTimestampMs))
				}
			}
			slices.Sort(want)
			rows, err := pool.Query(t.Context(), `
SELECT t.name || '/' || s.partition || ' ' || s.broker_offset || ' ' || s.consumer_offset || ' ' || s.last_timestamp_ms
FROM lagtrail.partition_samples s JOIN lagtrail.topics t USING (topic_key)
WHERE s.sampled_at = $1`, at.Truncate(time.Microsecond))
			if err != nil {
				t.Fatal(err)
			}
			got, err := pgx.CollectRows(rows, pgx.RowTo[string])
			if err != nil {
				t.Fatal(err)
			}
			slices.Sort(got)
			if !slices.Equal(got, want) {
				t.Errorf("partition_samples:\n got %q\nwant %q", got, want)
			}

			var packed, listed, ends, isUUID bool
			var requestID *string
			var count int
			if err := pool.QueryRow(t.Context(), `
SELECT r.samples IS NOT NULL, r.partitions IS NOT NULL, r.topic_ends IS NOT NULL, r.request_uuid IS NOT NULL,
       p.request_id, p.partition_count
FROM lagtrail.raw_polls r, lagtrail.polls p`).Scan(&packed, &listed, &ends, &isUUID, &requestID, &count); err != nil {
				t.Fatal(err)
			}
			if packed != tt.wantPacked || listed != tt.wantListed || ends != tt.wantEnds || isUUID != tt.wantUUID {
				t.Errorf("form: packed %v listed %v topic_ends %v uuid %v; want %v %v %v %v",
					packed, listed, ends, isUUID, tt.wantPacked, tt.wantListed, tt.wantEnds, tt.wantUUID)
			}
			if got := textOf(requestID); got != tt.requestID {
				t.Errorf("polls.request_id = %q, want %q", got, tt.requestID)
			}
			if count != len(want) {
				t.Errorf("polls.partition_count = %d, want %d", count, len(want))
			}
		})
	}
}

// textOf returns *s, or "" for nil.
func textOf(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}
