package chart

import (
	"math"
	"slices"
)

// xy is a point in axis units: Unix seconds and value.
type xy struct{ x, y float64 }

// segments splits the points of a series at NaN values into runs of finite
// points, in axis units, and downsamples each run to the columns of the time
// range lo..hi (see downsample).
func segments(pts []Point, lo, hi float64, columns int) [][]xy {
	var out [][]xy
	var run []xy
	for _, p := range pts {
		if math.IsNaN(p.V) {
			if len(run) > 0 {
				out = append(out, downsample(run, lo, hi, columns))
				run = nil
			}
			continue
		}
		run = append(run, xy{x: unixSeconds(p.T), y: p.V})
	}
	if len(run) > 0 {
		out = append(out, downsample(run, lo, hi, columns))
	}
	return out
}

// downsample reduces a run of points to the M4 points of each of the columns
// that split lo..hi evenly: the first, the smallest, the largest and the last
// point of the column, in time order. Drawn at one column per pixel, the line
// looks the same, spikes included, while a week of one-minute points per
// series shrinks to at most four points per pixel column. A column with four
// points or fewer keeps them all.
func downsample(run []xy, lo, hi float64, columns int) []xy {
	if len(run) <= 4 || hi <= lo || columns < 1 {
		return run
	}
	scale := float64(columns) / (hi - lo)
	column := func(x float64) int {
		return min(max(int((x-lo)*scale), 0), columns-1)
	}
	out := make([]xy, 0, min(len(run), 4*columns))
	start, col := 0, column(run[0].x)
	for i := 1; i <= len(run); i++ {
		if i < len(run) && column(run[i].x) == col {
			continue
		}
		out = appendM4(out, run[start:i])
		if i < len(run) {
			start, col = i, column(run[i].x)
		}
	}
	return out
}

// appendM4 appends the first, smallest, largest and last points of one
// column, in time order and each once.
func appendM4(out, col []xy) []xy {
	if len(col) <= 4 {
		return append(out, col...)
	}
	lo, hi := 0, 0
	for i, p := range col {
		if p.y < col[lo].y {
			lo = i
		}
		if p.y > col[hi].y {
			hi = i
		}
	}
	idx := []int{0, lo, hi, len(col) - 1}
	slices.Sort(idx)
	for _, i := range slices.Compact(idx) {
		out = append(out, col[i])
	}
	return out
}
