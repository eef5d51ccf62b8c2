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
// "2h30m") optionally led by whole days ("7d", "5d2h10m").
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

// maxDays bounds the days of a duration: 100,000 days, 273 years, below
// the longest time.Duration (about 106,751 days).
const maxDays = 100_000

// ParseDuration reads a Go duration optionally led by whole days: "7d",
// "5d2h10m", "-1d12h", "0d", "90s". One sign may lead; the days are
// digits only. A duration beyond time.Duration's range (about 292 years)
// is an error, not a wrapped value.
func ParseDuration(s string) (time.Duration, error) {
	bad := fmt.Errorf("%q is not a duration such as 60s or 7d", s)
	rest := strings.TrimSpace(s)
	neg := false
	if rest != "" && (rest[0] == '-' || rest[0] == '+') {
		neg, rest = rest[0] == '-', rest[1:]
	}
	var days time.Duration
	hasDays := false
	if i := strings.IndexByte(rest, 'd'); i > 0 {
		if strings.Trim(rest[:i], "0123456789") != "" {
			return 0, bad
		}
		n, err := strconv.Atoi(rest[:i])
		if err != nil || n > maxDays {
			return 0, bad
		}
		days, rest, hasDays = time.Duration(n)*24*time.Hour, rest[i+1:], true
	}
	var d time.Duration
	if rest != "" || !hasDays {
		var err error
		if d, err = time.ParseDuration(rest); err != nil || d < 0 || strings.ContainsAny(rest, "+-") {
			return 0, bad
		}
	}
	if d > math.MaxInt64-days {
		return 0, fmt.Errorf("%q is longer than the longest duration, about 292 years", s)
	}
	if neg {
		return -(days + d), nil
	}
	return days + d, nil
}
