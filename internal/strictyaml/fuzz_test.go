package strictyaml_test

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/lagtrail/lagtrail/internal/strictyaml"
)

// FuzzParseDuration checks ParseDuration on any string. It never panics,
// and when it accepts s:
//   - the sign is the one written (a wrapped, overflowed value would not be);
//   - a plain Go duration means what time.ParseDuration says, and every
//     string time.ParseDuration accepts is accepted;
//   - the value written back as days and a Go duration reads back the same.
func FuzzParseDuration(f *testing.F) {
	f.Add("7d")
	f.Add("-1w3d12h")
	f.Fuzz(func(t *testing.T, s string) {
		got, err := strictyaml.ParseDuration(s)
		trimmed := strings.TrimSpace(s)
		goVal, goErr := time.ParseDuration(trimmed)
		if goErr == nil && (err != nil || got != goVal) {
			t.Fatalf("ParseDuration(%q) = %v, %v; time.ParseDuration gives %v", s, got, err, goVal)
		}
		if err != nil {
			if !strings.Contains(err.Error(), fmt.Sprintf("%q", s)) {
				t.Fatalf("ParseDuration(%q): error %q does not quote the input", s, err)
			}
			return
		}
		if neg := strings.HasPrefix(trimmed, "-"); neg && got > 0 || !neg && got < 0 {
			t.Fatalf("ParseDuration(%q) = %v: wrong sign", s, got)
		}
		abs := got
		sign := ""
		if abs < 0 {
			abs, sign = -abs, "-"
		}
		day := 24 * time.Hour
		days := min(abs/day, 100_000) // the most days ParseDuration reads
		back := fmt.Sprintf("%s%dd%s", sign, days, abs-days*day)
		if again, err := strictyaml.ParseDuration(back); err != nil || again != got {
			t.Fatalf("ParseDuration(%q) = %v, written %q reads back %v, %v", s, got, back, again, err)
		}
	})
}
