package chart

import (
	"io"
	"testing"
)

// BenchmarkLagWeek32 renders the largest chart lagtrail draws, a week of
// 1-minute lag of 32 partitions, as SVG and as PNG.
//
//	go test -run '^$' -bench LagWeek32 ./internal/chart
func BenchmarkLagWeek32(b *testing.B) {
	c := lagWeek32()
	b.Run("svg", func(b *testing.B) {
		for b.Loop() {
			if err := c.WriteSVG(io.Discard); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("png", func(b *testing.B) {
		for b.Loop() {
			if err := c.WritePNG(io.Discard); err != nil {
				b.Fatal(err)
			}
		}
	})
}
