package spool

import (
	"math/rand/v2"
	"testing"
)

// BenchmarkAppend appends 1,000 records of 3 KiB per op, each Append
// synced to disk: one record per Append (1,000 fsyncs, as a recorder
// spooling poll by poll does) and all in one Append.
func BenchmarkAppend(b *testing.B) {
	rec := make([]byte, 3<<10)
	rng := rand.New(rand.NewPCG(1, 1))
	for i := range rec {
		rec[i] = byte(rng.Uint32())
	}
	recs := make([][]byte, 1000)
	for i := range recs {
		recs[i] = rec
	}
	for _, bc := range []struct {
		name  string
		batch int
	}{{"1000_appends_of_1", 1}, {"1_append_of_1000", 1000}} {
		b.Run(bc.name, func(b *testing.B) {
			s := mustOpen(b, Config{Dir: b.TempDir()}, nil)
			b.SetBytes(int64(len(recs) * len(rec)))
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				for j := 0; j < len(recs); j += bc.batch {
					if _, err := s.Append(recs[j : j+bc.batch]...); err != nil {
						b.Fatal(err)
					}
				}
				b.StopTimer()
				if err := s.Ack(s.Stats().Records); err != nil {
					b.Fatal(err)
				}
				b.StartTimer()
			}
		})
	}
}
