package chart

import (
	"regexp"
	"testing"
	"time"

	"gonum.org/v1/plot/vg"
)

func TestTimeAxisTicks(t *testing.T) {
	t.Parallel()
	start := time.Date(2025, 3, 5, 2, 55, 10, 0, time.UTC) // a Wednesday
	clock := regexp.MustCompile(`^([01]\d|2[0-3]):[0-5]\d$|^[A-Z][a-z]{2} \d\d$`)
	tests := []struct {
		name     string
		span     time.Duration
		wantStep time.Duration
		labels   *regexp.Regexp
	}{
		{"90 seconds", 90 * time.Second, 10 * time.Second, regexp.MustCompile(`^\d\d:\d\d:\d\d$`)},
		{"30 minutes", 30 * time.Minute, 5 * time.Minute, clock},
		{"6 hours", 6 * time.Hour, time.Hour, clock},
		{"36 hours", 36 * time.Hour, 6 * time.Hour, clock},
		{"7 days", 7 * 24 * time.Hour, 24 * time.Hour, regexp.MustCompile(`^Mar \d\d$`)},
		{"30 days", 30 * 24 * time.Hour, 7 * 24 * time.Hour, regexp.MustCompile(`^(Mar|Apr) \d\d$`)},
		{"400 days", 400 * 24 * time.Hour, 7 * 7 * 24 * time.Hour, regexp.MustCompile(`^[A-Z][a-z]{2} \d\d$`)},
	}
	const maxSteps = 9
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			lo := unixSeconds(start)
			a := newTimeAxis(lo, lo+tt.span.Seconds(), maxSteps)
			if got := time.Duration(a.step.major) * time.Second; got != tt.wantStep {
				t.Errorf("step = %v, want %v", got, tt.wantStep)
			}
			var labelled int
			prev := lo - 1
			for _, tk := range a.Ticks(0, 0) {
				if tk.Value < lo || tk.Value > lo+tt.span.Seconds() {
					t.Errorf("tick %v outside the range", unixTime(tk.Value))
				}
				if tk.IsMinor() {
					continue
				}
				labelled++
				if tk.Value <= prev {
					t.Errorf("tick %v not after the previous one", unixTime(tk.Value))
				}
				prev = tk.Value
				if !tt.labels.MatchString(tk.Label) {
					t.Errorf("label %q does not match %v", tk.Label, tt.labels)
				}
				if a.step.major >= week && unixTime(tk.Value).Weekday() != time.Monday {
					t.Errorf("weekly tick %v is not on a Monday", unixTime(tk.Value))
				}
			}
			if labelled < 2 || labelled > maxSteps+1 {
				t.Errorf("%d labelled ticks, want 2 to %d", labelled, maxSteps+1)
			}
		})
	}
}

func TestTimeAxisMidnightLabel(t *testing.T) {
	t.Parallel()
	lo := unixSeconds(time.Date(2025, 3, 5, 20, 0, 0, 0, time.UTC))
	a := newTimeAxis(lo, lo+8*3600, 9)
	var labels []string
	for _, tk := range a.Ticks(0, 0) {
		if !tk.IsMinor() {
			labels = append(labels, tk.Label)
		}
	}
	want := []string{"20:00", "21:00", "22:00", "23:00", "Mar 06", "01:00", "02:00", "03:00", "04:00"}
	if len(labels) != len(want) {
		t.Fatalf("labels = %q, want %q", labels, want)
	}
	for i := range want {
		if labels[i] != want[i] {
			t.Fatalf("labels = %q, want %q", labels, want)
		}
	}
}

func TestTimeAxisRangeLabel(t *testing.T) {
	t.Parallel()
	shanghai := time.FixedZone("CST", 8*3600)
	from := time.Date(2025, 3, 5, 10, 55, 0, 0, shanghai) // 02:55 UTC
	style := textStyle(labelSize, textColor, false)
	tests := []struct {
		name  string
		span  time.Duration
		width vg.Length
		want  string
	}{
		{"same day", 30 * time.Minute, 1000, "time (UTC), 2025-03-05 02:55 – 03:25"},
		{"days", 7 * 24 * time.Hour, 1000, "time (UTC), 2025-03-05 02:55 – 2025-03-12 02:55"},
		{"seconds", time.Minute, 1000, "time (UTC), 2025-03-05 02:55:00 – 02:56:00"},
		{"narrow", 7 * 24 * time.Hour, 180, "UTC 03-05 02:55 – 03-12 02:55"},
		{"very narrow", 7 * 24 * time.Hour, 40, "UTC"},
	}
	for _, tt := range tests {
		lo := unixSeconds(from)
		a := newTimeAxis(lo, lo+tt.span.Seconds(), 9)
		if got := a.rangeLabel(style, tt.width); got != tt.want {
			t.Errorf("%s: rangeLabel = %q, want %q", tt.name, got, tt.want)
		}
	}
}
