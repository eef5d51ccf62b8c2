package query

import "math"

// nearestRank returns the q quantile of sorted values by the nearest-rank
// method.
func nearestRank(sorted []float64, q float64) float64 {
	i := int(math.Ceil(q*float64(len(sorted)))) - 1
	return sorted[max(0, min(i, len(sorted)-1))]
}
