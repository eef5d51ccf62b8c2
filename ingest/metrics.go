package ingest

import (
	"github.com/prometheus/client_golang/prometheus"
)

// metrics are the recorder's own Prometheus metrics.
type metrics struct {
	polls         *prometheus.CounterVec
	pollDuration  *prometheus.HistogramVec
	scheduleLag   prometheus.Histogram
	samples       prometheus.Counter
	pollsWritten  prometheus.Counter
	writeErrors   prometheus.Counter
	writeDuration prometheus.Histogram
	memoryPolls   prometheus.Gauge
	spoolPolls    prometheus.Gauge
	spoolBytes    prometheus.Gauge
	dropped       *prometheus.CounterVec
	groups        prometheus.Gauge
	leasedGroups  prometheus.Gauge
	members       prometheus.Gauge
	lastSuccess   *prometheus.GaugeVec
	clamped       *prometheus.CounterVec
}

func newMetrics(reg prometheus.Registerer) (*metrics, error) {
	m := &metrics{
		polls: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: "lagtrail", Name: "polls_total",
			Help: "GetConsumerProgress attempts by region, result (ok or error) and error code.",
		}, []string{"region", "result", "code"}),
		pollDuration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Namespace: "lagtrail", Name: "poll_duration_seconds",
			Help:    "Duration of GetConsumerProgress calls.",
			Buckets: prometheus.ExponentialBuckets(0.005, 2, 14),
		}, []string{"region"}),
		scheduleLag: prometheus.NewHistogram(prometheus.HistogramOpts{
			Namespace: "lagtrail", Name: "schedule_lag_seconds",
			Help:    "How late each scheduled poll was sent after its slot (rate limiter and client waits included; throttle retries excluded).",
			Buckets: []float64{0.001, 0.005, 0.01, 0.05, 0.1, 0.25, 0.5, 1, 2, 3, 6, 10, 30, 60},
		}),
		samples: prometheus.NewCounter(prometheus.CounterOpts{
			Namespace: "lagtrail", Name: "samples_written_total",
			Help: "Partition samples written to the database.",
		}),
		pollsWritten: prometheus.NewCounter(prometheus.CounterOpts{
			Namespace: "lagtrail", Name: "polls_written_total",
			Help: "Polls written to the database, failed polls included, spooled ones when they are written.",
		}),
		writeErrors: prometheus.NewCounter(prometheus.CounterOpts{
			Namespace: "lagtrail", Name: "write_errors_total",
			Help: "Database writes that failed; their polls were kept in memory or spooled.",
		}),
		writeDuration: prometheus.NewHistogram(prometheus.HistogramOpts{
			Namespace: "lagtrail", Name: "write_duration_seconds",
			Help:    "Duration of one database write of a batch of polls.",
			Buckets: prometheus.ExponentialBuckets(0.0005, 2, 16),
		}),
		memoryPolls: prometheus.NewGauge(prometheus.GaugeOpts{
			Namespace: "lagtrail", Name: "buffer_polls",
			Help: "Polls waiting in memory to be written.",
		}),
		spoolPolls: prometheus.NewGauge(prometheus.GaugeOpts{
			Namespace: "lagtrail", Name: "spool_polls",
			Help: "Polls in the on-disk spool waiting to be written.",
		}),
		spoolBytes: prometheus.NewGauge(prometheus.GaugeOpts{
			Namespace: "lagtrail", Name: "spool_bytes",
			Help: "Bytes of the polls in the on-disk spool.",
		}),
		dropped: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: "lagtrail", Name: "dropped_polls_total",
			Help: "Polls lost by reason: spool_full (oldest discarded), memory_full (no spool, or it failed), invalid (the store rejects them), unreadable (a spooled record did not decode).",
		}, []string{"reason"}),
		groups: prometheus.NewGauge(prometheus.GaugeOpts{
			Namespace: "lagtrail", Name: "groups_polled",
			Help: "Consumer groups this recorder is polling.",
		}),
		leasedGroups: prometheus.NewGauge(prometheus.GaugeOpts{
			Namespace: "lagtrail", Name: "leased_groups",
			Help: "Consumer groups this recorder holds a lease on (HA mode).",
		}),
		members: prometheus.NewGauge(prometheus.GaugeOpts{
			Namespace: "lagtrail", Name: "live_recorders",
			Help: "Live recorders sharing the groups, this one included (HA mode).",
		}),
		lastSuccess: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Namespace: "lagtrail", Name: "last_successful_poll_timestamp_seconds",
			Help: "Unix time of the last successful poll of each group.",
		}, []string{"region", "instance", "group"}),
		clamped: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: "lagtrail", Name: "clamped_values_total",
			Help: "Values of successful responses stored clamped, by region and kind: last_timestamp (not a time, stored as -1), rebalance_time (after 9999, stored as none), rebalances (entries past the first 1000 dropped).",
		}, []string{"region", "kind"}),
	}
	for _, reason := range []string{dropSpoolFull, dropMemoryFull, dropInvalid, dropUnreadable} {
		m.dropped.WithLabelValues(reason)
	}
	if reg == nil {
		return m, nil
	}
	for _, c := range []prometheus.Collector{m.polls, m.pollDuration, m.scheduleLag, m.samples, m.pollsWritten, m.writeErrors, m.writeDuration,
		m.memoryPolls, m.spoolPolls, m.spoolBytes, m.dropped, m.groups, m.leasedGroups, m.members, m.lastSuccess, m.clamped} {
		if err := reg.Register(c); err != nil {
			return nil, err
		}
	}
	return m, nil
}
