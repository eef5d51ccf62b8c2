package cliflag

import (
	"time"

	"github.com/spf13/pflag"

	"github.com/lagtrail/lagtrail/internal/strictyaml"
)

// Duration is a pflag.Value for a time.Duration read by
// strictyaml.ParseDuration: Go's units and whole weeks and days, "90m",
// "7d", "2w", "1d12h". Its type is "duration", as pflag's own, so help and
// the API's parameter schemas call it the same.
type Duration struct{ p *time.Duration }

// NewDuration returns a Duration writing to p, set to value.
func NewDuration(p *time.Duration, value time.Duration) *Duration {
	*p = value
	return &Duration{p: p}
}

// DurationVar defines a duration flag of fs that writes to p, as
// pflag.FlagSet.DurationVar does, but reads days and weeks as well.
func DurationVar(fs *pflag.FlagSet, p *time.Duration, name string, value time.Duration, usage string) {
	fs.Var(NewDuration(p, value), name, usage)
}

// Set implements pflag.Value.
func (d *Duration) Set(s string) error {
	v, err := strictyaml.ParseDuration(s)
	if err != nil {
		return err
	}
	*d.p = v
	return nil
}

// String implements pflag.Value: Go's form, as pflag's duration prints its
// default.
func (d *Duration) String() string {
	if d == nil || d.p == nil {
		return "0s"
	}
	return d.p.String()
}

// Type implements pflag.Value.
func (d *Duration) Type() string { return "duration" }
