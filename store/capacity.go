package store

import (
	"context"
	"fmt"
	"time"
)

// CapacityQuery selects the hourly group rollups a capacity report reads.
type CapacityQuery struct {
	// Groups are the groups to profile; unknown ones are left out.
	Groups []GroupRef
	// From and To bound the window, [From, To); both on the hour.
	From, To time.Time
	// PeakFrom starts the stretch [PeakFrom, To) whose highest hourly
	// production is the weekly peak; zero means From.
	PeakFrom time.Time
	// Backlog is the backlog rule: an hour counts as worked off a backlog
	// when its smallest lag was a backlog at the hour's production and its
	// lag fell. Zero means DefaultBacklog.
	Backlog Backlog
}

// validate checks the window and the threshold.
func (q CapacityQuery) validate() error {
	from, to := q.From.UTC(), q.To.UTC()
	switch {
	case !to.After(from):
		return fmt.Errorf("%w: capacity window from %s is not before to %s", ErrInvalidRange, from.Format(time.RFC3339), to.Format(time.RFC3339))
	case !from.Truncate(Hour).Equal(from) || !to.Truncate(Hour).Equal(to):
		return fmt.Errorf("%w: capacity window %s to %s is not on the hour", ErrInvalidRange, from.Format(time.RFC3339), to.Format(time.RFC3339))
	case !q.PeakFrom.IsZero() && (q.PeakFrom.Before(from) || !q.PeakFrom.Before(to)):
		return fmt.Errorf("%w: peak stretch start %s is outside the window", ErrInvalidRange, q.PeakFrom.UTC().Format(time.RFC3339))
	case !(q.Backlog.orDefault().Seconds > 0) || !(q.Backlog.orDefault().MinRate >= 0):
		return fmt.Errorf("%w: backlog rule needs a positive threshold and a minimum rate of at least 0, got %v s and %v/s", ErrInvalidRange, q.Backlog.Seconds, q.Backlog.MinRate)
	}
	return nil
}

// CapacityProfile is what the hourly rollups of one group say about its
// production and the consumption it reached, over a CapacityQuery's
// window. Rates are in messages per second; pointers are nil when the
// window holds nothing to compute them from.
type CapacityProfile struct {
	Group GroupRef
	// Hours is the number of hours with a production rate.
	Hours int
	// ProduceMean is the mean of the hourly production rates;
	// ProduceP50, ProduceP95 and ProduceP99 their nearest-rank
	// percentiles (percentile_disc), ProduceMax the highest.
	ProduceMean, ProduceP50, ProduceP95, ProduceP99, ProduceMax *float64
	// SeasonHours is the length of the seasonal cycle removed before the
	// growth fit: 168 (hour of week) when the group's hours span at least
	// two weeks, 24 (hour of day) when they span at least two days, 0
	// (none) otherwise.
	SeasonHours int
	// FitFrom starts the hours the growth fit reads: the last whole
	// cycles of the group's span (the whole span without a cycle), so that
	// every cell weighs the same.
	FitFrom *time.Time
	// FitHours is the number of hours fitted; FitMean their mean
	// production rate, and FitAt their mean time: the fitted trend passes
	// through FitMean at FitAt.
	FitHours int
	FitMean  *float64
	FitAt    *time.Time
	// GrowthPerWeek is the least-squares slope of the production rate,
	// in messages/s per week, with each cell's mean removed from both
	// the rates and the times (a fixed-effects fit: the cycle neither
	// absorbs nor dilutes the trend). Nil with fewer than two distinct
	// times in some cell.
	GrowthPerWeek *float64
	// ConsumeMax is the highest hourly consumption rate.
	ConsumeMax *float64
	// BackloggedHours counts the hours worked off a backlog (see
	// CapacityQuery.BacklogSeconds), on BackloggedDays distinct UTC days.
	BackloggedHours, BackloggedDays int
	// Capacity is the 90th percentile (percentile_disc) of those hours'
	// consumption rates; nil without such hours.
	Capacity *float64
	// WeeklyPeak is the highest hourly production rate in [PeakFrom, To),
	// in the hour starting at WeeklyPeakAt.
	WeeklyPeak   *float64
	WeeklyPeakAt *time.Time
	// ReplayRate is the consumption rate the window's production was
	// replayed against: Capacity, else ConsumeMax; nil when neither is
	// positive, and then the replay figures are nil too.
	ReplayRate *float64
	// WorstBacklog is the largest backlog of the replay, in messages, at
	// WorstBacklogAt (the end of its hour). The replay's backlog after
	// hour t is S_t - min(0, min_{s<=t} S_s), where S_t sums (production
	// rate - ReplayRate) x 3600 over the hours up to t.
	WorstBacklog   *float64
	WorstBacklogAt *time.Time
	// DrainedAt is when the replay's backlog first fell back to zero
	// after WorstBacklogAt, interpolated within its hour; nil when it did
	// not within the window, or when WorstBacklog is zero.
	DrainedAt *time.Time
	// PeakLag is the largest total lag sampled, in messages, in the hour
	// starting at PeakLagAt.
	PeakLag   *int64
	PeakLagAt *time.Time
	// PeakTimeLag is the largest time lag sampled, in seconds, in the
	// hour starting at PeakTimeLagAt; nil when the API hid every
	// timestamp.
	PeakTimeLag   *float64
	PeakTimeLagAt *time.Time
}

// CapacityProfiles profiles each of q's known groups from the hourly
// rollups (lagtrail.group_hourly) in one statement: production
// percentiles, the deseasonalised growth fit, the consumption seen while a
// backlog was being worked off, the weekly peak, a replay of the window's
// production against that consumption, and the peak lag and time lag. The
// aggregation runs in PostgreSQL; one row per group comes back, ordered by
// group name, region and instance, groups without rollups in the window
// included (with Hours 0).
func (s *Store) CapacityProfiles(ctx context.Context, q CapacityQuery) ([]CapacityProfile, error) {
	if err := q.validate(); err != nil {
		return nil, fmt.Errorf("capacity profiles: %w", err)
	}
	keys, err := s.groupKeys(ctx, q.Groups)
	if err != nil || len(keys) == 0 {
		return nil, wrapRead("capacity profiles", err)
	}
	peakFrom := q.PeakFrom
	if peakFrom.IsZero() {
		peakFrom = q.From
	}
	rows, err := collectAnalytic[capacityRow](ctx, s, capacityProfilesSQL,
		[]any{keys, q.From.UTC(), q.To.UTC(), q.Backlog.orDefault().Seconds, peakFrom.UTC(), q.Backlog.orDefault().MinRate})
	if err != nil {
		return nil, fmt.Errorf("capacity profiles: %w", err)
	}
	out := make([]CapacityProfile, len(rows))
	for i, r := range rows {
		out[i] = r.profile()
	}
	return out, nil
}

// CapacityCell is one hour-of-week cell of a group's production profile.
type CapacityCell struct {
	// Weekday and Hour place the cell in the UTC week.
	Weekday time.Weekday
	Hour    int
	// Hours is the number of hours averaged.
	Hours int
	// ProduceMean and ConsumeMean are the mean hourly rates of the cell,
	// in messages per second; ConsumeMean is nil when no hour of the cell
	// had a consumption rate.
	ProduceMean float64
	ConsumeMean *float64
}

// CapacityWeek returns the hour-of-week cells of g's production in
// [from, to) (UTC, both on the hour) that hold hours with a production
// rate, Monday 00:00 first.
func (s *Store) CapacityWeek(ctx context.Context, g GroupRef, from, to time.Time) ([]CapacityCell, error) {
	key, ok, err := s.capacityKey(ctx, g, from, to)
	if err != nil || !ok {
		return nil, wrapRead("capacity week", err)
	}
	rows, err := collect[capacityCellRow](ctx, s, capacityWeekSQL, []any{key, from.UTC(), to.UTC()})
	if err != nil {
		return nil, fmt.Errorf("capacity week: %w", err)
	}
	out := make([]CapacityCell, len(rows))
	for i, r := range rows {
		out[i] = CapacityCell{Weekday: time.Weekday(r.Dow), Hour: r.Hour, Hours: r.Hours, ProduceMean: r.ProduceMean, ConsumeMean: r.ConsumeMean}
	}
	return out, nil
}

// CapacityHour is one hourly rollup row of a group, as capacity charts
// draw it.
type CapacityHour struct {
	// Start is the hour's start.
	Start time.Time
	// ProduceRate and ConsumeRate are in messages per second.
	ProduceRate, ConsumeRate *float64
	// LagMax is the largest total lag sampled in the hour.
	LagMax *int64
}

// CapacityHours returns g's hourly rollup rows in [from, to) (both on the
// hour), in time order; hours without a row are absent.
func (s *Store) CapacityHours(ctx context.Context, g GroupRef, from, to time.Time) ([]CapacityHour, error) {
	key, ok, err := s.capacityKey(ctx, g, from, to)
	if err != nil || !ok {
		return nil, wrapRead("capacity hours", err)
	}
	rows, err := collect[capacityHourRow](ctx, s, capacityHoursSQL, []any{key, from.UTC(), to.UTC()})
	if err != nil {
		return nil, fmt.Errorf("capacity hours: %w", err)
	}
	out := make([]CapacityHour, len(rows))
	for i, r := range rows {
		out[i] = CapacityHour{Start: r.Bucket.UTC(), ProduceRate: r.ProduceRate, ConsumeRate: r.ConsumeRate, LagMax: r.LagMax}
	}
	return out, nil
}

// capacityKey validates a one-group window and returns the group's key;
// ok is false for an unknown group.
func (s *Store) capacityKey(ctx context.Context, g GroupRef, from, to time.Time) (int32, bool, error) {
	if err := (CapacityQuery{From: from, To: to}).validate(); err != nil {
		return 0, false, err
	}
	keys, err := s.groupKeys(ctx, []GroupRef{g})
	if err != nil || len(keys) == 0 {
		return 0, false, err
	}
	return keys[0], true, nil
}

type (
	capacityRow struct {
		Region          string     `db:"region"`
		InstanceID      string     `db:"instance_id"`
		ConsumerGroup   string     `db:"consumer_group"`
		Hours           int        `db:"hours"`
		ProduceMean     *float64   `db:"p_mean"`
		ProduceP50      *float64   `db:"p50"`
		ProduceP95      *float64   `db:"p95"`
		ProduceP99      *float64   `db:"p99"`
		ProduceMax      *float64   `db:"p_max"`
		SeasonHours     int        `db:"season"`
		FitFrom         *time.Time `db:"fit_from"`
		FitHours        int        `db:"fit_hours"`
		FitMean         *float64   `db:"fit_mean"`
		FitAt           *time.Time `db:"fit_at"`
		GrowthPerWeek   *float64   `db:"slope"`
		ConsumeMax      *float64   `db:"c_max"`
		BackloggedHours int        `db:"bl_hours"`
		BackloggedDays  int        `db:"bl_days"`
		Capacity        *float64   `db:"capacity"`
		WeeklyPeak      *float64   `db:"peak"`
		WeeklyPeakAt    *time.Time `db:"peak_at"`
		ReplayRate      *float64   `db:"replay_rate"`
		WorstBacklog    *float64   `db:"worst"`
		WorstBacklogAt  *time.Time `db:"worst_at"`
		DrainedAt       *time.Time `db:"drained_at"`
		PeakLag         *int64     `db:"lag_peak"`
		PeakLagAt       *time.Time `db:"lag_peak_at"`
		PeakTimeLagMs   *int64     `db:"tl_peak_ms"`
		PeakTimeLagAt   *time.Time `db:"tl_peak_at"`
	}
	capacityCellRow struct {
		Dow         int      `db:"dow"`
		Hour        int      `db:"hour"`
		Hours       int      `db:"hours"`
		ProduceMean float64  `db:"p_mean"`
		ConsumeMean *float64 `db:"c_mean"`
	}
	capacityHourRow struct {
		Bucket      time.Time `db:"bucket"`
		ProduceRate *float64  `db:"p"`
		ConsumeRate *float64  `db:"c"`
		LagMax      *int64    `db:"lag_max"`
	}
)

func (r capacityRow) profile() CapacityProfile {
	p := CapacityProfile{
		Group: GroupRef{Region: r.Region, InstanceID: r.InstanceID, Group: r.ConsumerGroup},
		Hours: r.Hours, ProduceMean: r.ProduceMean, ProduceP50: r.ProduceP50, ProduceP95: r.ProduceP95,
		ProduceP99: r.ProduceP99, ProduceMax: r.ProduceMax,
		SeasonHours: r.SeasonHours, FitFrom: utcPtr(r.FitFrom), FitHours: r.FitHours, FitMean: r.FitMean,
		FitAt: utcPtr(r.FitAt), GrowthPerWeek: r.GrowthPerWeek,
		ConsumeMax: r.ConsumeMax, BackloggedHours: r.BackloggedHours, BackloggedDays: r.BackloggedDays,
		Capacity: r.Capacity, WeeklyPeak: r.WeeklyPeak, WeeklyPeakAt: utcPtr(r.WeeklyPeakAt),
		ReplayRate: r.ReplayRate, WorstBacklog: r.WorstBacklog, WorstBacklogAt: utcPtr(r.WorstBacklogAt),
		DrainedAt: utcPtr(r.DrainedAt), PeakLag: r.PeakLag, PeakLagAt: utcPtr(r.PeakLagAt),
		PeakTimeLagAt: utcPtr(r.PeakTimeLagAt),
	}
	if r.PeakTimeLagMs != nil {
		v := float64(*r.PeakTimeLagMs) / 1000
		p.PeakTimeLag = &v
	}
	return p
}
