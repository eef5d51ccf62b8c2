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
		{"0d", 0, false},
		{"+5s", 5 * time.Second, false},
		{"+-5s", 0, true},
		{"-+5d", 0, true},
		{"+5d", 5 * 24 * time.Hour, false},
		{"100000d", 100_000 * 24 * time.Hour, false},
		{"100001d", 0, true},
		{"100000d2562047h", 0, true},
		{"-100000d2562047h", 0, true},
		{"100000d162047h47m16.854775807s", 1<<63 - 1, false},
		{"100000d162047h47m16.854775808s", 0, true},
		{"-100000d162047h47m16.854775807s", -(1<<63 - 1), false},
		{"1_0d", 0, true},
		{"2w", 14 * 24 * time.Hour, false},
		{"1w3d", 10 * 24 * time.Hour, false},
		{"1w12h", 7*24*time.Hour + 12*time.Hour, false},
		{"-2w", -14 * 24 * time.Hour, false},
		{"0w", 0, false},
		{"1d12h", 36 * time.Hour, false},
		{"90m", 90 * time.Minute, false},
		{"14285w", 14285 * 7 * 24 * time.Hour, false},
		{"14286w", 0, true}, // 100,002 days
		{"14285w5d", 100_000 * 24 * time.Hour, false},
		{"14285w6d", 0, true},
		{"3d1w", 0, true}, // weeks first, as Go's units go large to small
		{"1w1w", 0, true},
		{"w", 0, true},
		{"1.5d", 0, true},
		{"1w-2h", 0, true},
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
		"":                    "file is empty",
		"evry: 1h\n":          `line 1: unknown key "evry"`,
		"every: 1h\n---\n{}":  "only one YAML document",
		"every: [1]\n":        "want a duration",
		"every: 1h\n\x00":     "line 2: control characters are not allowed",
		"# \xff\nevery: 1h\n": "line 1: ",
		"- 1\n":               "line 1: want a mapping of keys, got a list",
		"\"\": 1\n":           `line 1: unknown key ""`,
		"\n0 0: 1\n":          `line 2: unknown key "0 0"`,
	} {
		if err := strictyaml.Decode([]byte(in), &c); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("Decode(%q) = %v, want an error containing %q", in, err, want)
		}
	}
}

func TestDecodeDoesNotRepeatValues(t *testing.T) {
	t.Parallel()
	var c struct {
		Rate  float64             `yaml:"rate"`
		List  []string            `yaml:"list"`
		Every strictyaml.Duration `yaml:"every"`
	}
	for in, want := range map[string]string{
		"rate: hunter2\n":                   "line 1: want a number, got text",
		"list: postgres://u:hunter2@db/x\n": "line 1: want a list, got text",
		"every: hunter2\n":                  "line 1: want a duration such as 60s or 7d",
	} {
		err := strictyaml.Decode([]byte(in), &c)
		if err == nil || err.Error() != want {
			t.Errorf("Decode(%q) = %v, want %q", in, err, want)
		}
		if err != nil && (strings.Contains(err.Error(), "hunter2") || strings.Contains(err.Error(), "postgre")) {
			t.Errorf("Decode(%q) repeats the value: %v", in, err)
		}
	}
}

func TestDecodeWordsTypeMismatches(t *testing.T) {
	t.Parallel()
	type cfg struct {
		N     int      `yaml:"n"`
		Names []string `yaml:"names"`
		On    bool     `yaml:"on"`
	}
	for in, want := range map[string]string{
		"n: abc\n":        "line 1: want a whole number, got text",
		"names: x\n":      "line 1: want a list, got text",
		"\non: {a: 1}\n":  "line 2: want true or false, got a mapping",
		"names: [[1]]\n":  "line 1: want text, got a list",
		"!x 1\n":          "line 1: want a mapping of keys, got a value with a tag",
		"n: a` into x`\n": "line 1: want a whole number, got text",
		"0` 0\n":          "line 1: want a mapping of keys, got text",
		"!%09\n":          "line 1: want a mapping of keys, got a value with a tag",
		"0\n\r0":          "line 1: want a mapping of keys, got text",
	} {
		var c cfg
		err := strictyaml.Decode([]byte(in), &c)
		if err == nil || err.Error() != want {
			t.Errorf("Decode(%q) = %v, want %q", in, err, want)
		}
	}
}
