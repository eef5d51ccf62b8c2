package ingest

import (
	"context"
	"errors"
	"fmt"
	"math"
	"strings"
	"testing"
	"time"

	"github.com/lagtrail/lagtrail/internal/pgtest"
	"github.com/lagtrail/lagtrail/store"
)

// progressBody is a successful GetConsumerProgress body with one topic "t"
// whose OffsetList holds offsets (JSON objects, comma-separated), and the
// given extra ConsumerProgress members.
func progressBody(offsets, extra string) string {
	if extra != "" {
		extra = "," + extra
	}
	return `{"Success":true,"Code":200,"RequestId":"R-1","ConsumerProgress":{"TotalDiff":5,"LastTimestamp":-1,` +
		`"TopicList":{"TopicList":[{"Topic":"t","OffsetList":{"OffsetList":[` + offsets + `]}}]}` + extra + `}}`
}

// offsetJSON is one OffsetList entry.
func offsetJSON(partition, broker, consumer, last any) string {
	return fmt.Sprintf(`{"Partition":%v,"BrokerOffset":%v,"ConsumerOffset":%v,"LastTimestamp":%v}`, partition, broker, consumer, last)
}

// TestAbsurdValueOutcomes pins the outcome of each absurd value a
// GetConsumerProgress response can hold, decoded by the SDK as the recorder
// does: rejected as InvalidResponse with a reason, clamped and reported, or
// stored as is.
func TestAbsurdValueOutcomes(t *testing.T) {
	t.Parallel()
	ok := offsetJSON(0, 10, 5, 1736164800000)
	type outcome int
	const (
		stored outcome = iota
		clamped
		rejected
	)
	tests := []struct {
		name string
		body string
		want outcome
		// reason is part of the rejection's message or of the clamp's
		// report.
		reason string
		// check looks at the stored poll.
		check func(p *store.Poll) error
	}{
		{name: "reference shape", body: progressBody(ok, ""), want: stored},
		{name: "negative broker offset", body: progressBody(offsetJSON(0, -5, 0, -1), ""), want: rejected, reason: `partition 0 has broker offset -5`},
		{name: "broker offset above 2^53-1", body: progressBody(offsetJSON(0, int64(1)<<53, 0, -1), ""), want: rejected, reason: "broker offset 9007199254740992"},
		{name: "broker offset MaxInt64", body: progressBody(offsetJSON(0, int64(math.MaxInt64), 0, -1), ""), want: rejected, reason: "broker offset 9223372036854775807"},
		{name: "broker offset 2^63 as a float wraps to MinInt64", body: progressBody(offsetJSON(0, "9223372036854775807.0", 0, -1), ""), want: rejected, reason: "broker offset -9223372036854775808"},
		{name: "broker offset beyond int64", body: progressBody(offsetJSON(0, "92233720368547758070", 0, -1), ""), want: rejected, reason: ""},
		{name: "consumer offset -1 (no commit)", body: progressBody(offsetJSON(0, 10, -1, -1), ""), want: stored,
			check: partitionIs(0, 10, -1, -1)},
		{name: "consumer offset -2", body: progressBody(offsetJSON(0, 10, -2, -1), ""), want: rejected, reason: "consumer offset -2"},
		{name: "consumer offset above 2^53-1", body: progressBody(offsetJSON(0, 10, int64(1)<<53, -1), ""), want: rejected, reason: "consumer offset 9007199254740992"},
		{name: "offsets at 2^53-1", body: progressBody(offsetJSON(0, maxOffset, maxOffset, -1), ""), want: stored,
			check: partitionIs(0, maxOffset, maxOffset, -1)},
		{name: "consumer ahead of broker", body: progressBody(offsetJSON(0, 10, 1_000_000, -1), ""), want: stored,
			check: partitionIs(0, 10, 1_000_000, -1)},
		{name: "offsets adding up to more than 2^62", body: progressBody(manyPartitions(513, maxOffset), ""), want: rejected, reason: "add up to more than 4611686018427387904"},
		{name: "offsets adding up to just under 2^62", body: progressBody(manyPartitions(512, maxOffset), ""), want: stored},
		{name: "duplicate partition", body: progressBody(ok+","+offsetJSON(0, 11, 6, -1), ""), want: rejected, reason: `topic "t" lists partition 0 twice`},
		{name: "negative partition", body: progressBody(offsetJSON(-1, 10, 5, -1), ""), want: rejected, reason: "partition number -1"},
		{name: "partition above int32", body: progressBody(offsetJSON(int64(1)<<31, 10, 5, -1), ""), want: rejected, reason: "partition number 2147483648"},
		{name: "partition 2^31-1", body: progressBody(offsetJSON(math.MaxInt32, 10, 5, -1), ""), want: stored},
		{name: "partition as a fraction is truncated by the SDK", body: progressBody(offsetJSON(1.9, 10, 5, -1), ""), want: stored,
			check: partitionIs(1, 10, 5, -1)},
		{name: "offsets as strings and null", body: progressBody(offsetJSON(`"3"`, `"10"`, "null", `""`), ""), want: stored,
			check: partitionIs(3, 10, 0, 0)},
		{name: "missing fields decode as 0", body: progressBody(`{}`, ""), want: stored, check: partitionIs(0, 0, 0, 0)},
		{name: "two partitions missing their number", body: progressBody(`{},{}`, ""), want: rejected, reason: "lists partition 0 twice"},
		{name: "LastTimestamp -1 (hidden)", body: progressBody(offsetJSON(0, 10, 5, -1), ""), want: stored, check: partitionIs(0, 10, 5, -1)},
		{name: "LastTimestamp 0", body: progressBody(offsetJSON(0, 10, 5, 0), ""), want: stored, check: partitionIs(0, 10, 5, 0)},
		{name: "LastTimestamp -2", body: progressBody(offsetJSON(0, 10, 5, -2), ""), want: clamped, reason: `LastTimestamp of topic "t" partition 0 is -2`,
			check: partitionIs(0, 10, 5, -1)},
		{name: "LastTimestamp in the future", body: progressBody(offsetJSON(0, 10, 5, 4102444800000), ""), want: stored,
			check: partitionIs(0, 10, 5, 4102444800000)},
		{name: "LastTimestamp at the end of 9999", body: progressBody(offsetJSON(0, 10, 5, maxTimestampMs), ""), want: stored,
			check: partitionIs(0, 10, 5, maxTimestampMs)},
		{name: "LastTimestamp after 9999", body: progressBody(offsetJSON(0, 10, 5, maxTimestampMs+1), ""), want: clamped, reason: "is 253402300800000, not a time",
			check: partitionIs(0, 10, 5, -1)},
		{name: "LastTimestamp MaxInt64 on two partitions", body: progressBody(offsetJSON(0, 10, 5, int64(math.MaxInt64))+","+offsetJSON(1, 10, 5, int64(math.MaxInt64)), ""), want: clamped, reason: "(and 1 more)"},
		{name: "group LastTimestamp MinInt64", body: strings.Replace(progressBody(ok, ""), `"LastTimestamp":-1`, `"LastTimestamp":-9223372036854775808`, 1), want: clamped, reason: "the group's LastTimestamp",
			check: func(p *store.Poll) error { return want(p.LastTimestampMs, -1, "group LastTimestamp") }},
		{name: "TotalDiff negative", body: strings.Replace(progressBody(ok, ""), `"TotalDiff":5`, `"TotalDiff":-7`, 1), want: stored,
			check: func(p *store.Poll) error { return want(p.TotalDiff, -7, "TotalDiff") }},
		{name: "empty topic name", body: strings.Replace(progressBody(ok, ""), `"Topic":"t"`, `"Topic":""`, 1), want: rejected, reason: "a topic has no name"},
		{name: "topic name with a NUL", body: strings.Replace(progressBody(ok, ""), `"Topic":"t"`, `"Topic":"t\u0000x"`, 1), want: rejected, reason: "control characters"},
		{name: "topic name of 256 bytes", body: strings.Replace(progressBody(ok, ""), `"Topic":"t"`, `"Topic":"`+strings.Repeat("x", 256)+`"`, 1), want: rejected, reason: "longer than 255 bytes"},
		{name: "duplicate topic", body: strings.Replace(progressBody(ok, ""), `]}}]}`, `]}},{"Topic":"t"}]}`, 1), want: rejected, reason: `topic "t" is listed twice`},
		{name: "topic without partitions", body: progressBody("", ""), want: stored,
			check: func(p *store.Poll) error {
				return want(int64(len(p.Topics)+p.PartitionCount()), 1, "topics and partitions")
			}},
		{name: "empty TopicList", body: `{"Success":true,"ConsumerProgress":{"TopicList":{"TopicList":[]}}}`, want: stored,
			check: func(p *store.Poll) error { return want(int64(len(p.Topics)), 0, "topics") }},
		{name: "no TopicList", body: `{"Success":true,"ConsumerProgress":{"TotalDiff":0}}`, want: stored},
		{name: "ConsumerProgress null", body: `{"Success":true,"ConsumerProgress":null}`, want: stored},
		{name: "no ConsumerProgress", body: `{"Success":true,"Code":200,"RequestId":"R"}`, want: rejected, reason: "no ConsumerProgress"},
		{name: "ConsumerProgress in the wrong case", body: `{"Success":true,"consumerProgress":{}}`, want: rejected, reason: "no ConsumerProgress"},
		{name: "rebalance at the end of 9999", body: progressBody(ok, `"RebalanceInfoList":{"RebalanceInfoList":[{"Generation":3,"LastRebalanceTimestamp":253402300799999,"RebalanceTimeConsuming":-5,"GroupId":""}]}`), want: stored,
			check: func(p *store.Poll) error {
				if len(p.Rebalances) != 1 || p.Rebalances[0].RebalancedAt.UnixMilli() != maxTimestampMs || p.Rebalances[0].DurationMs != -5 {
					return fmt.Errorf("rebalances %+v", p.Rebalances)
				}
				return nil
			}},
		{name: "rebalance after 9999", body: progressBody(ok, `"RebalanceInfoList":{"RebalanceInfoList":[{"Generation":-1,"LastRebalanceTimestamp":9223372036854775807}]}`), want: clamped, reason: "LastRebalanceTimestamp 9223372036854775807 of generation -1",
			check: func(p *store.Poll) error {
				if len(p.Rebalances) != 1 || !p.Rebalances[0].RebalancedAt.IsZero() || p.Rebalances[0].Generation != -1 {
					return fmt.Errorf("rebalances %+v", p.Rebalances)
				}
				return nil
			}},
		{name: "rebalance with a negative time", body: progressBody(ok, `"RebalanceInfoList":{"RebalanceInfoList":[{"Generation":1,"LastRebalanceTimestamp":-99}]}`), want: stored,
			check: func(p *store.Poll) error {
				if len(p.Rebalances) != 1 || !p.Rebalances[0].RebalancedAt.IsZero() {
					return fmt.Errorf("rebalances %+v", p.Rebalances)
				}
				return nil
			}},
		{name: "1001 rebalances", body: progressBody(ok, `"RebalanceInfoList":{"RebalanceInfoList":[`+strings.TrimSuffix(strings.Repeat(`{"Generation":1},`, 1001), ",")+`]}`), want: clamped, reason: "only the first 1000 are kept",
			check: func(p *store.Poll) error { return want(int64(len(p.Rebalances)), 1000, "rebalances") }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			resp, err := decodeProgress(200, []byte(tt.body))
			p := fuzzPoll()
			var clamps []clamp
			if err == nil {
				clamps, err = convertProgress(p, resp)
			}
			var flags []string
			for _, c := range clamps {
				if c.Count < 1 || (c.Kind != clampLastTimestamp && c.Kind != clampRebalanceTime && c.Kind != clampRebalances) {
					t.Fatalf("clamp %+v has no known kind or no count", c)
				}
				flags = append(flags, c.Detail)
			}
			switch tt.want {
			case rejected:
				var ae *APIError
				if !errors.As(err, &ae) {
					t.Fatalf("got %v, flags %q; want a rejection", err, flags)
				}
				if tt.reason == "" {
					if ae.Code != CodeMalformedResponse {
						t.Fatalf("got %v, want %s", err, CodeMalformedResponse)
					}
					return
				}
				if ae.Code != CodeInvalidResponse || !strings.Contains(ae.Message, tt.reason) {
					t.Fatalf("got %v, want %s naming %q", err, CodeInvalidResponse, tt.reason)
				}
				if p.Topics != nil || p.Rebalances != nil {
					t.Fatalf("a rejected response filled the poll: %+v", p)
				}
				return
			case clamped:
				if err != nil || len(flags) == 0 || !strings.Contains(strings.Join(flags, "\n"), tt.reason) {
					t.Fatalf("got %v, flags %q; want a clamp reported as %q", err, flags, tt.reason)
				}
			case stored:
				if err != nil || len(flags) > 0 {
					t.Fatalf("got %v, flags %q; want the values stored as is", err, flags)
				}
			}
			p.OK = true
			if err := store.ValidatePoll(p); err != nil {
				t.Fatalf("the store refuses the poll: %v", err)
			}
			if tt.check != nil {
				if err := tt.check(p); err != nil {
					t.Fatal(err)
				}
			}
		})
	}
}

// manyPartitions is n OffsetList entries, each with both offsets at offset.
func manyPartitions(n int, offset int64) string {
	parts := make([]string, n)
	for i := range parts {
		parts[i] = offsetJSON(i, offset, offset, -1)
	}
	return strings.Join(parts, ",")
}

// partitionIs checks the first partition of the first topic.
func partitionIs(partition int32, broker, consumer, last int64) func(p *store.Poll) error {
	return func(p *store.Poll) error {
		if len(p.Topics) == 0 || len(p.Topics[0].Partitions) == 0 {
			return errors.New("no partition stored")
		}
		got := p.Topics[0].Partitions[0]
		w := store.PartitionOffsets{Partition: partition, BrokerOffset: broker, ConsumerOffset: consumer, LastTimestampMs: last}
		if got != w {
			return fmt.Errorf("stored %+v, want %+v", got, w)
		}
		return nil
	}
}

func want(got, w int64, what string) error {
	if got != w {
		return fmt.Errorf("%s = %d, want %d", what, got, w)
	}
	return nil
}

// TestTooManyPartitionsIsRejected checks the cap on partitions per poll
// without a 100 MB body: the limit applies to the decoded response.
func TestTooManyPartitionsIsRejected(t *testing.T) {
	t.Parallel()
	resp, err := decodeProgress(200, []byte(progressBody(offsetJSON(0, 1, 1, -1), "")))
	if err != nil {
		t.Fatal(err)
	}
	items := resp.ConsumerProgress.TopicList.TopicListItem[0].OffsetList.OffsetListItem
	for len(items) <= maxPartitions {
		items = append(items, items[0])
	}
	resp.ConsumerProgress.TopicList.TopicListItem[0].OffsetList.OffsetListItem = items
	_, err = convertProgress(fuzzPoll(), resp)
	var ae *APIError
	if !errors.As(err, &ae) || ae.Code != CodeInvalidResponse || !strings.Contains(ae.Message, "more than 1048576") {
		t.Fatalf("got %v, want InvalidResponse naming the partition limit", err)
	}
}

// TestAcceptedExtremesStayReadable writes polls at the edge of what
// convertProgress accepts and checks that PostgreSQL stores them exactly and
// that every read, aggregate and the rollups still run over them. Just past
// these edges, reads fail with "bigint out of range" or "interval out of
// range", or a time is stored wrong.
func TestAcceptedExtremesStayReadable(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	st, err := store.Open(ctx, store.Config{DatabaseURL: pgtest.URL(t)}, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(st.Close)

	bodies := []string{
		progressBody(offsetJSON(0, 10, 5, -1)+","+offsetJSON(1, 10, 5, 0), ""),
		// Every offset at 2^53-1 but the consumer of partition 0, at -1,
		// on 512 partitions: sums just under 2^62.
		progressBody(strings.Replace(manyPartitions(512, maxOffset), `"ConsumerOffset":9007199254740991`, `"ConsumerOffset":-1`, 1), ""),
		progressBody(offsetJSON(0, 0, maxOffset, maxTimestampMs)+","+offsetJSON(1, maxOffset, -1, 1),
			`"RebalanceInfoList":{"RebalanceInfoList":[{"Generation":9223372036854775807,"LastRebalanceTimestamp":253402300799999,"RebalanceTimeConsuming":-9223372036854775808}]}`),
		progressBody(offsetJSON(0, 10, 5, -1)+","+offsetJSON(1, 10, 5, -1), ""),
	}
	at := time.Date(2025, 1, 6, 12, 0, 0, 0, time.UTC)
	g := fuzzPoll().Group
	var polls []*store.Poll
	for i, body := range bodies {
		resp, err := decodeProgress(200, []byte(strings.Replace(body, `"LastTimestamp":-1,"TopicList"`, fmt.Sprintf(`"LastTimestamp":%d,"TopicList"`, maxTimestampMs), 1)))
		if err != nil {
			t.Fatalf("poll %d: %v", i, err)
		}
		p := fuzzPoll()
		p.SampledAt, p.StartedAt = at.Add(time.Duration(i)*time.Minute), at.Add(time.Duration(i)*time.Minute-time.Second)
		if _, err := convertProgress(p, resp); err != nil {
			t.Fatalf("poll %d: %v", i, err)
		}
		p.OK = true
		polls = append(polls, p)
	}
	if _, err := st.WritePolls(ctx, polls); err != nil {
		t.Fatal(err)
	}

	samples, err := st.ReadPartitionOffsets(ctx, store.Range{})
	if err != nil {
		t.Fatalf("read partition offsets: %v", err)
	}
	wantN := 0
	for _, p := range polls {
		wantN += p.PartitionCount()
	}
	if len(samples) != wantN {
		t.Fatalf("read %d samples, wrote %d", len(samples), wantN)
	}
	got := map[string]store.PartitionSample{}
	for _, s := range samples {
		got[fmt.Sprintf("%d/%d", s.SampledAt.Unix(), s.Partition)] = s
	}
	for _, p := range polls {
		for _, po := range p.Topics[0].Partitions {
			s, ok := got[fmt.Sprintf("%d/%d", p.SampledAt.Unix(), po.Partition)]
			if !ok || s.BrokerOffset != po.BrokerOffset || s.ConsumerOffset != po.ConsumerOffset {
				t.Fatalf("at %s partition %d: read %+v, wrote %+v", p.SampledAt, po.Partition, s, po)
			}
			if po.LastTimestampMs > 0 && (s.LastConsumedAt == nil || s.LastConsumedAt.UnixMilli() != po.LastTimestampMs) {
				t.Fatalf("at %s partition %d: last consumed at %v, wrote %d", p.SampledAt, po.Partition, s.LastConsumedAt, po.LastTimestampMs)
			}
		}
	}
	if _, err := st.ReadPolls(ctx, store.Range{}); err != nil {
		t.Fatalf("read polls: %v", err)
	}
	rbs, err := st.ReadRebalances(ctx, store.Range{})
	if err != nil {
		t.Fatalf("read rebalances: %v", err)
	}
	if len(rbs) != 1 || rbs[0].RebalancedAt.UnixMilli() != maxTimestampMs || rbs[0].Generation != math.MaxInt64 || rbs[0].DurationMs != math.MinInt64 {
		t.Fatalf("rebalances read back as %+v", rbs)
	}
	for _, by := range []store.Level{store.LevelGroup, store.LevelPartition} {
		q := store.AggregateQuery{Groups: []store.GroupRef{g}, By: by, Edges: []time.Time{at.Add(-time.Hour), at.Add(time.Hour)}, Window: time.Hour}
		if _, err := st.Buckets(ctx, q); err != nil {
			t.Fatalf("buckets by %v: %v", by, err)
		}
		if _, err := st.Events(ctx, q); err != nil {
			t.Fatalf("events by %v: %v", by, err)
		}
		if _, err := st.PartitionStates(ctx, q); err != nil {
			t.Fatalf("partition states by %v: %v", by, err)
		}
	}
	if _, err := st.RefreshRollups(ctx); err != nil {
		t.Fatalf("refresh rollups: %v", err)
	}
}
