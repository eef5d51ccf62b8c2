package alisim_test

import (
	"bytes"
	"encoding/json"
	"os"
	"testing"

	"github.com/aliyun/alibaba-cloud-sdk-go/services/alikafka"

	"github.com/lagtrail/lagtrail/internal/alisim"
)

func TestExampleResponseDecodesThroughSDK(t *testing.T) {
	t.Parallel()
	_, ts := startServer(t, alisim.Config{Fleet: alisim.ExampleFleet()})
	resp, err := exampleProgress(t, newClient(t, ts, testKeyID, testSecret))
	if err != nil {
		t.Fatalf("GetConsumerProgress: %v", err)
	}
	if !resp.Success || resp.Code != 200 || resp.Message != "operation success." || resp.RequestId == "" {
		t.Fatalf("envelope = Success %v Code %d Message %q RequestId %q", resp.Success, resp.Code, resp.Message, resp.RequestId)
	}
	cp := resp.ConsumerProgress
	if cp.TotalDiff != 0 || cp.LastTimestamp != 1566874931671 {
		t.Errorf("group TotalDiff %d LastTimestamp %d, want 0 1566874931671", cp.TotalDiff, cp.LastTimestamp)
	}
	if n := len(cp.TopicList.TopicListItem); n != 1 {
		t.Fatalf("%d topics, want 1", n)
	}
	topic := cp.TopicList.TopicListItem[0]
	if topic.Topic != "kafka-test" || topic.TotalDiff != 0 || topic.LastTimestamp != 1566874931671 {
		t.Errorf("topic = %q TotalDiff %d LastTimestamp %d", topic.Topic, topic.TotalDiff, topic.LastTimestamp)
	}
	want := []alikafka.OffsetListItem{
		{Partition: 0, BrokerOffset: 9, ConsumerOffset: 9, LastTimestamp: 1566874931649},
		{Partition: 1, BrokerOffset: 9, ConsumerOffset: 9, LastTimestamp: 1566874931605},
		{Partition: 2, BrokerOffset: 10, ConsumerOffset: 10, LastTimestamp: 1566874931561},
		{Partition: 3, BrokerOffset: 8, ConsumerOffset: 8, LastTimestamp: 1566874931628},
		{Partition: 4, BrokerOffset: 8, ConsumerOffset: 8, LastTimestamp: 1566874931579},
		{Partition: 5, BrokerOffset: 10, ConsumerOffset: 10, LastTimestamp: 1566874931570},
		{Partition: 6, BrokerOffset: 9, ConsumerOffset: 9, LastTimestamp: 1566874931639},
		{Partition: 7, BrokerOffset: 8, ConsumerOffset: 8, LastTimestamp: 1566874931586},
		{Partition: 8, BrokerOffset: 9, ConsumerOffset: 9, LastTimestamp: 1566874931661},
		{Partition: 9, BrokerOffset: 8, ConsumerOffset: 8, LastTimestamp: 1566874931616},
		{Partition: 10, BrokerOffset: 8, ConsumerOffset: 8, LastTimestamp: 1566874931596},
		{Partition: 11, BrokerOffset: 9, ConsumerOffset: 9, LastTimestamp: 1566874931671},
	}
	got := topic.OffsetList.OffsetListItem
	if len(got) != len(want) {
		t.Fatalf("%d partitions, want %d", len(got), len(want))
	}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("partition %d = %+v, want %+v", i, got[i], want[i])
		}
	}
	if n := len(cp.RebalanceInfoList.RebalanceInfoListItem); n != 0 {
		t.Errorf("%d rebalances, want 0", n)
	}
}

// The server's body is byte-for-byte the reference example (compacted), apart
// from the RequestId.
func TestExampleResponseMatchesGolden(t *testing.T) {
	t.Parallel()
	_, ts := startServer(t, alisim.Config{Fleet: alisim.ExampleFleet()})
	resp, err := exampleProgress(t, newClient(t, ts, testKeyID, testSecret))
	if err != nil {
		t.Fatalf("GetConsumerProgress: %v", err)
	}
	golden, err := os.ReadFile("testdata/example_response.json")
	if err != nil {
		t.Fatal(err)
	}
	var ref struct{ RequestId string }
	if err := json.Unmarshal(golden, &ref); err != nil {
		t.Fatal(err)
	}
	body := bytes.Replace(resp.GetHttpContentBytes(), []byte(resp.RequestId), []byte(ref.RequestId), 1)
	var want, got bytes.Buffer
	if err := json.Compact(&want, golden); err != nil {
		t.Fatal(err)
	}
	if err := json.Compact(&got, body); err != nil {
		t.Fatalf("server body is not JSON: %v\n%s", err, body)
	}
	if want.String() != got.String() {
		t.Errorf("body differs from golden\n got: %s\nwant: %s", got.String(), want.String())
	}
}
