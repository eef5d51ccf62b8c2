package store_test

import (
	"errors"
	"testing"
	"time"

	"github.com/lagtrail/lagtrail/store"
)

// TestStatusRules checks that each recorded group gets the allowed lag of
// the most specific rule that matches it, in the group_rules view and in
// PartitionStates; that setting rules replaces the old ones; that two rules
// for one target keep the larger; and that a bad rule changes nothing.
func TestStatusRules(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	s, pool := newStore(t)
	g := func(region, instance, group string) store.GroupRef {
		return store.GroupRef{Region: region, InstanceID: instance, Group: group}
	}
	groups := []store.GroupRef{
		g("cn-hangzhou", "i-1", "a"), g("cn-hangzhou", "i-2", "b"), g("cn-hangzhou", "i-2", "c"),
		g("cn-hangzhou", "i-9", "d"), g("cn-shanghai", "i-3", "e"),
	}
	var polls []*store.Poll
	for _, gr := range groups {
		for i := range 3 {
			polls = append(polls, okPoll(gr, day0.Add(time.Duration(i)*time.Minute), 1, 1))
		}
	}
	if _, err := s.WritePolls(ctx, polls); err != nil {
		t.Fatal(err)
	}
	// allowed reads each group's allowed lag from group_rules and from
	// PartitionStates, and fails the test when they differ.
	allowed := func(step string) map[string]int64 {
		t.Helper()
		view := map[string]int64{}
		rows, err := pool.Query(ctx, `SELECT consumer_group, allowed_lag FROM lagtrail.group_rules`)
		if err != nil {
			t.Fatal(err)
		}
		for rows.Next() {
			var name string
			var v int64
			if err := rows.Scan(&name, &v); err != nil {
				t.Fatal(err)
			}
			view[name] = v
		}
		if err := rows.Err(); err != nil {
			t.Fatal(err)
		}
		states, err := s.PartitionStates(ctx, store.AggregateQuery{
			Groups: groups, Edges: []time.Time{day0, day0.Add(time.Hour)}, Lookback: time.Hour, Window: 15 * time.Minute,
		})
		if err != nil {
			t.Fatal(err)
		}
		if len(states) != len(groups) {
			t.Fatalf("%s: %d partition states, want %d", step, len(states), len(groups))
		}
		for _, st := range states {
			if v := view[st.Group.Group]; v != st.AllowedLag {
				t.Errorf("%s: group %s: group_rules says %d, PartitionStates %d", step, st.Group.Group, v, st.AllowedLag)
			}
		}
		return view
	}
	check := func(step string, want map[string]int64) {
		t.Helper()
		got := allowed(step)
		for name, w := range want {
			if got[name] != w {
				t.Errorf("%s: group %s has allowed lag %d, want %d", step, name, got[name], w)
			}
		}
	}

	check("no rules", map[string]int64{"a": 0, "b": 0, "c": 0, "d": 0, "e": 0})

	rules := []store.StatusRule{
		{Region: "cn-hangzhou", AllowedLag: 100},
		{Region: "cn-hangzhou", Instance: "i-1", AllowedLag: 0},
		{Region: "cn-hangzhou", Instance: "i-2", Group: "b", AllowedLag: 7},
		{Region: "cn-hangzhou", Instance: "i-2", Group: "b", AllowedLag: 9},
	}
	if err := s.SetStatusRules(ctx, rules); err != nil {
		t.Fatal(err)
	}
	// a: its instance's 0 beats the region's 100; b: its own rules, the
	// larger; c, d: the region's; e: no rule in its region.
	check("rules set", map[string]int64{"a": 0, "b": 9, "c": 100, "d": 100, "e": 0})

	for _, bad := range []store.StatusRule{
		{Instance: "i-1", AllowedLag: 1},
		{Region: "cn-hangzhou", Group: "a", AllowedLag: 1},
		{Region: "cn-hangzhou", AllowedLag: -1},
	} {
		err := s.SetStatusRules(ctx, []store.StatusRule{{Region: "cn-shanghai", AllowedLag: 5}, bad})
		if !errors.Is(err, store.ErrInvalidRule) {
			t.Errorf("rule %+v: error %v, want ErrInvalidRule", bad, err)
		}
	}
	check("after bad rules", map[string]int64{"a": 0, "b": 9, "c": 100, "d": 100, "e": 0})

	if err := s.SetStatusRules(ctx, []store.StatusRule{{Region: "cn-shanghai", Instance: "i-3", AllowedLag: 3}}); err != nil {
		t.Fatal(err)
	}
	check("rules replaced", map[string]int64{"a": 0, "b": 0, "c": 0, "d": 0, "e": 3})
}
