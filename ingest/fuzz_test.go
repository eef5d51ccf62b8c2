package ingest

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/aliyun/alibaba-cloud-sdk-go/sdk/responses"
	"github.com/aliyun/alibaba-cloud-sdk-go/services/alikafka"

	"github.com/lagtrail/lagtrail/store"
)

// decodeProgress decodes an HTTP response to GetConsumerProgress the way
// the recorder's call path does: the SDK's own responses.Unmarshal (what
// Client.DoActionWithSigner calls), a panic in it recovered and described as
// call does, an error classified, and a Success=false body turned into an
// error by checkSuccess.
func decodeProgress(status int, body []byte) (resp *alikafka.GetConsumerProgressResponse, err error) {
	hr := &http.Response{
		StatusCode: status,
		Status:     http.StatusText(status),
		Header:     http.Header{"Content-Type": {"application/json;charset=utf-8"}},
		Body:       io.NopCloser(bytes.NewReader(body)),
	}
	defer func() {
		if r := recover(); r != nil {
			resp, err = nil, fromPanic(r, status, body)
		}
	}()
	r := alikafka.CreateGetConsumerProgressResponse()
	if err := responses.Unmarshal(r, hr, "JSON"); err != nil {
		return nil, classify(err, context.Background())
	}
	if err := checkSuccess(r.Success, r.Code, r.Message, r.RequestId); err != nil {
		return nil, err
	}
	return r, nil
}

// fuzzPoll is the poll the recorder fills from a response.
func fuzzPoll() *store.Poll {
	at := time.Date(2025, 1, 6, 12, 0, 0, 0, time.UTC)
	return &store.Poll{
		Group:     store.GroupRef{Region: "cn-hangzhou", InstanceID: "alikafka-1", Group: "g"},
		StartedAt: at.Add(-40 * time.Millisecond),
		SampledAt: at,
		Duration:  40 * time.Millisecond,
	}
}

// FuzzDecodeConsumerProgress feeds GetConsumerProgress bodies (and HTTP
// statuses; anything outside 100..599 stands for 200) through the SDK's
// decoding and the recorder's checks. It never panics, and either:
//   - the poll is a failure whose *APIError has a code (and, for
//     InvalidResponse, a message naming the problem), the poll carries no
//     samples and the store accepts it as a failed poll; or
//   - the poll is accepted, the store's validation accepts it too, and every
//     value is within the outcomes convertProgress documents: stored as the
//     API gave it, or clamped and reported.
func FuzzDecodeConsumerProgress(f *testing.F) {
	f.Add(200, []byte(`{"Success":true,"Code":200,"RequestId":"R","ConsumerProgress":{"TopicList":{"TopicList":[{"Topic":"t","OffsetList":{"OffsetList":[{"Partition":0,"BrokerOffset":10,"ConsumerOffset":5,"LastTimestamp":-1}]}}]}}}`))
	f.Fuzz(func(t *testing.T, status int, body []byte) {
		if status < 100 || status > 599 {
			status = 200
		}
		resp, err := decodeProgress(status, body)
		p := fuzzPoll()
		var clamped []clamp
		if err == nil {
			clamped, err = convertProgress(p, resp)
		}
		if err != nil {
			checkFailure(t, p, err)
			return
		}
		p.OK = true
		if err := store.ValidatePoll(p); err != nil {
			t.Fatalf("accepted poll refused by the store: %v", err)
		}
		checkAccepted(t, p, resp, clamped)
	})
}

// checkFailure checks a poll the recorder stores as a failure.
func checkFailure(t *testing.T, p *store.Poll, err error) {
	t.Helper()
	var ae *APIError
	if !errors.As(err, &ae) {
		t.Fatalf("error %T %v is not an *APIError", err, err)
	}
	if ae.Code == "" {
		t.Fatalf("error %v has no code", err)
	}
	if ae.Code == CodeInvalidResponse && ae.Message == "" {
		t.Fatalf("InvalidResponse without a reason")
	}
	if p.Topics != nil || p.Rebalances != nil || p.TotalDiff != 0 || p.LastTimestampMs != 0 {
		t.Fatalf("a rejected response changed the poll: %+v", p)
	}
	// As pollOnce stores it.
	p.ErrorCode, p.ErrorMessage = cleanText(ae.Code, 100), cleanText(ae.Message, maxMessage)
	if err := store.ValidatePoll(p); err != nil {
		t.Fatalf("failed poll refused by the store: %v", err)
	}
	for _, s := range []string{p.ErrorCode, p.ErrorMessage} {
		if !utf8.ValidString(s) || strings.IndexByte(s, 0) >= 0 {
			t.Fatalf("error text %q cannot be stored", s)
		}
	}
}

// checkAccepted checks every value of an accepted poll against the
// response it came from.
func checkAccepted(t *testing.T, p *store.Poll, resp *alikafka.GetConsumerProgressResponse, clamped []clamp) {
	t.Helper()
	cp := resp.ConsumerProgress
	if len(p.Topics) != len(cp.TopicList.TopicListItem) {
		t.Fatalf("%d topics stored, %d in the response", len(p.Topics), len(cp.TopicList.TopicListItem))
	}
	wantClamped := false
	timestamp := func(raw, got int64, what string) {
		t.Helper()
		switch {
		case raw >= -1 && raw <= maxTimestampMs:
			if got != raw {
				t.Fatalf("%s: stored %d, want %d as given", what, got, raw)
			}
		case got != -1:
			t.Fatalf("%s: %d out of range stored as %d, want -1", what, raw, got)
		default:
			wantClamped = true
		}
	}
	timestamp(cp.LastTimestamp, p.LastTimestampMs, "group LastTimestamp")
	if p.TotalDiff != cp.TotalDiff {
		t.Fatalf("TotalDiff stored %d, want %d", p.TotalDiff, cp.TotalDiff)
	}
	var brokerSum, consumerSum int64
	n := 0
	for i, ts := range p.Topics {
		raw := cp.TopicList.TopicListItem[i]
		if ts.Topic != raw.Topic || len(ts.Partitions) != len(raw.OffsetList.OffsetListItem) {
			t.Fatalf("topic %d stored as %q with %d partitions, response %q with %d", i, ts.Topic, len(ts.Partitions), raw.Topic, len(raw.OffsetList.OffsetListItem))
		}
		if ts.Topic == "" || len(ts.Topic) > maxTopicName || !utf8.ValidString(ts.Topic) || strings.ContainsFunc(ts.Topic, func(r rune) bool { return r < 0x20 || r == 0x7f }) {
			t.Fatalf("topic name %q accepted", ts.Topic)
		}
		for j, po := range ts.Partitions {
			ro := raw.OffsetList.OffsetListItem[j]
			n++
			if int(po.Partition) != ro.Partition || po.Partition < 0 {
				t.Fatalf("partition %d stored as %d", ro.Partition, po.Partition)
			}
			if po.BrokerOffset != ro.BrokerOffset || po.ConsumerOffset != ro.ConsumerOffset {
				t.Fatalf("offsets %d/%d stored as %d/%d", ro.BrokerOffset, ro.ConsumerOffset, po.BrokerOffset, po.ConsumerOffset)
			}
			if po.BrokerOffset < 0 || po.BrokerOffset > maxOffset || po.ConsumerOffset < -1 || po.ConsumerOffset > maxOffset {
				t.Fatalf("offsets %d/%d accepted", po.BrokerOffset, po.ConsumerOffset)
			}
			brokerSum += po.BrokerOffset
			consumerSum += po.ConsumerOffset
			timestamp(ro.LastTimestamp, po.LastTimestampMs, "partition LastTimestamp")
		}
	}
	if n > maxPartitions || brokerSum > maxOffsetSum || consumerSum > maxOffsetSum {
		t.Fatalf("%d partitions with offsets adding up to %d and %d accepted", n, brokerSum, consumerSum)
	}
	rbs := cp.RebalanceInfoList.RebalanceInfoListItem
	if len(p.Rebalances) != min(len(rbs), maxRebalances) {
		t.Fatalf("%d rebalances stored of %d", len(p.Rebalances), len(rbs))
	}
	wantClamped = wantClamped || len(rbs) > maxRebalances
	for i, rb := range p.Rebalances {
		raw := rbs[i]
		if rb.Generation != raw.Generation || rb.DurationMs != raw.RebalanceTimeConsuming || rb.Success != raw.RebalanceSuccess {
			t.Fatalf("rebalance %d stored as %+v from %+v", i, rb, raw)
		}
		switch ms := raw.LastRebalanceTimestamp; {
		case ms <= 0:
			if !rb.RebalancedAt.IsZero() {
				t.Fatalf("LastRebalanceTimestamp %d stored as %v, want none", ms, rb.RebalancedAt)
			}
		case ms > maxTimestampMs:
			wantClamped = true
			if !rb.RebalancedAt.IsZero() {
				t.Fatalf("LastRebalanceTimestamp %d stored as %v, want none", ms, rb.RebalancedAt)
			}
		case rb.RebalancedAt.UnixMilli() != ms || rb.RebalancedAt.Year() > 9999:
			t.Fatalf("LastRebalanceTimestamp %d stored as %v", ms, rb.RebalancedAt)
		}
		for _, s := range []string{rb.Reason, rb.ReportedGroup} {
			if !utf8.ValidString(s) || strings.IndexByte(s, 0) >= 0 {
				t.Fatalf("rebalance text %q cannot be stored", s)
			}
		}
	}
	if wantClamped != (len(clamped) > 0) {
		t.Fatalf("clamped %+v, want clamped values reported: %v", clamped, wantClamped)
	}
}
