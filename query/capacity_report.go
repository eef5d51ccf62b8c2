package query

import (
	"context"
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"

	"github.com/lagtrail/lagtrail/store"
)

// Capacity report windows.
const (
	// DefaultCapacityWindow is CapacityRequest.Window's default.
	DefaultCapacityWindow = 30 * 24 * time.Hour
	// MinCapacityWindow is the shortest window: one day, so that the
	// hourly profile holds every hour of the day.
	MinCapacityWindow = 24 * time.Hour
	// MaxCapacityWindow is the longest window.
	MaxCapacityWindow = 366 * 24 * time.Hour
	// PeakStretch is the stretch at the end of the window whose busiest
	// hour is the weekly peak.
	PeakStretch = 7 * 24 * time.Hour
	// TightHeadroom is the headroom below which a group that keeps up is
	// "tight": less than 20% spare at its p99 hour.
	TightHeadroom = 1.2
	// MaxProjection is how far ahead a projection gives a date.
	MaxProjection = 5 * 365 * 24 * time.Hour
	// capacityWeek is the unit of growth.
	capacityWeek = 7 * 24 * time.Hour
)

// CapacityRequest asks whether groups can absorb their peaks.
type CapacityRequest struct {
	// Selection picks the groups (Group empty: every recorded group).
	// Topic and Partition must be empty: capacity is a whole group's.
	Selection
	// At ends the window; it is truncated to the hour (UTC).
	At time.Time
	// Window is the window's length: whole hours, MinCapacityWindow to
	// MaxCapacityWindow. Zero is refused, not defaulted.
	Window time.Duration
	// Detail also reads each group's hour-of-week profile and hourly
	// rows (GroupCapacity.Week and Hourly), for charts.
	Detail bool
}

// Validate checks the request without reading anything; its errors wrap
// ErrInvalidRequest.
func (r CapacityRequest) Validate() error {
	w := r.Window
	switch {
	case w <= 0:
		return fmt.Errorf("%w: --window must be positive, got %s", ErrInvalidRequest, w)
	case w < MinCapacityWindow:
		return fmt.Errorf("%w: --window %s is too short: a capacity report needs at least %s of hourly rollups, so that its hour-of-day profile holds every hour",
			ErrInvalidRequest, w, MinCapacityWindow)
	case w > MaxCapacityWindow:
		return fmt.Errorf("%w: --window %s is too long: at most 366d", ErrInvalidRequest, w)
	case w%time.Hour != 0:
		return fmt.Errorf("%w: --window must be whole hours (the rollups are hourly), got %s", ErrInvalidRequest, w)
	case r.At.IsZero():
		return fmt.Errorf("%w: capacity report needs the end of its window (--at)", ErrInvalidRequest)
	case r.Topic != "" || r.Partition != nil:
		return fmt.Errorf("%w: capacity reports cover whole groups: no topic or partition", ErrInvalidRequest)
	}
	return nil
}

// Bounds returns the window [from, to): to is At truncated to the hour.
func (r CapacityRequest) Bounds() (from, to time.Time) {
	to = r.At.UTC().Truncate(time.Hour)
	return to.Add(-r.Window), to
}

// CapacityReport answers a CapacityRequest.
type CapacityReport struct {
	// From and To are the window, [From, To), whole UTC hours.
	From, To time.Time
	// PeakFrom starts the stretch [PeakFrom, To) of the weekly peak.
	PeakFrom time.Time
	// BacklogSeconds is the backlog threshold (query.BacklogSeconds).
	BacklogSeconds float64
	// Groups are ordered by group name, region and instance.
	Groups []GroupCapacity
}

// Confidence says how well a group's capacity is known.
type Confidence string

// The confidence levels, from the backlogged hours the capacity rests on
// and the distinct UTC days they fall on (see CapacityConfidence).
const (
	ConfidenceNone   Confidence = "none"
	ConfidenceLow    Confidence = "low"
	ConfidenceMedium Confidence = "medium"
	ConfidenceHigh   Confidence = "high"
)

// CapacityConfidence rates the observed capacity: none without a
// backlogged hour; high with at least 12 hours on at least 3 days;
// medium with at least 4 hours on at least 2 days; low otherwise (a single
// day, or a few hours).
func CapacityConfidence(hours, days int) Confidence {
	switch {
	case hours <= 0:
		return ConfidenceNone
	case hours >= 12 && days >= 3:
		return ConfidenceHigh
	case hours >= 4 && days >= 2:
		return ConfidenceMedium
	}
	return ConfidenceLow
}

// Verdict answers "can this group absorb its peak?".
type Verdict string

// The verdicts (see HeadroomVerdict).
const (
	// VerdictInsufficient: capacity below the p99 hourly production; a
	// backlog builds at the weekly peak.
	VerdictInsufficient Verdict = "insufficient"
	// VerdictTight: it keeps up, with less than 20% spare at the p99 hour.
	VerdictTight Verdict = "tight"
	// VerdictOK: at least 20% spare at the p99 hour.
	VerdictOK Verdict = "ok"
	// VerdictUnknown: the capacity was never seen (only a lower bound),
	// or there is no production to compare it with.
	VerdictUnknown Verdict = "unknown"
)

// HeadroomVerdict judges headroom (capacity ÷ p99 hourly production):
// unknown when the capacity's confidence is none or the headroom is not a
// positive number; insufficient below 1; tight below TightHeadroom; ok
// otherwise.
func HeadroomVerdict(headroom float64, c Confidence) Verdict {
	switch {
	case c == ConfidenceNone || c == "" || math.IsNaN(headroom) || math.IsInf(headroom, 0) || headroom <= 0:
		return VerdictUnknown
	case headroom < 1:
		return VerdictInsufficient
	case headroom < TightHeadroom:
		return VerdictTight
	}
	return VerdictOK
}

// ProjectionStatus says what a projection found.
type ProjectionStatus string

// The projection statuses (see ProjectPeak).
const (
	// ProjectionAlready: the weekly peak already reaches the capacity.
	ProjectionAlready ProjectionStatus = "already"
	// ProjectionDate: the weekly peak exceeds the capacity at Projection.At.
	ProjectionDate ProjectionStatus = "date"
	// ProjectionBeyond: it would, but more than MaxProjection ahead.
	ProjectionBeyond ProjectionStatus = "beyond 5 years"
	// ProjectionNotOnTrend: production does not grow.
	ProjectionNotOnTrend ProjectionStatus = "not on the current trend"
	// ProjectionUnknown: no capacity, weekly peak or growth to project.
	ProjectionUnknown ProjectionStatus = "unknown"
	// ProjectionNoHistory: the growth is unknown, with under
	// MinGrowthHours of history (see GroupCapacity.GrowthNote).
	ProjectionNoHistory ProjectionStatus = "not enough history"
)

// MinGrowthHours is the fewest fitted hours a growth figure needs: two
// weeks, so that a weekly cycle cannot pass for growth. With fewer the
// growth, the peak growth and the projection say "not enough history".
const MinGrowthHours = 14 * 24

// NotEnoughHistory is what every format shows for a figure the history
// cannot support.
const NotEnoughHistory = "not enough history"

// Projection is when the weekly peak outgrows the capacity.
type Projection struct {
	Status ProjectionStatus
	// At is the start of the first weekly peak hour that exceeds the
	// capacity (ProjectionDate only).
	At time.Time
	// Weeks is how many weekly recurrences after the observed peak that is.
	Weeks int
}

// ProjectPeak projects when a weekly peak of peak messages/s, seen in the
// hour starting at peakAt, exceeds capacity. growth is the production
// trend's growth per week as a fraction of the trend's level at peakAt;
// the peak is taken to grow in proportion, by growth × peak each week, and
// to recur at the same hour of the week. It returns ProjectionUnknown
// without a positive capacity and peak, ProjectionAlready when peak >=
// capacity, ProjectionUnknown with a NaN growth, ProjectionNotOnTrend when
// growth <= 0, ProjectionBeyond past MaxProjection, and otherwise the
// first recurrence k (k = floor((capacity/peak - 1) / growth) + 1 weeks
// after peakAt) whose peak exceeds capacity.
func ProjectPeak(peak float64, peakAt time.Time, capacity, growth float64) Projection {
	switch {
	case !(capacity > 0) || !(peak > 0) || peakAt.IsZero() || math.IsInf(capacity, 0):
		return Projection{Status: ProjectionUnknown}
	case peak >= capacity:
		return Projection{Status: ProjectionAlready}
	case math.IsNaN(growth):
		return Projection{Status: ProjectionUnknown}
	case growth <= 0:
		return Projection{Status: ProjectionNotOnTrend}
	}
	weeks := (capacity/peak - 1) / growth
	if weeks*float64(capacityWeek) >= float64(MaxProjection) {
		return Projection{Status: ProjectionBeyond}
	}
	k := int(math.Floor(weeks)) + 1
	return Projection{Status: ProjectionDate, At: peakAt.Add(time.Duration(k) * capacityWeek), Weeks: k}
}

// DrainStatus says how the replay's worst backlog ended.
type DrainStatus string

// The drain statuses (see DrainAfterBurst).
const (
	// DrainNone: the replay never built a backlog.
	DrainNone DrainStatus = "no backlog"
	// DrainReplayed: the backlog drained within the window.
	DrainReplayed DrainStatus = "drained"
	// DrainEstimated: it had not drained by the window's end; the time is
	// backlog ÷ (rate - p50 production).
	DrainEstimated DrainStatus = "estimate"
	// DrainNever: it had not drained and the rate does not exceed the
	// p50 production, so it would not.
	DrainNever DrainStatus = "never"
	// DrainUnknown: no rate to replay against.
	DrainUnknown DrainStatus = "unknown"
)

// BurstDrain is the replay of the window's hourly production against a
// consumption rate: the worst backlog the window's bursts would build and
// how long it takes to work off.
type BurstDrain struct {
	Status DrainStatus
	// Rate is the consumption rate replayed, messages/s: the observed
	// capacity, or the highest consumption seen when the capacity is
	// unknown (RateIsLowerBound; the backlog is then an upper bound).
	Rate             float64
	RateIsLowerBound bool
	// Worst is the largest backlog, in messages, at WorstAt.
	Worst   float64
	WorstAt time.Time
	// Seconds is how long the worst backlog took to drain in the replay
	// (DrainReplayed, until DrainedAt) or the estimate (DrainEstimated).
	Seconds   float64
	DrainedAt time.Time
}

// DrainAfterBurst classifies a replay's outcome: worst backlog at worstAt,
// drained at drainedAt (nil when it did not drain in the window), replayed
// against rate, with p50 the median hourly production.
func DrainAfterBurst(worst float64, worstAt time.Time, drainedAt *time.Time, rate, p50 float64) BurstDrain {
	d := BurstDrain{Rate: rate, Worst: worst, WorstAt: worstAt}
	switch {
	case !(rate > 0):
		d.Status = DrainUnknown
	case !(worst > 0):
		d.Status, d.Worst = DrainNone, 0
	case drainedAt != nil:
		d.Status, d.DrainedAt, d.Seconds = DrainReplayed, *drainedAt, drainedAt.Sub(worstAt).Seconds()
	case rate > p50:
		d.Status, d.Seconds = DrainEstimated, worst/(rate-p50)
	default:
		d.Status = DrainNever
	}
	return d
}

// GrowthPercent returns a slope (messages/s per week) as a percentage of
// a level (messages/s); NaN when the level is not positive.
func GrowthPercent(slope, level float64) float64 {
	if !(level > 0) {
		return math.NaN()
	}
	return 100 * slope / level
}

// GroupCapacity is one group's capacity report. Rates are messages per
// second; NaN where there is nothing to compute a figure from.
type GroupCapacity struct {
	Group store.GroupRef
	// Hours is the number of hours with a production rate.
	Hours int
	// ProduceMean, ProduceP50, ProduceP95, ProduceP99 and ProduceMax are
	// over the hourly production rates (nearest rank).
	ProduceMean, ProduceP50, ProduceP95, ProduceP99, ProduceMax float64
	// Season is how the growth fit was deseasonalised: "hour of week",
	// "hour of day" or "none".
	Season string
	// FitFrom and FitHours are the hours fitted: the last whole weeks
	// (or days) of the group's hours.
	FitFrom  time.Time
	FitHours int
	// GrowthPerWeek is the production trend's slope, messages/s per
	// week; GrowthPercent is it as a percentage of the mean production of
	// the fitted hours.
	GrowthPerWeek, GrowthPercent float64
	// Capacity is the observed capacity: the 90th percentile of the
	// hourly consumption over the backlogged hours (lag above
	// BacklogSeconds of the hour's production all hour, and falling).
	// NaN when Confidence is none.
	Capacity float64
	// BackloggedHours and BackloggedDays are what the capacity rests on.
	BackloggedHours, BackloggedDays int
	Confidence                      Confidence
	// ConsumeMax is the highest hourly consumption: a lower bound of the
	// capacity.
	ConsumeMax float64
	// Headroom is Capacity ÷ ProduceP99, or ConsumeMax ÷ ProduceP99 when
	// the capacity is unknown (HeadroomIsLowerBound).
	Headroom             float64
	HeadroomIsLowerBound bool
	Verdict              Verdict
	// WeeklyPeak is the highest hourly production in the window's last
	// 7 days, in the hour starting at WeeklyPeakAt.
	WeeklyPeak   float64
	WeeklyPeakAt time.Time
	// PeakGrowthPercent is the growth scaled to the weekly peak: the
	// trend's slope as a percentage of its level at WeeklyPeakAt.
	PeakGrowthPercent float64
	// GrowthNote is empty when the growth figures are known; otherwise it
	// says why they are NaN: NotEnoughHistory and the hours fitted.
	GrowthNote string
	// Projection is when the weekly peak exceeds Capacity on the trend.
	Projection Projection
	// Drain replays the window's production against the capacity.
	Drain BurstDrain
	// PeakLag is the largest total lag sampled (messages) and
	// PeakTimeLag the largest time lag (seconds), each in the hour
	// starting at its At; nil when not recorded.
	PeakLag       *int64
	PeakLagAt     time.Time
	PeakTimeLag   *float64
	PeakTimeLagAt time.Time
	// Summary is the verdict in one sentence.
	Summary string
	// Week and Hourly are filled with CapacityRequest.Detail: the
	// hour-of-week cells and the hourly rows of the window.
	Week   []store.CapacityCell
	Hourly []store.CapacityHour
}

// CapacityReport profiles the selected groups (every recorded group
// without Group) over the window from the hourly rollups: production
// percentiles and growth, observed capacity and its confidence, headroom
// and verdict, the projection, the drain replay and the peak lags. The
// figures of all groups come from one aggregate query.
func (e *Engine) CapacityReport(ctx context.Context, req CapacityRequest) (*CapacityReport, error) {
	if err := req.Validate(); err != nil {
		return nil, err
	}
	src := e.src
	groups, err := e.resolve(ctx, req.Selection)
	if err != nil {
		return nil, err
	}
	from, to := req.Bounds()
	peakFrom := to.Add(-PeakStretch)
	if peakFrom.Before(from) {
		peakFrom = from
	}
	profiles, err := src.CapacityProfiles(ctx, store.CapacityQuery{
		Groups: groups, From: from, To: to, PeakFrom: peakFrom, Backlog: store.DefaultBacklog,
	})
	if err != nil {
		return nil, fmt.Errorf("capacity report: %w", err)
	}
	rep := &CapacityReport{From: from, To: to, PeakFrom: peakFrom, BacklogSeconds: BacklogSeconds}
	for _, p := range profiles {
		g := CapacityOf(p)
		if req.Detail && p.Hours > 0 {
			if g.Week, err = src.CapacityWeek(ctx, p.Group, from, to); err != nil {
				return nil, fmt.Errorf("capacity report: %w", err)
			}
			if g.Hourly, err = src.CapacityHours(ctx, p.Group, from, to); err != nil {
				return nil, fmt.Errorf("capacity report: %w", err)
			}
		}
		rep.Groups = append(rep.Groups, g)
	}
	e.log.Debug("capacity report", "groups", len(rep.Groups), "from", from, "to", to)
	return rep, nil
}

// CapacityOf turns a group's rollup profile into its report: confidence,
// headroom and verdict, growth in percent, projection and drain.
func CapacityOf(p store.CapacityProfile) GroupCapacity {
	g := GroupCapacity{
		Group: p.Group, Hours: p.Hours,
		ProduceMean: val(p.ProduceMean), ProduceP50: val(p.ProduceP50), ProduceP95: val(p.ProduceP95),
		ProduceP99: val(p.ProduceP99), ProduceMax: val(p.ProduceMax),
		Season: seasonName(p.SeasonHours), FitHours: p.FitHours,
		GrowthPerWeek:   val(p.GrowthPerWeek),
		BackloggedHours: p.BackloggedHours, BackloggedDays: p.BackloggedDays,
		Confidence: CapacityConfidence(p.BackloggedHours, p.BackloggedDays),
		ConsumeMax: val(p.ConsumeMax), Capacity: math.NaN(),
		WeeklyPeak:  val(p.WeeklyPeak),
		PeakLag:     p.PeakLag,
		PeakTimeLag: p.PeakTimeLag,
	}
	if p.FitFrom != nil {
		g.FitFrom = *p.FitFrom
	}
	if p.WeeklyPeakAt != nil {
		g.WeeklyPeakAt = *p.WeeklyPeakAt
	}
	if p.PeakLagAt != nil {
		g.PeakLagAt = *p.PeakLagAt
	}
	if p.PeakTimeLagAt != nil {
		g.PeakTimeLagAt = *p.PeakTimeLagAt
	}
	g.GrowthPercent = GrowthPercent(g.GrowthPerWeek, val(p.FitMean))
	if g.Confidence != ConfidenceNone && p.Capacity != nil {
		g.Capacity = *p.Capacity
		g.Headroom = ratio(g.Capacity, g.ProduceP99)
	} else {
		g.Confidence = ConfidenceNone
		g.Headroom, g.HeadroomIsLowerBound = ratio(g.ConsumeMax, g.ProduceP99), true
	}
	g.Verdict = HeadroomVerdict(g.Headroom, g.Confidence)
	// The trend's level at the peak: it passes through the fitted hours'
	// mean at their mean time.
	level := math.NaN()
	if p.FitMean != nil && p.FitAt != nil && p.WeeklyPeakAt != nil {
		level = *p.FitMean + g.GrowthPerWeek*p.WeeklyPeakAt.Sub(*p.FitAt).Hours()/capacityWeek.Hours()
	}
	g.PeakGrowthPercent = GrowthPercent(g.GrowthPerWeek, level)
	if g.FitHours < MinGrowthHours {
		g.GrowthNote = fmt.Sprintf("%s: growth needs %d hours (2 weeks), the fit has %d", NotEnoughHistory, MinGrowthHours, g.FitHours)
		g.GrowthPerWeek, g.GrowthPercent, g.PeakGrowthPercent = math.NaN(), math.NaN(), math.NaN()
	}
	g.Projection = ProjectPeak(g.WeeklyPeak, g.WeeklyPeakAt, g.Capacity, g.PeakGrowthPercent/100)
	if g.Projection.Status == ProjectionUnknown && g.GrowthNote != "" && g.Capacity > 0 && g.WeeklyPeak > 0 {
		g.Projection.Status = ProjectionNoHistory
	}
	if p.ReplayRate != nil && p.WorstBacklog != nil && p.WorstBacklogAt != nil {
		g.Drain = DrainAfterBurst(*p.WorstBacklog, *p.WorstBacklogAt, p.DrainedAt, *p.ReplayRate, g.ProduceP50)
	} else {
		g.Drain = DrainAfterBurst(0, time.Time{}, nil, 0, g.ProduceP50)
	}
	g.Drain.RateIsLowerBound = g.Confidence == ConfidenceNone && g.Drain.Status != DrainUnknown
	g.Summary = capacitySummary(g)
	return g
}

func val(p *float64) float64 {
	if p == nil {
		return math.NaN()
	}
	return *p
}

func ratio(a, b float64) float64 {
	if !(b > 0) || math.IsNaN(a) {
		return math.NaN()
	}
	return a / b
}

func seasonName(hours int) string {
	switch hours {
	case 168:
		return "hour of week"
	case 24:
		return "hour of day"
	}
	return "none"
}

// capacitySummary states g's verdict in one sentence.
func capacitySummary(g GroupCapacity) string {
	name := g.Group.Group
	if g.Hours == 0 {
		return name + " has no hourly rollups with production in the window, so nothing can be said about its capacity."
	}
	p99 := RateText(g.ProduceP99)
	var proj string
	switch g.Projection.Status {
	case ProjectionDate:
		proj = fmt.Sprintf("; on the current trend (%+.1f%%/week) its weekly peak exceeds it from %s", g.PeakGrowthPercent, g.Projection.At.UTC().Format("2006-01-02 15:04 UTC"))
	case ProjectionBeyond:
		proj = "; on the current trend its weekly peak would not exceed it within 5 years"
	case ProjectionNotOnTrend:
		proj = "; production is not growing"
	case ProjectionNoHistory:
		proj = "; whether production grows needs 2 weeks of history"
	}
	switch g.Verdict {
	case VerdictInsufficient:
		return fmt.Sprintf("%s cannot keep up with its weekly peak: it consumes at most about %s (%s confidence), below its p99 hourly production of %s (headroom %.2fx), so a backlog builds at every peak.",
			name, RateText(g.Capacity), g.Confidence, p99, g.Headroom)
	case VerdictTight:
		peak := ""
		if g.Projection.Status == ProjectionAlready {
			peak = ", though its weekly peak of " + RateText(g.WeeklyPeak) + " already reaches it"
		}
		return fmt.Sprintf("%s keeps up with little room: its capacity of about %s (%s confidence) is %.2fx its p99 hourly production of %s%s%s.",
			name, RateText(g.Capacity), g.Confidence, g.Headroom, p99, peak, proj)
	case VerdictOK:
		return fmt.Sprintf("%s has room: its capacity of about %s (%s confidence) is %.2fx its p99 hourly production of %s%s.",
			name, RateText(g.Capacity), g.Confidence, g.Headroom, p99, proj)
	}
	if math.IsNaN(g.ConsumeMax) {
		return name + " was never seen consuming, so its capacity is unknown."
	}
	return fmt.Sprintf("%s was never seen working off a backlog, so its capacity is unknown: it consumed up to %s, a lower bound (%.2fx its p99 hourly production of %s).",
		name, RateText(g.ConsumeMax), g.Headroom, p99)
}

// RateText writes a rate in messages per second for prose: "950/s",
// "1,120/s", "12.5/s".
func RateText(v float64) string {
	switch {
	case math.IsNaN(v):
		return "unknown"
	case math.Abs(v) < 100:
		return strconv.FormatFloat(v, 'f', 1, 64) + "/s"
	}
	return groupThousands(int64(math.Round(v))) + "/s"
}

// groupThousands writes n with comma thousands separators.
func groupThousands(n int64) string {
	s := strconv.FormatInt(n, 10)
	neg := strings.HasPrefix(s, "-")
	s = strings.TrimPrefix(s, "-")
	var b strings.Builder
	if neg {
		b.WriteByte('-')
	}
	for i, c := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(c)
	}
	return b.String()
}
