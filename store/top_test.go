package store

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"math"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/lagtrail/lagtrail/internal/pgtest"
	"github.com/lagtrail/lagtrail/migrations"
)

// The fleet of the ranking tests: groups polled every minute, on the
// minute, from topStart for topPolls polls, each with two partitions of
// topic "events" whose offsets at poll i are a function of i, so that the
// tests can work out every figure from the offsets themselves.
var topStart = time.Date(2025, 3, 14, 0, 0, 0, 0, time.UTC)

const topPolls = 180 // 00:00 to 02:59

// topGroup is one group of the fleet.
type topGroup struct {
	ref GroupRef
	// hidden hides LastTimestamp (-1); otherwise the last consumed message
	// was produced lag/10 seconds before the poll.
	hidden bool
	// polled says whether the group was polled at minute i.
	polled func(i int) bool
	// offsets returns partition p's broker and consumer offsets at poll i.
	offsets func(p, i int) (broker, consumer int64)
}

func (g topGroup) at(i int) time.Time { return topStart.Add(time.Duration(i) * time.Minute) }

// topFleet returns the fleet: a growing lag, a draining one, no lag and no
// traffic, hidden timestamps with a steady lag, a 30-minute stall of one
// partition, a stall interrupted by a 10-minute gap in the polls, and a
// group of another instance whose polls stop at 02:29.
func topFleet() []topGroup {
	ref := func(instance, name string) GroupRef {
		return GroupRef{Region: "cn-hangzhou", InstanceID: instance, Group: name}
	}
	every := func(int) bool { return true }
	// frozen holds the consumer of a partition producing 600 a minute,
	// 600 behind, at its offset of poll from until poll to, then lets it
	// catch up at 1200 a minute.
	frozen := func(base int64, from, to int) func(p, i int) (int64, int64) {
		return func(p, i int) (int64, int64) {
			b := base + 600*int64(i)
			if p != 0 || i < from {
				return b, b - 600
			}
			held := base + 600*int64(from) - 600
			if i <= to {
				return b, held
			}
			return b, min(b-600, held+1200*int64(i-to))
		}
	}
	return []topGroup{
		{ref: ref("alikafka-top-1", "growing"), polled: every, offsets: func(p, i int) (int64, int64) {
			r := int64(p + 1)
			return 1_000_000 + 600*r*int64(i), 1_000_000 + 540*r*int64(i)
		}},
		{ref: ref("alikafka-top-1", "draining"), polled: every, offsets: func(p, i int) (int64, int64) {
			r := int64(p + 1)
			return 2_000_000 + 300*r*int64(i), 2_000_000 - 60_000 + 400*r*int64(i)
		}},
		{ref: ref("alikafka-top-1", "idle"), polled: every, offsets: func(p, _ int) (int64, int64) {
			return 500_000 + int64(p), 500_000 + int64(p)
		}},
		{ref: ref("alikafka-top-1", "hidden"), hidden: true, polled: every, offsets: func(p, i int) (int64, int64) {
			b := 3_000_000 + 600*int64(i) + int64(p)
			return b, b - 5000
		}},
		// Partition 0 stalls from 01:10 to 01:40: 30 minutes.
		{ref: ref("alikafka-top-1", "stalled"), polled: every, offsets: frozen(4_000_000, 70, 100)},
		// Partition 0 stalls from 00:25 to 00:45, but no poll came from
		// 00:30 to 00:39: 4 + 5 minutes are seen, the gap is not counted.
		{ref: ref("alikafka-top-1", "gappy"), polled: func(i int) bool { return i < 30 || i >= 40 }, offsets: frozen(5_000_000, 25, 45)},
		{ref: ref("alikafka-top-2", "stopped"), polled: func(i int) bool { return i < 150 }, offsets: func(p, i int) (int64, int64) {
			r := int64(p + 1)
			return 6_000_000 + 900*r*int64(i), 6_000_000 + 800*r*int64(i)
		}},
	}
}

// writeTopFleet records the fleet and refreshes the rollups.
func writeTopFleet(ctx context.Context, t *testing.T, s *Store, fleet []topGroup) {
	t.Helper()
	var polls []*Poll
	for _, g := range fleet {
		for i := range topPolls {
			if !g.polled(i) {
				continue
			}
			at := g.at(i)
			ts := TopicSample{Topic: "events"}
			for p := range 2 {
				b, c := g.offsets(p, i)
				lt := at.UnixMilli() - max(b-c, 0)*100
				if g.hidden {
					lt = -1
				} else if b <= c {
					lt = at.UnixMilli() - 500
				}
				ts.Partitions = append(ts.Partitions, PartitionOffsets{Partition: int32(p), BrokerOffset: b, ConsumerOffset: c, LastTimestampMs: lt})
			}
			polls = append(polls, &Poll{Group: g.ref, StartedAt: at.Add(-100 * time.Millisecond), SampledAt: at,
				Duration: 100 * time.Millisecond, OK: true, LastTimestampMs: -1, Topics: []TopicSample{ts}})
		}
	}
	if _, err := s.WritePolls(ctx, polls); err != nil {
		t.Fatal(err)
	}
	if _, err := s.RefreshRollups(ctx); err != nil {
		t.Fatal(err)
	}
}

// topWant is what a group's figures must be, worked out from its offsets.
type topWant struct {
	group                    GroupRef
	polls                    int
	firstAt, lagAt           time.Time
	lag, lagFirst            int64
	timeLag                  *float64
	consumed, produced       *float64
	consumeRate, produceRate *float64
	eta                      *float64
	stall                    float64 // the largest partition's
	stallParts               []float64
}

// want works out g's figures over the rollup hours [ws, we) from its
// offsets, as the definitions of TopRow say: the lag at the first and
// last poll in the hours, the largest time lag at any of their polls, and
// for every consecutive pair of polls (t0, t1] its overlap with the hours:
// messages and seconds counted unless the pair is a gap (more than 3
// median intervals, here 3 minutes), and stalled seconds per partition
// when the consumer offset is unchanged while the lag at t0 is positive.
// ok is false when no poll lies in the hours.
func (g topGroup) want(ws, we time.Time) (topWant, bool) {
	w := topWant{group: g.ref, stallParts: make([]float64, 2)}
	lagAt := func(i int) int64 {
		var sum int64
		for p := range 2 {
			b, c := g.offsets(p, i)
			sum += max(b-c, 0)
		}
		return sum
	}
	var tl float64
	var consumed, produced, covered float64
	counted := false
	prev := -1
	for i := range topPolls {
		if !g.polled(i) {
			continue
		}
		at := g.at(i)
		if !at.Before(ws) && at.Before(we) {
			if w.polls == 0 {
				w.firstAt, w.lagFirst = at, lagAt(i)
			}
			w.polls++
			w.lagAt, w.lag = at, lagAt(i)
			for p := range 2 {
				if b, c := g.offsets(p, i); b > c {
					tl = max(tl, float64(b-c)*100/1000)
				}
			}
		}
		if prev >= 0 {
			t0, t1 := g.at(prev), at
			ov := minTime(t1, we).Sub(maxTime(t0, ws)).Seconds()
			if dt := t1.Sub(t0).Seconds(); ov > 0 && dt <= 180 {
				counted = true
				covered += ov
				for p := range 2 {
					b0, c0 := g.offsets(p, prev)
					b1, c1 := g.offsets(p, i)
					consumed += float64(c1-c0) * ov / dt
					produced += float64(b1-b0) * ov / dt
					if c1 == c0 && b0 > c0 {
						w.stallParts[p] += ov
					}
				}
			}
		}
		prev = i
	}
	if w.polls == 0 {
		return w, false
	}
	if !g.hidden {
		w.timeLag = &tl
	}
	if counted {
		w.consumed, w.produced = &consumed, &produced
		cr, pr := consumed/covered, produced/covered
		w.consumeRate, w.produceRate = &cr, &pr
	}
	produceRate := 0.0
	if w.produceRate != nil {
		produceRate = *w.produceRate
	}
	switch {
	case float64(w.lag) <= 60*produceRate:
		// No backlog: at most a minute of production in flight.
		w.eta = new(0.0)
	case w.consumeRate != nil && *w.consumeRate > *w.produceRate:
		w.eta = new(float64(w.lag) / (*w.consumeRate - *w.produceRate))
	}
	w.stall = slices.Max(w.stallParts)
	return w, true
}

// rankWants orders wants as Top ranks by by, ties by name.
func rankWants(wants []topWant, by TopBy) {
	desc := func(a, b float64) int { return cmp.Compare(b, a) }
	// nilLast compares pointers, nil after any value.
	nilLast := func(a, b *float64) int {
		switch {
		case a == nil && b == nil:
			return 0
		case a == nil:
			return 1
		case b == nil:
			return -1
		}
		return desc(*a, *b)
	}
	etaClass := func(w topWant) int {
		switch {
		case w.eta != nil && *w.eta == 0:
			return 2
		case w.eta == nil:
			return 0
		}
		return 1
	}
	slices.SortStableFunc(wants, func(a, b topWant) int {
		var c int
		switch by {
		case TopByLag:
			c = desc(float64(a.lag), float64(b.lag))
		case TopByGrowth:
			c = desc(float64(a.lag-a.lagFirst), float64(b.lag-b.lagFirst))
		case TopByTimeLag:
			c = nilLast(a.timeLag, b.timeLag)
		case TopByETA:
			c = cmp.Or(cmp.Compare(etaClass(a), etaClass(b)), nilLast(a.eta, b.eta), desc(float64(a.lag), float64(b.lag)))
		case TopByStall:
			c = desc(a.stall, b.stall)
		}
		return cmp.Or(c, cmp.Compare(a.group.Region, b.group.Region), cmp.Compare(a.group.InstanceID, b.group.InstanceID),
			cmp.Compare(a.group.Group, b.group.Group))
	})
}

func near(a, b float64) bool { return math.Abs(a-b) <= 1e-6*max(1, math.Abs(a), math.Abs(b)) }

func nearPtr(a, b *float64) bool { return (a == nil) == (b == nil) && (a == nil || near(*a, *b)) }

func fmtPtr(p *float64) string {
	if p == nil {
		return "nil"
	}
	return fmt.Sprint(*p)
}

// checkTopRow reports every figure of got that differs from w.
func checkTopRow(t *testing.T, got TopRow, w topWant) {
	t.Helper()
	stalled := 0
	for _, s := range w.stallParts {
		if s > 0 {
			stalled++
		}
	}
	checks := []struct {
		name      string
		ok        bool
		got, want any
	}{
		{"polls", got.Polls == w.polls, got.Polls, w.polls},
		{"first poll", got.FirstAt.Equal(w.firstAt), got.FirstAt, w.firstAt},
		{"last poll", got.LagAt.Equal(w.lagAt), got.LagAt, w.lagAt},
		{"lag", got.Lag == w.lag, got.Lag, w.lag},
		{"lag at first poll", got.LagFirst == w.lagFirst, got.LagFirst, w.lagFirst},
		{"growth", got.Growth == w.lag-w.lagFirst, got.Growth, w.lag - w.lagFirst},
		{"time lag", nearPtr(got.TimeLagMax, w.timeLag), fmtPtr(got.TimeLagMax), fmtPtr(w.timeLag)},
		{"consumed", nearPtr(got.Consumed, w.consumed), fmtPtr(got.Consumed), fmtPtr(w.consumed)},
		{"produced", nearPtr(got.Produced, w.produced), fmtPtr(got.Produced), fmtPtr(w.produced)},
		{"consume rate", nearPtr(got.ConsumeRate, w.consumeRate), fmtPtr(got.ConsumeRate), fmtPtr(w.consumeRate)},
		{"produce rate", nearPtr(got.ProduceRate, w.produceRate), fmtPtr(got.ProduceRate), fmtPtr(w.produceRate)},
		{"eta", nearPtr(got.ETA, w.eta), fmtPtr(got.ETA), fmtPtr(w.eta)},
		{"stall", got.Stall != nil && near(*got.Stall, w.stall), fmtPtr(got.Stall), w.stall},
		{"stalled partitions", got.StalledPartitions == stalled, got.StalledPartitions, stalled},
	}
	if w.stall > 0 {
		p := int32(slices.Index(w.stallParts, w.stall))
		checks = append(checks, struct {
			name      string
			ok        bool
			got, want any
		}{"stall partition", got.StallTopic == "events" && got.StallPartition == p,
			fmt.Sprintf("%s/%d", got.StallTopic, got.StallPartition), fmt.Sprintf("events/%d", p)})
	} else if got.StallTopic != "" || got.StallPartition != -1 {
		t.Errorf("%s: stall partition %s/%d, want none", w.group.Group, got.StallTopic, got.StallPartition)
	}
	for _, c := range checks {
		if !c.ok {
			t.Errorf("%s: %s = %v, want %v", w.group.Group, c.name, c.got, c.want)
		}
	}
}

// TestTop checks every figure and every ranking of Top against what the
// fleet's offsets say, over a window of whole hours and over one whose end
// falls inside an hour: that hour counts only for the group whose polls
// stopped before the end (as the current hour counts with --at now).
func TestTop(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	s, _ := openInternal(t)
	fleet := topFleet()
	writeTopFleet(ctx, t, s, fleet)
	h := func(hours float64) time.Time { return topStart.Add(time.Duration(hours * float64(time.Hour))) }
	cases := []struct {
		name   string
		at     time.Time
		window time.Duration
		// hours are the rollup hours [from, to) each group's figures come
		// from; groups not listed get def.
		def    [2]time.Time
		hours  map[string][2]time.Time
		region string
		inst   string
		want   []string // groups ranked, when not every group
	}{
		{name: "whole hours", at: h(3), window: 2 * time.Hour, def: [2]time.Time{h(1), h(3)}},
		{name: "end inside an hour", at: h(2.5), window: 2 * time.Hour, def: [2]time.Time{h(0), h(2)},
			hours: map[string][2]time.Time{"stopped": {h(0), h(3)}}},
		{name: "start inside an hour", at: h(2), window: 90 * time.Minute, def: [2]time.Time{h(0), h(2)}},
		{name: "one instance", at: h(3), window: 3 * time.Hour, def: [2]time.Time{h(0), h(3)}, inst: "alikafka-top-2", want: []string{"stopped"}},
		{name: "one region", at: h(3), window: 3 * time.Hour, def: [2]time.Time{h(0), h(3)}, region: "cn-shanghai", want: []string{}},
		{name: "nothing polled", at: h(-1), window: time.Hour, def: [2]time.Time{h(-2), h(-1)}, want: []string{}},
	}
	for _, c := range cases {
		var wants []topWant
		for _, g := range fleet {
			if c.inst != "" && g.ref.InstanceID != c.inst || c.region != "" && g.ref.Region != c.region {
				continue
			}
			hours, ok := c.hours[g.ref.Group]
			if !ok {
				hours = c.def
			}
			if w, ok := g.want(hours[0], hours[1]); ok {
				wants = append(wants, w)
			}
		}
		for _, by := range TopBys {
			t.Run(c.name+"/"+string(by), func(t *testing.T) {
				t.Parallel()
				wants := slices.Clone(wants)
				rankWants(wants, by)
				var wantNames []string
				for _, w := range wants {
					wantNames = append(wantNames, w.group.Group)
				}
				if c.want != nil && !slices.Equal(wantNames, c.want) && !(len(wantNames) == 0 && len(c.want) == 0) {
					t.Fatalf("test expects groups %v, the fleet gives %v", c.want, wantNames)
				}
				for _, limit := range []int{MaxTopLimit, 3} {
					got, err := s.Top(t.Context(), TopQuery{By: by, Limit: limit, At: c.at, Window: c.window, Region: c.region, Instance: c.inst})
					if err != nil {
						t.Fatal(err)
					}
					var gotNames []string
					for i, r := range got {
						gotNames = append(gotNames, r.Group.Group)
						if r.Rank != i+1 {
							t.Errorf("row %d has rank %d", i, r.Rank)
						}
					}
					n := min(limit, len(wantNames))
					if !slices.Equal(gotNames, wantNames[:n]) {
						t.Fatalf("limit %d: ranked %v, want %v", limit, gotNames, wantNames[:n])
					}
					for i, r := range got {
						checkTopRow(t, r, wants[i])
					}
				}
			})
		}
	}
}

// TestTopBadQuery checks that Top refuses what it cannot answer.
func TestTopBadQuery(t *testing.T) {
	t.Parallel()
	s, _ := openInternal(t)
	ok := TopQuery{By: TopByLag, Limit: 10, At: topStart, Window: time.Hour}
	tests := []struct {
		name string
		edit func(*TopQuery)
	}{
		{"unknown figure", func(q *TopQuery) { q.By = "nope" }},
		{"zero limit", func(q *TopQuery) { q.Limit = 0 }},
		{"limit too large", func(q *TopQuery) { q.Limit = MaxTopLimit + 1 }},
		{"no end", func(q *TopQuery) { q.At = time.Time{} }},
		{"zero window", func(q *TopQuery) { q.Window = 0 }},
	}
	for _, tt := range tests {
		q := ok
		tt.edit(&q)
		if _, err := s.Top(t.Context(), q); !errors.Is(err, ErrInvalidRange) {
			t.Errorf("%s: Top = %v, want an error wrapping ErrInvalidRange", tt.name, err)
		}
	}
	if _, err := s.Top(t.Context(), ok); err != nil {
		t.Errorf("Top of a valid query on an empty store: %v", err)
	}
}

// TestStalledRollup checks stalled_s in partition_hourly against the
// stalled seconds the fleet's offsets give for every partition and hour,
// partition_daily against their sum, and group_hourly and group_daily
// against the largest of the group's partitions.
func TestStalledRollup(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	s, pool := openInternal(t)
	fleet := topFleet()
	writeTopFleet(ctx, t, s, fleet)
	type key struct {
		group  string
		bucket time.Time
		part   int32 // -1 in the group tables
	}
	read := func(table, part string) map[key]float64 {
		// table and part are constants of this test.
		rows, err := pool.Query(ctx, `
SELECT n.consumer_group, h.bucket, `+part+` AS partition, h.stalled_s::float8 AS stalled_s
FROM lagtrail.`+table+` h JOIN lagtrail.group_names n USING (group_key)`)
		if err != nil {
			t.Fatal(err)
		}
		type row struct {
			Group  string    `db:"consumer_group"`
			Bucket time.Time `db:"bucket"`
			Part   int32     `db:"partition"`
			Stall  *float64  `db:"stalled_s"`
		}
		got, err := pgx.CollectRows(rows, pgx.RowToStructByName[row])
		if err != nil {
			t.Fatal(err)
		}
		out := map[key]float64{}
		for _, r := range got {
			if r.Stall == nil {
				t.Errorf("%s: %s partition %d at %s has stalled_s NULL", table, r.Group, r.Part, r.Bucket)
				continue
			}
			out[key{r.Group, r.Bucket.UTC(), r.Part}] = *r.Stall
		}
		return out
	}
	hourly, daily := read("partition_hourly", "h.partition"), read("partition_daily", "h.partition")
	groupHourly, groupDaily := read("group_hourly", "-1"), read("group_daily", "-1")
	check := func(what string, got map[key]float64, k key, want float64) {
		t.Helper()
		if v, ok := got[k]; !ok || !near(v, want) {
			t.Errorf("%s of %s partition %d at %s: stalled_s %v (row present %v), want %v", what, k.group, k.part, k.bucket.Format("15:04"), v, ok, want)
		}
	}
	var total float64
	for _, g := range fleet {
		var day [2]float64
		for hr := range 3 {
			from := topStart.Add(time.Duration(hr) * time.Hour)
			w, ok := g.want(from, from.Add(time.Hour))
			if !ok {
				continue
			}
			for p, want := range w.stallParts {
				check("partition_hourly", hourly, key{g.ref.Group, from, int32(p)}, want)
				day[p] += want
				total += want
			}
			check("group_hourly", groupHourly, key{g.ref.Group, from, -1}, slices.Max(w.stallParts))
		}
		for p, want := range day {
			check("partition_daily", daily, key{g.ref.Group, topStart, int32(p)}, want)
		}
		check("group_daily", groupDaily, key{g.ref.Group, topStart, -1}, max(day[0], day[1]))
	}
	// 30 minutes of "stalled" and 4 + 5 of "gappy".
	if total != 39*60 {
		t.Errorf("the fleet stalls %v s in all, want %d: the test's own figures are off", total, 39*60)
	}
}

// TestStallRequeue migrates a database with rollups down past 000006 and up
// again: the stall column comes back empty, every hour of the raw tier is
// queued, and the next refresh fills it in.
func TestStallRequeue(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	url := pgtest.EmptyURL(t)
	if err := migrations.Up(ctx, url); err != nil {
		t.Fatal(err)
	}
	s, err := Open(ctx, Config{DatabaseURL: url}, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	pool, err := pgxpool.New(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	defer pool.Close()
	fleet := topFleet()[4:5] // stalled
	writeTopFleet(ctx, t, s, fleet)
	stalled := func() (rows, nulls int, sum float64) {
		t.Helper()
		if err := pool.QueryRow(ctx, `
SELECT count(*), count(*) FILTER (WHERE stalled_s IS NULL), coalesce(sum(stalled_s), 0)::float8
FROM (SELECT stalled_s FROM lagtrail.partition_hourly UNION ALL SELECT stalled_s FROM lagtrail.group_hourly
      UNION ALL SELECT stalled_s FROM lagtrail.partition_daily UNION ALL SELECT stalled_s FROM lagtrail.group_daily) x`).Scan(&rows, &nulls, &sum); err != nil {
			t.Fatal(err)
		}
		return rows, nulls, sum
	}
	rows, nulls, sum := stalled()
	if rows == 0 || nulls != 0 || sum != 4*1800 {
		t.Fatalf("after the first refresh: %d rows, %d NULL, %v s stalled; want rows, none NULL, 4 x 1800 s", rows, nulls, sum)
	}
	if err := migrations.To(ctx, url, 5); err != nil {
		t.Fatalf("down to 5: %v", err)
	}
	pool.Reset() // cached statements knew the dropped column
	if err := migrations.Up(ctx, url); err != nil {
		t.Fatalf("up again: %v", err)
	}
	var queued, hours int
	if err := pool.QueryRow(ctx, `
SELECT (SELECT count(*) FROM lagtrail.rollup_queue),
       (SELECT count(DISTINCT (group_key, date_trunc('hour', sampled_at, 'UTC'))) FROM lagtrail.raw_polls)`).Scan(&queued, &hours); err != nil {
		t.Fatal(err)
	}
	if queued != hours || hours != 3 {
		t.Errorf("after up: %d hours queued, want every one of the %d hours polled (3)", queued, hours)
	}
	if _, nulls, _ := stalled(); nulls != rows {
		t.Errorf("after up: %d of %d rows have stalled_s NULL, want all", nulls, rows)
	}
	s2, err := Open(ctx, Config{DatabaseURL: url}, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer s2.Close()
	if _, err := s2.RefreshRollups(ctx); err != nil {
		t.Fatal(err)
	}
	if rows2, nulls, sum := stalled(); rows2 != rows || nulls != 0 || sum != 4*1800 {
		t.Errorf("after the refresh: %d rows, %d NULL, %v s stalled; want %d rows, none NULL, 4 x 1800 s", rows2, nulls, sum, rows)
	}
}

// explainText runs EXPLAIN (ANALYZE, BUFFERS) of q with args as the store
// sends it (parameters bound, planned for their values) and returns the
// plan as text.
func explainText(ctx context.Context, t *testing.T, pool *pgxpool.Pool, q string, args []any) string {
	t.Helper()
	tx, err := pool.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = tx.Rollback(context.WithoutCancel(ctx)) }()
	if _, err := tx.Exec(ctx, "SET LOCAL jit = off"); err != nil {
		t.Fatal(err)
	}
	rows, err := tx.Query(ctx, "EXPLAIN (ANALYZE, BUFFERS) "+q, append([]any{pgx.QueryExecModeExec}, args...)...)
	if err != nil {
		t.Fatal(err)
	}
	lines, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		t.Fatal(err)
	}
	return strings.Join(lines, "\n")
}

// TestTopPlans checks, with EXPLAIN (ANALYZE, BUFFERS) of the SQL and
// arguments Top sends, ranking a fleet of 1,000 groups of 8 partitions
// with 7 days of hourly rollups (written straight into the rollup tables),
// that each ranking reads what it should and nothing else:
//
//   - no raw tier: no scan of raw_polls;
//   - only the monthly partitions of the rollup tables the window
//     overlaps (a day in April does not scan March's);
//   - every rollup scan goes through the primary key, with the group keys
//     and the window's hours in the index condition, and keeps every row
//     it reads: group_hourly's rows of the window (1,000 x 24), and
//     partition_hourly's only for the groups with a stalled hour (all of
//     them when ranking by stall, those among the 10 returned otherwise).
//
// The plans are logged. The last subtests are controls: the checks must
// catch a window that does not prune partitions.
func TestTopPlans(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	s, pool := openInternal(t)
	fillFleet(ctx, t, s, pool, fleetGroups, fleetParts, fleetDays, fleetFirst)
	type window struct {
		name   string
		length time.Duration
		months []string // monthly partitions it must read, and only these
	}
	windows := []window{
		{"1d", 24 * time.Hour, []string{"20250401"}},
		{"7d", 7 * 24 * time.Hour, []string{"20250301", "20250401"}},
	}
	for _, w := range windows {
		for _, by := range TopBys {
			t.Run(w.name+"/"+string(by), func(t *testing.T) {
				t.Parallel()
				q := fleetTopQuery(by, w.length)
				want := topPlanWant(ctx, t, s, pool, q)
				t.Logf("EXPLAIN (ANALYZE, BUFFERS), %s over %s:\n%s", by, w.name, explainText(ctx, t, pool, topSQL(by), q.args()))
				plan := explainAnalyze(ctx, t, pool, topSQL(by), q.args(), customPlan)
				for _, p := range checkTopPlan(plan, w.months, want) {
					t.Error(p)
				}
			})
		}
	}
	t.Run("control/not pruned", func(t *testing.T) {
		t.Parallel()
		q := fleetTopQuery(TopByLag, 24*time.Hour)
		const cond = "h.bucket >= $1::timestamptz AND"
		sql := topSQL(TopByLag)
		if !strings.Contains(sql, cond) {
			t.Fatalf("the SQL no longer holds %q: update the control", cond)
		}
		sql = strings.ReplaceAll(sql, cond, "h.bucket >= $1::timestamptz + random() * interval '0' AND")
		problems := checkTopPlan(explainAnalyze(ctx, t, pool, sql, q.args(), customPlan), []string{"20250401"}, topPlanWant(ctx, t, s, pool, q))
		if !slices.ContainsFunc(problems, func(p string) bool { return strings.Contains(p, "20250301") }) {
			t.Errorf("the checks did not catch a scan of March's partitions; they reported: %q", problems)
		}
	})
}

// topPlanRows is how many rows a Top plan must read from each rollup
// table.
type topPlanRows struct{ group, partition float64 }

// topPlanWant counts, with plain SQL, the rows Top must read for q: every
// group's hours in the window, and the partition hours in the window of
// the groups with a stalled hour, among those Top returns unless it ranks
// by stall.
func topPlanWant(ctx context.Context, t *testing.T, s *Store, pool *pgxpool.Pool, q TopQuery) topPlanRows {
	t.Helper()
	var want topPlanRows
	var stalled []int32
	rows, err := pool.Query(ctx, `
SELECT group_key FROM lagtrail.group_hourly
WHERE bucket >= $1 AND bucket < $2 GROUP BY group_key HAVING max(stalled_s) > 0`, q.From(), q.At)
	if err != nil {
		t.Fatal(err)
	}
	if stalled, err = pgx.CollectRows(rows, pgx.RowTo[int32]); err != nil {
		t.Fatal(err)
	}
	if q.By != TopByStall {
		top, err := s.Top(ctx, q)
		if err != nil {
			t.Fatal(err)
		}
		refs := make([]GroupRef, len(top))
		for i, r := range top {
			refs[i] = r.Group
		}
		keys, err := s.groupKeys(ctx, refs)
		if err != nil {
			t.Fatal(err)
		}
		stalled = slices.DeleteFunc(stalled, func(k int32) bool { return !slices.Contains(keys, k) })
	}
	if err := pool.QueryRow(ctx, `
SELECT (SELECT count(*) FROM lagtrail.group_hourly WHERE bucket >= $1 AND bucket < $2),
       (SELECT count(*) FROM lagtrail.partition_hourly WHERE bucket >= $1 AND bucket < $2 AND group_key = ANY($3))`,
		q.From(), q.At, stalled).Scan(&want.group, &want.partition); err != nil {
		t.Fatal(err)
	}
	if want.group == 0 || want.partition == 0 {
		t.Fatalf("the fleet has %v group rows and %v partition rows of stalled groups in the window: nothing to check", want.group, want.partition)
	}
	return want
}

// checkTopPlan returns what is wrong with a plan of Top: a scan of the raw
// tier, a rollup partition of a month not in months, a rollup scan not
// through the primary key with the group and the hours, rows read and
// discarded, or rows read other than want.
func checkTopPlan(plan planNode, months []string, want topPlanRows) []string {
	var problems []string
	problemf := func(format string, a ...any) { problems = append(problems, fmt.Sprintf(format, a...)) }
	got := map[string]float64{}
	scanned := map[string]bool{}
	plan.walk(func(n *planNode, _ []string) {
		rel := n.RelationName
		if strings.HasPrefix(rel, "raw_polls") {
			problemf("%s on %s: the raw tier is read", n.NodeType, rel)
		}
		table, month, ok := strings.Cut(rel, "_2025")
		if !ok || (table != "group_hourly" && table != "partition_hourly") {
			if strings.Contains(n.IndexName, "_hourly") && n.NodeType == "Bitmap Index Scan" {
				if !strings.HasSuffix(n.IndexName, "_pkey") || !strings.Contains(n.IndexCond, "group_key = ANY") || !strings.Contains(n.IndexCond, "bucket >=") {
					problemf("%s on %s with condition %s: want the primary key with the group keys and the hours", n.NodeType, n.IndexName, n.IndexCond)
				}
			}
			return
		}
		month = "2025" + month
		scanned[month] = true
		if !slices.Contains(months, month) {
			problemf("%s on %s: the window does not overlap the month of %s", n.NodeType, rel, month)
		}
		switch n.NodeType {
		case "Bitmap Heap Scan":
		case "Index Scan", "Index Only Scan":
			if !strings.HasSuffix(n.IndexName, "_pkey") || !strings.Contains(n.IndexCond, "group_key = ANY") || !strings.Contains(n.IndexCond, "bucket >=") {
				problemf("%s on %s with condition %s: want the primary key with the group keys and the hours", n.NodeType, n.IndexName, n.IndexCond)
			}
		default:
			problemf("%s on %s: want a scan of its primary key", n.NodeType, rel)
		}
		if n.RemovedByFilter+n.RemovedByRecheck > 0 {
			problemf("%s on %s read %.0f rows it discarded", n.NodeType, rel, n.RemovedByFilter+n.RemovedByRecheck)
		}
		got[table] += n.ActualRows * n.ActualLoops
	})
	for _, m := range months {
		if !scanned[m] {
			problemf("no scan of the partitions of %s, which the window overlaps", m)
		}
	}
	if got["group_hourly"] != want.group {
		problemf("read %.0f group_hourly rows, want the window's %.0f", got["group_hourly"], want.group)
	}
	if got["partition_hourly"] != want.partition {
		problemf("read %.0f partition_hourly rows, want the %.0f of the window's groups with a stalled hour", got["partition_hourly"], want.partition)
	}
	return problems
}

// TestTopStallUnknown checks hours without stall data, as rollups made
// before migration 000006 whose raw polls are gone have: they count
// nothing, and a group none of whose hours has stall data has no stall
// (nil) and ranks last.
func TestTopStallUnknown(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		// unknown is the group and hours whose stall data is removed.
		group    string
		from, to time.Time
		want     map[string]*float64 // stall by group, for the groups named
		last     string              // the group ranked last, if not by name
	}{
		{"every hour", "stalled", topStart, topStart.Add(3 * time.Hour),
			map[string]*float64{"stalled": nil, "gappy": new(540.0), "idle": new(0.0)}, "stalled"},
		{"the stalled hour", "gappy", topStart, topStart.Add(time.Hour),
			map[string]*float64{"stalled": new(1800.0), "gappy": new(0.0)}, ""},
		{"the other hours", "stalled", topStart.Add(2 * time.Hour), topStart.Add(3 * time.Hour),
			map[string]*float64{"stalled": new(1800.0), "gappy": new(540.0)}, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			ctx := t.Context()
			s, pool := openInternal(t)
			writeTopFleet(ctx, t, s, topFleet())
			for _, table := range []string{"partition_hourly", "group_hourly"} {
				// table is a constant of this test.
				if _, err := pool.Exec(ctx, `
UPDATE lagtrail.`+table+` SET stalled_s = NULL
WHERE group_key = (SELECT group_key FROM lagtrail.group_names WHERE consumer_group = $1) AND bucket >= $2 AND bucket < $3`,
					tt.group, tt.from, tt.to); err != nil {
					t.Fatal(err)
				}
			}
			rows, err := s.Top(ctx, TopQuery{By: TopByStall, Limit: 100, At: topStart.Add(3 * time.Hour), Window: 3 * time.Hour})
			if err != nil {
				t.Fatal(err)
			}
			for _, r := range rows {
				if want, ok := tt.want[r.Group.Group]; ok && !nearPtr(r.Stall, want) {
					t.Errorf("%s: stall %s, want %s", r.Group.Group, fmtPtr(r.Stall), fmtPtr(want))
				}
			}
			if tt.last != "" && rows[len(rows)-1].Group.Group != tt.last {
				t.Errorf("ranked last: %s, want %s", rows[len(rows)-1].Group.Group, tt.last)
			}
		})
	}
}
