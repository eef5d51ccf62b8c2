package strictyaml

import (
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"

	"gopkg.in/yaml.v3"
)

// Duration is a time.Duration written in YAML as a Go duration ("90s",
// "2h30m") optionally led by whole weeks and days ("7d", "2w", "5d2h10m").
type Duration time.Duration

// UnmarshalYAML implements yaml.Unmarshaler.
func (d *Duration) UnmarshalYAML(n *yaml.Node) error {
	var s string
	if err := n.Decode(&s); err != nil {
		return fmt.Errorf("line %d: want a duration such as 60s or 7d", n.Line)
	}
	v, err := ParseDuration(s)
	if err != nil {
		// The value is not repeated: it may be a secret in the wrong place.
		return fmt.Errorf("line %d: want a duration such as 60s or 7d", n.Line)
	}
	*d = Duration(v)
	return nil
}

// MarshalYAML implements yaml.Marshaler.
func (d Duration) MarshalYAML() (any, error) { return time.Duration(d).String(), nil }

// maxDays bounds the days of a duration, weeks included: 100,000 days,
// 273 years, below the longest time.Duration (about 106,751 days).
const maxDays = 100_000

// ParseDuration reads a Go duration optionally led by whole weeks (7 days)
// then whole days (24 hours), in that order: "7d", "2w", "1w3d",
// "5d2h10m", "-1d12h", "0d", "90s". One sign may lead; the weeks and days
// are digits only. A duration beyond time.Duration's range (about 292
// years) is an error, not a wrapped value.
//
// It is the one reading of durations: config files, every duration flag
// (internal/cliflag) and the relative times of query.ParseTime use it.
func ParseDuration(s string) (time.Duration, error) {
	bad := fmt.Errorf("%q is not a duration such as 90s, 15m, 1d12h or 2w", s)
	rest := strings.TrimSpace(s)
	neg := false
	if rest != "" && (rest[0] == '-' || rest[0] == '+') {
		neg, rest = rest[0] == '-', rest[1:]
	}
	// Go's units have no w nor d: a w or d is ours, led by digits only.
	days, whole := 0, false
	for _, u := range []struct {
		unit byte
		days int
	}{{'w', 7}, {'d', 1}} {
		i := strings.IndexByte(rest, u.unit)
		if i <= 0 {
			continue
		}
		if strings.Trim(rest[:i], "0123456789") != "" {
			return 0, bad
		}
		n, err := strconv.Atoi(rest[:i])
		if err != nil || n > maxDays/u.days || days+n*u.days > maxDays {
			return 0, bad
		}
		days, rest, whole = days+n*u.days, rest[i+1:], true
	}
	var d time.Duration
	if rest != "" || !whole {
		var err error
		if d, err = time.ParseDuration(rest); err != nil || d < 0 || strings.ContainsAny(rest, "+-") {
			return 0, bad
		}
	}
	dd := time.Duration(days) * 24 * time.Hour
	if d > math.MaxInt64-dd {
		return 0, fmt.Errorf("%q is longer than the longest duration, about 292 years", s)
	}
	if neg {
		return -(dd + d), nil
	}
	return dd + d, nil
}
