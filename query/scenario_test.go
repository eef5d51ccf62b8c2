package query_test

import (
	"context"
	"fmt"
	"hash/fnv"
	"log/slog"
	"math"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aliyun/alibaba-cloud-sdk-go/sdk/auth/credentials"

	"github.com/lagtrail/lagtrail/ingest"
	"github.com/lagtrail/lagtrail/internal/alisim"
	"github.com/lagtrail/lagtrail/internal/pgtest"
	"github.com/lagtrail/lagtrail/query"
	"github.com/lagtrail/lagtrail/store"
)

func TestMain(m *testing.M) { pgtest.Main(m) }

const (
	region   = "cn-hangzhou"
	instance = "alikafka-scn-1"
	keyID    = "LTAI-scenario"
	secret   = "scenario-secret-never-logged"
	interval = time.Minute
	ticks    = 200 // polls per group: 3h20m
)

// epoch is the model's time zero and the first poll.
var epoch = time.Date(2025, 6, 1, 0, 0, 0, 0, time.UTC)

// clock is the simulated time both the endpoint's model and the recorder's
// stamps follow.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time  { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) set(t time.Time) { c.mu.Lock(); c.t = t; c.mu.Unlock() }

// uniform returns a partitions' list of n copies of p.
func uniform(n int, p alisim.Partition) []alisim.Partition {
	ps := make([]alisim.Partition, n)
	for i := range ps {
		ps[i] = p
		ps[i].Script = append([]alisim.Change(nil), p.Script...)
	}
	return ps
}

func at(m int) time.Duration { return time.Duration(m) * time.Minute }

// scenarioFleet holds one group per incident, and a clean one.
func scenarioFleet() alisim.Fleet {
	rewound := uniform(2, alisim.Partition{BrokerStart: 500000, ConsumerStart: 500000, ProduceRate: 10, ConsumeRate: 10})
	rewound[0].Script = []alisim.Change{
		{At: at(45), Kind: alisim.ChangeRewind, Messages: 5000},
		{At: at(45), Kind: alisim.ChangeRates, ProduceRate: 10, ConsumeRate: 15},
	}
	groups := []alisim.Group{
		// Draining: 4 x (50/s in, 80/s out), 300,000 behind each.
		{ID: "steady", Topics: []alisim.Topic{{Name: "orders", Partitions: uniform(4, alisim.Partition{
			BrokerStart: 1_000_000, ConsumerStart: 700_000, ProduceRate: 50, ConsumeRate: 80})}}},
		// Caught up, then the consumer stops from 60m to 90m.
		{ID: "stall", Topics: []alisim.Topic{{Name: "events", Partitions: uniform(2, alisim.Partition{
			BrokerStart: 10_000, ConsumerStart: 9_000, ProduceRate: 20, ConsumeRate: 30,
			Script: []alisim.Change{
				{At: at(60), Kind: alisim.ChangeRates, ProduceRate: 20, ConsumeRate: 0},
				{At: at(90), Kind: alisim.ChangeRates, ProduceRate: 20, ConsumeRate: 40},
			}})}}},
		// Partition 0 is rewound by 5,000 messages at 45m.
		{ID: "rewind", Topics: []alisim.Topic{{Name: "audit", Partitions: rewound}}},
		// Falling behind at 40/s, then reset to latest at 80m.
		{ID: "reset", Topics: []alisim.Topic{{Name: "clicks", Partitions: uniform(2, alisim.Partition{
			BrokerStart: 0, ConsumerStart: 0, ProduceRate: 100, ConsumeRate: 60,
			Script: []alisim.Change{{At: at(80), Kind: alisim.ChangeResetToLatest}}})}}},
		// The topic is recreated at 100m.
		{ID: "recreate", Topics: []alisim.Topic{{Name: "ledger", Partitions: uniform(3, alisim.Partition{
			BrokerStart: 2_000_000, ConsumerStart: 1_999_000, ProduceRate: 30, ConsumeRate: 30,
			Script: []alisim.Change{{At: at(100), Kind: alisim.ChangeRecreate}}})}}},
		// Polled with no polls from 120m to 130m.
		{ID: "gap", Topics: []alisim.Topic{{Name: "mail", Partitions: uniform(2, alisim.Partition{
			BrokerStart: 40_000, ConsumerStart: 40_000, ProduceRate: 5, ConsumeRate: 5})}}},
		// Polled with HideLastTimestamp; falls behind at 5/s, stalls from
		// 30m to 50m.
		{ID: "hidden", Topics: []alisim.Topic{{Name: "search", Partitions: uniform(2, alisim.Partition{
			BrokerStart: 100_000, ConsumerStart: 99_000, ProduceRate: 25, ConsumeRate: 20,
			Script: []alisim.Change{
				{At: at(30), Kind: alisim.ChangeRates, ProduceRate: 25, ConsumeRate: 0},
				{At: at(50), Kind: alisim.ChangeRates, ProduceRate: 25, ConsumeRate: 20},
			}})}}},
	}
	return alisim.Fleet{Instances: []alisim.Instance{{Region: region, ID: instance, Name: "scenario", Groups: groups}}}
}

// recorded is a history recorded through the real SDK and ingest path into
// PostgreSQL, and the model that produced it.
type recorded struct {
	fleet  alisim.Fleet
	store  *store.Store
	engine *query.Engine
	// polled are the poll times of each group.
	polled map[string][]time.Time
}

func replay(t *testing.T) (*recorded, string) {
	ctx := context.Background()
	clk := &clock{t: epoch}
	fleet := scenarioFleet()
	sim, err := alisim.New(alisim.Config{Fleet: fleet, Credentials: map[string]string{keyID: secret}, Epoch: epoch, Now: clk.Now})
	if err != nil {
		return nil, "alisim.New: " + err.Error()
	}
	srv := httptest.NewServer(sim)
	t.Cleanup(srv.Close)
	_, url := pgtest.Pool(t)
	log := slog.New(slog.NewTextHandler(secretGuard{t}, &slog.HandlerOptions{Level: slog.LevelWarn}))
	st, err := store.Open(ctx, store.Config{DatabaseURL: url}, log)
	if err != nil {
		return nil, "store.Open: " + err.Error()
	}
	// One recorder per way of polling: the gap group has its own, so that
	// it can skip the gap's ticks, and so does the group polled with its
	// last-consumed timestamp hidden. Fewer recorders than groups keep the
	// replay's per-tick work (upkeep, now-state and rollup refresh, which
	// RunOnce does once per call, about 30 ms) to three calls a tick.
	type recorder struct {
		rec    *ingest.Recorder
		groups []string
	}
	recs := map[string]recorder{}
	var plain []string
	for _, g := range fleet.Instances[0].Groups {
		if g.ID != "gap" && g.ID != "hidden" {
			plain = append(plain, g.ID)
		}
	}
	for name, groups := range map[string][]string{"plain": plain, "gap": {"gap"}, "hidden": {"hidden"}} {
		cfg := ingest.Config{
			Interval: interval, PollTimeout: 10 * time.Second,
			Alibaba: ingest.AlibabaConfig{
				Endpoint: strings.TrimPrefix(srv.URL, "http://"), Scheme: "http",
				Credentials:       credentials.NewStaticAKCredentialsProvider(keyID, secret),
				HideLastTimestamp: name == "hidden",
				// The quota's most: the plain recorder's five polls a
				// tick wait 10 ms apart, not 20.
				RequestsPerSecond: ingest.MaxRequestsPerSecond,
			},
			Targets: []ingest.Target{{Region: region, Instance: instance, Groups: groups}},
			Now:     clk.Now,
		}
		rec, err := ingest.New(cfg, st, log, nil)
		if err != nil {
			return nil, "ingest.New: " + err.Error()
		}
		recs[name] = recorder{rec, groups}
	}
	polled := map[string][]time.Time{}
	for i := range ticks {
		// Polls are a minute apart give or take a few seconds, as in life.
		now := epoch.Add(time.Duration(i)*interval + jitter(i))
		clk.set(now)
		// The recorders poll disjoint groups, so they run side by side, as
		// three recorders of one database would.
		var wg sync.WaitGroup
		msgs := make(chan string, len(recs))
		for name, r := range recs {
			if name == "gap" && now.After(epoch.Add(at(120))) && now.Before(epoch.Add(at(130))) {
				continue
			}
			for _, id := range r.groups {
				polled[id] = append(polled[id], now)
			}
			wg.Go(func() {
				res, err := r.rec.RunOnce(ctx)
				switch {
				case err != nil || len(res.Failed) > 0:
					msgs <- "RunOnce " + name + ": " + errString(err) + strings.Join(res.Failed, "; ")
				case res.Groups != len(r.groups):
					msgs <- fmt.Sprintf("RunOnce %s polled %d groups, want %d", name, res.Groups, len(r.groups))
				}
			})
		}
		wg.Wait()
		close(msgs)
		for msg := range msgs {
			return nil, msg
		}
	}
	for _, r := range recs {
		r.rec.Close()
	}
	t.Cleanup(st.Close)
	eng, err := query.New(st, query.Config{}, log)
	if err != nil {
		return nil, "query.New: " + err.Error()
	}
	return &recorded{fleet: fleet, store: st, engine: eng, polled: polled}, ""
}

func errString(err error) string {
	if err == nil {
		return ""
	}
	return err.Error() + " "
}

// jitter is a deterministic offset in [-3s, +3s) for poll i.
func jitter(i int) time.Duration {
	h := fnv.New32a()
	h.Write([]byte{byte(i), byte(i >> 8)})
	return time.Duration(h.Sum32()%6000)*time.Millisecond - 3*time.Second
}

// secretGuard sends logs to the test log and fails the test if the secret
// reaches them.
type secretGuard struct{ t *testing.T }

func (g secretGuard) Write(p []byte) (int, error) {
	if strings.Contains(string(p), secret) {
		g.t.Errorf("log line contains the AccessKey secret: %s", p)
	}
	g.t.Log(strings.TrimRight(string(p), "\n"))
	return len(p), nil
}

// group returns the model of a scenario group.
func (r *recorded) group(id string) alisim.Group {
	for _, g := range r.fleet.Instances[0].Groups {
		if g.ID == id {
			return g
		}
	}
	panic("no group " + id)
}

// modelLag returns the group's true lag at t.
func (r *recorded) modelLag(id string, t time.Time) int64 {
	var lag int64
	for _, tp := range r.group(id).Topics {
		for _, p := range tp.Partitions {
			b, c, _ := p.At(epoch, t)
			lag += b - c
		}
	}
	return lag
}

// modelTimeLag returns the group's largest true partition time lag at t.
func (r *recorded) modelTimeLag(id string, t time.Time) float64 {
	var worst float64
	for _, tp := range r.group(id).Topics {
		for _, p := range tp.Partitions {
			if d, ok := p.TimeLag(epoch, t); ok {
				worst = max(worst, d.Seconds())
			}
		}
	}
	return worst
}

func sel(id string) query.Selection { return query.Selection{Group: id} }

func within(got, want, rel float64) bool {
	return math.Abs(got-want) <= rel*math.Abs(want)
}
