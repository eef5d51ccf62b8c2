package strictyaml_test

import (
	"strings"
	"testing"
	"time"

	"github.com/lagtrail/lagtrail/internal/strictyaml"
)

func TestParseDuration(t *testing.T) {
	t.Parallel()
	cases := []struct {
		in   string
		want time.Duration
		err  bool
	}{
		{"90s", 90 * time.Second, false},
		{"7d", 7 * 24 * time.Hour, false},
		{"5d2h10m", 5*24*time.Hour + 2*time.Hour + 10*time.Minute, false},
		{"-1d12h", -36 * time.Hour, false},
		{"0s", 0, false},
		{"", 0, true},
		{"d", 0, true},
		{"7x", 0, true},
		{"1d-2h", 0, true},
		{"soon", 0, true},
	}
	for _, c := range cases {
		got, err := strictyaml.ParseDuration(c.in)
		if (err != nil) != c.err || got != c.want {
			t.Errorf("ParseDuration(%q) = %v, %v; want %v, error %v", c.in, got, err, c.want, c.err)
		}
	}
}

func TestDecodeIsStrict(t *testing.T) {
	t.Parallel()
	type cfg struct {
		Every strictyaml.Duration `yaml:"every"`
	}
	var c cfg
	if err := strictyaml.Decode([]byte("every: 2d\n"), &c); err != nil || time.Duration(c.Every) != 48*time.Hour {
		t.Fatalf("decode: %v, %v", c.Every, err)
	}
	for in, want := range map[string]string{
		"":                   "file is empty",
		"evry: 1h\n":         `line 1: unknown key "evry"`,
		"every: 1h\n---\n{}": "only one YAML document",
		"every: [1]\n":       "want a duration",
	} {
		if err := strictyaml.Decode([]byte(in), &c); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("Decode(%q) = %v, want an error containing %q", in, err, want)
		}
	}
}
