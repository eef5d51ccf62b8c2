package query

import (
	"cmp"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/lagtrail/lagtrail/store"
)

// describeIncidents finds the incidents of rep's series and fills in what
// went with each.
func describeIncidents(rep *IncidentReport, rebs []store.RebalanceRecord, cfg DetectConfig) {
	cfg = cfg.ForPollInterval(rep.PollInterval).withDefaults()
	pts, before := lagPoints(rep.Series, rep.From)
	rep.Normal = NormalFrom(pts[:before], pts[before:])
	rep.Rebalances = recordedRebalances(rebs, rep.From, rep.To)
	rep.Rebalances = append(rep.Rebalances, inferRebalances(rep, rep.Rebalances)...)
	slices.SortStableFunc(rep.Rebalances, func(a, b Rebalance) int { return a.At.Compare(b.At) })
	inRange := rep.Events[:0:0]
	for _, ev := range rep.Events {
		if !ev.To.Before(rep.From) && ev.To.Before(rep.To) {
			inRange = append(inRange, ev)
		}
	}
	rep.Events = inRange
	parts := make([]partitionView, len(rep.Partitions))
	for i := range rep.Partitions {
		ps := &rep.Partitions[i]
		lp, nb := lagPoints(ps.Points, rep.From)
		ps.Normal = NormalFrom(lp[:nb], lp[nb:])
		el, _ := Thresholds(lp, ps.Normal, cfg)
		parts[i] = partitionView{series: ps, points: lp, elevated: el}
	}
	for _, ep := range CoverStalls(pts, Episodes(pts, rep.Normal, cfg), stallRuns(rep)) {
		last := ep.End
		if last < 0 {
			last = len(pts) - 1
		}
		if rep.Series[last].At.Before(rep.From) && ep.End >= 0 {
			continue // over before the range
		}
		rep.Incidents = append(rep.Incidents, describe1(rep, ep, parts, cfg))
	}
}

// lagPoints returns the series as LagPoints and how many lie before from.
func lagPoints(series []SeriesPoint, from time.Time) ([]LagPoint, int) {
	pts := make([]LagPoint, len(series))
	before := 0
	for i, s := range series {
		pts[i] = LagPoint{At: s.At, Lag: s.Lag, ProduceRate: s.ProduceRate}
		if s.At.Before(from) {
			before = i + 1
		}
	}
	return pts, before
}

type partitionView struct {
	series   *PartitionSeries
	points   []LagPoint
	elevated []float64
}

func describe1(rep *IncidentReport, ep Episode, parts []partitionView, cfg DetectConfig) Incident {
	s := rep.Series
	last := ep.End
	if last < 0 {
		last = len(s) - 1
	}
	inc := Incident{
		Start: s[ep.Start].At, StartedBefore: ep.StartedBefore,
		Detected: s[ep.Detected].At,
		Peak:     s[ep.Peak].At, PeakLag: s[ep.Peak].LagMax,
	}
	// With several polls a point, a bucket's peak may be higher than the
	// lag at the point Episodes found highest.
	for k := ep.Start; k <= last; k++ {
		if s[k].LagMax > inc.PeakLag {
			inc.Peak, inc.PeakLag = s[k].At, s[k].LagMax
		}
	}
	for k := ep.Start; k <= last; k++ {
		if tl := s[k].TimeLag; tl != nil && (inc.PeakTimeLag == nil || *tl > *inc.PeakTimeLag) {
			v, at := *tl, s[k].At
			inc.PeakTimeLag, inc.PeakTimeLagAt, inc.PeakTimeLagKind = &v, &at, s[k].TimeLagKind
		}
	}
	end := rep.To
	if ep.End >= 0 {
		r := s[ep.End].At
		inc.Recovered = &r
		inc.RecoveryTime = r.Sub(inc.Start)
		inc.DrainTime = r.Sub(inc.Peak)
		inc.RecoverySeconds, inc.DrainSeconds = inc.RecoveryTime.Seconds(), inc.DrainTime.Seconds()
		end = r
	}
	inc.Affected, inc.Unaffected = affected(rep, parts, inc.Start, end, cfg)
	inc.Cause = causeOf(rep, ep, inc.Affected)
	inc.Timeline = timeline(rep, ep, inc, end)
	return inc
}

// rateOver returns the production and consumption rates of a series over
// the intervals ending in (from, to].
func rateOver(s []SeriesPoint, from, to time.Time) (produce, consume *float64) {
	var c, cs, p, ps float64
	for _, pt := range s {
		if pt.At.After(from) && !pt.At.After(to) {
			c, cs, p, ps = c+pt.consumed, cs+pt.consumedS, p+pt.produced, ps+pt.producedS
		}
	}
	if ps > 0 {
		v := p / ps
		produce = &v
	}
	if cs > 0 {
		v := c / cs
		consume = &v
	}
	return produce, consume
}

// ratesOf returns the production and consumption rates over (from, to] of
// the group when every partition is affected, else the sums of the
// affected partitions' rates.
func ratesOf(rep *IncidentReport, aff []PartitionImpact, from, to time.Time) (produce, consume *float64) {
	if len(aff) == 0 || len(aff) == len(rep.Partitions) {
		return rateOver(rep.Series, from, to)
	}
	var p, c float64
	var pk, ck bool
	for _, ps := range rep.Partitions {
		if !slices.ContainsFunc(aff, func(a PartitionImpact) bool { return a.PartitionRef == ps.PartitionRef }) {
			continue
		}
		pr, cr := rateOver(ps.Points, from, to)
		if pr != nil {
			p, pk = p+*pr, true
		}
		if cr != nil {
			c, ck = c+*cr, true
		}
	}
	if pk {
		produce = &p
	}
	if ck {
		consume = &c
	}
	return produce, consume
}

// causeOf compares production and consumption of the affected partitions
// in the CauseWindow before the start with those after it, up to the
// peak.
func causeOf(rep *IncidentReport, ep Episode, aff []PartitionImpact) Cause {
	s := rep.Series
	start := s[ep.Start].At
	w := max(CauseWindow, 10*rep.PollInterval)
	var c Cause
	c.ProduceBefore, c.ConsumeBefore = ratesOf(rep, aff, start.Add(-w), start)
	afterEnd := start.Add(w)
	if pk := s[ep.Peak].At; pk.After(start) && pk.Before(afterEnd) {
		afterEnd = pk
	}
	c.ProduceAfter, c.ConsumeAfter = ratesOf(rep, aff, start, afterEnd)
	detected := s[ep.Detected].At
	for _, ev := range rep.Events {
		if ev.To.After(start) && !ev.To.After(detected) {
			switch ev.Kind {
			case store.EventRewind:
				c.Kind = CauseRewind
				c.Text = fmt.Sprintf("the consumer offset went back %s messages on %s between %s and %s",
					fmtCount(ev.ConsumerFrom-ev.ConsumerTo), partitionsText(ev.Topic, ev.Partitions), fmtClock(ev.From), fmtClock(ev.To))
				return c
			case store.EventResetToLatest:
				c.Kind = CauseReset
				c.Text = fmt.Sprintf("the consumer offset was reset to the latest on %s between %s and %s",
					partitionsText(ev.Topic, ev.Partitions), fmtClock(ev.From), fmtClock(ev.To))
				return c
			}
		}
	}
	if c.ProduceBefore == nil || c.ConsumeBefore == nil || c.ProduceAfter == nil || c.ConsumeAfter == nil {
		c.Kind, c.Text = CauseUnknown, "no rates on both sides of the start to compare"
		return c
	}
	pb, cb, pa, ca := *c.ProduceBefore, *c.ConsumeBefore, *c.ProduceAfter, *c.ConsumeAfter
	dropped := ca < 0.5*cb
	rose := pa > 1.3*pb && pa > ca
	where := ""
	if len(aff) > 0 && len(aff) < len(rep.Partitions) {
		where = fmt.Sprintf(" on the %d affected partitions", len(aff))
	}
	rates := fmt.Sprintf("production %s → %s, consumption %s → %s%s", fmtRate(pb), fmtRate(pa), fmtRate(cb), fmtRate(ca), where)
	switch {
	case dropped && rose:
		c.Kind, c.Text = CauseBoth, "production rose and consumption dropped: "+rates
	case dropped:
		c.Kind, c.Text = CauseConsumptionDropped, "consumption dropped while production held: "+rates
	case rose:
		c.Kind, c.Text = CauseProductionRose, "production rose above what the group consumes: "+rates
	default:
		c.Kind, c.Text = CauseBehind, "consumption fell behind production without a sharp change: "+rates
	}
	return c
}

// affected splits the partitions into those that took part in the
// incident over [start, end] and the others.
func affected(rep *IncidentReport, parts []partitionView, start, end time.Time, cfg DetectConfig) ([]PartitionImpact, []PartitionRef) {
	var aff []PartitionImpact
	var un []PartitionRef
	for _, pv := range parts {
		imp := PartitionImpact{PartitionRef: pv.series.PartitionRef}
		run, best := 0, 0
		for k, p := range pv.points {
			if p.At.Before(start) || p.At.After(end) {
				continue
			}
			if p.Lag > imp.PeakLag || imp.PeakAt.IsZero() {
				imp.PeakLag, imp.PeakAt = p.Lag, p.At
			}
			if float64(p.Lag) > pv.elevated[k] {
				run++
				best = max(best, run)
			} else {
				run = 0
			}
		}
		switch {
		case best >= cfg.Sustain:
			imp.Why = "lag elevated"
		case brokeIn(rep.Events, imp.PartitionRef, start, end) != "":
			imp.Why = brokeIn(rep.Events, imp.PartitionRef, start, end)
		case statusIn(rep.Statuses, imp.PartitionRef, start, end) != "":
			imp.Why = statusIn(rep.Statuses, imp.PartitionRef, start, end)
		}
		if imp.Why == "" {
			un = append(un, imp.PartitionRef)
			continue
		}
		aff = append(aff, imp)
	}
	return aff, un
}

func brokeIn(evs []store.Event, p PartitionRef, from, to time.Time) string {
	for _, ev := range evs {
		if ev.Topic == p.Topic && slices.Contains(ev.Partitions, p.Partition) && !ev.To.Before(from) && !ev.To.After(to) {
			return strings.ReplaceAll(ev.Kind, "_", " ")
		}
	}
	return ""
}

func statusIn(ivs []Interval, p PartitionRef, from, to time.Time) string {
	for _, iv := range ivs {
		if (iv.Status == StatusStall || iv.Status == StatusStop || iv.Status == StatusRewind) &&
			iv.To.After(from) && !iv.From.After(to) && slices.Contains(iv.Partitions, p) {
			return "status " + iv.Status.String()
		}
	}
	return ""
}

// timeline lists what happened from shortly before the start to end.
func timeline(rep *IncidentReport, ep Episode, inc Incident, end time.Time) []TimelineEntry {
	s := rep.Series
	lead := max(DefaultStatusWindow, 5*rep.PollInterval)
	from := inc.Start.Add(-lead)
	in := func(t time.Time) bool { return !t.Before(from) && !t.After(end) }
	var tl []TimelineEntry
	add := func(at time.Time, kind, format string, args ...any) {
		tl = append(tl, TimelineEntry{At: at, Kind: kind, Text: fmt.Sprintf(format, args...)})
	}
	if inc.StartedBefore {
		add(inc.Start, TimelineLagRising, "lag already abnormal at the first poll read: %s", fmtCount(s[ep.Start].Lag))
	} else {
		add(inc.Start, TimelineLagRising, "lag began to grow after this poll (lag %s; normal up to %s)",
			fmtCount(s[ep.Start].Lag), fmtCount(int64(rep.Normal.LagP95)))
	}
	el, _ := Thresholds([]LagPoint{{Lag: s[ep.Detected].Lag, ProduceRate: s[ep.Detected].ProduceRate}}, rep.Normal, DetectConfig{})
	add(inc.Detected, TimelineElevated, "lag %s passed the elevated threshold %s", fmtCount(s[ep.Detected].Lag), fmtCount(int64(el[0])))
	prev := StatusNoData
	for _, iv := range rep.Statuses {
		if iv.Status != prev && in(iv.From) {
			if iv.Status > StatusOK {
				add(iv.From, TimelineStatus, "status %s on %s: %s", iv.Status, ShortPartitions(iv.Partitions), iv.Reason)
			} else if prev > StatusOK {
				add(iv.From, TimelineStatus, "status %s", iv.Status)
			}
		}
		prev = iv.Status
	}
	for _, rb := range rep.Rebalances {
		if !in(rb.At) {
			continue
		}
		if rb.Inferred {
			add(rb.At, TimelineRebalanceSeen, "every lagging partition paused at once: probably a rebalance (inferred)")
			continue
		}
		text := fmt.Sprintf("rebalance, generation %d", rb.Generation)
		if rb.Duration > 0 {
			text += fmt.Sprintf(", took %s", rb.Duration)
		}
		if rb.Reason != "" {
			text += ": " + rb.Reason
		}
		add(rb.At, TimelineRebalance, "%s", text)
	}
	for _, ev := range rep.Events {
		if in(ev.To) {
			add(ev.To, TimelineBreak, "%s on %s (consumer %d → %d, broker %d → %d)", strings.ReplaceAll(ev.Kind, "_", " "),
				partitionsText(ev.Topic, ev.Partitions), ev.ConsumerFrom, ev.ConsumerTo, ev.BrokerFrom, ev.BrokerTo)
		}
	}
	for _, g := range rep.Failures.Gaps {
		if g.To.After(from) && !g.From.After(end) {
			add(g.From, TimelinePollFailed, "no successful poll until %s: %d failed (%s)", fmtClock(g.To), g.Failed, strings.Join(g.Codes, ", "))
		}
	}
	add(inc.Peak, TimelinePeakLag, "peak lag %s", fmtCount(inc.PeakLag))
	if inc.PeakTimeLagAt != nil {
		add(*inc.PeakTimeLagAt, TimelinePeakTimeLag, "peak time lag %s (%s)", fmtSeconds(*inc.PeakTimeLag), inc.PeakTimeLagKind)
	}
	if inc.Recovered != nil {
		add(*inc.Recovered, TimelineRecovered, "lag back to normal (%s): %s after it began to grow, %s after the peak",
			fmtCount(s[ep.End].Lag), inc.RecoveryTime.Round(time.Second), inc.DrainTime.Round(time.Second))
	} else {
		add(rep.To, TimelineNotRecovered, "not recovered by the end of the range (lag %s at the last poll)", fmtCount(s[len(s)-1].Lag))
	}
	slices.SortStableFunc(tl, func(a, b TimelineEntry) int { return a.At.Compare(b.At) })
	return tl
}

func recordedRebalances(rebs []store.RebalanceRecord, from, to time.Time) []Rebalance {
	var out []Rebalance
	for _, r := range rebs {
		at := r.FirstSeenAt
		if r.RebalancedAt != nil {
			at = *r.RebalancedAt
		}
		if at.Before(from) || !at.Before(to) {
			continue
		}
		out = append(out, Rebalance{At: at, Generation: r.Generation, Reason: r.Reason,
			Duration: time.Duration(r.DurationMs) * time.Millisecond, DurationMs: r.DurationMs, Success: r.Success})
	}
	return out
}

// inferRebalances finds polls in the range at which every partition that
// had lag consumed nothing since the previous poll, for fewer than
// StallSamples polls in a row, away from any recorded rebalance.
func inferRebalances(rep *IncidentReport, recorded []Rebalance) []Rebalance {
	type tally struct{ lagging, paused int }
	at := map[time.Time]*tally{}
	for _, ps := range rep.Partitions {
		for k := 1; k < len(ps.Points); k++ {
			p, q := ps.Points[k-1], ps.Points[k]
			if p.Lag == 0 || q.consumedS == 0 {
				continue
			}
			t := at[q.At]
			if t == nil {
				t = &tally{}
				at[q.At] = t
			}
			t.lagging++
			if q.consumed == 0 {
				t.paused++
			}
		}
	}
	var out []Rebalance
	run := 0
	flush := func(k int) {
		if run > 0 && run < StallSamples {
			t := rep.Series[k-run].At
			near := slices.ContainsFunc(recorded, func(r Rebalance) bool {
				d := r.At.Sub(t)
				return d < 3*rep.PollInterval && d > -3*rep.PollInterval
			})
			if !near && !t.Before(rep.From) {
				out = append(out, Rebalance{At: t, Inferred: true})
			}
		}
		run = 0
	}
	for k, pt := range rep.Series {
		if t := at[pt.At]; t != nil && t.lagging > 1 && t.paused == t.lagging {
			run++
			continue
		}
		flush(k)
	}
	flush(len(rep.Series))
	return out
}

// pollFailures sums up the attempts of one group (in sampled_at order) in
// [from, to).
func pollFailures(polls []store.PollRecord, from, to time.Time) PollFailures {
	var f PollFailures
	codes := map[string]int{}
	var okTimes []time.Time
	for _, p := range polls {
		if p.SampledAt.Before(from) || !p.SampledAt.Before(to) {
			if p.OK && p.SampledAt.Before(from) {
				okTimes = append(okTimes[:0], p.SampledAt)
			}
			continue
		}
		f.Attempts++
		if p.OK {
			okTimes = append(okTimes, p.SampledAt)
			continue
		}
		f.Failed++
		code := p.ErrorCode
		if code == "" {
			code = "unknown"
		}
		codes[code]++
	}
	for c, n := range codes {
		f.ByCode = append(f.ByCode, CodeCount{Code: c, Count: n})
	}
	slices.SortFunc(f.ByCode, func(a, b CodeCount) int {
		return cmp.Or(cmp.Compare(b.Count, a.Count), cmp.Compare(a.Code, b.Code))
	})
	limit := GapFactor * MedianInterval(timePoints(okTimes))
	for i := 1; i < len(okTimes) && limit > 0; i++ {
		a, b := okTimes[i-1], okTimes[i]
		if b.Sub(a) <= limit {
			continue
		}
		g := PollGap{From: a, To: b}
		seen := map[string]bool{}
		for _, p := range polls {
			if !p.OK && p.SampledAt.After(a) && p.SampledAt.Before(b) {
				g.Failed++
				if !seen[p.ErrorCode] {
					seen[p.ErrorCode] = true
					g.Codes = append(g.Codes, p.ErrorCode)
				}
			}
		}
		f.Gaps = append(f.Gaps, g)
	}
	return f
}

func partitionsText(topic string, ps []int32) string {
	refs := make([]PartitionRef, len(ps))
	for i, p := range ps {
		refs[i] = PartitionRef{Topic: topic, Partition: p}
	}
	return ShortPartitions(refs)
}

// ShortPartitions writes partitions compactly, runs as ranges:
// "payments/0-7", "orders/1,3 payments/2".
func ShortPartitions(ps []PartitionRef) string {
	sorted := slices.Clone(ps)
	slices.SortFunc(sorted, func(a, b PartitionRef) int {
		return cmp.Or(cmp.Compare(a.Topic, b.Topic), cmp.Compare(a.Partition, b.Partition))
	})
	var b strings.Builder
	for i := 0; i < len(sorted); {
		topic := sorted[i].Topic
		if b.Len() > 0 {
			b.WriteByte(' ')
		}
		b.WriteString(topic + "/")
		first := true
		for i < len(sorted) && sorted[i].Topic == topic {
			j := i
			for j+1 < len(sorted) && sorted[j+1].Topic == topic && sorted[j+1].Partition == sorted[j].Partition+1 {
				j++
			}
			if !first {
				b.WriteByte(',')
			}
			first = false
			if j > i+1 {
				fmt.Fprintf(&b, "%d-%d", sorted[i].Partition, sorted[j].Partition)
			} else if j == i+1 {
				fmt.Fprintf(&b, "%d,%d", sorted[i].Partition, sorted[j].Partition)
			} else {
				fmt.Fprintf(&b, "%d", sorted[i].Partition)
			}
			i = j + 1
		}
	}
	return b.String()
}

func fmtClock(t time.Time) string { return t.UTC().Format("15:04:05") }

func fmtCount(n int64) string {
	s := fmt.Sprint(n)
	if n < 0 {
		return s
	}
	var b strings.Builder
	for i, r := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(r)
	}
	return b.String()
}

func fmtRate(v float64) string { return fmt.Sprintf("%.1f/s", v) }

func fmtSeconds(v float64) string { return (time.Duration(v) * time.Second).String() }

// stallRuns returns the runs of series points that lie in STALL or STOP
// intervals of rep.Statuses and hold at least StallSamples points, as
// index pairs into rep.Series.
func stallRuns(rep *IncidentReport) [][2]int {
	var out [][2]int
	for _, iv := range rep.Statuses {
		if iv.Status != StatusStall && iv.Status != StatusStop {
			continue
		}
		a := slices.IndexFunc(rep.Series, func(p SeriesPoint) bool { return !p.At.Before(iv.From) })
		if a < 0 || !rep.Series[a].At.Before(iv.To) {
			continue
		}
		b := a
		for b+1 < len(rep.Series) && rep.Series[b+1].At.Before(iv.To) {
			b++
		}
		if b-a+1 >= StallSamples {
			out = append(out, [2]int{a, b})
		}
	}
	return out
}
