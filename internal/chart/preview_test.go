package chart

import (
	"os"
	"path/filepath"
	"testing"
)

// TestPreview renders the sample charts to a temp dir and, when
// LAGTRAIL_CHART_PREVIEW names a directory, also there, to look at them.
func TestPreview(t *testing.T) {
	t.Parallel()
	charts := map[string]Chart{
		"lag-week":        lagWeek(),
		"lag-week-32":     lagWeek32(),
		"lag-week-hourly": lagWeekHourly(),
		"rates-30m":       ratesHalfHour(),
		"time-lag-month":  timeLagMonth(),
		"small-day":       smallDay(),
	}
	dirs := []string{t.TempDir()}
	if d := os.Getenv("LAGTRAIL_CHART_PREVIEW"); d != "" {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
		dirs = append(dirs, d)
	}
	for name, c := range charts {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			for _, d := range dirs {
				for _, ext := range []string{".png", ".svg"} {
					if err := c.Save(filepath.Join(d, name+ext)); err != nil {
						t.Fatal(err)
					}
				}
			}
		})
	}
}
