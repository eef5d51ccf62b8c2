package query_test

import (
	"errors"
	"math"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/lagtrail/lagtrail/internal/scenario"
	"github.com/lagtrail/lagtrail/internal/scenariotest"
	"github.com/lagtrail/lagtrail/query"
	"github.com/lagtrail/lagtrail/store"
)

func topDay(d int, hm time.Duration) time.Time { return scenariotest.Monday.AddDate(0, 0, d).Add(hm) }

// topScenario returns an engine and store on span of the bundled scenario
// from scenariotest.Monday.
func topScenario(t *testing.T, name string, span time.Duration) (*query.Engine, *store.Store, scenariotest.History) {
	t.Helper()
	h := scenariotest.Generate(t, name, scenariotest.Monday, span)
	e, st := engineOn(t, h.URL)
	return e, st, h
}

func topRun(t *testing.T, e *query.Engine, req query.TopRequest) *query.Top {
	t.Helper()
	top, err := e.Top(t.Context(), req)
	if err != nil {
		t.Fatalf("Top %+v: %v", req, err)
	}
	return top
}

func topRowOf(t *testing.T, top *query.Top, group string) query.TopRow {
	t.Helper()
	for _, r := range top.Rows {
		if r.Group.Group == group {
			return r
		}
	}
	t.Fatalf("Top by %s has no row of %s", top.By, group)
	return query.TopRow{}
}

// topOracle is a group's figures over [from, to) worked out in Go from its
// raw samples, independently of the rollups: the polls in the window, the
// lag at the first and last, the largest time lag (nil when an hour had
// lag with every timestamp hidden), and the stalled seconds of each
// partition from its consecutive samples (consumer offset unchanged, lag
// at the earlier sample, neither a gap of more than 3 median intervals nor
// a broker offset decrease), cut at the window's edges.
type topOracle struct {
	firstAt, lastAt time.Time
	lagFirst, lag   int64
	timeLag         *float64
	stall           float64
	stalledParts    int
}

func oracleTop(t *testing.T, st *store.Store, ref store.GroupRef, from, to time.Time) topOracle {
	t.Helper()
	samples, err := st.ReadPartitionOffsets(t.Context(), store.Range{Region: ref.Region, InstanceID: ref.InstanceID,
		Group: ref.Group, From: from.Add(-store.EdgeSlack), To: to.Add(store.EdgeSlack)})
	if err != nil {
		t.Fatal(err)
	}
	type part struct {
		topic string
		p     int32
	}
	series := map[part][]store.PartitionSample{}
	lagAt := map[time.Time]int64{}
	type hour struct{ lag, known bool }
	hours := map[time.Time]*hour{}
	var o topOracle
	var tl float64
	var dts []float64
	for _, s := range samples {
		k := part{s.Topic, s.Partition}
		if prev := series[k]; len(prev) > 0 {
			dts = append(dts, s.SampledAt.Sub(prev[len(prev)-1].SampledAt).Seconds())
		}
		series[k] = append(series[k], s)
		if s.SampledAt.Before(from) || !s.SampledAt.Before(to) {
			continue
		}
		lagAt[s.SampledAt] += s.Lag
		h := hours[s.SampledAt.Truncate(time.Hour)]
		if h == nil {
			h = &hour{}
			hours[s.SampledAt.Truncate(time.Hour)] = h
		}
		switch {
		case s.Lag == 0:
			h.known = true
		case s.LastConsumedAt != nil:
			h.known = true
			h.lag = true
			tl = max(tl, float64(max(s.SampledAt.UnixMilli()-s.LastConsumedAt.UnixMilli(), 0))/1000)
		default:
			h.lag = true
		}
	}
	var polls []time.Time
	for at := range lagAt {
		polls = append(polls, at)
	}
	if len(polls) == 0 {
		t.Fatalf("%s has no poll in [%s, %s)", ref.Group, from, to)
	}
	slices.SortFunc(polls, func(a, b time.Time) int { return a.Compare(b) })
	o.firstAt, o.lastAt = polls[0], polls[len(polls)-1]
	o.lagFirst, o.lag = lagAt[o.firstAt], lagAt[o.lastAt]
	o.timeLag = &tl
	for _, h := range hours {
		if h.lag && !h.known {
			o.timeLag = nil
		}
	}
	sort.Float64s(dts)
	gap := 3 * dts[len(dts)/2]
	if len(dts)%2 == 0 {
		gap = 3 * (dts[len(dts)/2-1] + dts[len(dts)/2]) / 2
	}
	for _, ss := range series {
		var stalled float64
		for i := 1; i < len(ss); i++ {
			a, b := ss[i-1], ss[i]
			if b.SampledAt.Sub(a.SampledAt).Seconds() > gap || b.BrokerOffset < a.BrokerOffset ||
				b.ConsumerOffset != a.ConsumerOffset || a.BrokerOffset <= a.ConsumerOffset {
				continue
			}
			lo, hi := a.SampledAt, b.SampledAt
			if lo.Before(from) {
				lo = from
			}
			if hi.After(to) {
				hi = to
			}
			if hi.After(lo) {
				stalled += hi.Sub(lo).Seconds()
			}
		}
		o.stall = max(o.stall, stalled)
		if stalled > 0 {
			o.stalledParts++
		}
	}
	return o
}

func topNear(a, b, rel float64) bool { return math.Abs(a-b) <= rel*max(1, math.Abs(a), math.Abs(b)) }

// checkTopIndependently compares every figure of every row of top, a
// window of whole hours, with what other reads give: the raw samples
// (oracleTop) and the raw tier's aggregates of the window's hours
// (Store.Buckets), added up, for lag, counts and rates.
func checkTopIndependently(t *testing.T, e *query.Engine, st *store.Store, top *query.Top) {
	t.Helper()
	for _, r := range top.Rows {
		o := oracleTop(t, st, r.Group, top.From, top.At)
		var edges []time.Time
		for x := top.From; x.Before(top.At); x = x.Add(time.Hour) {
			edges = append(edges, x)
		}
		aggs, err := st.Buckets(t.Context(), store.AggregateQuery{Groups: []store.GroupRef{r.Group}, Edges: append(edges, top.At)})
		if err != nil {
			t.Fatal(err)
		}
		// The raw tier's hours, added up: counts, covered seconds, and the
		// lag of the last hour with a poll.
		var raw struct {
			lag                                    *int64
			consumed, produced, cCovered, pCovered float64
			counted                                bool
		}
		for _, a := range aggs {
			if a.Lag != nil {
				raw.lag = a.Lag
			}
			if a.Consumed != nil {
				raw.counted = true
				raw.consumed += *a.Consumed
				raw.produced += *a.Produced
				raw.cCovered += a.ConsumeCovered
				raw.pCovered += a.ProduceCovered
			}
		}
		name := r.Group.Group
		if !r.FirstAt.Equal(o.firstAt) || !r.LagAt.Equal(o.lastAt) {
			t.Errorf("%s: polls %s to %s, the raw samples %s to %s", name, r.FirstAt, r.LagAt, o.firstAt, o.lastAt)
		}
		if r.Lag != o.lag || r.LagFirst != o.lagFirst || r.Growth != o.lag-o.lagFirst {
			t.Errorf("%s: lag %d (first %d, growth %d), the raw samples %d (first %d)", name, r.Lag, r.LagFirst, r.Growth, o.lag, o.lagFirst)
		}
		if raw.lag == nil || *raw.lag != r.Lag {
			t.Errorf("%s: lag %d, the raw tier's %v", name, r.Lag, raw.lag)
		}
		if (r.TimeLagMax == nil) != (o.timeLag == nil) || r.TimeLagMax != nil && !topNear(*r.TimeLagMax, *o.timeLag, 1e-9) {
			t.Errorf("%s: largest time lag %v, the raw samples' %v", name, topDeref(r.TimeLagMax), topDeref(o.timeLag))
		}
		if r.Stall == nil || !topNear(*r.Stall, o.stall, 1e-6) || r.StalledPartitions != o.stalledParts {
			t.Errorf("%s: stall %v s over %d partitions, the raw samples' %v s over %d", name, topDeref(r.Stall), r.StalledPartitions, o.stall, o.stalledParts)
		}
		if r.Consumed == nil || !raw.counted || !topNear(*r.Consumed, raw.consumed, 1e-9) ||
			r.Produced == nil || !topNear(*r.Produced, raw.produced, 1e-9) {
			t.Errorf("%s: consumed %v produced %v, the raw tier's %v and %v", name, topDeref(r.Consumed), topDeref(r.Produced), raw.consumed, raw.produced)
			continue
		}
		// Top's rates are the counts over the seconds counted intervals
		// cover, hour by hour, as the raw tier's covered seconds are.
		cr, pr := raw.consumed/raw.cCovered, raw.produced/raw.pCovered
		if r.ConsumeRate == nil || r.ProduceRate == nil || !topNear(*r.ConsumeRate, cr, 1e-6) || !topNear(*r.ProduceRate, pr, 1e-6) {
			t.Errorf("%s: rates %v and %v, the raw tier's counts over their covered seconds %v and %v", name, topDeref(r.ConsumeRate), topDeref(r.ProduceRate), cr, pr)
			continue
		}
		switch {
		case float64(r.Lag) <= query.BacklogSeconds*pr:
			if r.ETA == nil || *r.ETA != 0 {
				t.Errorf("%s: lag %d is no backlog (%.0f s of production), ETA %v, want 0", name, r.Lag, float64(r.Lag)/pr, topDeref(r.ETA))
			}
		case cr > pr:
			if r.ETA == nil || !topNear(*r.ETA, float64(r.Lag)/(cr-pr), 1e-4) {
				t.Errorf("%s: ETA %v, want lag / net rate = %v", name, topDeref(r.ETA), float64(r.Lag)/(cr-pr))
			}
		default:
			if r.ETA != nil {
				t.Errorf("%s: not draining (consume %v <= produce %v) but ETA %v", name, cr, pr, *r.ETA)
			}
		}
	}
}

// TestTopIncidentStall ranks the incident week by stall over 02:00-04:00
// of day 5: payments-ledger, whose consumers stall for 45 minutes from
// 02:10, comes first with a stall within two poll intervals of the
// scripted one, on every one of its partitions, and no other group
// stalls. Every figure of every group matches the raw samples and the raw
// tier, and the ranking by each other figure ranks what the figures say.
func TestTopIncidentStall(t *testing.T) {
	t.Parallel()
	e, st, h := topScenario(t, "incident", 7*24*time.Hour)
	ev := event(t, h.Model, scenario.KindStall, "payments-ledger")
	interval := h.Model.PollInterval()
	at, window := topDay(5, 4*time.Hour), 2*time.Hour
	if ev.From.Before(at.Add(-window)) || ev.To.After(at) {
		t.Fatalf("the scripted stall %s-%s is not inside the window", ev.From, ev.To)
	}
	groups := h.Model.Groups()
	top := topRun(t, e, query.TopRequest{By: store.TopByStall, N: 10, Window: window, At: at})
	if len(top.Rows) != len(groups) {
		t.Fatalf("ranked %d groups, want the scenario's %d", len(top.Rows), len(groups))
	}
	first := top.Rows[0]
	if first.Group != ev.Group {
		t.Fatalf("first by stall: %s, want %s", first.Group.Group, ev.Group.Group)
	}
	want := ev.To.Sub(ev.From).Seconds()
	if first.Stall == nil || math.Abs(*first.Stall-want) > 2*interval.Seconds() {
		t.Errorf("%s stalled %v s, want %v s within two poll intervals (%s)", ev.Group.Group, topDeref(first.Stall), want, interval)
	}
	if first.StalledPartitions != 8 || first.StallTopic != "payments" {
		t.Errorf("%s: %d partitions stalled, longest %s/%d; want all 8 of payments", ev.Group.Group, first.StalledPartitions, first.StallTopic, first.StallPartition)
	}
	for _, r := range top.Rows[1:] {
		if r.Stall == nil || *r.Stall != 0 || r.StalledPartitions != 0 {
			t.Errorf("%s: stall %v s over %d partitions, want none", r.Group.Group, topDeref(r.Stall), r.StalledPartitions)
		}
	}
	checkTopIndependently(t, e, st, top)
	// Every ranking orders the same figures as its definition says.
	for _, by := range store.TopBys {
		other := topRun(t, e, query.TopRequest{By: by, N: 10, Window: window, At: at})
		for i := 1; i < len(other.Rows); i++ {
			if c := topCompare(by, other.Rows[i-1], other.Rows[i]); c > 0 {
				t.Errorf("by %s: %s ranked before %s", by, other.Rows[i-1].Group.Group, other.Rows[i].Group.Group)
			}
		}
		if by != store.TopByStall {
			if r := topRowOf(t, other, ev.Group.Group); !topNearPtr(r.Stall, first.Stall) {
				t.Errorf("by %s: %s's stall %v, by stall %v", by, ev.Group.Group, topDeref(r.Stall), topDeref(first.Stall))
			}
		}
	}
}

// topCompare orders two rows as the ranking by by must: negative or zero
// when a may come first.
func topCompare(by store.TopBy, a, b query.TopRow) int {
	desc := func(x, y float64) int {
		switch {
		case x > y:
			return -1
		case x < y:
			return 1
		}
		return 0
	}
	nilLast := func(x, y *float64) int {
		switch {
		case x == nil && y == nil:
			return 0
		case x == nil:
			return 1
		case y == nil:
			return -1
		}
		return desc(*x, *y)
	}
	switch by {
	case store.TopByLag:
		return desc(float64(a.Lag), float64(b.Lag))
	case store.TopByGrowth:
		return desc(float64(a.Growth), float64(b.Growth))
	case store.TopByTimeLag:
		return nilLast(a.TimeLagMax, b.TimeLagMax)
	case store.TopByETA:
		switch {
		case a.ETA == nil && b.ETA == nil:
			return desc(float64(a.Lag), float64(b.Lag))
		case a.ETA == nil:
			return -1
		case b.ETA == nil:
			return 1
		}
		return desc(*a.ETA, *b.ETA)
	case store.TopByStall:
		return nilLast(a.Stall, b.Stall)
	}
	return 0
}

func topDeref(p *float64) any {
	if p == nil {
		return nil
	}
	return *p
}

func topNearPtr(a, b *float64) bool {
	return (a == nil) == (b == nil) && (a == nil || topNear(*a, *b, 1e-9))
}

// TestTopIncidentRewind ranks the incident's history of day 3 up to 10:30,
// half an hour after warehouse-loader was rewound by 200,000 messages on
// each of its 8 partitions, over the two hours before: as with --at now,
// the hour under way counts as far as it is recorded. warehouse-loader
// comes first by lag and by lag growth, with the lags the model gives at
// the polls Top names, and every figure matches the raw samples.
func TestTopIncidentRewind(t *testing.T) {
	t.Parallel()
	ev := event(t, scenariotest.Model(t, "incident", scenariotest.Monday), scenario.KindRewind, "warehouse-loader")
	at := ev.From.Add(30 * time.Minute)
	// The day of the rewind up to then: the two hours ranked and all the
	// rest the ranking could read, without the days before.
	h := scenariotest.GeneratePart(t, "incident", scenariotest.Monday, scenariotest.Part{From: at.Truncate(24 * time.Hour), To: at})
	e, st := engineOn(t, h.URL)
	for _, by := range []store.TopBy{store.TopByLag, store.TopByGrowth} {
		top := topRun(t, e, query.TopRequest{By: by, N: 3, Window: 2 * time.Hour, At: at})
		r := top.Rows[0]
		if r.Group != ev.Group {
			t.Fatalf("first by %s: %s, want %s", by, r.Group.Group, ev.Group.Group)
		}
		if r.LagAt.Before(at.Add(-h.Model.PollInterval())) {
			t.Errorf("by %s: lag read at %s, want the last poll before %s", by, r.LagAt, at)
		}
		modelLag := func(when time.Time) int64 {
			gp, _ := h.Model.Progress(ev.Group, when)
			var sum int64
			for _, tp := range gp.Topics {
				for _, p := range tp.Partitions {
					sum += max(p.Broker-p.Consumer, 0)
				}
			}
			return sum
		}
		if want := modelLag(r.LagAt); r.Lag != want {
			t.Errorf("by %s: lag %d at %s, the model's %d", by, r.Lag, r.LagAt, want)
		}
		if want := modelLag(r.FirstAt); r.LagFirst != want || r.Growth != r.Lag-want {
			t.Errorf("by %s: lag %d at the first poll %s (growth %d), the model's %d", by, r.LagFirst, r.FirstAt, r.Growth, want)
		}
		// The rewind put 8 x 200,000 messages back; half an hour of
		// draining at the group's capacity (900/s) leaves most of a
		// third of it.
		if rewound := 8 * ev.Messages; r.Growth < rewound/4 || r.Growth > rewound {
			t.Errorf("by %s: growth %d, want a good part of the %d rewound", by, r.Growth, rewound)
		}
		if r.Stall == nil || *r.Stall != 0 {
			t.Errorf("by %s: a rewound group that consumes has stall %v", by, topDeref(r.Stall))
		}
		checkTopIndependently(t, e, st, &query.Top{From: top.From, At: at, Rows: top.Rows})
	}
}

// TestTopStatusMidStall asks for the stalled group's status when the
// window ends during the stall: 4 minutes in (STALL: the offset unchanged
// for 3 polls or more, not yet for the 15-minute status window) and 30
// minutes in (STOP), as Engine.Status says at that time, with every
// partition of the group named. The figures come from the whole hours
// before: the hour under way, holding polls after the end, is left out.
func TestTopStatusMidStall(t *testing.T) {
	t.Parallel()
	e, _, h := topScenario(t, "incident", 7*24*time.Hour)
	ev := event(t, h.Model, scenario.KindStall, "payments-ledger")
	for _, c := range []struct {
		after time.Duration
		want  query.Status
	}{
		{4 * time.Minute, query.StatusStall},
		{30 * time.Minute, query.StatusStop},
	} {
		at := ev.From.Add(c.after)
		top := topRun(t, e, query.TopRequest{By: store.TopByLag, N: 10, Window: 3 * time.Hour, At: at})
		ivs, err := e.Status(t.Context(), query.StatusRequest{
			Range: query.Range{Selection: query.Selection{Group: ev.Group.Group}, From: at.Add(-query.TopStatusRange), To: at},
		})
		if err != nil {
			t.Fatal(err)
		}
		last := ivs[len(ivs)-1]
		r := topRowOf(t, top, ev.Group.Group)
		if r.Status != c.want || last.Status != c.want {
			t.Errorf("%s into the stall: status %s (Engine.Status %s), want %s", c.after, r.Status, last.Status, c.want)
		}
		if len(r.StatusPartitions) != 8 || !slices.Equal(r.StatusPartitions, last.Partitions) || r.StatusReason != last.Reason {
			t.Errorf("%s into the stall: partitions %v, reason %q; Engine.Status: %v, %q", c.after, r.StatusPartitions, r.StatusReason, last.Partitions, last.Reason)
		}
		for _, o := range top.Rows {
			if o.Group != ev.Group && o.Status != query.StatusOK {
				t.Errorf("%s into the stall: %s is %s, want OK", c.after, o.Group.Group, o.Status)
			}
		}
		if hour := at.Truncate(time.Hour); !r.LagAt.Before(hour) || r.Stall == nil || *r.Stall != 0 {
			t.Errorf("%s into the stall: lag read at %s, stall %v; want the hours before %s only, without the stall", c.after, r.LagAt, topDeref(r.Stall), hour)
		}
	}
}

// TestTopQuiet: nothing goes wrong in the quiet scenario, and no group
// stalls over its week.
func TestTopQuiet(t *testing.T) {
	t.Parallel()
	e, _, h := topScenario(t, "quiet", 7*24*time.Hour)
	top := topRun(t, e, query.TopRequest{By: store.TopByStall, N: 100, Window: 7 * 24 * time.Hour, At: h.To})
	if len(top.Rows) != len(h.Model.Groups()) {
		t.Fatalf("ranked %d groups, want %d", len(top.Rows), len(h.Model.Groups()))
	}
	for _, r := range top.Rows {
		if r.Stall == nil || *r.Stall != 0 || r.StalledPartitions != 0 || r.Status != query.StatusOK {
			t.Errorf("%s: stall %v s over %d partitions, status %s; want no stall, OK", r.Group.Group, topDeref(r.Stall), r.StalledPartitions, r.Status)
		}
	}
}

// TestTopRequestValidate checks each bad request gets one error naming the
// flag at fault, wrapping ErrInvalidRequest, before anything is read.
func TestTopRequestValidate(t *testing.T) {
	t.Parallel()
	ok := query.TopRequest{By: store.TopByLag, N: 10, Window: 24 * time.Hour, At: scenariotest.Monday}
	tests := []struct {
		name string
		edit func(*query.TopRequest)
		want string // "" for a valid request
	}{
		{"valid", func(*query.TopRequest) {}, ""},
		{"n 1", func(r *query.TopRequest) { r.N = 1 }, ""},
		{"n 1000", func(r *query.TopRequest) { r.N = 1000 }, ""},
		{"window 1h", func(r *query.TopRequest) { r.Window = time.Hour }, ""},
		{"every figure", func(r *query.TopRequest) { r.By = store.TopByStall }, ""},
		{"n 0", func(r *query.TopRequest) { r.N = 0 }, "-n must be between 1 and 1000, got 0"},
		{"n 1001", func(r *query.TopRequest) { r.N = 1001 }, "-n must be between 1 and 1000, got 1001"},
		{"unknown figure", func(r *query.TopRequest) { r.By = "nope" }, `--by must be lag, growth, time-lag, eta or stall, got "nope"`},
		{"empty figure", func(r *query.TopRequest) { r.By = "" }, `--by must be lag, growth, time-lag, eta or stall, got ""`},
		{"window 10m", func(r *query.TopRequest) { r.Window = 10 * time.Minute }, "--window must be at least 1h (the rollups top reads are hourly), got 10m"},
		{"window 59m", func(r *query.TopRequest) { r.Window = 59 * time.Minute }, "got 59m"},
		{"no end", func(r *query.TopRequest) { r.At = time.Time{} }, "no time given for the end of the window"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			r := ok
			tt.edit(&r)
			err := r.Validate()
			switch {
			case tt.want == "" && err != nil:
				t.Errorf("Validate: %v, want nil", err)
			case tt.want != "" && (err == nil || !errors.Is(err, query.ErrInvalidRequest) || !strings.Contains(err.Error(), tt.want)):
				t.Errorf("Validate: %v, want an invalid request saying %q", err, tt.want)
			}
		})
	}
}

// TestTopUnknownSelection: a region or instance no group is recorded in
// is a bad request, as for the other queries.
func TestTopUnknownSelection(t *testing.T) {
	t.Parallel()
	e, _, _ := topScenario(t, "quiet", 7*24*time.Hour)
	for _, req := range []query.TopRequest{
		{By: store.TopByLag, N: 10, Window: time.Hour, At: scenariotest.Monday, Region: "eu-central-1"},
		{By: store.TopByLag, N: 10, Window: time.Hour, At: scenariotest.Monday, Instance: "alikafka-nope"},
	} {
		if _, err := e.Top(t.Context(), req); !errors.Is(err, query.ErrUnknownGroup) {
			t.Errorf("Top in region %q instance %q: %v, want ErrUnknownGroup", req.Region, req.Instance, err)
		}
	}
}
