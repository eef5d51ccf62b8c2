package ingest

import (
	"fmt"
	"time"

	"github.com/aliyun/alibaba-cloud-sdk-go/services/alikafka"

	"github.com/lagtrail/lagtrail/store"
)

// toSamples copies a GetConsumerProgress response into p. It rejects
// responses that cannot describe a real group (a topic or partition listed
// twice, a negative partition number, an empty topic name) with an
// *APIError of code InvalidResponse, so that the poll is stored as a failure
// that names the problem instead of as wrong data.
//
// Values that are odd but possible are stored as the API gave them: a
// consumer offset ahead of the broker offset (the two are read at different
// moments), and LastTimestamp -1 (hidden by the API).
func toSamples(p *store.Poll, r *alikafka.GetConsumerProgressResponse) error {
	cp := r.ConsumerProgress
	p.TotalDiff = cp.TotalDiff
	p.LastTimestampMs = cp.LastTimestamp
	seenTopic := make(map[string]bool, len(cp.TopicList.TopicListItem))
	for _, t := range cp.TopicList.TopicListItem {
		if t.Topic == "" {
			return invalid(r, "a topic has no name")
		}
		if cleanText(t.Topic, maxTopicName) != t.Topic {
			return invalid(r, fmt.Sprintf("topic name %q is longer than %d bytes or holds invalid UTF-8 or control characters", cleanText(t.Topic, 80), maxTopicName))
		}
		if seenTopic[t.Topic] {
			return invalid(r, fmt.Sprintf("topic %q is listed twice", t.Topic))
		}
		seenTopic[t.Topic] = true
		ts := store.TopicSample{Topic: t.Topic, Partitions: make([]store.PartitionOffsets, 0, len(t.OffsetList.OffsetListItem))}
		seenPart := make(map[int]bool, len(t.OffsetList.OffsetListItem))
		for _, o := range t.OffsetList.OffsetListItem {
			if o.Partition < 0 || o.Partition > 1<<31-1 {
				return invalid(r, fmt.Sprintf("topic %q has partition number %d", t.Topic, o.Partition))
			}
			if seenPart[o.Partition] {
				return invalid(r, fmt.Sprintf("topic %q lists partition %d twice", t.Topic, o.Partition))
			}
			seenPart[o.Partition] = true
			ts.Partitions = append(ts.Partitions, store.PartitionOffsets{
				Partition:       int32(o.Partition),
				BrokerOffset:    o.BrokerOffset,
				ConsumerOffset:  o.ConsumerOffset,
				LastTimestampMs: o.LastTimestamp,
			})
		}
		p.Topics = append(p.Topics, ts)
	}
	for _, rb := range cp.RebalanceInfoList.RebalanceInfoListItem {
		var at time.Time
		if rb.LastRebalanceTimestamp > 0 {
			at = time.UnixMilli(rb.LastRebalanceTimestamp).UTC()
		}
		p.Rebalances = append(p.Rebalances, store.Rebalance{
			Generation:    rb.Generation,
			RebalancedAt:  at,
			DurationMs:    rb.RebalanceTimeConsuming,
			Success:       rb.RebalanceSuccess,
			Reason:        cleanText(rb.Reason, maxMessage),
			ReportedGroup: cleanText(rb.GroupId, maxTopicName),
		})
	}
	return nil
}

// maxTopicName is Kafka's limit on topic names, with room to spare.
const maxTopicName = 255

func invalid(r *alikafka.GetConsumerProgressResponse, msg string) *APIError {
	return &APIError{Code: CodeInvalidResponse, Message: msg, RequestID: r.RequestId}
}
