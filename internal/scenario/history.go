package scenario

import (
	"errors"
	"fmt"
	"time"

	"github.com/lagtrail/lagtrail/internal/alisim"
	"github.com/lagtrail/lagtrail/store"
)

// Failures of generated history for faults that carry no API error code,
// as record stores them.
const (
	timeoutCode    = "Timeout"
	timeoutMessage = "no response within the poll timeout"
	// pollTimeout is how long a hung poll lasts in generated history.
	pollTimeout = 10 * time.Second
)

// Poll returns the poll record would store for the group had it been
// answered at sampled after a request that took took. ok is false for a
// group the scenario does not have. The request id is empty; History sets
// one.
func (m *Model) Poll(ref store.GroupRef, sampled time.Time, took time.Duration) (*store.Poll, bool) {
	gp, ok := m.Progress(ref, sampled)
	if !ok {
		return nil, false
	}
	sampled = sampled.UTC()
	p := &store.Poll{Group: ref, StartedAt: sampled.Add(-took), SampledAt: sampled, Duration: took, OK: true}
	for _, tp := range gp.Topics {
		ts := store.TopicSample{Topic: tp.Name, Partitions: make([]store.PartitionOffsets, len(tp.Partitions))}
		var topicLast int64
		for i, pp := range tp.Partitions {
			ts.Partitions[i] = store.PartitionOffsets{
				Partition: int32(pp.Partition), BrokerOffset: pp.Broker, ConsumerOffset: pp.Consumer, LastTimestampMs: pp.LastTimestampMs,
			}
			p.TotalDiff += pp.Broker - pp.Consumer
			topicLast = max(topicLast, pp.LastTimestampMs)
		}
		if len(tp.Partitions) == 0 {
			topicLast = 0
		}
		p.LastTimestampMs = max(p.LastTimestampMs, topicLast)
		p.Topics = append(p.Topics, ts)
	}
	if hidden(gp) {
		p.LastTimestampMs = -1
	}
	for _, rb := range gp.Rebalances {
		p.Rebalances = append(p.Rebalances, store.Rebalance{
			Generation:    rb.Generation,
			RebalancedAt:  time.UnixMilli(rb.LastRebalanceTimestamp).UTC(),
			DurationMs:    rb.RebalanceTimeConsuming,
			Success:       rb.RebalanceSuccess,
			Reason:        rb.Reason,
			ReportedGroup: ref.Group,
		})
	}
	return p, true
}

// hidden tells whether every partition's LastTimestamp is -1.
func hidden(gp alisim.GroupProgress) bool {
	n := 0
	for _, tp := range gp.Topics {
		for _, pp := range tp.Partitions {
			if pp.LastTimestampMs != -1 {
				return false
			}
			n++
		}
	}
	return n > 0
}

// History generates the polls record would have stored polling every group
// every interval over [from, to), and hands them to fn one round at a time,
// in time order. Each group polls at a fixed offset into the interval,
// drawn from the seed, and each request takes 40 to 400 ms.
//
// Faults are drawn per poll at the scenario's rates. A poll that meets a
// gateway error (throttling, ServiceUnavailable, InternalError) is stored
// failed with that code and message; a hang is stored as a Timeout after
// 10s; hidden-timestamps gives LastTimestamp -1. Unlike record, history
// does not retry a throttled poll within the interval.
func (m *Model) History(from, to time.Time, interval time.Duration, fn func([]*store.Poll) error) error {
	if interval < time.Second {
		return fmt.Errorf("history interval %s: want at least 1s", interval)
	}
	if !to.After(from) {
		return errors.New("history: the end is not after the start")
	}
	from = from.UTC().Truncate(interval)
	span := min(interval, time.Minute) / 2
	for round := 0; ; round++ {
		tick := from.Add(time.Duration(round) * interval)
		if !tick.Before(to) {
			return nil
		}
		polls := make([]*store.Poll, 0, len(m.groups))
		for gi, gs := range m.groups {
			seed := hash(m.scn.Seed, uint64(gi), uint64(tick.Unix()))
			offset := time.Duration(hash(m.scn.Seed, uint64(gi), 0x6f6666)%uint64(span/time.Millisecond+1)) * time.Millisecond
			took := time.Duration(40+seed%361) * time.Millisecond
			p := m.historyPoll(gs, tick.Add(offset), took, m.drawFault(seed>>20))
			p.RequestID = requestID(seed)
			polls = append(polls, p)
		}
		if err := fn(polls); err != nil {
			return err
		}
	}
}

// historyPoll is one poll of History, with its fault applied.
func (m *Model) historyPoll(gs *groupState, start time.Time, took time.Duration, fault alisim.Fault) *store.Poll {
	if _, code, msg, ok := fault.GatewayError(); ok {
		at := start.Add(took).UTC()
		return &store.Poll{Group: gs.ref, StartedAt: start.UTC(), SampledAt: at, Duration: took, ErrorCode: code, ErrorMessage: msg}
	}
	if fault == alisim.FaultHang {
		return &store.Poll{Group: gs.ref, StartedAt: start.UTC(), SampledAt: start.Add(pollTimeout).UTC(), Duration: pollTimeout,
			ErrorCode: timeoutCode, ErrorMessage: timeoutMessage}
	}
	p, _ := m.Poll(gs.ref, start.Add(took), took)
	if fault == alisim.FaultHiddenTimestamps {
		p.LastTimestampMs = -1
		for i := range p.Topics {
			for j := range p.Topics[i].Partitions {
				p.Topics[i].Partitions[j].LastTimestampMs = -1
			}
		}
	}
	return p
}

// drawFault picks a fault at the scenario's rates from 44 random bits.
func (m *Model) drawFault(bits uint64) alisim.Fault {
	if len(m.scn.Faults) == 0 {
		return alisim.FaultNone
	}
	u := float64(bits&(1<<44-1)) / (1 << 44)
	acc := 0.0
	for _, f := range HistoryFaults {
		acc += m.scn.Faults[string(f)]
		if u < acc {
			return f
		}
	}
	return alisim.FaultNone
}

// requestID makes an upper-case version 4 UUID from a seed, shaped like
// alikafka's request ids.
func requestID(seed uint64) string {
	a, b := hash(seed, 1), hash(seed, 2)
	a = a&^0xf000 | 0x4000
	b = b&^(0xc<<60) | 0x8<<60
	return fmt.Sprintf("%08X-%04X-%04X-%04X-%012X", a>>32, (a>>16)&0xffff, a&0xffff, b>>48, b&0xffffffffffff)
}
