package store_test

import (
	"context"
	"errors"
	"math"
	"slices"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/lagtrail/lagtrail/store"
)

// capStart is a Monday: the first hour of the capacity tests' rollups.
var capStart = time.Date(2025, 3, 3, 0, 0, 0, 0, time.UTC)

// hourRow is one group_hourly row a test writes.
type hourRow struct {
	at                                time.Time
	p, c                              float64
	lagFirst, lagLast, lagMin, lagMax int64
	timeLagMs                         int64
	noRates                           bool
}

// capacityGroups creates n groups named prefix-0.. in one instance, without
// polls, and returns their refs and keys.
func capacityGroups(t testing.TB, pool *pgxpool.Pool, instance, prefix string, n int) ([]store.GroupRef, []int32) {
	t.Helper()
	ctx := context.Background()
	var ik int32
	err := pool.QueryRow(ctx, `
WITH r AS (
  INSERT INTO lagtrail.regions (name) VALUES ('cn-test') ON CONFLICT (name) DO UPDATE SET name = excluded.name
  RETURNING region_key
)
INSERT INTO lagtrail.instances (region_key, instance_id) SELECT region_key, $1 FROM r RETURNING instance_key`, instance).Scan(&ik)
	if err != nil {
		t.Fatalf("create instance: %v", err)
	}
	rows, err := pool.Query(ctx, `
INSERT INTO lagtrail.consumer_groups (instance_key, name)
SELECT $1, $2 || '-' || i FROM generate_series(0, $3 - 1) i
RETURNING group_key, name`, ik, prefix, n)
	if err != nil {
		t.Fatalf("create groups: %v", err)
	}
	type kn struct {
		Key  int32  `db:"group_key"`
		Name string `db:"name"`
	}
	got, err := pgx.CollectRows(rows, pgx.RowToStructByName[kn])
	if err != nil {
		t.Fatalf("create groups: %v", err)
	}
	refs, keys := make([]store.GroupRef, len(got)), make([]int32, len(got))
	for i, g := range got {
		refs[i], keys[i] = store.GroupRef{Region: "cn-test", InstanceID: instance, Group: g.Name}, g.Key
	}
	return refs, keys
}

// writeHours inserts rows of group key into group_hourly.
func writeHours(t testing.TB, pool *pgxpool.Pool, key int32, rows []hourRow) {
	t.Helper()
	n := len(rows)
	at := make([]time.Time, n)
	p, c := make([]*float64, n), make([]*float64, n)
	lf, ll, lmin, lmax, tl := make([]int64, n), make([]int64, n), make([]int64, n), make([]int64, n), make([]int64, n)
	for i, r := range rows {
		at[i] = r.at
		if !r.noRates {
			p[i], c[i] = &rows[i].p, &rows[i].c
		}
		lf[i], ll[i], lmin[i], lmax[i], tl[i] = r.lagFirst, r.lagLast, r.lagMin, r.lagMax, r.timeLagMs
	}
	_, err := pool.Exec(context.Background(), `
INSERT INTO lagtrail.group_hourly (bucket, group_key, polls, lag_first, lag_last, lag_min, lag_max, time_lag_max_ms, produce_rate, consume_rate)
SELECT x.at, $1, 60, x.lf, x.ll, x.lmin, x.lmax, x.tl, x.p::numeric, x.c::numeric
FROM unnest($2::timestamptz[], $3::float8[], $4::float8[], $5::bigint[], $6::bigint[], $7::bigint[], $8::bigint[], $9::bigint[])
     AS x(at, p, c, lf, ll, lmin, lmax, tl)`, key, at, p, c, lf, ll, lmin, lmax, tl)
	if err != nil {
		t.Fatalf("write hours: %v", err)
	}
}

// seasonalHours is production 100 + 5/week + a fixed hour-of-week shape,
// consumed as produced, with a small lag.
func seasonalHours(from time.Time, hours int) []hourRow {
	rows := make([]hourRow, hours)
	for i := range rows {
		at := from.Add(time.Duration(i) * time.Hour)
		how := (int(at.Weekday())*24 + at.Hour()) % 168
		p := 100 + 5*at.Sub(capStart).Hours()/168 + float64((how*37)%90)
		rows[i] = hourRow{at: at, p: p, c: p, lagFirst: 10, lagLast: 10, lagMin: 10, lagMax: 12, timeLagMs: 1000}
	}
	return rows
}

// burstHours is 3 days at 100/s with a 3-hour burst at 400/s on the
// first two, worked off at 200/s until the lag is gone 6 hours later.
func burstHours(from time.Time) []hourRow {
	var rows []hourRow
	for d := range 3 {
		lag := int64(0)
		for hr := range 24 {
			at := from.Add(time.Duration(d*24+hr) * time.Hour)
			r := hourRow{at: at, p: 100, c: 100, lagFirst: lag, lagLast: lag, lagMin: lag, lagMax: lag}
			if d < 2 && hr >= 10 && hr < 19 {
				switch {
				case hr < 13: // burst: consumption at capacity, lag rising
					r.p, r.c = 400, 200
				default: // draining at capacity
					r.c = 200
				}
				next := max(lag+int64((r.p-r.c)*3600), 0)
				r.lagLast, r.lagMin, r.lagMax = next, min(lag, next), max(lag, next)
				lag = next
			}
			r.timeLagMs = r.lagMax * 10 // 100/s: lag/100 seconds
			rows = append(rows, r)
		}
	}
	rows[5].noRates = true // an hour without counted intervals
	return rows
}

// nearest returns the q quantile of vs by the nearest-rank method.
func nearest(vs []float64, q float64) float64 {
	s := slices.Sorted(slices.Values(vs))
	i := int(math.Ceil(q*float64(len(s)))) - 1
	return s[max(0, min(i, len(s)-1))]
}

// replay replays rates against rate as CapacityProfiles documents it,
// hour by hour in Go: worst backlog, the end of its hour, and when it
// drains (zero when it does not).
func replay(hours []time.Time, rates []float64, rate float64) (worst float64, worstAt, drained time.Time) {
	var s, minS float64
	bs := make([]float64, len(rates))
	wi := -1
	for i, p := range rates {
		s += (p - rate) * 3600
		minS = min(minS, s)
		bs[i] = s - minS
		if wi < 0 || bs[i] > worst {
			worst, wi = bs[i], i
		}
	}
	worstAt = hours[wi].Add(time.Hour)
	for i := wi + 1; i < len(rates) && worst > 0; i++ {
		if bs[i] == 0 {
			return worst, worstAt, hours[i].Add(time.Duration(bs[i-1] / (rate - rates[i]) * float64(time.Second)))
		}
	}
	return worst, worstAt, time.Time{}
}

func TestCapacityProfiles(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	s, pool := newStore(t)
	if _, err := s.EnsurePartitions(ctx, capStart, 23); err != nil {
		t.Fatal(err)
	}
	refs, keys := capacityGroups(t, pool, "alikafka-cap", "g", 4)
	seasonal, burst, short := seasonalHours(capStart, 22*24), burstHours(capStart), seasonalHours(capStart, 30)
	writeHours(t, pool, keys[0], seasonal)
	writeHours(t, pool, keys[1], burst)
	writeHours(t, pool, keys[2], short)
	// keys[3] has no rollups.
	from, to := capStart, capStart.Add(22*24*time.Hour)
	got, err := s.CapacityProfiles(ctx, store.CapacityQuery{
		Groups: refs, From: from, To: to, PeakFrom: to.Add(-7 * 24 * time.Hour),
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 4 {
		t.Fatalf("got %d profiles, want 4", len(got))
	}
	for i, p := range got {
		if p.Group != refs[i] {
			t.Fatalf("profile %d is %v, want %v (ordered by name)", i, p.Group, refs[i])
		}
	}
	// Percentiles and mean against the stored rates, read back.
	for i, p := range got[:3] {
		rows, err := pool.Query(ctx, `SELECT produce_rate::float8 FROM lagtrail.group_hourly WHERE group_key = $1 AND produce_rate IS NOT NULL`, keys[i])
		if err != nil {
			t.Fatal(err)
		}
		vs, err := pgx.CollectRows(rows, pgx.RowTo[float64])
		if err != nil {
			t.Fatal(err)
		}
		if p.Hours != len(vs) {
			t.Errorf("%s: hours %d, want %d", p.Group.Group, p.Hours, len(vs))
		}
		for _, c := range []struct {
			name string
			got  *float64
			want float64
		}{
			{"p50", p.ProduceP50, nearest(vs, 0.5)}, {"p95", p.ProduceP95, nearest(vs, 0.95)},
			{"p99", p.ProduceP99, nearest(vs, 0.99)}, {"max", p.ProduceMax, slices.Max(vs)},
		} {
			if c.got == nil || *c.got != c.want {
				t.Errorf("%s: %s = %v, want %v", p.Group.Group, c.name, deref(c.got), c.want)
			}
		}
	}

	sea := got[0]
	if sea.SeasonHours != 168 || sea.FitHours != 21*24 || sea.FitFrom == nil || !sea.FitFrom.Equal(from.Add(24*time.Hour)) {
		t.Errorf("seasonal: season %d, fit %d hours from %v; want 168, 504 from %v", sea.SeasonHours, sea.FitHours, sea.FitFrom, from.Add(24*time.Hour))
	}
	if sea.GrowthPerWeek == nil || math.Abs(*sea.GrowthPerWeek-5) > 1e-6 {
		t.Errorf("seasonal: growth %v/week, want 5", deref(sea.GrowthPerWeek))
	}
	if sea.BackloggedHours != 0 || sea.Capacity != nil {
		t.Errorf("seasonal: %d backlogged hours, capacity %v; want none", sea.BackloggedHours, deref(sea.Capacity))
	}
	var lastWeekMax float64
	var lastWeekAt time.Time
	for _, r := range seasonal {
		if !r.at.Before(to.Add(-7*24*time.Hour)) && r.p > lastWeekMax {
			lastWeekMax, lastWeekAt = r.p, r.at
		}
	}
	if sea.WeeklyPeak == nil || math.Abs(*sea.WeeklyPeak-lastWeekMax) > 1e-9 || !sea.WeeklyPeakAt.Equal(lastWeekAt) {
		t.Errorf("seasonal: weekly peak %v at %v, want %v at %v", deref(sea.WeeklyPeak), sea.WeeklyPeakAt, lastWeekMax, lastWeekAt)
	}
	if sea.ReplayRate == nil || *sea.ReplayRate != *sea.ConsumeMax || sea.WorstBacklog == nil || *sea.WorstBacklog != 0 || sea.DrainedAt != nil {
		t.Errorf("seasonal: replay at %v (consume max %v): worst %v, drained %v; want the lower bound, no backlog",
			deref(sea.ReplayRate), deref(sea.ConsumeMax), deref(sea.WorstBacklog), sea.DrainedAt)
	}

	b := got[1]
	if b.SeasonHours != 24 || b.BackloggedHours != 10 || b.BackloggedDays != 2 || b.Capacity == nil || *b.Capacity != 200 {
		t.Errorf("burst: season %d, %d backlogged hours on %d days, capacity %v; want 24, 10 on 2, 200",
			b.SeasonHours, b.BackloggedHours, b.BackloggedDays, deref(b.Capacity))
	}
	var bh []time.Time
	var bp []float64
	for _, r := range burst {
		if !r.noRates {
			bh, bp = append(bh, r.at), append(bp, r.p)
		}
	}
	worst, worstAt, drained := replay(bh, bp, 200)
	wantAt := from.Add(13 * time.Hour)
	if worst != 3*200*3600 || !worstAt.Equal(wantAt) || !drained.Equal(from.Add(19*time.Hour)) {
		t.Fatalf("Go replay: worst %v at %v drained %v; the hand count is 2,160,000 at %v drained 6h later", worst, worstAt, drained, wantAt)
	}
	if b.ReplayRate == nil || *b.ReplayRate != 200 || b.WorstBacklog == nil || math.Abs(*b.WorstBacklog-worst) > 1e-6 ||
		!b.WorstBacklogAt.Equal(worstAt) || b.DrainedAt == nil || !b.DrainedAt.Equal(drained) {
		t.Errorf("burst: replay at %v: worst %v at %v, drained %v; want 200: %v at %v, drained %v",
			deref(b.ReplayRate), deref(b.WorstBacklog), b.WorstBacklogAt, b.DrainedAt, worst, worstAt, drained)
	}
	if b.PeakLag == nil || *b.PeakLag != 2_160_000 || !b.PeakLagAt.Equal(from.Add(12*time.Hour)) ||
		b.PeakTimeLag == nil || *b.PeakTimeLag != 21_600 || !b.PeakTimeLagAt.Equal(from.Add(12*time.Hour)) {
		t.Errorf("burst: peak lag %v at %v, time lag %v s at %v; want 2,160,000 and 21,600 s in the hour of 12:00",
			b.PeakLag, b.PeakLagAt, deref(b.PeakTimeLag), b.PeakTimeLagAt)
	}
	if b.WeeklyPeak != nil {
		t.Errorf("burst: weekly peak %v, want none: no hour in the last 7 days", *b.WeeklyPeak)
	}

	sh := got[2]
	if sh.SeasonHours != 0 || sh.FitHours != 30 || sh.GrowthPerWeek == nil {
		t.Errorf("short: season %d, %d hours fitted, growth %v; want no season, 30, a slope", sh.SeasonHours, sh.FitHours, sh.GrowthPerWeek)
	}

	e := got[3]
	if e.Hours != 0 || e.ProduceP99 != nil || e.GrowthPerWeek != nil || e.ReplayRate != nil || e.PeakLag != nil {
		t.Errorf("empty: %+v, want no figures", e)
	}
}

func TestCapacityWeekAndHours(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	s, pool := newStore(t)
	if _, err := s.EnsurePartitions(ctx, capStart, 15); err != nil {
		t.Fatal(err)
	}
	refs, keys := capacityGroups(t, pool, "alikafka-week", "w", 1)
	rows := seasonalHours(capStart, 14*24)
	writeHours(t, pool, keys[0], rows)
	from, to := capStart, capStart.Add(14*24*time.Hour)
	cells, err := s.CapacityWeek(ctx, refs[0], from, to)
	if err != nil {
		t.Fatal(err)
	}
	if len(cells) != 168 || cells[0].Weekday != time.Monday || cells[0].Hour != 0 || cells[167].Weekday != time.Sunday || cells[167].Hour != 23 {
		t.Fatalf("got %d cells from %v %d to %v %d, want 168 from Monday 0 to Sunday 23",
			len(cells), cells[0].Weekday, cells[0].Hour, cells[len(cells)-1].Weekday, cells[len(cells)-1].Hour)
	}
	for _, c := range cells {
		var sum float64
		var n int
		for _, r := range rows {
			if r.at.Weekday() == c.Weekday && r.at.Hour() == c.Hour {
				sum += r.p
				n++
			}
		}
		if c.Hours != n || math.Abs(c.ProduceMean-sum/float64(n)) > 1e-9 || c.ConsumeMean == nil {
			t.Errorf("%v %02d:00: %d hours mean %v, want %d hours mean %v", c.Weekday, c.Hour, c.Hours, c.ProduceMean, n, sum/float64(n))
		}
	}
	hours, err := s.CapacityHours(ctx, refs[0], from.Add(24*time.Hour), from.Add(48*time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	if len(hours) != 24 || !hours[0].Start.Equal(from.Add(24*time.Hour)) || hours[0].ProduceRate == nil ||
		math.Abs(*hours[0].ProduceRate-rows[24].p) > 1e-9 {
		t.Errorf("got %d hours from %v, want 24 from the second day", len(hours), hours[0].Start)
	}
}

func TestCapacityQueryRefusals(t *testing.T) {
	t.Parallel()
	s, _ := newStore(t)
	g := []store.GroupRef{testGroup}
	for _, c := range []struct {
		name string
		q    store.CapacityQuery
	}{
		{"empty window", store.CapacityQuery{Groups: g, From: capStart, To: capStart}},
		{"off the hour", store.CapacityQuery{Groups: g, From: capStart.Add(time.Minute), To: capStart.Add(2 * time.Hour)}},
		{"peak outside", store.CapacityQuery{Groups: g, From: capStart, To: capStart.Add(2 * time.Hour), PeakFrom: capStart.Add(-time.Hour)}},
		{"negative threshold", store.CapacityQuery{Groups: g, From: capStart, To: capStart.Add(2 * time.Hour), Backlog: store.Backlog{Seconds: -1, MinRate: 1}}},
		{"negative minimum rate", store.CapacityQuery{Groups: g, From: capStart, To: capStart.Add(2 * time.Hour), Backlog: store.Backlog{Seconds: 60, MinRate: -1}}},
	} {
		t.Run(c.name, func(t *testing.T) {
			if _, err := s.CapacityProfiles(t.Context(), c.q); !errors.Is(err, store.ErrInvalidRange) {
				t.Errorf("got %v, want ErrInvalidRange", err)
			}
		})
	}
}

// BenchmarkCapacityProfiles profiles 1,000 groups over 30 days of hourly
// rollups (720,000 rows, filled with generate_series: a daily cycle, a
// weekly one, growth, and a daily backlog in a third of the groups) in one
// CapacityProfiles call, as `lagtrail report capacity` does without
// --group.
func BenchmarkCapacityProfiles(b *testing.B) {
	const groups, days = 1000, 30
	ctx := b.Context()
	s, pool := newStore(b)
	if _, err := s.EnsurePartitions(ctx, capStart, days); err != nil {
		b.Fatal(err)
	}
	refs, _ := capacityGroups(b, pool, "alikafka-bench", "bench", groups)
	from, to := capStart, capStart.Add(days*24*time.Hour)
	start := time.Now()
	_, err := pool.Exec(ctx, `
INSERT INTO lagtrail.group_hourly (bucket, group_key, polls, lag_first, lag_last, lag_min, lag_max, time_lag_max_ms, produce_rate, consume_rate)
SELECT t.bucket, g.group_key, 60,
       CASE WHEN backlog THEN 500000 ELSE 50 END, CASE WHEN backlog THEN 400000 ELSE 50 END,
       CASE WHEN backlog THEN 400000 ELSE 40 END, CASE WHEN backlog THEN 500000 ELSE 60 END,
       CASE WHEN backlog THEN 900000 ELSE 1000 END,
       t.p::numeric, (CASE WHEN backlog THEN t.p * 1.3 ELSE t.p END)::numeric
FROM lagtrail.consumer_groups g
CROSS JOIN LATERAL (
  SELECT b AS bucket,
         (100 + g.group_key % 500) * (1 + 0.3 * cos(2 * pi() * extract(hour FROM b AT TIME ZONE 'UTC') / 24))
           * (CASE WHEN extract(isodow FROM b AT TIME ZONE 'UTC') = 1 THEN 1.3 ELSE 1 END)
           * (1 + 0.02 * extract(epoch FROM b - $1::timestamptz) / 604800) * (1 + 0.05 * random()) AS p,
         g.group_key % 3 = 0 AND extract(hour FROM b AT TIME ZONE 'UTC') BETWEEN 13 AND 15 AS backlog
  FROM generate_series($1::timestamptz, $2::timestamptz - interval '1 hour', interval '1 hour') b
) t`, from, to)
	if err != nil {
		b.Fatal(err)
	}
	if _, err := pool.Exec(ctx, `ANALYZE lagtrail.group_hourly, lagtrail.consumer_groups`); err != nil {
		b.Fatal(err)
	}
	b.Logf("filled %d groups x %d days of hourly rollups in %s", groups, days, time.Since(start).Round(time.Millisecond))
	for _, bc := range []struct {
		name   string
		groups []store.GroupRef
	}{
		{"1000 groups", refs},
		{"1 group", refs[:1]},
	} {
		q := store.CapacityQuery{Groups: bc.groups, From: from, To: to, PeakFrom: to.Add(-7 * 24 * time.Hour)}
		ps, err := s.CapacityProfiles(ctx, q)
		if err != nil {
			b.Fatal(err)
		}
		if len(ps) != len(bc.groups) {
			b.Fatalf("got %d profiles, want %d", len(ps), len(bc.groups))
		}
		for _, p := range ps {
			if p.Hours != days*24 || p.GrowthPerWeek == nil || p.ReplayRate == nil {
				b.Fatalf("%s: %d hours, growth %v, replay rate %v", p.Group.Group, p.Hours, p.GrowthPerWeek, p.ReplayRate)
			}
		}
		b.Run(bc.name, func(b *testing.B) {
			for b.Loop() {
				if _, err := s.CapacityProfiles(ctx, q); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
