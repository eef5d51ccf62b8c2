package chart

import (
	"fmt"
	"math"
	"slices"
	"testing"
	"time"
)

// flatSeries returns named series of two points each with the given maxima.
func flatSeries(maxima ...float64) []Series {
	out := make([]Series, len(maxima))
	for i, m := range maxima {
		out[i] = Series{Name: fmt.Sprintf("s%d", i), Points: []Point{
			{T: sampleStart, V: 0}, {T: sampleStart.Add(time.Minute), V: m},
		}}
	}
	return out
}

func TestPlanLegendAllSeries(t *testing.T) {
	t.Parallel()
	series := flatSeries(5, 9, 1, 7)
	series[2].Name = ""
	plan := planLegend(series, 12)
	if want := []int{0, 1, 3}; !slices.Equal(plan.entries, want) {
		t.Errorf("entries = %v, want %v (series order, unnamed left out)", plan.entries, want)
	}
	if want := []int{0, 1, 2, 3}; !slices.Equal(plan.order, want) {
		t.Errorf("order = %v, want %v", plan.order, want)
	}
	if plan.others != 0 {
		t.Errorf("others = %d, want 0", plan.others)
	}
	for i, st := range plan.styles {
		if st.Color != palette[i] {
			t.Errorf("series %d colour %v, want palette[%d]", i, st.Color, i)
		}
	}
}

func TestPlanLegendTopByMax(t *testing.T) {
	t.Parallel()
	maxima := make([]float64, 32)
	for i := range maxima {
		maxima[i] = float64(i % 16) // 15 twice: ties keep series order
	}
	maxima[7] = 1000
	series := flatSeries(maxima...)
	series[31].Points[1].V = math.NaN() // its 15 becomes a gap: max 0, not in the top
	plan := planLegend(series, 12)
	if want := []int{7, 15, 14, 30, 13, 29, 12, 28, 11, 27, 10}; !slices.Equal(plan.entries, want) {
		t.Errorf("entries = %v, want %v", plan.entries, want)
	}
	if plan.others != 21 {
		t.Errorf("others = %d, want 21", plan.others)
	}
	if top := plan.order[len(plan.order)-1]; top != 7 {
		t.Errorf("drawn last = %d, want the largest, 7", top)
	}
	if plan.styles[0].Color != othersColor || plan.styles[7].Color != palette[0] {
		t.Errorf("colours: series 0 %v, series 7 %v", plan.styles[0].Color, plan.styles[7].Color)
	}
}

func TestPlanLegendCapacity(t *testing.T) {
	t.Parallel()
	plan := planLegend(flatSeries(1, 2, 3, 4, 5, 6), 4)
	if len(plan.entries) != 3 || plan.others != 3 {
		t.Errorf("entries %v, others %d; want 3 and 3", plan.entries, plan.others)
	}
}

func TestShortName(t *testing.T) {
	t.Parallel()
	long := "orders-consumer/orders-topic/partition-12"
	got := shortName(long)
	if r := []rune(got); len(r) != maxNameRunes || r[len(r)-1] != '…' {
		t.Errorf("shortName(%q) = %q", long, got)
	}
	if got := shortName("p0"); got != "p0" {
		t.Errorf("shortName(p0) = %q", got)
	}
}
