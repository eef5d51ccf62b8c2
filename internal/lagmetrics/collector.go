package lagmetrics

import (
	"context"
	"errors"
	"log/slog"
	"strconv"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/lagtrail/lagtrail/store"
)

// Source is what a Collector reads: every partition of every group's last
// successful poll.
type Source interface {
	PartitionsNow(ctx context.Context) ([]store.PartitionNow, error)
}

// Defaults of Config.
const (
	DefaultCacheFor = 10 * time.Second
	DefaultTimeout  = 20 * time.Second
)

// Config tunes a Collector. The zero value is the default.
type Config struct {
	// CacheFor is how long one read of the Source serves scrapes. Default
	// DefaultCacheFor.
	CacheFor time.Duration
	// Timeout bounds one read. Default DefaultTimeout.
	Timeout time.Duration
	// Now is the clock; nil means time.Now.
	Now func() time.Time
	// KafkaExporterNames adds the gauges under danielqsj/kafka_exporter's
	// names (kafka_consumergroup_lag, kafka_consumergroup_lag_sum, ...)
	// to kafka-lag-exporter's. Two of them end in _sum, which promtool
	// check metrics reports as a naming problem; kafka_exporter itself
	// exposes them so.
	KafkaExporterNames bool
}

// Collector is a prometheus.Collector of the recorded lag.
type Collector struct {
	src Source
	cfg Config
	log *slog.Logger

	mu      sync.Mutex
	readAt  time.Time
	parts   []store.PartitionNow
	readErr error
	took    time.Duration
}

// New returns a Collector reading src.
func New(src Source, cfg Config, log *slog.Logger) (*Collector, error) {
	if src == nil {
		return nil, errors.New("lagmetrics: nil source")
	}
	if cfg.CacheFor < 0 || cfg.Timeout < 0 {
		return nil, errors.New("lagmetrics: negative cache or timeout")
	}
	if cfg.CacheFor == 0 {
		cfg.CacheFor = DefaultCacheFor
	}
	if cfg.Timeout == 0 {
		cfg.Timeout = DefaultTimeout
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Collector{src: src, cfg: cfg, log: log}, nil
}

// Label sets. kafka-lag-exporter's cluster_name is the alikafka instance
// id; region is lagtrail's own, since one lagtrail records several regions.
var (
	lagExporterPartition = []string{"cluster_name", "region", "group", "topic", "partition"}
	lagExporterGroup     = []string{"cluster_name", "region", "group"}
	lagExporterTopic     = []string{"cluster_name", "region", "group", "topic"}
	lagExporterLatest    = []string{"cluster_name", "region", "topic", "partition"}
	kafkaExpPartition    = []string{"cluster_name", "region", "consumergroup", "topic", "partition"}
	kafkaExpTopic        = []string{"cluster_name", "region", "consumergroup", "topic"}
	kafkaExpLatest       = []string{"cluster_name", "region", "topic", "partition"}
	lagtrailGroup        = []string{"region", "instance", "group"}
)

func desc(name, help string, labels []string) *prometheus.Desc {
	return prometheus.NewDesc(name, help, labels, nil)
}

// The metrics, by family.
var (
	// kafka-lag-exporter
	descGroupOffset   = desc("kafka_consumergroup_group_offset", "Committed offset of the group on the partition, at its last successful poll (kafka-lag-exporter name).", lagExporterPartition)
	descGroupLag      = desc("kafka_consumergroup_group_lag", "Lag of the group on the partition in messages: broker offset minus committed offset, floored at 0 (kafka-lag-exporter name).", lagExporterPartition)
	descGroupLagSec   = desc("kafka_consumergroup_group_lag_seconds", "Time lag of the group on the partition in seconds: how old the oldest unconsumed message is, from LastTimestamp or estimated from the recorded broker offsets (kafka-lag-exporter name). Absent when unknown.", lagExporterPartition)
	descGroupMaxLag   = desc("kafka_consumergroup_group_max_lag", "Largest partition lag of the group in messages (kafka-lag-exporter name).", lagExporterGroup)
	descGroupMaxLagS  = desc("kafka_consumergroup_group_max_lag_seconds", "Largest partition time lag of the group in seconds (kafka-lag-exporter name).", lagExporterGroup)
	descGroupSumLag   = desc("kafka_consumergroup_group_sum_lag", "Total lag of the group in messages (kafka-lag-exporter name).", lagExporterGroup)
	descGroupTopicSum = desc("kafka_consumergroup_group_topic_sum_lag", "Total lag of the group on the topic in messages (kafka-lag-exporter name).", lagExporterTopic)
	descLatestOffset  = desc("kafka_partition_latest_offset", "Log end offset of the partition, as last seen by any group's poll (kafka-lag-exporter name).", lagExporterLatest)
	// kafka_exporter
	descCurrentOffset    = desc("kafka_consumergroup_current_offset", "Committed offset of the group on the partition (kafka_exporter name).", kafkaExpPartition)
	descCurrentOffsetSum = desc("kafka_consumergroup_current_offset_sum", "Sum of the group's committed offsets on the topic (kafka_exporter name).", kafkaExpTopic)
	descLag              = desc("kafka_consumergroup_lag", "Lag of the group on the partition in messages (kafka_exporter name).", kafkaExpPartition)
	descLagSum           = desc("kafka_consumergroup_lag_sum", "Total lag of the group on the topic in messages (kafka_exporter name).", kafkaExpTopic)
	descTopicOffset      = desc("kafka_topic_partition_current_offset", "Log end offset of the partition (kafka_exporter name).", kafkaExpLatest)
	// lagtrail
	descStatus     = desc("lagtrail_consumergroup_status", "Burrow-style status of the group as a number: 0 NODATA (no fresh poll), 1 OK, 2 WARN, 3 REWIND, 4 STALL, 5 STOP.", lagtrailGroup)
	descSampleTime = desc("lagtrail_consumergroup_last_sample_timestamp_seconds", "Unix time of the group's last successful poll, which the lag gauges describe.", lagtrailGroup)
	descUp         = desc("lagtrail_lag_metrics_up", "1 when the last read of the recorded lag succeeded, 0 when it failed (the lag gauges are then absent).", nil)
	descReadTime   = desc("lagtrail_lag_metrics_read_seconds", "How long the last read of the recorded lag took.", nil)
)

// Describe sends every metric's description.
func (c *Collector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{descGroupOffset, descGroupLag, descGroupLagSec, descGroupMaxLag, descGroupMaxLagS,
		descGroupSumLag, descGroupTopicSum, descLatestOffset, descStatus, descSampleTime, descUp, descReadTime} {
		ch <- d
	}
	if c.cfg.KafkaExporterNames {
		for _, d := range []*prometheus.Desc{descCurrentOffset, descCurrentOffsetSum, descLag, descLagSum, descTopicOffset} {
			ch <- d
		}
	}
}

// read returns the partitions, reading the source when the cached read is
// older than CacheFor.
func (c *Collector) read() ([]store.PartitionNow, time.Duration, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	now := c.cfg.Now()
	if !c.readAt.IsZero() && now.Sub(c.readAt) < c.cfg.CacheFor {
		return c.parts, c.took, c.readErr
	}
	ctx, cancel := context.WithTimeout(context.Background(), c.cfg.Timeout)
	defer cancel()
	began := time.Now()
	parts, err := c.src.PartitionsNow(ctx)
	c.readAt, c.parts, c.readErr, c.took = now, parts, err, time.Since(began)
	if err != nil {
		c.log.Warn("read the recorded lag for /metrics", slog.Any("err", err))
	}
	return parts, c.took, err
}

// topicKey and latestKey index the per-topic and per-partition
// aggregates; groups are keyed by their store.GroupRef.
type topicKey struct {
	store.GroupRef
	topic string
}
type latestKey struct {
	region, instance, topic string
	partition               int32
}

// Collect reads the recorded lag (or the cached read) and sends every
// gauge. Groups whose last successful poll is stale (NODATA) get only
// their status and sample time: their lag is not current.
func (c *Collector) Collect(ch chan<- prometheus.Metric) {
	parts, took, err := c.read()
	ch <- prometheus.MustNewConstMetric(descReadTime, prometheus.GaugeValue, took.Seconds())
	if err != nil {
		ch <- prometheus.MustNewConstMetric(descUp, prometheus.GaugeValue, 0)
		return
	}
	ch <- prometheus.MustNewConstMetric(descUp, prometheus.GaugeValue, 1)

	type groupAgg struct {
		at             time.Time
		severity       int
		maxLag, sumLag int64
		maxLagS        float64
		hasLagS, fresh bool
	}
	type topicAgg struct{ lag, offset int64 }
	groups := map[store.GroupRef]*groupAgg{}
	var groupOrder []store.GroupRef
	topics := map[topicKey]*topicAgg{}
	var topicOrder []topicKey
	latest := map[latestKey]int64{}
	var latestOrder []latestKey
	kafkaExp := map[*prometheus.Desc]bool{descCurrentOffset: true, descCurrentOffsetSum: true, descLag: true, descLagSum: true, descTopicOffset: true}
	gauge := func(d *prometheus.Desc, v float64, labels ...string) {
		if kafkaExp[d] && !c.cfg.KafkaExporterNames {
			return
		}
		ch <- prometheus.MustNewConstMetric(d, prometheus.GaugeValue, v, labels...)
	}
	for _, p := range parts {
		gk := p.Group
		g := groups[gk]
		if g == nil {
			g = &groupAgg{at: p.At, severity: p.Severity, fresh: p.Status != "NODATA"}
			groups[gk] = g
			groupOrder = append(groupOrder, gk)
		}
		g.severity = max(g.severity, p.Severity)
		if !g.fresh {
			continue
		}
		part := strconv.Itoa(int(p.Partition))
		inst, region := p.Group.InstanceID, p.Group.Region
		gauge(descGroupOffset, float64(p.ConsumerOffset), inst, region, p.Group.Group, p.Topic, part)
		gauge(descGroupLag, float64(p.Lag), inst, region, p.Group.Group, p.Topic, part)
		gauge(descCurrentOffset, float64(p.ConsumerOffset), inst, region, p.Group.Group, p.Topic, part)
		gauge(descLag, float64(p.Lag), inst, region, p.Group.Group, p.Topic, part)
		if p.TimeLag != nil {
			gauge(descGroupLagSec, *p.TimeLag, inst, region, p.Group.Group, p.Topic, part)
			g.maxLagS, g.hasLagS = max(g.maxLagS, *p.TimeLag), true
		}
		g.maxLag = max(g.maxLag, p.Lag)
		g.sumLag += p.Lag
		tk := topicKey{p.Group, p.Topic}
		t := topics[tk]
		if t == nil {
			t = &topicAgg{}
			topics[tk] = t
			topicOrder = append(topicOrder, tk)
		}
		t.lag += p.Lag
		t.offset += p.ConsumerOffset
		lk := latestKey{region, inst, p.Topic, p.Partition}
		if prev, ok := latest[lk]; !ok || p.BrokerOffset > prev {
			if !ok {
				latestOrder = append(latestOrder, lk)
			}
			latest[lk] = p.BrokerOffset
		}
	}
	for _, gk := range groupOrder {
		g := groups[gk]
		gauge(descStatus, float64(g.severity), gk.Region, gk.InstanceID, gk.Group)
		gauge(descSampleTime, float64(g.at.UnixMilli())/1000, gk.Region, gk.InstanceID, gk.Group)
		if !g.fresh {
			continue
		}
		gauge(descGroupMaxLag, float64(g.maxLag), gk.InstanceID, gk.Region, gk.Group)
		gauge(descGroupSumLag, float64(g.sumLag), gk.InstanceID, gk.Region, gk.Group)
		if g.hasLagS {
			gauge(descGroupMaxLagS, g.maxLagS, gk.InstanceID, gk.Region, gk.Group)
		}
	}
	for _, tk := range topicOrder {
		t := topics[tk]
		gauge(descGroupTopicSum, float64(t.lag), tk.InstanceID, tk.Region, tk.Group, tk.topic)
		gauge(descLagSum, float64(t.lag), tk.InstanceID, tk.Region, tk.Group, tk.topic)
		gauge(descCurrentOffsetSum, float64(t.offset), tk.InstanceID, tk.Region, tk.Group, tk.topic)
	}
	for _, lk := range latestOrder {
		part := strconv.Itoa(int(lk.partition))
		gauge(descLatestOffset, float64(latest[lk]), lk.instance, lk.region, lk.topic, part)
		gauge(descTopicOffset, float64(latest[lk]), lk.instance, lk.region, lk.topic, part)
	}
}
