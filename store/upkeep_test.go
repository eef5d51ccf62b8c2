package store_test

import (
	"errors"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/lagtrail/lagtrail/internal/pgtest"
	"github.com/lagtrail/lagtrail/store"
)

// Retention drops whole expired partitions of each tier: raw days after 14
// days, hourly rollup months after 30 days here, daily rollups never; fresh
// data stays, and partitions are made ahead.
func TestUpkeepRetention(t *testing.T) {
	t.Parallel()
	s, pool := newStore(t)
	ctx := t.Context()
	now := day0.Add(12 * time.Hour)
	for _, back := range []int{53, 20, 15, 14, 13, 0} {
		at := day0.AddDate(0, 0, -back).Add(time.Hour)
		if err := s.WritePoll(ctx, okPoll(testGroup, at, 1, 2)); err != nil {
			t.Fatalf("WritePoll %d days back: %v", back, err)
		}
	}
	cfg := store.UpkeepConfig{RawRetentionDays: 14, HourlyRetentionDays: 30, DaysAhead: 2}
	res, err := s.Upkeep(ctx, cfg, now)
	if err != nil || !res.Leader {
		t.Fatalf("Upkeep: %+v, %v", res, err)
	}
	if res.Rollups.Hours != 6 || res.Rollups.Pending != 0 {
		t.Errorf("Upkeep rolled up %+v, want the 6 hours polled", res.Rollups)
	}
	if res.Now.Groups != 1 || res.Now.Rows != 2 {
		t.Errorf("Upkeep refreshed the now-state of %+v, want the group polled and its 2 partitions", res.Now)
	}
	// Kept: today and the 13 days before it; the hourly rollups of
	// February (its end is less than 30 days ago) but not January's.
	want := []string{
		"group_hourly_20250101", "partition_hourly_20250101",
		"raw_polls_20250120", "raw_polls_20250222", "raw_polls_20250227", "raw_polls_20250228",
	}
	slices.Sort(res.Dropped)
	if !slices.Equal(res.Dropped, want) {
		t.Errorf("dropped %v, want %v", res.Dropped, want)
	}
	var names []string
	rows, err := pool.Query(ctx, `SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
		JOIN pg_class p ON p.oid = i.inhparent WHERE p.relname = 'raw_polls' ORDER BY 1`)
	if err != nil {
		t.Fatal(err)
	}
	for rows.Next() {
		var n string
		if err := rows.Scan(&n); err != nil {
			t.Fatal(err)
		}
		names = append(names, n)
	}
	for _, want := range []string{"raw_polls_20250301", "raw_polls_20250314", "raw_polls_20250316"} {
		if !slices.Contains(names, want) {
			t.Errorf("partition %s missing; have %v", want, names)
		}
	}
	for _, gone := range want {
		var n int
		if err := pool.QueryRow(ctx, `SELECT count(*) FROM pg_class WHERE relname = $1`, gone).Scan(&n); err != nil || n != 0 {
			t.Errorf("table %s still exists (%d, %v)", gone, n, err)
		}
	}
	samples, err := s.ReadPartitionOffsets(ctx, store.Range{})
	if err != nil {
		t.Fatal(err)
	}
	var days []string
	for _, smp := range samples {
		if d := smp.SampledAt.Format("0102"); !slices.Contains(days, d) {
			days = append(days, d)
		}
	}
	slices.Sort(days)
	if !slices.Equal(days, []string{"0301", "0314"}) {
		t.Errorf("samples left on days %v, want 0301 and 0314", days)
	}
	// Rollups: the hourly rows of February stay, January's are gone; the
	// daily rows of every polled day stay.
	var hourly, daily []string
	for _, q := range []struct {
		sql string
		out *[]string
	}{
		{`SELECT to_char(bucket AT TIME ZONE 'UTC', 'MMDD') FROM lagtrail.group_lag_hourly ORDER BY 1`, &hourly},
		{`SELECT to_char(bucket AT TIME ZONE 'UTC', 'MMDD') FROM lagtrail.group_lag_daily ORDER BY 1`, &daily},
	} {
		rows, err := pool.Query(ctx, q.sql)
		if err != nil {
			t.Fatal(err)
		}
		for rows.Next() {
			var d string
			if err := rows.Scan(&d); err != nil {
				t.Fatal(err)
			}
			*q.out = append(*q.out, d)
		}
	}
	if wantHourly := []string{"0222", "0227", "0228", "0301", "0314"}; !slices.Equal(hourly, wantHourly) {
		t.Errorf("hourly rollups on days %v, want %v", hourly, wantHourly)
	}
	if wantDaily := []string{"0120", "0222", "0227", "0228", "0301", "0314"}; !slices.Equal(daily, wantDaily) {
		t.Errorf("daily rollups on days %v, want %v", daily, wantDaily)
	}
	// Running it again drops nothing more.
	if res, err := s.Upkeep(ctx, cfg, now); err != nil || len(res.Dropped) != 0 || res.Created != 0 {
		t.Errorf("second Upkeep: %+v, %v", res, err)
	}
}

// TestUpkeepDropsExpiredNowState checks that the now-state of a group
// whose last successful poll left the raw tier goes with it, as it did when
// the status views evaluated every read, and other groups' stays.
func TestUpkeepDropsExpiredNowState(t *testing.T) {
	t.Parallel()
	s, pool := newStore(t)
	ctx := t.Context()
	gone := store.GroupRef{Region: testGroup.Region, InstanceID: testGroup.InstanceID, Group: "gone"}
	for g, back := range map[store.GroupRef]int{testGroup: 0, gone: 20} {
		if err := s.WritePoll(ctx, okPoll(g, day0.AddDate(0, 0, -back).Add(time.Hour), 1, 2)); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := s.RefreshNow(ctx); err != nil {
		t.Fatal(err)
	}
	if res, err := s.Upkeep(ctx, store.UpkeepConfig{RawRetentionDays: 14, HourlyRetentionDays: 30}, day0.Add(12*time.Hour)); err != nil || !res.Leader {
		t.Fatalf("Upkeep: %+v, %v", res, err)
	}
	kept := textRows(t, pool, `SELECT consumer_group || '/' || partition FROM lagtrail.partition_status ORDER BY 1`)
	groups := textRows(t, pool, `SELECT consumer_group FROM lagtrail.group_status ORDER BY 1`)
	if want := []string{testGroup.Group + "/0", testGroup.Group + "/1"}; !slices.Equal(kept, want) || !slices.Equal(groups, []string{testGroup.Group}) {
		t.Errorf("after upkeep: partition_status %v, group_status %v; want %v and [%s]", kept, groups, want, testGroup.Group)
	}
}

// Two stores on one database: exactly one does upkeep, however often both
// try, until it closes; then the other takes over.
func TestUpkeepOneLeader(t *testing.T) {
	t.Parallel()
	_, url := pgtest.Pool(t)
	open := func() *store.Store {
		s, err := store.Open(t.Context(), store.Config{DatabaseURL: url}, testLogger(t))
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	a, b := open(), open()
	defer b.Close()
	var mu sync.Mutex
	led := map[*store.Store]int{}
	var wg sync.WaitGroup
	for _, s := range []*store.Store{a, b, a, b} {
		wg.Go(func() {
			for range 10 {
				res, err := s.Upkeep(t.Context(), store.UpkeepConfig{}, day0)
				if err != nil {
					t.Errorf("Upkeep: %v", err)
					return
				}
				if res.Leader {
					mu.Lock()
					led[s]++
					mu.Unlock()
				}
			}
		})
	}
	wg.Wait()
	if len(led) != 1 || (led[a] != 20 && led[b] != 20) {
		t.Fatalf("leader runs per store %v, want one store leading all 20 of its runs", led)
	}
	leader, other := a, b
	if led[b] > 0 {
		leader, other = b, a
	}
	leader.Close()
	res, err := other.Upkeep(t.Context(), store.UpkeepConfig{}, day0)
	if err != nil || !res.Leader {
		t.Errorf("after the leader closed: %+v, %v; want the other store to lead", res, err)
	}
	if other == b {
		a.Close()
	}
}

func TestUpkeepConfigValidate(t *testing.T) {
	t.Parallel()
	for _, c := range []store.UpkeepConfig{{DaysAhead: -1}, {DaysAhead: 366}, {RawRetentionDays: -3}, {HourlyRetentionDays: -1}, {RawRetentionDays: 30, HourlyRetentionDays: 20}} {
		if err := c.Validate(); !errors.Is(err, store.ErrInvalidConfig) {
			t.Errorf("%+v: %v, want ErrInvalidConfig", c, err)
		}
	}
	if err := (store.UpkeepConfig{}).Validate(); err != nil {
		t.Errorf("defaults: %v", err)
	}
}
