package store_test

import (
	"testing"
	"time"
)

// BenchmarkWritePoll writes distinct polls (one SampledAt per iteration, all
// on one pre-created day) and reports partition samples written per second.
func BenchmarkWritePoll(b *testing.B) {
	for _, bc := range []struct {
		name          string
		topics, parts int
	}{
		{"1x12", 1, 12},
		{"10x100", 10, 100},
	} {
		b.Run(bc.name, func(b *testing.B) {
			s, _ := newStore(b)
			if _, err := s.EnsurePartitions(b.Context(), day0, 1); err != nil {
				b.Fatal(err)
			}
			// Warm the dictionary cache, as in steady state.
			if err := s.WritePoll(b.Context(), okPoll(testGroup, day0, bc.topics, bc.parts)); err != nil {
				b.Fatal(err)
			}
			polls := 0
			b.ReportAllocs()
			for b.Loop() {
				polls++
				p := okPoll(testGroup, day0.Add(time.Duration(polls)*time.Millisecond), bc.topics, bc.parts)
				if err := s.WritePoll(b.Context(), p); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(polls*bc.topics*bc.parts)/b.Elapsed().Seconds(), "samples/s")
		})
	}
}
