package store

import "time"

// GroupRef names one consumer group of one alikafka instance.
type GroupRef struct {
	// Region is the region id, e.g. cn-hangzhou.
	Region string `json:"region"`
	// InstanceID is the alikafka instance id.
	InstanceID string `json:"instance_id"`
	// Group is the consumer group id (ConsumerId).
	Group string `json:"group"`
}

// Poll is the outcome of one GetConsumerProgress attempt for one group. A
// failed attempt is a Poll too, with OK false and no topics.
//
// A poll is identified by (Group, SampledAt): writing the same poll twice
// stores it once.
type Poll struct {
	Group GroupRef
	// StartedAt is when the request was sent.
	StartedAt time.Time
	// SampledAt is the recorder's clock, in UTC, when the response (or the
	// failure) arrived. It is the time of every sample in the poll. The store
	// keeps it (and StartedAt) at microsecond precision, PostgreSQL's: two
	// values within the same microsecond identify the same poll.
	SampledAt time.Time
	// Duration is how long the attempt took.
	Duration time.Duration
	// OK is true when the API answered with Success=true and a usable body.
	OK bool
	// ErrorCode and ErrorMessage describe a failed attempt: the API's error
	// code, or a lagtrail code such as "Timeout" for client-side failures.
	ErrorCode    string
	ErrorMessage string
	// RequestID is the API's request id, when one was returned.
	RequestID string
	// TotalDiff and LastTimestampMs are the group-level figures of a
	// successful poll. LastTimestampMs is -1 when the API hid it.
	TotalDiff       int64
	LastTimestampMs int64
	// Topics holds the per-partition samples of a successful poll.
	Topics []TopicSample
	// Rebalances holds the RebalanceInfoList entries of a successful poll.
	Rebalances []Rebalance
}

// TopicSample is one topic's partitions in one poll.
type TopicSample struct {
	Topic      string
	Partitions []PartitionOffsets
}

// PartitionOffsets is what one poll saw of one partition.
type PartitionOffsets struct {
	Partition      int32
	BrokerOffset   int64
	ConsumerOffset int64
	// LastTimestampMs is the produce time (Unix ms) of the last consumed
	// message, or -1 when the API hid it.
	LastTimestampMs int64
}

// Rebalance is one RebalanceInfoList entry.
type Rebalance struct {
	Generation int64
	// RebalancedAt is LastRebalanceTimestamp; zero when the API gave none.
	RebalancedAt time.Time
	// DurationMs is RebalanceTimeConsuming.
	DurationMs int64
	Success    bool
	Reason     string
	// ReportedGroup is the GroupId the API reported in the entry.
	ReportedGroup string
}

// PartitionCount returns how many partition samples the poll holds.
func (p *Poll) PartitionCount() int {
	n := 0
	for _, t := range p.Topics {
		n += len(t.Partitions)
	}
	return n
}
