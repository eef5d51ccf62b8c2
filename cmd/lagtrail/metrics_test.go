package main

import (
	"bytes"
	"context"
	"fmt"
	"net/http/httptest"
	"os"
	"os/exec"
	"sort"
	"strings"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/lagtrail/lagtrail/internal/pgtest"
	"github.com/lagtrail/lagtrail/store"
)

// writeLivePolls writes 12 minutes of polls, every 2 minutes up to now, of
// two groups on one instance: "orders" reads topic "orders" (3 partitions,
// lagging more each poll) and "audit" reads "orders" too (keeping up), so
// the latest offsets of topic orders come from both. They are current (not
// NODATA) for 3 poll intervals, 6 minutes, however slowly the test runs.
func writeLivePolls(t *testing.T, dbURL string) (broker, ordersConsumer []int64) {
	t.Helper()
	ctx := context.Background()
	st, err := store.Open(ctx, store.Config{DatabaseURL: dbURL}, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	now := time.Now().UTC().Truncate(time.Second)
	var polls []*store.Poll
	for i := 6; i >= 0; i-- {
		at := now.Add(-time.Duration(i) * 2 * time.Minute)
		step := int64(6 - i)
		broker = []int64{1000 + 100*step, 2000 + 100*step, 3000 + 100*step}
		ordersConsumer = []int64{1000 + 50*step, 2000 + 100*step, 2900}
		for _, g := range []string{"orders", "audit"} {
			p := &store.Poll{
				Group:     store.GroupRef{Region: "cn-hangzhou", InstanceID: "alikafka-live", Group: g},
				StartedAt: at.Add(-20 * time.Millisecond), SampledAt: at, Duration: 20 * time.Millisecond, OK: true,
				LastTimestampMs: -1,
			}
			ts := store.TopicSample{Topic: "orders"}
			for part := range 3 {
				consumer := broker[part]
				if g == "orders" {
					consumer = ordersConsumer[part]
				}
				ts.Partitions = append(ts.Partitions, store.PartitionOffsets{
					Partition: int32(part), BrokerOffset: broker[part], ConsumerOffset: consumer,
					LastTimestampMs: at.Add(-time.Duration(broker[part]-consumer) * 100 * time.Millisecond).UnixMilli(),
				})
			}
			p.Topics = []store.TopicSample{ts}
			polls = append(polls, p)
		}
	}
	if _, err := st.WritePolls(ctx, polls); err != nil {
		t.Fatal(err)
	}
	return broker, ordersConsumer
}

// TestMetricsExportTheRecordedLag scrapes /metrics over live polls, with
// kafka-lag-exporter's names only (the default) and with kafka_exporter's
// too, and checks the gauges against the polls written, that the
// exposition parses with the Prometheus text parser, and, when promtool is
// installed, what promtool check metrics says of it: nothing by default;
// with kafka_exporter's names, only that two of them end in _sum, as
// kafka_exporter's own do.
func TestMetricsExportTheRecordedLag(t *testing.T) {
	t.Parallel()
	dbURL := pgtest.URL(t)
	broker, consumer := writeLivePolls(t, dbURL)
	// The subtests run at once, in this test's turn: parallel ones would
	// wait for a free slot, and the polls are stale (NODATA) after 6
	// minutes.
	for _, kafkaExporter := range []bool{false, true} {
		t.Run(fmt.Sprintf("kafka_exporter_names=%v", kafkaExporter), func(t *testing.T) {
			srv := apiTestServerWith(t, dbURL, httpConfig{kafkaExporterNames: kafkaExporter})
			checkMetrics(t, srv, broker, consumer, kafkaExporter)
		})
	}
}

// checkMetrics scrapes srv's /metrics and checks it against writeLivePolls.
func checkMetrics(t *testing.T, srv *httptest.Server, broker, consumer []int64, kafkaExporter bool) {
	t.Helper()
	resp, body := apiGet(t, srv, "/metrics", "")
	if resp.StatusCode != 200 {
		t.Fatalf("/metrics: %d %s", resp.StatusCode, body)
	}
	parser := expfmt.NewTextParser(model.LegacyValidation)
	families, err := parser.TextToMetricFamilies(bytes.NewReader(body))
	if err != nil {
		t.Fatalf("the exposition does not parse: %v\n%s", err, body)
	}
	value := func(name string, labels map[string]string) (float64, bool) {
		mf := families[name]
		if mf == nil {
			return 0, false
		}
		if mf.GetType() != dto.MetricType_GAUGE {
			t.Errorf("%s is a %s, want a gauge", name, mf.GetType())
		}
	next:
		for _, m := range mf.GetMetric() {
			got := map[string]string{}
			for _, lp := range m.GetLabel() {
				got[lp.GetName()] = lp.GetValue()
			}
			for k, v := range labels {
				if got[k] != v {
					continue next
				}
			}
			return m.GetGauge().GetValue(), true
		}
		return 0, false
	}
	check := func(name string, labels map[string]string, want float64) {
		t.Helper()
		got, ok := value(name, labels)
		if !ok {
			t.Errorf("%s%v is missing", name, labels)
		} else if got != want {
			t.Errorf("%s%v = %v, want %v", name, labels, got, want)
		}
	}
	base := map[string]string{"cluster_name": "alikafka-live", "region": "cn-hangzhou"}
	with := func(kv ...string) map[string]string {
		m := map[string]string{}
		for k, v := range base {
			m[k] = v
		}
		for i := 0; i < len(kv); i += 2 {
			m[kv[i]] = kv[i+1]
		}
		return m
	}
	var sum, maxLag int64
	for p := range 3 {
		lag := broker[p] - consumer[p]
		sum += lag
		maxLag = max(maxLag, lag)
		part := fmt.Sprint(p)
		check("kafka_consumergroup_group_lag", with("group", "orders", "topic", "orders", "partition", part), float64(lag))
		check("kafka_consumergroup_group_offset", with("group", "orders", "topic", "orders", "partition", part), float64(consumer[p]))
		check("kafka_consumergroup_group_lag_seconds", with("group", "orders", "topic", "orders", "partition", part), float64(lag)*0.1)
		check("kafka_partition_latest_offset", with("topic", "orders", "partition", part), float64(broker[p]))
		if kafkaExporter {
			check("kafka_consumergroup_lag", with("consumergroup", "orders", "topic", "orders", "partition", part), float64(lag))
			check("kafka_consumergroup_current_offset", with("consumergroup", "orders", "topic", "orders", "partition", part), float64(consumer[p]))
			check("kafka_consumergroup_lag", with("consumergroup", "audit", "topic", "orders", "partition", part), 0)
			check("kafka_topic_partition_current_offset", with("topic", "orders", "partition", part), float64(broker[p]))
		}
	}
	check("kafka_consumergroup_group_sum_lag", with("group", "orders"), float64(sum))
	check("kafka_consumergroup_group_max_lag", with("group", "orders"), float64(maxLag))
	check("kafka_consumergroup_group_max_lag_seconds", with("group", "orders"), float64(maxLag)*0.1)
	check("kafka_consumergroup_group_topic_sum_lag", with("group", "orders", "topic", "orders"), float64(sum))
	kafkaExporterFamilies := []string{"kafka_consumergroup_lag", "kafka_consumergroup_lag_sum", "kafka_consumergroup_current_offset",
		"kafka_consumergroup_current_offset_sum", "kafka_topic_partition_current_offset"}
	if kafkaExporter {
		check("kafka_consumergroup_lag_sum", with("consumergroup", "orders", "topic", "orders"), float64(sum))
		check("kafka_consumergroup_current_offset_sum", with("consumergroup", "orders", "topic", "orders"), float64(consumer[0]+consumer[1]+consumer[2]))
	} else {
		for _, name := range kafkaExporterFamilies {
			if families[name] != nil {
				t.Errorf("%s is exported without --kafka-exporter-names", name)
			}
		}
	}
	check("kafka_consumergroup_group_sum_lag", with("group", "audit"), 0)
	check("lagtrail_lag_metrics_up", nil, 1)
	if v, ok := value("lagtrail_consumergroup_status", map[string]string{"group": "orders"}); !ok || v < 2 {
		t.Errorf("lagtrail_consumergroup_status{group=orders} = %v, %v; want WARN or worse (2+): its lag grows at every poll", v, ok)
	}
	check("lagtrail_consumergroup_status", map[string]string{"group": "audit"}, 1)
	if n := len(families["kafka_partition_latest_offset"].GetMetric()); n != 3 {
		t.Errorf("kafka_partition_latest_offset has %d series, want 3: one per partition, whichever groups read it", n)
	}

	var names []string
	for n := range families {
		names = append(names, n)
	}
	sort.Strings(names)
	t.Logf("%d metric families: %s", len(names), strings.Join(names, " "))

	promtool, err := exec.LookPath("promtool")
	if err != nil {
		if os.Getenv("LAGTRAIL_REQUIRE_PROMTOOL") == "1" {
			t.Fatalf("promtool is not installed, and LAGTRAIL_REQUIRE_PROMTOOL=1 (Debian: apt-get install prometheus)")
		}
		t.Logf("promtool is not installed; the exposition was checked with the Prometheus text parser only")
		return
	}
	cmd := exec.Command(promtool, "check", "metrics")
	cmd.Stdin = bytes.NewReader(body)
	out, err := cmd.CombinedOutput()
	problems := strings.TrimSpace(string(out))
	switch {
	case !kafkaExporter && (err != nil || problems != ""):
		t.Errorf("promtool check metrics: %v\n%s", err, out)
	case kafkaExporter:
		want := "kafka_consumergroup_current_offset_sum non-histogram and non-summary metrics should not have \"_sum\" suffix\n" +
			"kafka_consumergroup_lag_sum non-histogram and non-summary metrics should not have \"_sum\" suffix"
		if problems != want {
			t.Errorf("promtool check metrics says:\n%s\nwant only the two _sum names of kafka_exporter:\n%s", problems, want)
		}
	}
	t.Logf("promtool check metrics: %v %q", err, problems)
}
