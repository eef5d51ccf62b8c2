package main

import (
	"bytes"
	"flag"
	"os"
	"path/filepath"
	"testing"
	"time"
)

var update = flag.Bool("update", false, "rewrite the golden files")

// TestReport feeds a recorded event stream through read and report with
// and without a package limit and compares the output with golden files.
func TestReport(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name   string
		input  string
		limit  time.Duration
		top    int
		wantOK bool
	}{
		{name: "no-limit", input: "run.json", top: 10, wantOK: false},        // a test failed
		{name: "limit", input: "run.json", limit: 180 * time.Second, top: 2}, // failed and over the limit
		{name: "passing", input: "pass.json", limit: 180 * time.Second, top: 5, wantOK: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			in, err := os.Open(filepath.Join("testdata", tc.input))
			if err != nil {
				t.Fatal(err)
			}
			defer in.Close()
			var out bytes.Buffer
			tl, err := read(in, &out)
			if err != nil {
				t.Fatal(err)
			}
			if ok := report(&out, tl, tc.limit, tc.top); ok != tc.wantOK {
				t.Errorf("report says ok=%v, want %v", ok, tc.wantOK)
			}
			golden := filepath.Join("testdata", tc.name+".golden")
			if *update {
				if err := os.WriteFile(golden, out.Bytes(), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(golden)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(out.Bytes(), want) {
				t.Errorf("output differs from %s:\n%s", golden, out.String())
			}
		})
	}
}
