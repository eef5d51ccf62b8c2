package alisim

import (
	"errors"
	"fmt"
	"math"
	"time"
)

// ChangeKind names a scripted change to a partition.
type ChangeKind string

// The kinds of scripted change. Partition.At documents exactly how each one
// moves the offsets.
const (
	// ChangeRates makes ProduceRate and ConsumeRate take the Change's values
	// from At on (zero rates stall the producer or the consumer).
	ChangeRates ChangeKind = "rates"
	// ChangeRewind moves the consumer offset back by Messages, floored at 0.
	ChangeRewind ChangeKind = "rewind"
	// ChangeResetToLatest makes the consumer offset jump to the broker
	// offset at At.
	ChangeResetToLatest ChangeKind = "reset_to_latest"
	// ChangeRecreate models the topic being recreated: broker and consumer
	// offsets both become 0 at At and the rates are unchanged. Messages
	// produced before it no longer exist.
	ChangeRecreate ChangeKind = "recreate"
)

// Change is one scripted change, applied at epoch+At. Fields that do not
// belong to Kind must be zero.
type Change struct {
	// At is when the change applies, relative to the epoch. It must be >= 0
	// and not less than the previous Change's At.
	At time.Duration
	// Kind says what changes.
	Kind ChangeKind
	// ProduceRate is the new produce rate in messages per second
	// (ChangeRates only; finite and >= 0).
	ProduceRate float64
	// ConsumeRate is the new consume rate in messages per second
	// (ChangeRates only; finite and >= 0).
	ConsumeRate float64
	// Messages is how far the consumer offset moves back (ChangeRewind
	// only; > 0).
	Messages int64
}

// validateScript reports the first bad change in script.
func validateScript(script []Change) error {
	var prev time.Duration
	for i, c := range script {
		if err := c.validate(prev); err != nil {
			return fmt.Errorf("script change %d (%q at %v): %w", i, c.Kind, c.At, err)
		}
		prev = c.At
	}
	return nil
}

func (c Change) validate(prev time.Duration) error {
	switch {
	case c.At < 0:
		return errors.New("negative At")
	case c.At < prev:
		return fmt.Errorf("decreasing At (previous change is at %v)", prev)
	}
	ratesSet := c.ProduceRate != 0 || c.ConsumeRate != 0
	switch c.Kind {
	case ChangeRates:
		switch {
		case !finiteNonNegative(c.ProduceRate):
			return fmt.Errorf("invalid ProduceRate %v", c.ProduceRate)
		case !finiteNonNegative(c.ConsumeRate):
			return fmt.Errorf("invalid ConsumeRate %v", c.ConsumeRate)
		case c.Messages != 0:
			return errors.New("rewind-only Messages is set")
		}
	case ChangeRewind:
		switch {
		case c.Messages <= 0:
			return fmt.Errorf("non-positive Messages %d", c.Messages)
		case ratesSet:
			return errors.New("rates-only ProduceRate or ConsumeRate is set")
		}
	case ChangeResetToLatest, ChangeRecreate:
		switch {
		case ratesSet:
			return errors.New("rates-only ProduceRate or ConsumeRate is set")
		case c.Messages != 0:
			return errors.New("rewind-only Messages is set")
		}
	default:
		return errors.New("unknown kind")
	}
	return nil
}

// segment is one linear piece of a partition's model.
type segment struct {
	start            time.Duration // since the epoch
	broker, consumer int64         // offsets at start
	produce, consume float64       // rates
}

// at returns the offsets at d (>= start) by the segment's formula.
func (g segment) at(d time.Duration) (broker, consumer int64) {
	s := (d - g.start).Seconds()
	broker = g.broker + int64(math.Floor(g.produce*s))
	consumer = g.consumer + int64(math.Floor(g.consume*s))
	if consumer > broker {
		consumer = broker
	}
	return broker, consumer
}

// modelState is a partition's state at some instant.
type modelState struct {
	broker, consumer int64
	// era holds the segments since the last recreate (or since the epoch)
	// up to the instant; its last element is the current segment.
	era []segment
	// recreated tells whether era[0] begins with a recreate.
	recreated bool
}

// evaluate runs the script up to d, clamped to 0 when negative.
func (p Partition) evaluate(d time.Duration) modelState {
	d = max(d, 0)
	cur := segment{broker: p.BrokerStart, consumer: p.ConsumerStart, produce: p.ProduceRate, consume: p.ConsumeRate}
	var m modelState
	if len(p.Script) > 0 {
		m.era = make([]segment, 0, len(p.Script)+1)
	}
	for _, c := range p.Script {
		if c.At > d {
			break
		}
		m.era = append(m.era, cur)
		b, co := cur.at(c.At)
		next := segment{start: c.At, broker: b, consumer: co, produce: cur.produce, consume: cur.consume}
		switch c.Kind {
		case ChangeRates:
			next.produce, next.consume = c.ProduceRate, c.ConsumeRate
		case ChangeRewind:
			next.consumer = max(0, co-c.Messages)
		case ChangeResetToLatest:
			next.consumer = b
		case ChangeRecreate:
			next.broker, next.consumer = 0, 0
			m.era = m.era[:0]
			m.recreated = true
		}
		cur = next
	}
	m.era = append(m.era, cur)
	m.broker, m.consumer = cur.at(d)
	return m
}

// produceTimeMs returns the produce time of message consumer-1 in Unix
// milliseconds, ignoring p.LastTimestampMs, as documented on Partition.At.
func (m modelState) produceTimeMs(epoch time.Time, p Partition) int64 {
	v := m.consumer
	if v == 0 {
		return 0
	}
	for k, g := range m.era {
		end := m.broker
		if k+1 < len(m.era) {
			end = m.era[k+1].broker
		}
		if g.broker < v && v <= end {
			// end > g.broker, so g.produce > 0.
			return epoch.UnixMilli() + int64(math.Round(float64(g.start)/float64(time.Millisecond)+1000*float64(v-g.broker)/g.produce))
		}
	}
	// v <= era[0].broker. After a recreate era[0].broker is 0, so v would
	// be 0, handled above; only segment 0 gets here.
	if m.recreated {
		return 0
	}
	if p.ProduceRate > 0 {
		return epoch.UnixMilli() + int64(math.Round(1000*float64(v-p.BrokerStart)/p.ProduceRate))
	}
	return epoch.UnixMilli()
}
