package ingest

import (
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"
)

func TestConfigValidate(t *testing.T) {
	t.Parallel()
	ok := func() Config {
		return Config{Targets: []Target{{Region: "cn-hangzhou", Instance: "i-1", Groups: []string{"g"}}}}
	}
	tests := []struct {
		name    string
		mutate  func(*Config)
		wantErr string // empty: valid
	}{
		{"defaults are valid", func(*Config) {}, ""},
		{"no targets", func(c *Config) { c.Targets = nil }, "no targets"},
		{"negative interval", func(c *Config) { c.Interval = -time.Second }, "interval must be positive"},
		{"sub-second interval", func(c *Config) { c.Interval = time.Millisecond }, "at least 1s"},
		{"timeout not shorter than interval", func(c *Config) { c.Interval = 10 * time.Second; c.PollTimeout = 10 * time.Second }, "shorter than interval"},
		{"rate above quota", func(c *Config) { c.Alibaba.RequestsPerSecond = 101 }, "requests_per_second"},
		{"negative rate", func(c *Config) { c.Alibaba.RequestsPerSecond = -1 }, "requests_per_second"},
		{"unknown scheme", func(c *Config) { c.Alibaba.Scheme = "ftp" }, "scheme must be https or http"},
		{"http to public host", func(c *Config) { c.Alibaba.Scheme = "http"; c.Alibaba.Endpoint = "alikafka.cn-hangzhou.aliyuncs.com" }, "refused for non-loopback"},
		{"http to private address", func(c *Config) { c.Alibaba.Scheme = "http"; c.Alibaba.Endpoint = "10.0.0.5:80" }, "refused for non-loopback"},
		{"http without endpoint", func(c *Config) { c.Alibaba.Scheme = "http" }, "needs a loopback"},
		{"http to loopback", func(c *Config) { c.Alibaba.Scheme = "HTTP"; c.Alibaba.Endpoint = "127.0.0.1:9000" }, ""},
		{"http to localhost", func(c *Config) { c.Alibaba.Scheme = "http"; c.Alibaba.Endpoint = "localhost:9000" }, ""},
		{"http to ipv6 loopback", func(c *Config) { c.Alibaba.Scheme = "http"; c.Alibaba.Endpoint = "[::1]:9000" }, ""},
		{"endpoint with path", func(c *Config) { c.Alibaba.Endpoint = "example.com/x" }, "host or host:port"},
		{"missing region", func(c *Config) { c.Targets[0].Region = "" }, "region is required"},
		{"bad region", func(c *Config) { c.Targets[0].Region = "cn hangzhou" }, "characters"},
		{"groups without instance", func(c *Config) { c.Targets[0].Instance = "" }, "groups need an instance"},
		{"duplicate group", func(c *Config) { c.Targets[0].Groups = []string{"a", "a"} }, "listed twice"},
		{"empty group", func(c *Config) { c.Targets[0].Groups = []string{" "} }, "empty group"},
		{"region only discovers", func(c *Config) { c.Targets[0].Instance = ""; c.Targets[0].Groups = nil }, ""},
		{"negative allowed lag", func(c *Config) { v := int64(-5); c.Targets[0].AllowedLag = &v }, "targets[0]: allowed lag must not be negative, got -5"},
		{"negative linger", func(c *Config) { c.Buffer.Linger = -time.Millisecond }, "buffer linger must be between 0 and the interval (1m0s), got -1ms"},
		{"linger as long as the interval", func(c *Config) { c.Interval = 2 * time.Second; c.Buffer.Linger = 2 * time.Second }, "buffer linger must be between 0 and the interval (2s), got 2s"},
		{"linger shorter than the interval", func(c *Config) { c.Interval = 2 * time.Second; c.Buffer.Linger = time.Second }, ""},
		{"zero allowed lag", func(c *Config) { v := int64(0); c.Targets[0].AllowedLag = &v }, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			c := ok()
			tt.mutate(&c)
			err := c.Validate()
			if tt.wantErr == "" {
				if err != nil {
					t.Fatalf("Validate() = %v, want nil", err)
				}
				return
			}
			if err == nil {
				t.Fatalf("Validate() = nil, want error containing %q", tt.wantErr)
			}
			if !errors.Is(err, ErrInvalidConfig) {
				t.Errorf("error %v does not wrap ErrInvalidConfig", err)
			}
			if !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("Validate() = %q, want it to contain %q", err, tt.wantErr)
			}
		})
	}
}

func TestDefaultPollTimeoutIsShorterThanInterval(t *testing.T) {
	t.Parallel()
	for _, iv := range []time.Duration{time.Second, 10 * time.Second, time.Minute, 10 * time.Minute} {
		c := Config{Interval: iv}.withDefaults()
		if c.PollTimeout <= 0 || c.PollTimeout >= iv {
			t.Errorf("interval %s: default poll timeout %s is not in (0, interval)", iv, c.PollTimeout)
		}
	}
}

// TestStatusRules checks that each target setting an allowed lag gives one
// rule per listed group, or one for its instance or region, and that a
// target without one gives none.
func TestStatusRules(t *testing.T) {
	t.Parallel()
	lag := func(v int64) *int64 { return &v }
	c := Config{Targets: []Target{
		{Region: "cn-hangzhou", AllowedLag: lag(100)},
		{Region: "cn-hangzhou", Instance: "i-1", AllowedLag: lag(0)},
		{Region: "cn-hangzhou", Instance: "i-2", Groups: []string{"a", "b"}, AllowedLag: lag(7)},
		{Region: "cn-shanghai", Instance: "i-3"},
	}}
	got := fmt.Sprint(c.StatusRules())
	want := "[{cn-hangzhou   100} {cn-hangzhou i-1  0} {cn-hangzhou i-2 a 7} {cn-hangzhou i-2 b 7}]"
	if got != want {
		t.Errorf("StatusRules() = %s, want %s", got, want)
	}
}
