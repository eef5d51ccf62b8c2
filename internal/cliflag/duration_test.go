package cliflag_test

import (
	"strings"
	"testing"
	"time"

	"github.com/spf13/pflag"

	"github.com/lagtrail/lagtrail/internal/cliflag"
)

func TestDurationFlag(t *testing.T) {
	t.Parallel()
	const day = 24 * time.Hour
	for _, tc := range []struct {
		args    []string
		want    time.Duration
		wantErr string
	}{
		{args: nil, want: time.Hour},
		{args: []string{"--window", "7d"}, want: 7 * day},
		{args: []string{"--window=2w"}, want: 14 * day},
		{args: []string{"--window", "1d12h"}, want: 36 * time.Hour},
		{args: []string{"--window", "90m"}, want: 90 * time.Minute},
		{args: []string{"--window", "1h30m15s"}, want: time.Hour + 30*time.Minute + 15*time.Second},
		{args: []string{"--window", "-5m"}, want: -5 * time.Minute},
		{args: []string{"-w", "1w"}, want: 7 * day},
		{args: []string{"--window", "7days"}, wantErr: `invalid argument "7days" for "-w, --window" flag: "7days" is not a duration`},
		{args: []string{"--window", "7"}, wantErr: `"7" is not a duration`},
		{args: []string{"--window", ""}, wantErr: `"" is not a duration`},
	} {
		fs := pflag.NewFlagSet("test", pflag.ContinueOnError)
		fs.SetOutput(&strings.Builder{})
		var got time.Duration
		fs.VarP(cliflag.NewDuration(&got, time.Hour), "window", "w", "window")
		err := fs.Parse(tc.args)
		if tc.wantErr != "" {
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Errorf("%q: error %v, want one saying %q", tc.args, err, tc.wantErr)
			}
			continue
		}
		if err != nil || got != tc.want {
			t.Errorf("%q: %v, %v; want %v", tc.args, got, err, tc.want)
		}
	}
}

// TestDurationFlagLooksLikePflags: the type and the default as help and the
// API's schemas show them are pflag's own.
func TestDurationFlagLooksLikePflags(t *testing.T) {
	t.Parallel()
	var ours, theirs time.Duration
	fs := pflag.NewFlagSet("test", pflag.ContinueOnError)
	cliflag.DurationVar(fs, &ours, "ours", 168*time.Hour, "")
	fs.DurationVar(&theirs, "theirs", 168*time.Hour, "")
	o, p := fs.Lookup("ours"), fs.Lookup("theirs")
	if o.Value.Type() != p.Value.Type() || o.DefValue != p.DefValue {
		t.Errorf("ours: type %q, default %q; pflag's: type %q, default %q", o.Value.Type(), o.DefValue, p.Value.Type(), p.DefValue)
	}
}
