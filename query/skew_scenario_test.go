package query_test

import (
	"errors"
	"math"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/lagtrail/lagtrail/internal/scenario"
	"github.com/lagtrail/lagtrail/internal/scenariotest"
	"github.com/lagtrail/lagtrail/query"
	"github.com/lagtrail/lagtrail/store"
)

func skewEngine(t *testing.T, url string) *query.Engine {
	t.Helper()
	e, _ := engineOn(t, url)
	return e
}

func runSkew(t *testing.T, e *query.Engine, ref store.GroupRef, at time.Time, window time.Duration) *query.Skew {
	t.Helper()
	s, err := e.Skew(t.Context(), query.SkewRequest{
		Selection: query.Selection{Group: ref.Group, Instance: ref.InstanceID}, At: at, Window: window,
	})
	if err != nil {
		t.Fatalf("skew of %s at %s over %s: %v", ref.Group, at.Format(time.RFC3339), window, err)
	}
	return s
}

// checkSkewSums checks that every share adds up to 1 over the partitions
// and, with rates, that the group's rates are the model's within 2%.
func checkSkewSums(t *testing.T, s *query.Skew, m *scenario.Model, rates bool) {
	t.Helper()
	var lag, produce, consume float64
	for _, p := range s.Partitions {
		for _, v := range []struct {
			sum   *float64
			share *float64
		}{{&lag, p.LagShare}, {&produce, p.ProduceShare}, {&consume, p.ConsumeShare}} {
			if v.share == nil {
				t.Errorf("%s %s/%d: a share is unknown", s.Group.Group, p.Topic, p.Partition)
				continue
			}
			*v.sum += *v.share
		}
	}
	for name, sum := range map[string]float64{"lag": lag, "production": produce, "consumption": consume} {
		if math.Abs(sum-1) > 1e-9 {
			t.Errorf("%s: %s shares add up to %v", s.Group.Group, name, sum)
		}
	}
	if !rates {
		return
	}
	wantProduce, wantConsume, ok := m.Rates(s.Group, s.From, s.To)
	if !ok {
		t.Fatalf("model has no rates for %v", s.Group)
	}
	for _, c := range []struct {
		name      string
		got, want float64
	}{{"production", s.ProduceRate, wantProduce}, {"consumption", s.ConsumeRate, wantConsume}} {
		if math.Abs(c.got-c.want) > 0.02*c.want {
			t.Errorf("%s: %s rate %.3f/s, model %.3f/s (%+.2f%%)", s.Group.Group, c.name, c.got, c.want, 100*(c.got/c.want-1))
		}
	}
}

func skewNames(s *query.Skew, flag func(query.PartitionSkew) bool) []string {
	return skewFlagged(*s, flag)
}

// TestSkewIncident: on the bundled incident scenario, clicks has skew
// [1, 1, 1, 4] over 16 partitions, so clickstream-etl's partition 3 is hot
// in any window, and nothing else of the scenario is hot or stuck: not the
// payments-ledger stall (the whole group stalls) nor the warehouse-loader
// rewind (every partition is rewound). The quiet scenario flags nothing.
func TestSkewIncident(t *testing.T) {
	t.Parallel()
	h := scenariotest.Generate(t, "incident", scenariotest.Monday, 7*24*time.Hour)
	e := skewEngine(t, h.URL)
	day := 24 * time.Hour
	windows := []struct {
		name   string
		at     time.Time
		window time.Duration
	}{
		{"quiet night hour, Tuesday 03:00", scenariotest.Monday.Add(day + 4*time.Hour), time.Hour},
		{"busy afternoon, Wednesday 14:00-18:00", scenariotest.Monday.Add(2*day + 18*time.Hour), 4 * time.Hour},
		{"whole Friday", scenariotest.Monday.Add(5 * day), day},
		{"warehouse-loader rewind, Thursday 09:30-11:30", scenariotest.Monday.Add(3*day + 11*time.Hour + 30*time.Minute), 2 * time.Hour},
		{"payments-ledger stall, Saturday 02:00-03:00", scenariotest.Monday.Add(5*day + 3*time.Hour), time.Hour},
		{"unaligned 90 minutes ending Sunday 21:17", scenariotest.Monday.Add(6*day + 21*time.Hour + 17*time.Minute), 90 * time.Minute},
	}
	for _, w := range windows {
		t.Run(w.name, func(t *testing.T) {
			t.Parallel()
			for _, ref := range h.Model.Groups() {
				s := runSkew(t, e, ref, w.at, w.window)
				if !s.From.Equal(w.at.Add(-w.window)) || !s.To.Equal(w.at) {
					t.Errorf("%s: window %s..%s", ref.Group, s.From, s.To)
				}
				checkSkewSums(t, s, h.Model, true)
				var wantHot []string
				if ref.Group == "clickstream-etl" {
					wantHot = []string{"clicks/3"}
					if len(s.Partitions) != 16 {
						t.Errorf("clickstream-etl: %d partitions, want 16", len(s.Partitions))
					}
					checkClicks(t, s)
				}
				if got := skewNames(s, skewIsHot); !slices.Equal(got, wantHot) {
					t.Errorf("%s: hot %v, want %v", ref.Group, got, wantHot)
				}
				if got := skewNames(s, skewIsStuck); len(got) != 0 {
					t.Errorf("%s: stuck %v, want none", ref.Group, got)
				}
			}
		})
	}

	quiet := scenariotest.Generate(t, "quiet", scenariotest.Monday, 7*24*time.Hour)
	qe := skewEngine(t, quiet.URL)
	for _, w := range windows[:3] {
		for _, ref := range quiet.Model.Groups() {
			s := runSkew(t, qe, ref, w.at, w.window)
			checkSkewSums(t, s, quiet.Model, true)
			if got := skewNames(s, func(p query.PartitionSkew) bool { return p.Hot || p.Stuck }); len(got) != 0 {
				t.Errorf("quiet %s, %s: flagged %v, want none", ref.Group, w.name, got)
			}
			if r := s.Total.Produce.Ratio; r == nil || *r > 1.5 {
				t.Errorf("quiet %s, %s: produce max/median %v, want under 1.5", ref.Group, w.name, r)
			}
		}
	}
}

// checkClicks checks what clickstream-etl's skew says about partition 3.
func checkClicks(t *testing.T, s *query.Skew) {
	t.Helper()
	p3 := s.Partitions[3]
	if p3.Topic != "clicks" || p3.Partition != 3 {
		t.Fatalf("fourth partition is %s/%d", p3.Topic, p3.Partition)
	}
	// 4 of 19 weights.
	if p3.ProduceShare == nil || math.Abs(*p3.ProduceShare-4.0/19) > 0.01 {
		t.Errorf("clicks/3 produce share %v, want 4/19 = 0.211", p3.ProduceShare)
	}
	if p3.ProduceVsMedian == nil || math.Abs(*p3.ProduceVsMedian-4) > 0.3 {
		t.Errorf("clicks/3 produces %v× the median, want 4", p3.ProduceVsMedian)
	}
	for _, want := range []string{"× the median partition of topic clicks", "% of the group's production"} {
		if !strings.Contains(p3.HotReason, want) {
			t.Errorf("clicks/3 hot reason %q does not say %q", p3.HotReason, want)
		}
	}
	if len(s.Topics) != 1 || s.Topics[0].Topic != "clicks" || s.Topics[0].Partitions != 16 {
		t.Fatalf("topics %+v", s.Topics)
	}
	// Rates are over the window, within 10% of 4; the lag is one poll's,
	// with up to 15% noise on each partition's rate that minute.
	for _, c := range []struct {
		name string
		sp   query.PartitionSpread
		tol  float64
	}{
		{"lag", s.Topics[0].Lag, 1.2}, {"production", s.Topics[0].Produce, 0.4},
		{"consumption", s.Topics[0].Consume, 0.4}, {"group production", s.Total.Produce, 0.4},
	} {
		if c.sp.Ratio == nil || math.Abs(*c.sp.Ratio-4) > c.tol || c.sp.MaxTopic != "clicks" || c.sp.MaxPartition != 3 {
			t.Errorf("clicks %s: max/median %v at %s/%d, want 4±%v at clicks/3", c.name, skewDeref(c.sp.Ratio), c.sp.MaxTopic, c.sp.MaxPartition, c.tol)
		}
	}
}

// TestSkewStuck generates query/testdata/skew-stall.yaml: order-sync stops
// consuming partitions 2 and 5 of orders from 07:00 to 07:40 and drains
// them by about 08:00; audit-reader stalls whole at the same time.
func TestSkewStuck(t *testing.T) {
	t.Parallel()
	h := scenariotest.GenerateFile(t, "testdata/skew-stall.yaml", scenariotest.Monday, 11*time.Hour)
	m := h.Model
	e := skewEngine(t, h.URL)
	hm := func(h, min int) time.Time {
		return scenariotest.Monday.Add(time.Duration(h)*time.Hour + time.Duration(min)*time.Minute)
	}
	refs := map[string]store.GroupRef{}
	for _, ref := range m.Groups() {
		refs[ref.Group] = ref
	}
	for _, tc := range []struct {
		name   string
		group  string
		at     time.Time
		window time.Duration
		stuck  []string
		hot    []string
		// edge: an edge of the window is on a sudden change of the
		// consumption rate, which the polls a minute apart see
		// interpolated; the model's rates are not checked.
		edge bool
	}{
		{"the stall's 40 minutes", "order-sync", hm(7, 40), 40 * time.Minute, []string{"orders/2", "orders/5"}, nil, true},
		{"an hour ending with the stall", "order-sync", hm(7, 40), time.Hour, []string{"orders/2", "orders/5"}, nil, true},
		{"30 minutes into the drain", "order-sync", hm(7, 45), 30 * time.Minute, []string{"orders/2", "orders/5"}, nil, false},
		{"the last 10 minutes of the stall", "order-sync", hm(7, 40), 10 * time.Minute, []string{"orders/2", "orders/5"}, nil, true},
		{"the hour before", "order-sync", hm(7, 0), time.Hour, nil, nil, false},
		{"well after recovery", "order-sync", hm(10, 0), time.Hour, nil, nil, false},
		{"stall and full recovery in one window", "order-sync", hm(9, 0), 3 * time.Hour, nil, nil, false},
		{"the same topic read by a healthy group", "order-archive", hm(7, 40), time.Hour, nil, nil, false},
		{"a whole-group stall is not a stuck partition", "audit-reader", hm(7, 40), time.Hour, nil, []string{"audit/2"}, true},
		{"the whole-group stall's drain", "audit-reader", hm(8, 30), time.Hour, nil, []string{"audit/2"}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			s := runSkew(t, e, refs[tc.group], tc.at, tc.window)
			if got := skewNames(s, skewIsStuck); !slices.Equal(got, tc.stuck) {
				t.Errorf("stuck %v, want %v", got, tc.stuck)
				for _, p := range s.Partitions {
					t.Logf("%s/%d lag %v change %v growth %v s slope %v", p.Topic, p.Partition, skewDeref(p.Lag), skewDeref(p.LagChange), skewDeref(p.GrowthSeconds), skewDeref(p.Slope))
				}
			}
			if got := skewNames(s, skewIsHot); !slices.Equal(got, tc.hot) {
				t.Errorf("hot %v, want %v", got, tc.hot)
			}
			checkSkewSums(t, s, m, !tc.edge)
			for _, p := range s.Partitions {
				if !p.Stuck {
					continue
				}
				for _, want := range []string{"lag grew by", "of its production", "other 7 partitions held"} {
					if !strings.Contains(p.StuckReason, want) {
						t.Errorf("%s/%d stuck reason %q does not say %q", p.Topic, p.Partition, p.StuckReason, want)
					}
				}
				// Two stalled partitions of eight hold most of the lag.
				if p.LagShare == nil || *p.LagShare < 0.4 {
					t.Errorf("%s/%d lag share %v, want most of the group's", p.Topic, p.Partition, p.LagShare)
				}
			}
		})
	}
}

func skewDeref[T any](p *T) any {
	if p == nil {
		return nil
	}
	return *p
}

// TestSkewBadRequests: each bad request is one error wrapping
// ErrInvalidRequest that names the problem.
func TestSkewBadRequests(t *testing.T) {
	t.Parallel()
	h := scenariotest.Generate(t, "incident", scenariotest.Monday, 7*24*time.Hour)
	e := skewEngine(t, h.URL)
	at := scenariotest.Monday.Add(24 * time.Hour)
	part := int32(3)
	sel := query.Selection{Group: "clickstream-etl"}
	for _, tc := range []struct {
		name string
		req  query.SkewRequest
		want string
	}{
		{"no group", query.SkewRequest{At: at}, "skew needs a group: give --group"},
		{"a partition", query.SkewRequest{Selection: query.Selection{Group: "clickstream-etl", Partition: &part}, At: at}, "--partition does not apply to skew"},
		{"negative window", query.SkewRequest{Selection: sel, At: at, Window: -time.Hour}, "--window must be positive, got -1h0m0s"},
		{"no end", query.SkewRequest{Selection: sel}, "no time given for the end of the window"},
		{"hot factor 1", query.SkewRequest{Selection: sel, At: at, SkewConfig: query.SkewConfig{HotFactor: 1}}, "--hot-factor must be greater than 1, got 1"},
		{"unknown group", query.SkewRequest{Selection: query.Selection{Group: "nope"}, At: at}, `unknown group "nope"`},
		{"unknown topic", query.SkewRequest{Selection: query.Selection{Group: "clickstream-etl", Topic: "nope"}, At: at}, `unknown topic "nope"`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			_, err := e.Skew(t.Context(), tc.req)
			if !errors.Is(err, query.ErrInvalidRequest) || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error %v, want one wrapping ErrInvalidRequest that says %q", err, tc.want)
			}
		})
	}
	// A topic narrows the group to that topic's partitions.
	s, err := e.Skew(t.Context(), query.SkewRequest{Selection: query.Selection{Group: "fraud-scoring", Topic: "payments"}, At: at, Window: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	if len(s.Partitions) != 8 || len(s.Topics) != 1 || s.Topics[0].Topic != "payments" {
		t.Errorf("fraud-scoring narrowed to payments: %d partitions, topics %+v", len(s.Partitions), s.Topics)
	}
}
