package main

import (
	"context"
	"fmt"
	"time"

	"github.com/lagtrail/lagtrail/query"
	"github.com/lagtrail/lagtrail/store"
)

// The project store's answers to the benchmark's fleet and long-range
// questions (Q2, Q3), both served by the rollups.

// projectTopGrowth answers Q2 on the project store: the (at most) 10 groups
// whose total lag grew most over [from, to), from the hourly rollups. It
// returns how many groups it found.
func projectTopGrowth(ctx context.Context, st *store.Store, _ *query.Engine, from, to time.Time) (int, error) {
	top, err := st.TopLagGrowth(ctx, from, to, 10)
	if err != nil {
		return 0, err
	}
	return len(top), nil
}

// projectHourlyRates answers Q3 on the project store: group's consumption
// and production rates for each hour of [from, to), which the query engine
// reads from the hourly rollups. It returns how many hours have a
// consumption rate.
func projectHourlyRates(ctx context.Context, _ *store.Store, eng *query.Engine, group string, from, to time.Time) (int, error) {
	h, err := eng.History(ctx, query.Range{
		Selection: query.Selection{Group: group},
		From:      from, To: to, Step: time.Hour, By: store.LevelGroup,
	})
	if err != nil {
		return 0, fmt.Errorf("hourly rates: %w", err)
	}
	if h.Tier != query.TierRollup {
		return 0, fmt.Errorf("hourly rates: read the %s tier, want the rollups", h.Tier)
	}
	n := 0
	for _, r := range h.Rows {
		if r.ConsumeRate != nil {
			n++
		}
	}
	return n, nil
}
