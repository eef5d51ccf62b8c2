package scenario_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/aliyun/alibaba-cloud-sdk-go/sdk/auth/credentials"

	"github.com/lagtrail/lagtrail/examples"
	"github.com/lagtrail/lagtrail/ingest"
	"github.com/lagtrail/lagtrail/internal/alisim"
	"github.com/lagtrail/lagtrail/internal/pgtest"
	"github.com/lagtrail/lagtrail/internal/scenario"
	"github.com/lagtrail/lagtrail/store"
)

func TestMain(m *testing.M) { pgtest.Main(m) }

// TestRecordedEqualsGenerated records the incident scenario through the
// simulated endpoint, the real SDK and the recorder at fixed instants (one
// before and one during the stall, after the rebalance) and checks that
// every stored sample and poll figure equals what History's Poll
// generates for the same instant: generated history means what recorded
// history means.
func TestRecordedEqualsGenerated(t *testing.T) {
	t.Parallel()
	data, err := examples.Scenario("incident")
	if err != nil {
		t.Fatal(err)
	}
	s, err := scenario.Parse(data)
	if err != nil {
		t.Fatal(err)
	}
	s.Faults = nil // every request answered
	m, err := scenario.New(s, start)
	if err != nil {
		t.Fatal(err)
	}
	var now time.Time
	cfg := m.ServerConfig(map[string]string{"LTAI-scenario": "scenario-secret"}, nil)
	cfg.Now = func() time.Time { return now }
	sim, err := alisim.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	ts := httptest.NewServer(sim)
	t.Cleanup(ts.Close)
	_, url := pgtest.Pool(t)
	ctx := context.Background()
	logger := slog.New(slog.NewTextHandler(io.Discard, nil))
	st, err := store.Open(ctx, store.Config{DatabaseURL: url}, logger)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(st.Close)
	rec, err := ingest.New(ingest.Config{
		Interval: time.Minute,
		Now:      func() time.Time { return now },
		Alibaba: ingest.AlibabaConfig{
			Endpoint: strings.TrimPrefix(ts.URL, "http://"), Scheme: "http",
			Credentials: credentials.NewStaticAKCredentialsProvider("LTAI-scenario", "scenario-secret"),
		},
		Targets: []ingest.Target{{Region: "cn-hangzhou"}, {Region: "cn-shanghai"}},
	}, st, logger, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(rec.Close)

	instants := []time.Time{
		start.Add(4*24*time.Hour + 13*time.Hour + 17*time.Second),
		start.Add(5*24*time.Hour + 2*time.Hour + 31*time.Minute + 250*time.Millisecond),
	}
	for _, at := range instants {
		now = at
		res, err := rec.RunOnce(ctx)
		if err != nil || len(res.Failed) > 0 {
			t.Fatalf("record at %s: %v %v", at, err, res.Failed)
		}
	}
	samples, err := st.ReadPartitionOffsets(ctx, store.Range{})
	if err != nil {
		t.Fatal(err)
	}
	polls, err := st.ReadPolls(ctx, store.Range{})
	if err != nil {
		t.Fatal(err)
	}
	var want, got []string
	var wantPolls, gotPolls []string
	for _, at := range instants {
		for _, ref := range m.Groups() {
			p, _ := m.Poll(ref, at, 0)
			wantPolls = append(wantPolls, fmt.Sprintf("%s %s diff=%d last=%d n=%d", at.Format(time.RFC3339Nano), ref.Group, p.TotalDiff, p.LastTimestampMs, p.PartitionCount()))
			for _, tp := range p.Topics {
				for _, o := range tp.Partitions {
					want = append(want, fmt.Sprintf("%s %s %s/%d %d %d %d", at.Format(time.RFC3339Nano), ref.Group, tp.Topic, o.Partition, o.BrokerOffset, o.ConsumerOffset, o.LastTimestampMs))
				}
			}
		}
	}
	for _, s := range samples {
		last := int64(-1)
		if s.LastConsumedAt != nil {
			last = s.LastConsumedAt.UnixMilli()
		}
		got = append(got, fmt.Sprintf("%s %s %s/%d %d %d %d", s.SampledAt.Format(time.RFC3339Nano), s.Group.Group, s.Topic, s.Partition, s.BrokerOffset, s.ConsumerOffset, last))
	}
	for _, p := range polls {
		last := int64(-1)
		if p.LastConsumedAt != nil {
			last = p.LastConsumedAt.UnixMilli()
		}
		gotPolls = append(gotPolls, fmt.Sprintf("%s %s diff=%d last=%d n=%d", p.SampledAt.Format(time.RFC3339Nano), p.Group.Group, *p.TotalDiff, last, p.PartitionCount))
	}
	for _, l := range [][]string{want, got, wantPolls, gotPolls} {
		slices.Sort(l)
	}
	if len(want) == 0 || !slices.Equal(want, got) {
		t.Errorf("recorded samples differ from generated ones:\n%s", diffLines(want, got))
	}
	if !slices.Equal(wantPolls, gotPolls) {
		t.Errorf("recorded polls differ from generated ones:\n%s", diffLines(wantPolls, gotPolls))
	}
}

func diffLines(want, got []string) string {
	var b strings.Builder
	for _, w := range want {
		if !slices.Contains(got, w) {
			fmt.Fprintf(&b, "- %s\n", w)
		}
	}
	for _, g := range got {
		if !slices.Contains(want, g) {
			fmt.Fprintf(&b, "+ %s\n", g)
		}
	}
	if b.Len() > 4000 {
		return b.String()[:4000] + "..."
	}
	return b.String()
}
