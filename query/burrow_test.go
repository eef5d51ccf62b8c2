package query_test

import (
	"fmt"
	"testing"
	"time"

	"github.com/lagtrail/lagtrail/internal/pgtest"
	"github.com/lagtrail/lagtrail/query"
	"github.com/lagtrail/lagtrail/store"
)

// burrowCommit is a commit of one of Burrow's evaluator cases: the
// committed offset, its time in milliseconds and the lag Burrow computed
// for it, or -1 where Burrow stored none.
type burrowCommit struct {
	offset, ms, lag int64
}

// burrowCase is a case of Burrow's evaluator tests (linkedin/Burrow,
// core/internal/evaluator/caching_test.go, cases 0-15, and the two groups
// of core/internal/storage/fixtures.go the evaluator tests read), as facts:
// the commits, the broker offsets Burrow keeps (newest first), the current
// lag, the time of the evaluation in milliseconds, the allowed lag, and the
// status Burrow expects.
type burrowCase struct {
	name    string
	commits []burrowCommit
	brokers []int64
	current int64
	nowMS   int64
	allowed int64
	burrow  query.Status
	// lagtrail is lagtrail's status where it differs from Burrow's on
	// purpose; why says why. Zero means the same as Burrow.
	lagtrail query.Status
	why      string
}

// steps returns n commits starting at offset off and ms, offsets and
// times advancing by doff and dms, with the lags given.
func steps(off, doff, ms, dms int64, lags ...int64) []burrowCommit {
	out := make([]burrowCommit, len(lags))
	for i, l := range lags {
		out[i] = burrowCommit{off + doff*int64(i), ms + dms*int64(i), l}
	}
	return out
}

var (
	// burrowRun is the commits of cases 9 and 10: a consumer one message
	// a second at zero lag.
	burrowRun = steps(792748079, 1, 1512224618356, 1000, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0)
)

func init() {
	// The commits of cases 9 and 10 are not evenly spaced in Burrow's test.
	for i, ms := range []int64{618356, 619362, 620366, 621367, 622370, 623373, 624378, 625379, 626383, 627383, 628383, 629388, 630391, 631394, 632397} {
		burrowRun[i].ms = 1512224000000 + ms
	}
}

var burrowCases = []burrowCase{
	{name: "0 zero lag somewhere is OK", commits: steps(1000, 1000, 100000, 100000, 0, 50, 100, 150, 200),
		brokers: []int64{5200}, current: 200, nowMS: 600000, burrow: query.StatusOK},
	{name: "1 as long since the last commit as the commits span is not STOP", commits: steps(1000, 1000, 100000, 100000, 0, 50, 100, 150, 200),
		brokers: []int64{5200}, current: 200, nowMS: 900000, burrow: query.StatusOK},
	{name: "2 longer is STOP even with zero lag in the window", commits: steps(1000, 1000, 100000, 100000, 0, 50, 100, 150, 200),
		brokers: []int64{5200}, current: 200, nowMS: 1000000, burrow: query.StatusStop},
	{name: "3 STOP with lag always", commits: steps(1000, 1000, 100000, 100000, 50, 100, 150, 200, 250),
		brokers: []int64{5250}, current: 250, nowMS: 1000000, burrow: query.StatusStop},
	{name: "4 the same offset with zero lag once is OK", commits: steps(1000, 0, 100000, 100000, 0, 50, 100, 150, 200),
		brokers: []int64{1200}, current: 200, nowMS: 600000, burrow: query.StatusOK,
		lagtrail: query.StatusStall, why: "five polls with lag and no progress since the consumer was caught up: lagtrail says STALL now; Burrow waits for the poll with no lag to leave its window"},
	{name: "5 the same offset with lag always is STALL", commits: steps(1000, 0, 100000, 100000, 100, 150, 200, 250, 300),
		brokers: []int64{1300}, current: 300, nowMS: 600000, burrow: query.StatusStall},
	{name: "6 STALL with a constant lag", commits: steps(1000, 0, 100000, 100000, 100, 100, 100, 100, 100),
		brokers: []int64{1100}, current: 100, nowMS: 600000, burrow: query.StatusStall},
	{name: "7 a rewind caught up is OK", commits: []burrowCommit{{1000, 100000, 100}, {2000, 200000, 150}, {3000, 300000, 200}, {2000, 400000, 1250}, {4000, 500000, 300}},
		brokers: []int64{4300}, current: 300, nowMS: 600000, burrow: query.StatusOK},
	{name: "8 no lag now is OK", commits: steps(1000, 1000, 100000, 100000, 50, 100, 150, 200, 250),
		brokers: []int64{5250}, current: 0, nowMS: 1000000, burrow: query.StatusOK},
	{name: "9 lag from new messages after a stop is STOP", commits: burrowRun,
		brokers: []int64{792749024, 792749000, 792748800, 792748600, 792748500}, current: 931, nowMS: 1512224650000, burrow: query.StatusStop},
	{name: "10 caught up at a recent broker offset is OK", commits: burrowRun,
		brokers: []int64{792748094, 792748093, 792748093, 792748093}, current: 1, nowMS: 1512224650000, burrow: query.StatusOK},
	{name: "11 commits without a lag change nothing",
		commits: []burrowCommit{{1000, 100000, 0}, {1500, 150000, -1}, {2000, 200000, 50}, {2500, 250000, -1}, {3000, 300000, 100}, {3500, 350000, -1}, {4000, 400000, 150}, {4500, 450000, -1}, {5000, 500000, 200}, {5500, 550000, -1}},
		brokers: []int64{5700}, current: 200, nowMS: 600000, burrow: query.StatusOK},
	{name: "12 lag within the allowed is OK", commits: []burrowCommit{{1000, 100000, 2}, {2000, 200000, 1}, {2000, 300000, 1}},
		brokers: []int64{2001}, current: 1, nowMS: 550000, allowed: 1, burrow: query.StatusOK},
	{name: "13 STALL above the allowed lag", commits: steps(1000, 0, 100000, 100000, 100, 150, 200, 250, 300),
		brokers: []int64{1300}, current: 300, nowMS: 600000, allowed: 99, burrow: query.StatusStall},
	{name: "14 a rewind caught up is OK with an allowed lag", commits: []burrowCommit{{1000, 100000, 100}, {2000, 200000, 150}, {3000, 300000, 200}, {2000, 400000, 1250}, {4000, 500000, 300}},
		brokers: []int64{4300}, current: 300, nowMS: 600000, allowed: 99, burrow: query.StatusOK},
	{name: "15 a rewind not caught up is REWIND", commits: []burrowCommit{{1000, 100000, 100}, {2000, 200000, 150}, {3000, 300000, 200}, {2000, 400000, 1250}, {2500, 500000, 300}},
		brokers: []int64{4300}, current: 300, nowMS: 600000, burrow: query.StatusRewind},
	{name: "fixtures testgroup: a full ring committing is OK", commits: steps(1000, 100, 0, 10000, 3321, 3221, 3121, 3021, 2921, 2821, 2721, 2621, 2521, 2421),
		brokers: []int64{4321}, current: 2421, nowMS: 100000, burrow: query.StatusOK},
	{name: "fixtures testgroup2: half a ring, then nothing, is STOP", commits: steps(1000, 100, 0, 10000, 3321, 3221, 3121, 3021, 2921),
		brokers: []int64{4321}, current: 2921, nowMS: 100000, burrow: query.StatusStop},
}

// TestBurrowEvaluatorCases replays Burrow's evaluator cases through what
// `lagtrail query status` runs: the polls written to PostgreSQL, the window
// features PartitionStates reads, and Evaluate. lagtrail polls where
// Burrow receives commits, so each case becomes polls of one partition:
// one at each commit with a lag (the consumer offset committed, the broker
// offset that lag above it), then one for each broker offset Burrow kept
// but the newest, spread evenly up to the time of the evaluation, showing
// the last commit, and one at that time with the current lag.
// The window spans every poll, as Burrow's ring spans every commit.
func TestBurrowEvaluatorCases(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	e, st := engineOn(t, pgtest.URL(t))
	base := time.Date(2025, 6, 2, 0, 0, 0, 0, time.UTC)
	agree := 0
	for i, c := range burrowCases {
		g := store.GroupRef{Region: "cn-hangzhou", InstanceID: "alikafka-burrow", Group: fmt.Sprintf("case-%02d", i)}
		first := c.commits[0].ms
		at := func(ms int64) time.Time { return base.Add(time.Duration(ms-first) * time.Millisecond) }
		poll := func(ms, broker, consumer int64) *store.Poll {
			return &store.Poll{Group: g, StartedAt: at(ms), SampledAt: at(ms), OK: true, LastTimestampMs: -1,
				Topics: []store.TopicSample{{Topic: "testtopic", Partitions: []store.PartitionOffsets{{Partition: 0, BrokerOffset: broker, ConsumerOffset: consumer, LastTimestampMs: -1}}}}}
		}
		var polls []*store.Poll
		last := c.commits[len(c.commits)-1]
		for _, cm := range c.commits {
			if cm.lag >= 0 {
				polls = append(polls, poll(cm.ms, cm.offset+cm.lag, cm.offset))
			}
		}
		for k := range c.brokers {
			ms := last.ms + (c.nowMS-last.ms)*int64(k+1)/int64(len(c.brokers))
			broker := c.brokers[len(c.brokers)-1-k]
			if k == len(c.brokers)-1 {
				broker = last.offset + c.current
			}
			polls = append(polls, poll(ms, broker, last.offset))
		}
		if _, err := st.WritePolls(ctx, polls); err != nil {
			t.Fatalf("%s: %v", c.name, err)
		}
		now := at(c.nowMS)
		ivs, err := e.Status(ctx, query.StatusRequest{
			Range:      query.Range{Selection: query.Selection{Group: g.Group}, From: now.Add(-time.Second), To: now.Add(time.Second), Step: 2 * time.Second},
			Window:     now.Sub(at(first)),
			AllowedLag: &c.allowed,
		})
		if err != nil {
			t.Fatalf("%s: %v", c.name, err)
		}
		var iv *query.Interval
		for k := range ivs {
			if !now.Before(ivs[k].From) && now.Before(ivs[k].To) {
				iv = &ivs[k]
			}
		}
		if iv == nil {
			t.Fatalf("%s: no interval holds %s in %+v", c.name, now, ivs)
		}
		want := c.burrow
		if c.lagtrail != 0 {
			want = c.lagtrail
		}
		if iv.Status != want {
			t.Errorf("%s: %s (%s), want %s", c.name, iv.Status, iv.Reason, want)
		}
		if iv.Status == c.burrow {
			agree++
		}
	}
	t.Logf("lagtrail agrees with Burrow on %d of %d cases", agree, len(burrowCases))
	for _, c := range burrowCases {
		if c.lagtrail != 0 {
			t.Logf("differs on purpose: %s: Burrow %s, lagtrail %s: %s", c.name, c.burrow, c.lagtrail, c.why)
		}
	}
	if agree < 16 {
		t.Errorf("lagtrail agrees with Burrow on %d of %d cases, want at least 16", agree, len(burrowCases))
	}
}
