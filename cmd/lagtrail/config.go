package main

import (
	"cmp"
	"errors"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/lagtrail/lagtrail/ingest"
	"github.com/lagtrail/lagtrail/internal/strictyaml"
	"github.com/lagtrail/lagtrail/store"
)

// envDatabaseURL names the environment variable that can hold the database
// URL. The --database-url flag wins over it, and it wins over the file.
const envDatabaseURL = "LAGTRAIL_DATABASE_URL"

// fileConfig is the YAML configuration file. Unknown keys are errors.
type fileConfig struct {
	DatabaseURL       string        `yaml:"database_url"`
	Interval          *duration     `yaml:"interval"`
	PollTimeout       *duration     `yaml:"poll_timeout"`
	DiscoveryInterval *duration     `yaml:"discovery_interval"`
	Alibaba           alibabaConfig `yaml:"alibaba"`
	Targets           []targetYAML  `yaml:"targets"`
	Storage           storageConfig `yaml:"storage"`
	DataDir           string        `yaml:"data_dir"`
	Buffer            bufferConfig  `yaml:"buffer"`
	Spool             spoolConfig   `yaml:"spool"`
	HA                haConfig      `yaml:"ha"`
}

// bufferConfig bounds the polls held in memory for the database.
type bufferConfig struct {
	MemoryPolls *int      `yaml:"memory_polls"`
	BatchPolls  *int      `yaml:"batch_polls"`
	Linger      *duration `yaml:"linger"`
}

// spoolConfig bounds the on-disk spool under data_dir.
type spoolConfig struct {
	MaxMB *int `yaml:"max_mb"`
}

// haConfig shares the groups among the recorders of one database.
type haConfig struct {
	Enabled  bool      `yaml:"enabled"`
	ID       string    `yaml:"id"`
	LeaseTTL *duration `yaml:"lease_ttl"`
}

type storageConfig struct {
	PartitionsAheadDays *int      `yaml:"partitions_ahead_days"`
	RawRetentionDays    *int      `yaml:"raw_retention_days"`
	HourlyRetentionDays *int      `yaml:"hourly_retention_days"`
	UpkeepInterval      *duration `yaml:"upkeep_interval"`
	RollupInterval      *duration `yaml:"rollup_interval"`
	NowInterval         *duration `yaml:"now_interval"`
}

type alibabaConfig struct {
	Endpoint          string   `yaml:"endpoint"`
	Scheme            string   `yaml:"scheme"`
	RequestsPerSecond *float64 `yaml:"requests_per_second"`
	HideLastTimestamp bool     `yaml:"hide_last_timestamp"`
	ClientsPerRegion  *int     `yaml:"clients_per_region"`
}

type targetYAML struct {
	Region   string   `yaml:"region"`
	Instance string   `yaml:"instance"`
	Groups   []string `yaml:"groups"`
	// AllowedLag is the target's status rule (ingest.Target.AllowedLag).
	AllowedLag *int64 `yaml:"allowed_lag"`
}

// duration is a time.Duration written as "60s", "5m" or "7d" in YAML.
type duration = strictyaml.Duration

// loadConfig reads and strictly decodes a configuration file.
func loadConfig(path string) (*fileConfig, error) {
	if path == "" {
		return nil, usagef("--config is required")
	}
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, usagef("config: %v", err)
	}
	cfg, err := parseConfig(data)
	if err != nil {
		return nil, usagef("config %s: %v", path, err)
	}
	return cfg, nil
}

// parseConfig decodes YAML, refusing unknown keys and trailing documents.
func parseConfig(data []byte) (*fileConfig, error) {
	var cfg fileConfig
	if err := strictyaml.Decode(data, &cfg); err != nil {
		return nil, err
	}
	return &cfg, nil
}

// ingestConfig turns the file into ingest's Config and validates it.
func (c *fileConfig) ingestConfig() (ingest.Config, error) {
	var out ingest.Config
	if c.Interval != nil {
		if *c.Interval <= 0 {
			return out, fmt.Errorf("interval must be positive, got %s", time.Duration(*c.Interval))
		}
		out.Interval = time.Duration(*c.Interval)
	}
	if c.PollTimeout != nil {
		if *c.PollTimeout <= 0 {
			return out, fmt.Errorf("poll_timeout must be positive, got %s", time.Duration(*c.PollTimeout))
		}
		out.PollTimeout = time.Duration(*c.PollTimeout)
	}
	if c.DiscoveryInterval != nil {
		if *c.DiscoveryInterval <= 0 {
			return out, fmt.Errorf("discovery_interval must be positive, got %s", time.Duration(*c.DiscoveryInterval))
		}
		out.DiscoveryInterval = time.Duration(*c.DiscoveryInterval)
	}
	out.Alibaba = ingest.AlibabaConfig{
		Endpoint:          c.Alibaba.Endpoint,
		Scheme:            c.Alibaba.Scheme,
		HideLastTimestamp: c.Alibaba.HideLastTimestamp,
	}
	if c.Alibaba.RequestsPerSecond != nil {
		if *c.Alibaba.RequestsPerSecond <= 0 {
			return out, fmt.Errorf("alibaba.requests_per_second must be positive, got %g", *c.Alibaba.RequestsPerSecond)
		}
		out.Alibaba.RequestsPerSecond = *c.Alibaba.RequestsPerSecond
	}
	if c.Alibaba.ClientsPerRegion != nil {
		if *c.Alibaba.ClientsPerRegion <= 0 {
			return out, fmt.Errorf("alibaba.clients_per_region must be positive, got %d", *c.Alibaba.ClientsPerRegion)
		}
		out.Alibaba.ClientsPerRegion = *c.Alibaba.ClientsPerRegion
	}
	for _, t := range c.Targets {
		out.Targets = append(out.Targets, ingest.Target{Region: t.Region, Instance: t.Instance, Groups: t.Groups, AllowedLag: t.AllowedLag})
	}
	if v := c.Buffer.MemoryPolls; v != nil {
		if *v < 1 {
			return out, fmt.Errorf("buffer.memory_polls must be at least 1, got %d", *v)
		}
		out.Buffer.MemoryPolls = *v
	}
	if v := c.Buffer.BatchPolls; v != nil {
		if *v < 1 || *v > 10_000 {
			return out, fmt.Errorf("buffer.batch_polls must be between 1 and 10000, got %d", *v)
		}
		out.Buffer.BatchPolls = *v
	}
	if v := c.Buffer.Linger; v != nil {
		d, interval := time.Duration(*v), cmp.Or(out.Interval, ingest.DefaultInterval)
		if d < time.Millisecond || d > 10*time.Second || d >= interval {
			return out, fmt.Errorf("buffer.linger must be between 1ms and 10s and shorter than interval (%s), got %s", interval, d)
		}
		out.Buffer.Linger = d
	}
	if c.Spool.MaxMB != nil {
		if c.DataDir == "" {
			return out, errors.New("spool.max_mb needs data_dir, where the spool lives")
		}
		if *c.Spool.MaxMB < 1 {
			return out, fmt.Errorf("spool.max_mb must be at least 1, got %d", *c.Spool.MaxMB)
		}
	}
	if !c.HA.Enabled && (c.HA.ID != "" || c.HA.LeaseTTL != nil) {
		return out, errors.New("ha.id and ha.lease_ttl need ha.enabled: true")
	}
	out.HA.ID = c.HA.ID
	if c.HA.LeaseTTL != nil {
		if *c.HA.LeaseTTL <= 0 {
			return out, fmt.Errorf("ha.lease_ttl must be positive, got %s", time.Duration(*c.HA.LeaseTTL))
		}
		out.HA.LeaseTTL = time.Duration(*c.HA.LeaseTTL)
		interval := cmp.Or(out.Interval, ingest.DefaultInterval)
		if out.HA.LeaseTTL < ingest.MinLeaseTTL || out.HA.LeaseTTL > interval {
			return out, fmt.Errorf("ha.lease_ttl must be between %s and the interval (%s), got %s", ingest.MinLeaseTTL, interval, out.HA.LeaseTTL)
		}
	}
	up, err := c.upkeepConfig()
	if err != nil {
		return out, err
	}
	out.Upkeep = up
	if c.Storage.UpkeepInterval != nil {
		if *c.Storage.UpkeepInterval < duration(time.Minute) {
			return out, fmt.Errorf("storage.upkeep_interval must be at least 1m, got %s", time.Duration(*c.Storage.UpkeepInterval))
		}
		out.UpkeepInterval = time.Duration(*c.Storage.UpkeepInterval)
	}
	if c.Storage.RollupInterval != nil {
		if *c.Storage.RollupInterval < duration(10*time.Second) {
			return out, fmt.Errorf("storage.rollup_interval must be at least 10s, got %s", time.Duration(*c.Storage.RollupInterval))
		}
		out.RollupInterval = time.Duration(*c.Storage.RollupInterval)
	}
	if c.Storage.NowInterval != nil {
		if *c.Storage.NowInterval < duration(100*time.Millisecond) || *c.Storage.NowInterval > duration(time.Minute) {
			return out, fmt.Errorf("storage.now_interval must be between 100ms and 1m, got %s", time.Duration(*c.Storage.NowInterval))
		}
		out.NowInterval = time.Duration(*c.Storage.NowInterval)
	}
	if err := out.Validate(); err != nil {
		return out, errors.New(strings.TrimPrefix(err.Error(), ingest.ErrInvalidConfig.Error()+": "))
	}
	return out, nil
}

// upkeepConfig returns the storage upkeep settings of the file (nil: the
// defaults).
func (c *fileConfig) upkeepConfig() (store.UpkeepConfig, error) {
	var out store.UpkeepConfig
	if c == nil {
		return out, nil
	}
	if v := c.Storage.PartitionsAheadDays; v != nil {
		if *v < 1 || *v > 365 {
			return out, fmt.Errorf("storage.partitions_ahead_days must be between 1 and 365, got %d", *v)
		}
		out.DaysAhead = *v
	}
	if v := c.Storage.RawRetentionDays; v != nil {
		if *v < 1 {
			return out, fmt.Errorf("storage.raw_retention_days must be at least 1, got %d", *v)
		}
		out.RawRetentionDays = *v
	}
	if v := c.Storage.HourlyRetentionDays; v != nil {
		if *v < 1 {
			return out, fmt.Errorf("storage.hourly_retention_days must be at least 1, got %d", *v)
		}
		out.HourlyRetentionDays = *v
	}
	if err := out.Validate(); err != nil {
		return out, fmt.Errorf("storage: %w", err)
	}
	return out, nil
}

// optionalConfig loads the file at path, or returns nil when path is empty.
func optionalConfig(path string) (*fileConfig, error) {
	if path == "" {
		return nil, nil
	}
	return loadConfig(path)
}

// databaseURL picks the database URL: flag, then environment, then file.
func databaseURL(flag string, getenv func(string) string, file *fileConfig) (string, error) {
	u := flag
	if u == "" {
		u = getenv(envDatabaseURL)
	}
	if u == "" && file != nil {
		u = file.DatabaseURL
	}
	if u == "" {
		return "", usagef("no database URL: set --database-url, %s or database_url in the config file", envDatabaseURL)
	}
	if !strings.HasPrefix(u, "postgres://") && !strings.HasPrefix(u, "postgresql://") {
		return "", usagef("database URL must start with postgres:// or postgresql://")
	}
	return u, nil
}
