package ingest

import (
	"encoding/json"
	"fmt"
	"time"

	"github.com/aliyun/alibaba-cloud-sdk-go/services/alikafka"

	"github.com/lagtrail/lagtrail/store"
)

// Bounds on what one GetConsumerProgress response may hold. Each keeps the
// stored history readable: beyond them PostgreSQL's bigint arithmetic in the
// read views, aggregates and rollups overflows ("bigint out of range",
// "interval out of range") for every query that touches the poll, or a
// time cannot be stored or printed.
const (
	// maxOffset is the largest broker or consumer offset stored: 2^53-1,
	// the largest integer a float64 (JSON readers, the query math) holds
	// exactly. A partition written at a million messages a second reaches
	// it after 285 years.
	maxOffset = 1<<53 - 1
	// maxOffsetSum bounds the sum of a poll's broker offsets, and of its
	// consumer offsets, so that the per-group sums the queries take in
	// bigint cannot overflow, with room to spare.
	maxOffsetSum = 1 << 62
	// maxPartitions bounds the partitions of one poll, and its topics. No
	// alikafka instance comes near it.
	maxPartitions = 1 << 20
	// maxRebalances bounds the RebalanceInfoList entries kept from one
	// poll; the API reports the latest few.
	maxRebalances = 1000
	// maxTimestampMs is 9999-12-31T23:59:59.999Z, the last instant RFC 3339
	// (and so lagtrail's JSON and CSV output) can write.
	maxTimestampMs = 253402300799999
)

// clamp describes the values of one kind that convertProgress clamped in
// one response.
type clamp struct {
	// Kind is "last_timestamp", "rebalance_time" or "rebalances": the
	// label of lagtrail_clamped_values_total.
	Kind string
	// Count is how many values of Kind were clamped.
	Count int
	// Detail describes the first one, and how many more there were.
	Detail string
}

// Kinds of clamped values.
const (
	clampLastTimestamp = "last_timestamp"
	clampRebalanceTime = "rebalance_time"
	clampRebalances    = "rebalances"
)

// convertProgress copies a GetConsumerProgress response into p, and returns
// one clamp per kind of value it clamped (nil when none). The recorder logs
// them and counts them in lagtrail_clamped_values_total.
//
// It rejects, with an *APIError of code CodeInvalidResponse that names the
// problem, responses that cannot describe a real group or whose values would
// make the stored history unreadable: a Success=true body without
// ConsumerProgress, a topic with no name, an invalid name or listed twice, a
// partition number outside 0..2^31-1 or listed twice, a broker offset
// outside 0..2^53-1, a consumer offset outside -1..2^53-1, broker or
// consumer offsets adding up to more than 2^62, more than 2^20 partitions or
// topics. p is not changed then, so that the poll is stored as a failure.
//
// It clamps, and reports, values that cannot be a time but leave the rest of
// the poll usable: a LastTimestamp below -1 or after 9999 becomes -1 (as if
// the API hid it), a LastRebalanceTimestamp after 9999 becomes no time, and
// RebalanceInfoList entries past the first 1000 are dropped.
//
// Values that are odd but possible are stored as the API gave them: a
// consumer offset ahead of the broker offset (the two are read at different
// moments), a consumer offset of -1 (no committed offset), LastTimestamp -1
// (hidden), 0 or in the future (producers set message timestamps), an empty
// topic list, TotalDiff whatever it is, and a rebalance's generation and
// duration.
func convertProgress(p *store.Poll, r *alikafka.GetConsumerProgressResponse) ([]clamp, error) {
	cp := r.ConsumerProgress
	topics := cp.TopicList.TopicListItem
	if len(topics) == 0 && len(cp.RebalanceInfoList.RebalanceInfoListItem) == 0 && !mentionsConsumerProgress(r) {
		return nil, invalid(r, "response has Success=true but no ConsumerProgress")
	}
	if len(topics) > maxPartitions {
		return nil, invalid(r, fmt.Sprintf("response lists %d topics, more than %d", len(topics), maxPartitions))
	}
	n := 0
	for _, t := range topics {
		n += len(t.OffsetList.OffsetListItem)
	}
	if n > maxPartitions {
		return nil, invalid(r, fmt.Sprintf("response lists %d partitions, more than %d", n, maxPartitions))
	}

	var cl clamps
	out := make([]store.TopicSample, 0, len(topics))
	seenTopic := make(map[string]bool, len(topics))
	var brokerSum, consumerSum int64
	for _, t := range topics {
		if t.Topic == "" {
			return nil, invalid(r, "a topic has no name")
		}
		if cleanText(t.Topic, maxTopicName) != t.Topic {
			return nil, invalid(r, fmt.Sprintf("topic name %q is longer than %d bytes or holds invalid UTF-8 or control characters", cleanText(t.Topic, 80), maxTopicName))
		}
		if seenTopic[t.Topic] {
			return nil, invalid(r, fmt.Sprintf("topic %q is listed twice", t.Topic))
		}
		seenTopic[t.Topic] = true
		ts := store.TopicSample{Topic: t.Topic, Partitions: make([]store.PartitionOffsets, 0, len(t.OffsetList.OffsetListItem))}
		seenPart := make(map[int]bool, len(t.OffsetList.OffsetListItem))
		for _, o := range t.OffsetList.OffsetListItem {
			if o.Partition < 0 || o.Partition > 1<<31-1 {
				return nil, invalid(r, fmt.Sprintf("topic %q has partition number %d", t.Topic, o.Partition))
			}
			if seenPart[o.Partition] {
				return nil, invalid(r, fmt.Sprintf("topic %q lists partition %d twice", t.Topic, o.Partition))
			}
			seenPart[o.Partition] = true
			if o.BrokerOffset < 0 || o.BrokerOffset > maxOffset {
				return nil, invalid(r, fmt.Sprintf("topic %q partition %d has broker offset %d, outside 0..%d", t.Topic, o.Partition, o.BrokerOffset, int64(maxOffset)))
			}
			if o.ConsumerOffset < -1 || o.ConsumerOffset > maxOffset {
				return nil, invalid(r, fmt.Sprintf("topic %q partition %d has consumer offset %d, outside -1..%d", t.Topic, o.Partition, o.ConsumerOffset, int64(maxOffset)))
			}
			// Each term is at most 2^53 and the sums stay at most 2^62
			// plus one term, so they cannot overflow.
			brokerSum += o.BrokerOffset
			consumerSum += o.ConsumerOffset
			if brokerSum > maxOffsetSum || consumerSum > maxOffsetSum {
				return nil, invalid(r, fmt.Sprintf("the offsets of the poll add up to more than %d (at topic %q partition %d)", int64(maxOffsetSum), t.Topic, o.Partition))
			}
			ts.Partitions = append(ts.Partitions, store.PartitionOffsets{
				Partition:       int32(o.Partition),
				BrokerOffset:    o.BrokerOffset,
				ConsumerOffset:  o.ConsumerOffset,
				LastTimestampMs: cl.timestamp(o.LastTimestamp, t.Topic, o.Partition),
			})
		}
		out = append(out, ts)
	}

	var rebalances []store.Rebalance
	for i, rb := range cp.RebalanceInfoList.RebalanceInfoListItem {
		if i == maxRebalances {
			cl.add(clampRebalances, fmt.Sprintf("RebalanceInfoList has %d entries; only the first %d are kept", len(cp.RebalanceInfoList.RebalanceInfoListItem), maxRebalances))
			break
		}
		var at time.Time
		switch {
		case rb.LastRebalanceTimestamp > maxTimestampMs:
			cl.add(clampRebalanceTime, fmt.Sprintf("LastRebalanceTimestamp %d of generation %d is after 9999; stored as no time", rb.LastRebalanceTimestamp, rb.Generation))
		case rb.LastRebalanceTimestamp > 0:
			at = time.UnixMilli(rb.LastRebalanceTimestamp).UTC()
		}
		rebalances = append(rebalances, store.Rebalance{
			Generation:    rb.Generation,
			RebalancedAt:  at,
			DurationMs:    rb.RebalanceTimeConsuming,
			Success:       rb.RebalanceSuccess,
			Reason:        cleanText(rb.Reason, maxMessage),
			ReportedGroup: cleanText(rb.GroupId, maxTopicName),
		})
	}

	p.TotalDiff = cp.TotalDiff
	p.LastTimestampMs = cl.timestamp(cp.LastTimestamp, "", -1)
	p.Topics = out
	p.Rebalances = rebalances
	return cl.list(), nil
}

// mentionsConsumerProgress reports whether the body, when the response
// holds one, has a ConsumerProgress member (null counts). A body without one
// decodes to the same empty progress as a group with nothing committed. It
// is called only for empty progress, so the second decode costs nothing in
// steady recording.
func mentionsConsumerProgress(r *alikafka.GetConsumerProgressResponse) bool {
	if r.BaseResponse == nil || len(r.GetHttpContentBytes()) == 0 {
		return true
	}
	var members map[string]json.RawMessage
	if err := json.Unmarshal(r.GetHttpContentBytes(), &members); err != nil {
		return false
	}
	_, ok := members["ConsumerProgress"]
	return ok
}

// clamps collects the values convertProgress clamped: per kind, in the
// order first met, how many and the first one.
type clamps []clamp

// add records one clamped value of kind.
func (c *clamps) add(kind, what string) {
	for i := range *c {
		if (*c)[i].Kind == kind {
			(*c)[i].Count++
			return
		}
	}
	*c = append(*c, clamp{Kind: kind, Count: 1, Detail: what})
}

// timestamp returns a LastTimestamp as stored: as given when it is -1, 0 or
// a time up to 9999, else -1, recorded as clamped. topic is empty for the
// group's own LastTimestamp.
func (c *clamps) timestamp(ms int64, topic string, partition int) int64 {
	if ms >= -1 && ms <= maxTimestampMs {
		return ms
	}
	where := "the group's LastTimestamp"
	if topic != "" {
		where = fmt.Sprintf("LastTimestamp of topic %q partition %d", topic, partition)
	}
	c.add(clampLastTimestamp, fmt.Sprintf("%s is %d, not a time; stored as -1 (unknown)", where, ms))
	return -1
}

// list describes the clamped values, one per kind.
func (c clamps) list() []clamp {
	for i := range c {
		if c[i].Count > 1 {
			c[i].Detail = fmt.Sprintf("%s (and %d more)", c[i].Detail, c[i].Count-1)
		}
	}
	return c
}

// maxTopicName is Kafka's limit on topic names, with room to spare.
const maxTopicName = 255

func invalid(r *alikafka.GetConsumerProgressResponse, msg string) *APIError {
	return &APIError{Code: CodeInvalidResponse, Message: msg, RequestID: r.RequestId}
}
