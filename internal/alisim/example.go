package alisim

// Names used by ExampleFleet, taken from the GetConsumerProgress API reference.
const (
	ExampleRegion   = "cn-hangzhou"
	ExampleInstance = "alikafka_pre-cn-mp919o4v"
	ExampleGroup    = "kafka-test"
	ExampleTopic    = "kafka-test"
)

// ExampleFleet reproduces the example response of the GetConsumerProgress API
// reference: region cn-hangzhou, instance alikafka_pre-cn-mp919o4v (name
// "example", running), group kafka-test consuming topic kafka-test with 12
// static partitions whose BrokerOffset, ConsumerOffset and LastTimestamp are
// the example's. The group's TotalDiff is 0 and its LastTimestamp
// 1566874931671, at any clock time.
func ExampleFleet() Fleet {
	examples := []struct{ offset, lastTimestampMs int64 }{
		{9, 1566874931649},
		{9, 1566874931605},
		{10, 1566874931561},
		{8, 1566874931628},
		{8, 1566874931579},
		{10, 1566874931570},
		{9, 1566874931639},
		{8, 1566874931586},
		{9, 1566874931661},
		{8, 1566874931616},
		{8, 1566874931596},
		{9, 1566874931671},
	}
	parts := make([]Partition, len(examples))
	for i, e := range examples {
		parts[i] = Partition{BrokerStart: e.offset, ConsumerStart: e.offset, LastTimestampMs: e.lastTimestampMs}
	}
	return Fleet{Instances: []Instance{{
		Region:        ExampleRegion,
		ID:            ExampleInstance,
		Name:          "example",
		ServiceStatus: ServiceStatusRunning,
		Groups: []Group{{
			ID:     ExampleGroup,
			Topics: []Topic{{Name: ExampleTopic, Partitions: parts}},
		}},
	}}}
}
