package store

import (
	"cmp"
	"math"
	"slices"
	"time"

	"github.com/jackc/pgx/v5/pgtype"
)

// Packed timestamp ages that stand for LastTimestamp values rather than
// ages: -1 (the API hid it) and 0 (nothing consumed yet).
const (
	hiddenTimestamp = math.MinInt32
	zeroTimestamp   = math.MinInt32 + 1
)

// packedSamples is the raw_polls form of one poll's samples (see migration
// 000003 for the layout). Nil slices are stored as NULL.
type packedSamples struct {
	topicKeys  []int32
	topicEnds  []int32 // nil for a poll of one topic
	partitions []int32 // nil when every topic's partitions are 0, 1, 2, ...
	brokerBase *int64
	samples    []int32 // packed form; nil in the wide form
	broker     []int64 // wide form; nil in the packed form
	consumer   []int64
	lastMs     []int64
}

// packSamples lays out the topics of a poll: topic after topic, each
// topic's partitions in partition order. It uses the packed form when every
// value fits it and the wide form otherwise; both read back exactly the
// same through lagtrail.partition_samples.
func packSamples(sampledAt time.Time, topics []TopicSample, keys map[string]int32) packedSamples {
	var ps packedSamples
	n := 0
	for _, t := range topics {
		n += len(t.Partitions)
	}
	if len(topics) == 0 {
		return ps
	}
	ps.topicKeys = make([]int32, 0, len(topics))
	ends := make([]int32, 0, len(topics))
	parts := make([]int32, 0, n)
	broker := make([]int64, 0, n)
	consumer := make([]int64, 0, n)
	lastMs := make([]int64, 0, n)
	dense := true
	for _, t := range topics {
		sorted := slices.SortedFunc(slices.Values(t.Partitions), func(a, b PartitionOffsets) int {
			return cmp.Compare(a.Partition, b.Partition)
		})
		for j, po := range sorted {
			dense = dense && po.Partition == int32(j)
			parts = append(parts, po.Partition)
			broker = append(broker, po.BrokerOffset)
			consumer = append(consumer, po.ConsumerOffset)
			lastMs = append(lastMs, po.LastTimestampMs)
		}
		ps.topicKeys = append(ps.topicKeys, keys[t.Topic])
		ends = append(ends, int32(len(parts)))
	}
	if len(topics) > 1 {
		ps.topicEnds = ends
	}
	if !dense {
		ps.partitions = parts
	}
	if n == 0 {
		return ps
	}
	if samples, ok := packValues(sampledAt.UnixMilli(), broker, consumer, lastMs); ok {
		base := broker[0]
		ps.brokerBase = &base
		ps.samples = samples
		return ps
	}
	ps.broker, ps.consumer, ps.lastMs = broker, consumer, lastMs
	return ps
}

// packValues returns the packed samples, or false when a value does not
// fit: broker offsets relative to the first, lags and timestamp ages must
// fit int32 (with hiddenTimestamp and zeroTimestamp reserved).
func packValues(sampledMs int64, broker, consumer, lastMs []int64) ([]int32, bool) {
	out := make([]int32, 0, 3*len(broker))
	for i := range broker {
		d, ok1 := sub32(broker[i], broker[0])
		lag, ok2 := sub32(broker[i], consumer[i])
		var age int32
		ok3 := true
		switch lastMs[i] {
		case -1:
			age = hiddenTimestamp
		case 0:
			age = zeroTimestamp
		default:
			age, ok3 = sub32(sampledMs, lastMs[i])
			ok3 = ok3 && age != hiddenTimestamp && age != zeroTimestamp
		}
		if !ok1 || !ok2 || !ok3 {
			return nil, false
		}
		out = append(out, d, lag, age)
	}
	return out, true
}

// sub32 returns a-b when it fits int32 (and a-b does not overflow int64).
func sub32(a, b int64) (int32, bool) {
	d := a - b
	if (a^b)&(a^d) < 0 { // int64 overflow
		return 0, false
	}
	if d < math.MinInt32 || d > math.MaxInt32 {
		return 0, false
	}
	return int32(d), true
}

// requestUUID returns the request id as a uuid when upper(uuid::text)
// gives it back exactly: 8-4-4-4-12 upper-case hex digits, as alikafka
// returns them. Other ids are stored as text.
func requestUUID(id string) (pgtype.UUID, bool) {
	if len(id) != 36 {
		return pgtype.UUID{}, false
	}
	var u pgtype.UUID
	j := 0
	for i := 0; i < 36; i++ {
		c := id[i]
		if i == 8 || i == 13 || i == 18 || i == 23 {
			if c != '-' {
				return pgtype.UUID{}, false
			}
			continue
		}
		var v byte
		switch {
		case c >= '0' && c <= '9':
			v = c - '0'
		case c >= 'A' && c <= 'F':
			v = c - 'A' + 10
		default:
			return pgtype.UUID{}, false
		}
		if j%2 == 0 {
			u.Bytes[j/2] = v << 4
		} else {
			u.Bytes[j/2] |= v
		}
		j++
	}
	u.Valid = true
	return u, true
}
