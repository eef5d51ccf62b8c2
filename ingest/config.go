package ingest

import (
	"errors"
	"fmt"
	"net"
	"strings"
	"time"

	"github.com/aliyun/alibaba-cloud-sdk-go/sdk/auth/credentials"

	"github.com/lagtrail/lagtrail/store"
)

// Defaults applied to zero-valued Config fields.
const (
	DefaultInterval          = 60 * time.Second
	DefaultDiscoveryInterval = 5 * time.Minute
	DefaultRequestsPerSecond = 50
	DefaultClientsPerRegion  = 8
	DefaultUpkeepInterval    = time.Hour
	DefaultRollupInterval    = 5 * time.Minute
	DefaultNowInterval       = 2 * time.Second
	DefaultMemoryPolls       = 10_000
	DefaultBatchPolls        = 500
	DefaultLinger            = 100 * time.Millisecond
	// MaxRequestsPerSecond is the API quota per account, region and API.
	MaxRequestsPerSecond = 100
)

// ErrInvalidConfig is wrapped by every configuration error New returns.
var ErrInvalidConfig = errors.New("invalid ingest config")

// Config says what to poll and how. The zero value of every field but
// Targets is a usable default.
type Config struct {
	// Interval is how often each group is polled. Default 60s.
	Interval time.Duration
	// PollTimeout bounds one API call. Default: the smaller of 30s and
	// three quarters of Interval. It must be shorter than Interval.
	PollTimeout time.Duration
	// DiscoveryInterval is how often group and instance lists are
	// refreshed. Default 5m.
	DiscoveryInterval time.Duration
	// ThrottleBackoff is the first wait after a throttled call; it doubles
	// with each further throttled attempt, up to half the interval, with
	// jitter. Default 1s.
	ThrottleBackoff time.Duration
	// Alibaba configures the API client.
	Alibaba AlibabaConfig
	// Targets lists what to poll. At least one is required.
	Targets []Target
	// Upkeep is passed to the writer's Upkeep every UpkeepInterval (default
	// 1h): partitions made ahead, expired ones dropped. Only one recorder
	// per database does it.
	Upkeep         store.UpkeepConfig
	UpkeepInterval time.Duration
	// RollupInterval is how often the rollups are brought up to date with
	// the polls written (default 5m, at least 10s). RunOnce refreshes them
	// once, after its writes.
	RollupInterval time.Duration
	// NowInterval is how often the groups written since the last time get
	// their stored now-state (status and figures at the last poll, which
	// the fleet, /metrics and the status views read) refreshed: default
	// 2s, between 100ms and 1m. A group polled more often than this is
	// evaluated once per refresh. RunOnce refreshes once, after its
	// writes.
	NowInterval time.Duration
	// Buffer bounds the polls waiting in memory for the database.
	Buffer BufferConfig
	// Spool, when set, takes the polls the database cannot: while it
	// fails, and when the memory buffer overflows. They are written from
	// it, in order, when the database takes writes again, also after a
	// restart. Nil keeps them in memory only, up to Buffer.MemoryPolls, and
	// drops the oldest beyond.
	Spool Spool
	// HA, when its Leases is set, shares the groups with the other
	// recorders of the database.
	HA HAConfig
	// Now stamps each poll's SampledAt. Nil uses time.Now. Scheduling and
	// timeouts always use the real clock; Now exists so that tests can
	// replay hours of simulated history with RunOnce.
	Now func() time.Time
}

// AlibabaConfig configures the alikafka API client.
type AlibabaConfig struct {
	// Endpoint overrides the API host ("host" or "host:port"), for example a
	// VPC endpoint or a local simulator. Empty uses the SDK's regional
	// endpoint.
	Endpoint string
	// Scheme is "https" (default) or "http"; http is allowed only when
	// Endpoint is a loopback address.
	Scheme string
	// RequestsPerSecond limits calls per region and per API. Default 50;
	// at most 100, the API's quota.
	RequestsPerSecond float64
	// HideLastTimestamp sends HideLastTimestamp=true, which makes the API
	// cheaper and returns -1 for every LastTimestamp.
	HideLastTimestamp bool
	// ClientsPerRegion is how many SDK clients, and so concurrent calls, a
	// region may have. Default 8.
	ClientsPerRegion int
	// Credentials provides the AccessKey. Nil uses the SDK's default chain
	// (environment, OIDC, profile, credentials file, ECS RAM role).
	Credentials credentials.CredentialsProvider
}

// BufferConfig bounds the in-memory queue between polling and writing.
type BufferConfig struct {
	// MemoryPolls is how many polls may wait in memory (default 10,000).
	// With a spool, they move to it once half of this is reached or a
	// write fails; without one, the oldest are dropped beyond it.
	MemoryPolls int
	// BatchPolls is the most polls one database write takes (default 500).
	BatchPolls int
	// Linger is how long the writer waits, once a poll is queued, for
	// more to join the same write, unless a full batch is waiting (default
	// DefaultLinger, or a tenth of Interval when that is shorter; it must be
	// shorter than Interval). One write of several polls
	// costs the recorder and the database less than one write each:
	// bench record, 1,000 groups every 10s, wrote 5.6 polls per write
	// instead of 1, and the machine went from 9.5% to 6.7% busy.
	Linger time.Duration
}

// Target is one region, optionally one instance, optionally a fixed list of
// groups.
type Target struct {
	// Region is the region id, e.g. cn-hangzhou. Required.
	Region string
	// Instance is the instance id. Empty discovers every running instance
	// of the region with GetInstanceList.
	Instance string
	// Groups lists consumer groups to poll. Empty discovers every group of
	// the instance with GetConsumerList.
	Groups []string
	// AllowedLag, when set, is the lag a partition of the target's groups
	// may have and still count as caught up (Burrow's allowed-lag) in every
	// status lagtrail gives. The recorder stores it as a status rule when
	// it starts (StatusRules); nil leaves the target's groups to a broader
	// target's rule, else 0.
	AllowedLag *int64
}

// StatusRules returns the status rules of the targets that set an allowed
// lag: one per listed group, or one for the target's instance or region.
func (c Config) StatusRules() []store.StatusRule {
	var out []store.StatusRule
	for _, t := range c.Targets {
		if t.AllowedLag == nil {
			continue
		}
		if len(t.Groups) == 0 {
			out = append(out, store.StatusRule{Region: t.Region, Instance: t.Instance, AllowedLag: *t.AllowedLag})
			continue
		}
		for _, g := range t.Groups {
			out = append(out, store.StatusRule{Region: t.Region, Instance: t.Instance, Group: g, AllowedLag: *t.AllowedLag})
		}
	}
	return out
}

// DefaultPollTimeout is the PollTimeout used when it is zero: the smaller of
// 30s and three quarters of the interval.
func DefaultPollTimeout(interval time.Duration) time.Duration {
	return min(30*time.Second, interval*3/4)
}

func (c Config) withDefaults() Config {
	if c.Interval == 0 {
		c.Interval = DefaultInterval
	}
	if c.UpkeepInterval == 0 {
		c.UpkeepInterval = DefaultUpkeepInterval
	}
	if c.RollupInterval == 0 {
		c.RollupInterval = DefaultRollupInterval
	}
	if c.NowInterval == 0 {
		c.NowInterval = DefaultNowInterval
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	if c.Buffer.MemoryPolls == 0 {
		c.Buffer.MemoryPolls = DefaultMemoryPolls
	}
	if c.Buffer.BatchPolls == 0 {
		c.Buffer.BatchPolls = DefaultBatchPolls
	}
	if c.Buffer.Linger == 0 {
		c.Buffer.Linger = min(DefaultLinger, c.Interval/10)
	}
	c.HA = c.HA.withDefaults(c.Interval)
	if c.PollTimeout == 0 {
		c.PollTimeout = DefaultPollTimeout(c.Interval)
	}
	if c.ThrottleBackoff == 0 {
		c.ThrottleBackoff = time.Second
	}
	if c.DiscoveryInterval == 0 {
		c.DiscoveryInterval = DefaultDiscoveryInterval
	}
	if c.Alibaba.Scheme == "" {
		c.Alibaba.Scheme = "https"
	}
	c.Alibaba.Scheme = strings.ToLower(c.Alibaba.Scheme)
	if c.Alibaba.RequestsPerSecond == 0 {
		c.Alibaba.RequestsPerSecond = DefaultRequestsPerSecond
	}
	if c.Alibaba.ClientsPerRegion == 0 {
		c.Alibaba.ClientsPerRegion = DefaultClientsPerRegion
	}
	return c
}

// Validate reports the first problem with the configuration, after defaults
// are applied. The error wraps ErrInvalidConfig.
func (c Config) Validate() error {
	c = c.withDefaults()
	bad := func(format string, args ...any) error {
		return fmt.Errorf("%w: %s", ErrInvalidConfig, fmt.Sprintf(format, args...))
	}
	if err := c.Upkeep.Validate(); err != nil {
		return fmt.Errorf("%w: %w", ErrInvalidConfig, err)
	}
	switch {
	case c.UpkeepInterval < time.Minute:
		return bad("upkeep interval must be at least 1m, got %s", c.UpkeepInterval)
	case c.RollupInterval < 10*time.Second:
		return bad("rollup interval must be at least 10s, got %s", c.RollupInterval)
	case c.NowInterval < 100*time.Millisecond || c.NowInterval > time.Minute:
		return bad("now-state interval must be between 100ms and 1m, got %s", c.NowInterval)
	case c.Interval < 0:
		return bad("interval must be positive, got %s", c.Interval)
	case c.Interval < time.Second:
		return bad("interval must be at least 1s, got %s", c.Interval)
	case c.PollTimeout <= 0:
		return bad("poll timeout must be positive, got %s", c.PollTimeout)
	case c.PollTimeout >= c.Interval:
		return bad("poll timeout %s must be shorter than interval %s", c.PollTimeout, c.Interval)
	case c.ThrottleBackoff < 0 || c.ThrottleBackoff > c.Interval:
		return bad("throttle backoff must be between 0 and the interval, got %s", c.ThrottleBackoff)
	case c.DiscoveryInterval < 0:
		return bad("discovery interval must be positive, got %s", c.DiscoveryInterval)
	case c.Alibaba.RequestsPerSecond < 0 || c.Alibaba.RequestsPerSecond > MaxRequestsPerSecond:
		return bad("alibaba.requests_per_second must be in (0, %d], got %g", MaxRequestsPerSecond, c.Alibaba.RequestsPerSecond)
	case c.Alibaba.ClientsPerRegion < 0:
		return bad("clients per region must be positive, got %d", c.Alibaba.ClientsPerRegion)
	case c.Buffer.MemoryPolls < 0:
		return bad("buffer memory polls must be positive, got %d", c.Buffer.MemoryPolls)
	case c.Buffer.BatchPolls < 0:
		return bad("buffer batch polls must be positive, got %d", c.Buffer.BatchPolls)
	case c.Buffer.Linger < 0 || c.Buffer.Linger >= c.Interval:
		return bad("buffer linger must be between 0 and the interval (%s), got %s", c.Interval, c.Buffer.Linger)
	case len(c.Targets) == 0:
		return bad("no targets: configure at least one region to poll")
	}
	if err := c.HA.validate(c.Interval); err != nil {
		return bad("%v", err)
	}
	if err := validateEndpoint(c.Alibaba.Scheme, c.Alibaba.Endpoint); err != nil {
		return bad("%v", err)
	}
	for i, t := range c.Targets {
		if t.Region == "" {
			return bad("targets[%d]: region is required", i)
		}
		if !validID(t.Region) {
			return bad("targets[%d]: region %q has characters other than letters, digits, '-' and '_'", i, t.Region)
		}
		if t.Instance == "" && len(t.Groups) > 0 {
			return bad("targets[%d]: groups need an instance", i)
		}
		if t.AllowedLag != nil && *t.AllowedLag < 0 {
			return bad("targets[%d]: allowed lag must not be negative, got %d", i, *t.AllowedLag)
		}
		seen := map[string]bool{}
		for _, g := range t.Groups {
			if strings.TrimSpace(g) == "" {
				return bad("targets[%d]: empty group name", i)
			}
			if seen[g] {
				return bad("targets[%d]: group %q listed twice", i, g)
			}
			seen[g] = true
		}
	}
	return nil
}

// validateEndpoint allows plain HTTP only towards loopback, so AccessKey
// signatures and offsets never cross a network unencrypted.
func validateEndpoint(scheme, endpoint string) error {
	switch scheme {
	case "https":
	case "http":
		if endpoint == "" {
			return errors.New("alibaba.scheme http needs a loopback alibaba.endpoint; the public endpoints require https")
		}
		if !isLoopback(endpoint) {
			return fmt.Errorf("alibaba.scheme http is refused for non-loopback endpoint %q; use https", endpoint)
		}
	default:
		return fmt.Errorf("alibaba.scheme must be https or http, got %q", scheme)
	}
	if endpoint != "" && strings.ContainsAny(endpoint, "/ ?#@") {
		return fmt.Errorf("alibaba.endpoint must be host or host:port, got %q", endpoint)
	}
	return nil
}

func isLoopback(endpoint string) bool {
	host := endpoint
	if h, _, err := net.SplitHostPort(endpoint); err == nil {
		host = h
	}
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip := net.ParseIP(strings.Trim(host, "[]"))
	return ip != nil && ip.IsLoopback()
}

func validID(s string) bool {
	for _, r := range s {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' || r == '_') {
			return false
		}
	}
	return s != ""
}
