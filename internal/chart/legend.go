package chart

import (
	"cmp"
	"fmt"
	"math"
	"slices"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
)

// maxLegendEntries is the most legend entries of a chart; with more series,
// the ones with the largest maxima get entries and the rest share one.
const maxLegendEntries = 12

// maxNameRunes is the longest series name shown whole in the legend.
const maxNameRunes = 28

// legendPlan says how each series is drawn and which are in the legend.
type legendPlan struct {
	styles  []draw.LineStyle // by series index
	order   []int            // series indexes in drawing order, the last on top
	entries []int            // series indexes with a legend entry, in order
	others  int              // series drawn grey under one "N others" entry
}

// planLegend gives every series a colour and an entry when there are at most
// capacity series (up to maxLegendEntries). With more, the capacity-1 series
// with the largest maxima get colours and entries, in that order, and the
// others are drawn thin and grey, under the coloured ones, with one entry.
func planLegend(series []Series, capacity int) legendPlan {
	capacity = min(max(capacity, 2), maxLegendEntries)
	n := len(series)
	plan := legendPlan{styles: make([]draw.LineStyle, n)}
	if n <= capacity {
		for i, s := range series {
			plan.styles[i] = draw.LineStyle{Color: palette[i%len(palette)], Width: lineWidth}
			plan.order = append(plan.order, i)
			if s.Name != "" {
				plan.entries = append(plan.entries, i)
			}
		}
		return plan
	}
	ranked := rankByMax(series)
	top, rest := ranked[:capacity-1], ranked[capacity-1:]
	for _, i := range rest {
		plan.styles[i] = draw.LineStyle{Color: othersColor, Width: othersWidth}
		plan.order = append(plan.order, i)
	}
	for r := len(top) - 1; r >= 0; r-- {
		plan.styles[top[r]] = draw.LineStyle{Color: palette[r], Width: lineWidth}
		plan.order = append(plan.order, top[r])
	}
	for _, i := range top {
		if series[i].Name != "" {
			plan.entries = append(plan.entries, i)
		}
	}
	plan.others = len(rest)
	return plan
}

// rankByMax returns the series indexes by descending largest finite value,
// bucket maxima included;
// series with only NaN values come last. Ties keep the series order.
func rankByMax(series []Series) []int {
	maxima := make([]float64, len(series))
	idx := make([]int, len(series))
	for i, s := range series {
		idx[i] = i
		maxima[i] = math.Inf(-1)
		for _, p := range s.Points {
			if !math.IsNaN(p.V) {
				maxima[i] = max(maxima[i], p.V)
			}
		}
		for _, m := range s.Max {
			if !math.IsNaN(m) {
				maxima[i] = max(maxima[i], m)
			}
		}
	}
	slices.SortStableFunc(idx, func(a, b int) int { return cmp.Compare(maxima[b], maxima[a]) })
	return idx
}

// legendCapacity returns how many legend entries fit beside a plot area of
// the given height.
func legendCapacity(height vg.Length) int {
	l := newLegend()
	l.Add("Xg")
	return int(height / (l.TextStyle.Height("Xg") + l.Padding))
}

// newLegend returns an empty legend in the chart's style, listed from the top
// with its thumbnails on the left.
func newLegend() plot.Legend {
	l := plot.NewLegend()
	l.TextStyle = textStyle(labelSize, textColor, false)
	l.Top, l.Left = true, true
	l.ThumbnailWidth = vg.Points(16)
	l.Padding = vg.Points(3.5)
	return l
}

// legend returns the legend of the plan, or nil when it has no entry.
func (lp legendPlan) legend(series []Series, lines []*lineSeries) *plot.Legend {
	if len(lp.entries) == 0 && lp.others == 0 {
		return nil
	}
	l := newLegend()
	for _, i := range lp.entries {
		l.Add(shortName(series[i].Name), lines[i])
	}
	if lp.others > 0 {
		grey := &lineSeries{style: draw.LineStyle{Color: othersColor, Width: othersWidth}}
		l.Add(fmt.Sprintf("%d others", lp.others), grey)
	}
	return &l
}

// shortName cuts a long series name to maxNameRunes with an ellipsis.
func shortName(name string) string {
	r := []rune(name)
	if len(r) <= maxNameRunes {
		return name
	}
	return string(r[:maxNameRunes-1]) + "…"
}
