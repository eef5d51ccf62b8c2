package main

import (
	"fmt"
	"io"
	"math"
	"strconv"
	"strings"
	"time"
)

// recordRunFigures is what bench record measured in one run. Seconds are
// float seconds; NaN (null in JSON) is unknown.
type recordRunFigures struct {
	Label           string            `json:"label"`
	Groups          int               `json:"groups"`
	Partitions      int               `json:"partitions"`
	Regions         int               `json:"regions"`
	NeededPerRegion jsonFloat         `json:"needed_requests_per_second_per_region"`
	WindowFrom      time.Time         `json:"window_from"`
	WindowTo        time.Time         `json:"window_to"`
	Punctuality     recordPunctuality `json:"punctuality"`
	ScheduleLag     *recordHistogram  `json:"schedule_lag_metric,omitempty"`
	Rate            recordRate        `json:"request_rate"`
	CPU             recordCPU         `json:"cpu"`
	Writes          recordWrites      `json:"writes"`
	Machine         recordMachine     `json:"machine"`
	Now             recordNow         `json:"now_state"`
	Log             recordLog         `json:"recorder_log"`
	Punctual        bool              `json:"punctual"`
	RateWithinLimit bool              `json:"rate_within_limit"`
}

// recordHistogram is the recorder's lagtrail_schedule_lag_seconds over the
// window, interpolated within buckets.
type recordHistogram struct {
	Count       int64     `json:"count"`
	P50         jsonFloat `json:"p50_seconds"`
	P99         jsonFloat `json:"p99_seconds"`
	WithinShare jsonFloat `json:"within_tolerance_share"`
}

// recordRate is the request rate the endpoint saw.
type recordRate struct {
	// AnsweredPolls counts GetConsumerProgress requests answered in the
	// whole run; OtherRequests other actions (discovery: none expected).
	AnsweredPolls int `json:"answered_polls"`
	OtherRequests int `json:"other_requests"`
	// FailedAnswers are answers that were errors, or for groups the fleet
	// does not have.
	FailedAnswers int `json:"failed_answers"`
	// Peak is the most requests of one region in any sliding 1-second
	// window of the whole run, and PeakRegion that region.
	Peak       int    `json:"peak_per_second"`
	PeakRegion string `json:"peak_region"`
	// SentPeak is the most polls of one region the recorder sent (their
	// stored StartedAt) in any sliding 1-second window of the whole run,
	// and SentPeakRegion that region: what its rate limiter governs.
	// Arrival peaks can be higher when the endpoint's process stalls and
	// then accepts queued connections together.
	SentPeak       int    `json:"sent_peak_per_second"`
	SentPeakRegion string `json:"sent_peak_region"`
	// WindowMeanMax is the highest of the regions' mean rates in the
	// window.
	WindowMeanMax jsonFloat          `json:"window_mean_per_second_max"`
	Regions       []recordRegionRate `json:"regions"`
	// CallP50 and CallP99 are lagtrail_poll_duration_seconds in the
	// window, all regions: how long the API calls took as the recorder saw
	// them. Long calls with late polls point to the endpoint; short ones to
	// the recorder.
	CallP50 jsonFloat `json:"call_duration_p50_seconds"`
	CallP99 jsonFloat `json:"call_duration_p99_seconds"`
	// RecorderOK and RecorderErrors are lagtrail_polls_total in the window.
	RecorderOK     int64 `json:"recorder_polls_ok"`
	RecorderErrors int64 `json:"recorder_polls_error"`
}

// recordRegionRate is one region's request rate.
type recordRegionRate struct {
	Region   string `json:"region"`
	Requests int    `json:"requests"`
	// Peak is the most requests in any sliding 1-second window of the
	// whole run, starting at PeakAt.
	Peak       int       `json:"peak_per_second"`
	PeakAt     time.Time `json:"peak_at"`
	WindowMean jsonFloat `json:"window_mean_per_second"`
	// OverLimit and OverQuota count the requests that arrived when the
	// second up to them already held more than the limit, or the API quota.
	OverLimit int `json:"requests_over_limit"`
	OverQuota int `json:"requests_over_quota"`
	// LongestGap is the longest silence between two requests, in seconds,
	// ending at LongestGapEnd: a burst right after one points to a stall.
	LongestGap    jsonFloat `json:"longest_gap_seconds"`
	LongestGapEnd time.Time `json:"longest_gap_end"`
}

// recordCPU is the recorder process's CPU use.
type recordCPU struct {
	// Seconds is user+system over the process's whole life.
	Seconds          jsonFloat `json:"seconds"`
	UserSeconds      jsonFloat `json:"user_seconds"`
	SystemSeconds    jsonFloat `json:"system_seconds"`
	PerThousandPolls jsonFloat `json:"per_1000_polls"`
	// WindowSeconds is process_cpu_seconds_total over the window, and
	// WindowPerThousandPolls that per 1,000 polls of the window.
	WindowSeconds          jsonFloat `json:"window_seconds"`
	WindowPerThousandPolls jsonFloat `json:"window_per_1000_polls"`
	// ResidentBytes is process_resident_memory_bytes at the window's end.
	ResidentBytes int64 `json:"resident_bytes"`
}

// recordWrites is the recorder's database writes in the window.
type recordWrites struct {
	Writes           int64     `json:"writes"`
	P50              jsonFloat `json:"p50_seconds"`
	P99              jsonFloat `json:"p99_seconds"`
	PollsWritten     int64     `json:"polls_written"`
	PollsPerWrite    jsonFloat `json:"polls_per_write"`
	SamplesWritten   int64     `json:"samples_written"`
	SamplesPerSecond jsonFloat `json:"samples_per_second"`
	Errors           int64     `json:"write_errors"`
	Dropped          int64     `json:"dropped_polls"`
	BufferPollsAtEnd int64     `json:"buffer_polls_at_end"`
	SpoolPollsAtEnd  int64     `json:"spool_polls_at_end"`
}

// recordNow is how far the stored now-state (what the fleet, /metrics
// and the status views read) was behind the polls written, sampled every
// few seconds in the window (store.NowBehind).
type recordNow struct {
	Samples int `json:"samples"`
	// MaxBehind is the longest time, over the samples, between a group's
	// last successful poll and the poll its now-state was evaluated at.
	MaxBehind jsonFloat `json:"max_behind_seconds"`
	// BehindShare is the share of groups whose now-state was not at their
	// last poll, averaged over the samples: a refresh every few seconds
	// leaves the groups polled since it behind, by less than the interval.
	BehindShare jsonFloat `json:"behind_share"`
}

// recordMachine is the machine over the window.
type recordMachine struct {
	Cores int `json:"cores"`
	// BusyShare is the share of all cores' time not idle (/proc/stat).
	BusyShare  jsonFloat `json:"busy_share"`
	Load1Start jsonFloat `json:"load1_start"`
	Load1End   jsonFloat `json:"load1_end"`
	// BenchCPUSeconds is this process's CPU: the simulator and scrapes.
	BenchCPUSeconds jsonFloat `json:"bench_process_cpu_seconds"`
}

// recordLog is what the recorder logged above info.
type recordLog struct {
	Warnings     int      `json:"warnings"`
	Errors       int      `json:"errors"`
	SecretLeaked bool     `json:"secret_leaked"`
	Tail         []string `json:"last_lines,omitempty"`
}

// recordRow is one figure of the table: its key for the ratios, its label,
// and its value and text in a run.
type recordRow struct {
	key, label string
	value      func(r *recordRunFigures) float64
	text       func(r *recordRunFigures) string
}

func recordRows(tol time.Duration) []recordRow {
	num := func(key, label string, v func(r *recordRunFigures) float64, format func(float64) string) recordRow {
		return recordRow{key: key, label: label, value: v, text: func(r *recordRunFigures) string { return format(v(r)) }}
	}
	count := func(x float64) string { return finite(x, func(x float64) string { return humanCount(math.Round(x)) }) }
	dec := func(p int) func(float64) string {
		return func(x float64) string { return finite(x, func(x float64) string { return fmt.Sprintf("%.*f", p, x) }) }
	}
	secs := func(x float64) string { return finite(x, func(x float64) string { return fmt.Sprintf("%.3fs", x) }) }
	ms := func(x float64) string {
		return finite(x, func(x float64) string { return fmt.Sprintf("%.2fms", 1000*x) })
	}
	pct := func(x float64) string {
		return finite(x, func(x float64) string { return fmt.Sprintf("%.2f%%", 100*x) })
	}
	mb := func(x float64) string {
		return finite(x, func(x float64) string { return fmt.Sprintf("%.0f MB", x/(1<<20)) })
	}
	sched := func(get func(h *recordHistogram) float64) func(r *recordRunFigures) float64 {
		return func(r *recordRunFigures) float64 {
			if r.ScheduleLag == nil {
				return math.NaN()
			}
			return get(r.ScheduleLag)
		}
	}
	return []recordRow{
		num("polls_in_window", "polls in the window", func(r *recordRunFigures) float64 { return float64(r.Punctuality.Polls) }, count),
		num("within_share", fmt.Sprintf("polls started within %s of their slot", tol), func(r *recordRunFigures) float64 { return float64(r.Punctuality.WithinShare) }, pct),
		num("lateness_p50", "lateness p50", func(r *recordRunFigures) float64 { return r.Punctuality.LatenessP50 }, secs),
		num("lateness_p99", "lateness p99", func(r *recordRunFigures) float64 { return r.Punctuality.LatenessP99 }, secs),
		num("lateness_max", "lateness max", func(r *recordRunFigures) float64 { return float64(r.Punctuality.LatenessMax) }, secs),
		{key: "", label: "slots in the window: checked / missing / doubled", text: func(r *recordRunFigures) string {
			p := r.Punctuality
			return fmt.Sprintf("%s / %d / %d", thousands(int64(p.Slots)), p.Missing, p.Doubled)
		}},
		num("schedule_lag_p99", "lagtrail_schedule_lag_seconds p99 (buckets)", sched(func(h *recordHistogram) float64 { return float64(h.P99) }), secs),
		num("schedule_lag_within", fmt.Sprintf("lagtrail_schedule_lag_seconds <= %s (buckets)", tol), sched(func(h *recordHistogram) float64 { return float64(h.WithinShare) }), pct),
		num("needed_rate", "requests/s needed per region (busiest)", func(r *recordRunFigures) float64 { return float64(r.NeededPerRegion) }, dec(1)),
		num("mean_rate", "requests/s per region, window mean (busiest)", func(r *recordRunFigures) float64 { return float64(r.Rate.WindowMeanMax) }, dec(1)),
		num("peak_rate", "requests in any 1s window, one region (peak)", func(r *recordRunFigures) float64 { return float64(r.Rate.Peak) }, count),
		num("sent_peak_rate", "calls sent in any 1s window, one region (peak)", func(r *recordRunFigures) float64 { return float64(r.Rate.SentPeak) }, count),
		num("call_p50", "API call duration p50, recorder's view (buckets)", func(r *recordRunFigures) float64 { return float64(r.Rate.CallP50) }, ms),
		num("call_p99", "API call duration p99, recorder's view (buckets)", func(r *recordRunFigures) float64 { return float64(r.Rate.CallP99) }, ms),
		num("answered_polls", "polls answered, whole run", func(r *recordRunFigures) float64 { return float64(r.Rate.AnsweredPolls) }, count),
		num("cpu_seconds", "recorder CPU s, whole life (user+system)", func(r *recordRunFigures) float64 { return float64(r.CPU.Seconds) }, dec(2)),
		num("cpu_per_1000", "recorder CPU s per 1,000 polls, whole life", func(r *recordRunFigures) float64 { return float64(r.CPU.PerThousandPolls) }, dec(3)),
		num("cpu_per_1000_window", "recorder CPU s per 1,000 polls, window", func(r *recordRunFigures) float64 { return float64(r.CPU.WindowPerThousandPolls) }, dec(3)),
		num("resident_bytes", "recorder resident memory at the end", func(r *recordRunFigures) float64 { return float64(r.CPU.ResidentBytes) }, mb),
		num("write_p50", "database write p50 (buckets)", func(r *recordRunFigures) float64 { return float64(r.Writes.P50) }, ms),
		num("write_p99", "database write p99 (buckets)", func(r *recordRunFigures) float64 { return float64(r.Writes.P99) }, ms),
		num("writes", "database writes in the window", func(r *recordRunFigures) float64 { return float64(r.Writes.Writes) }, count),
		num("polls_per_write", "polls per write", func(r *recordRunFigures) float64 { return float64(r.Writes.PollsPerWrite) }, dec(2)),
		num("samples_per_second", "samples written/s", func(r *recordRunFigures) float64 { return float64(r.Writes.SamplesPerSecond) }, dec(0)),
		{key: "", label: "write errors / dropped polls / waiting at end", text: func(r *recordRunFigures) string {
			w := r.Writes
			return fmt.Sprintf("%d / %d / %d", w.Errors, w.Dropped, w.BufferPollsAtEnd+w.SpoolPollsAtEnd)
		}},
		num("now_max_behind", "now-state behind the last poll, max (sampled)", func(r *recordRunFigures) float64 { return float64(r.Now.MaxBehind) }, secs),
		num("now_behind_share", "groups with the now-state behind, mean (sampled)", func(r *recordRunFigures) float64 { return float64(r.Now.BehindShare) }, pct),
		num("machine_busy", "machine CPU busy, all cores (window)", func(r *recordRunFigures) float64 { return float64(r.Machine.BusyShare) }, pct),
		{key: "", label: "load average 1m, window start / end", text: func(r *recordRunFigures) string {
			return fmt.Sprintf("%.2f / %.2f", r.Machine.Load1Start, r.Machine.Load1End)
		}},
		num("bench_cpu", "simulator process CPU s (window)", func(r *recordRunFigures) float64 { return float64(r.Machine.BenchCPUSeconds) }, dec(2)),
	}
}

func finite(x float64, f func(float64) string) string {
	if math.IsNaN(x) || math.IsInf(x, 0) {
		return "-"
	}
	return f(x)
}

// recordRatios returns run/baseline of every numeric figure both have.
func recordRatios(run, base *recordRunFigures) map[string]float64 {
	if run == nil || base == nil {
		return nil
	}
	out := map[string]float64{}
	for _, row := range recordRows(0) {
		if row.key == "" {
			continue
		}
		a, b := row.value(run), row.value(base)
		if r := a / b; b != 0 && !math.IsNaN(r) && !math.IsInf(r, 0) {
			out[row.key] = r
		}
	}
	return out
}

// regionCount writes "1 region" or "n regions".
func regionCount(n int) string {
	if n == 1 {
		return "1 region"
	}
	return fmt.Sprintf("%d regions", n)
}

func yesNo(b bool) string {
	if b {
		return "yes"
	}
	return "no"
}

// writeRecordBenchTable writes the report as an aligned table with a
// verdict per criterion.
func writeRecordBenchTable(w io.Writer, rep *recordBenchReport) error {
	s, run := rep.Settings, rep.Run
	interval := time.Duration(s.IntervalSeconds * float64(time.Second))
	tol := time.Duration(s.ToleranceSeconds * float64(time.Second))
	fmt.Fprintf(w, "lagtrail bench record: %s groups x %d partitions every %s over %s: %.1f requests/s needed per region; limit %g/s, API quota %g/s per region\n",
		thousands(int64(s.Groups)), s.Partitions, interval, regionCount(s.Regions), s.NeededPerRegion, s.LimitPerRegion, s.QuotaPerRegion)
	base := "no baseline"
	if rep.Baseline != nil {
		base = fmt.Sprintf("baseline: %s groups, same settings", thousands(int64(s.BaselineGroups)))
	}
	fmt.Fprintf(w, "warm-up %s, then %s measured (%s to %s); %s; %d CPUs\n\n",
		interval, time.Duration(s.DurationSeconds*float64(time.Second)), run.WindowFrom.Format(time.RFC3339), run.WindowTo.Format(time.RFC3339), base, run.Machine.Cores)
	t := &table{columns: []column{{"figure", kText}, {"run", kText}, {"baseline", kText}, {"run_over_baseline", kText}}}
	for _, row := range recordRows(tol) {
		b, ratio := "", ""
		if rep.Baseline != nil {
			b = row.text(rep.Baseline)
			if v, ok := rep.Ratios[row.key]; ok {
				ratio = fmt.Sprintf("%.2f", v)
			}
		}
		t.add(row.label, row.text(run), b, ratio)
	}
	if err := t.write(w, "table"); err != nil {
		return err
	}
	fmt.Fprintln(w)
	p := run.Punctuality
	fmt.Fprintf(w, "punctual: %s: %s of %s polls in the window started within %s of their slot (max %.3fs); %s slots, %d missing, %d doubled\n",
		yesNo(rep.Punctual), thousands(int64(p.Within)), thousands(int64(p.Polls)), tol, p.LatenessMax, thousands(int64(p.Slots)), p.Missing, p.Doubled)
	fmt.Fprintf(w, "rate <= limit: %s: at most %d calls sent in any 1s window in one region (%s), limit %g/s, API quota %g/s; at most %d arrived in one (%s)\n",
		yesNo(rep.RateWithinLimit), run.Rate.SentPeak, run.Rate.SentPeakRegion, s.LimitPerRegion, s.QuotaPerRegion, run.Rate.Peak, run.Rate.PeakRegion)
	var regions []string
	for _, r := range run.Rate.Regions {
		regions = append(regions, fmt.Sprintf("  %s: peak %d in the second from %s, %.1f/s mean in the window; %s requests over the limit, %s over the quota; longest silence %.3fs, until %s",
			r.Region, r.Peak, r.PeakAt.Format("15:04:05.000"), float64(r.WindowMean), thousands(int64(r.OverLimit)), thousands(int64(r.OverQuota)),
			float64(r.LongestGap), r.LongestGapEnd.Format("15:04:05.000")))
	}
	fmt.Fprintf(w, "per region (whole run, times UTC):\n%s\n", strings.Join(regions, "\n"))
	if len(rep.Notes) > 0 {
		fmt.Fprintln(w, "\nnotes:")
		for _, n := range rep.Notes {
			fmt.Fprintf(w, "- %s\n", n)
		}
	}
	return nil
}

// jsonFloat is a float64 that is null in JSON when it is not finite
// (unknown), where encoding/json would fail.
type jsonFloat float64

// MarshalJSON writes x, or null when it is NaN or infinite.
func (x jsonFloat) MarshalJSON() ([]byte, error) {
	f := float64(x)
	if math.IsNaN(f) || math.IsInf(f, 0) {
		return []byte("null"), nil
	}
	return strconv.AppendFloat(nil, roundFloat(f), 'g', -1, 64), nil
}
