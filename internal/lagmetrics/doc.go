// Package lagmetrics exports the recorded lag of every consumer group as
// Prometheus gauges, under the names kafka-lag-exporter and kafka_exporter
// use, so that existing alerts and dashboards work on lagtrail's data.
//
// A Collector reads the partitions of each group's last successful poll
// from a Source (store.Store is one) when it is scraped, at most once per
// Config.CacheFor. It may import store and the Prometheus client; it reads
// no flags, environment or files.
package lagmetrics
