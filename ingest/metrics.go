package ingest

import (
	"github.com/prometheus/client_golang/prometheus"
)

// metrics are the recorder's own Prometheus metrics.
type metrics struct {
	polls        *prometheus.CounterVec
	pollDuration *prometheus.HistogramVec
	samples      prometheus.Counter
	writeErrors  prometheus.Counter
	groups       prometheus.Gauge
	lastSuccess  *prometheus.GaugeVec
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
		samples: prometheus.NewCounter(prometheus.CounterOpts{
			Namespace: "lagtrail", Name: "samples_written_total",
			Help: "Partition samples handed to the writer successfully.",
		}),
		writeErrors: prometheus.NewCounter(prometheus.CounterOpts{
			Namespace: "lagtrail", Name: "write_errors_total",
			Help: "Polls the writer failed to store.",
		}),
		groups: prometheus.NewGauge(prometheus.GaugeOpts{
			Namespace: "lagtrail", Name: "groups_polled",
			Help: "Consumer groups currently being polled.",
		}),
		lastSuccess: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Namespace: "lagtrail", Name: "last_successful_poll_timestamp_seconds",
			Help: "Unix time of the last successful poll of each group.",
		}, []string{"region", "instance", "group"}),
	}
	if reg == nil {
		return m, nil
	}
	for _, c := range []prometheus.Collector{m.polls, m.pollDuration, m.samples, m.writeErrors, m.groups, m.lastSuccess} {
		if err := reg.Register(c); err != nil {
			return nil, err
		}
	}
	return m, nil
}
