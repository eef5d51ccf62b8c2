package main

import (
	"bytes"
	"encoding/json"
	"math"
	"strings"
	"testing"
	"time"

	"github.com/lagtrail/lagtrail/ingest"
	"github.com/lagtrail/lagtrail/internal/pgtest"
	"github.com/lagtrail/lagtrail/store"
)

// bench record runs the real recorder in a child process on a tiny fleet,
// reports every figure for the run and the baseline, computes the
// verdicts from them, and refuses the database afterwards because it holds
// polls.
func TestBenchRecord(t *testing.T) {
	t.Parallel()
	dbURL := pgtest.URL(t)
	l := lagtrail{t: t, dbURL: dbURL, secret: e2eSecret}
	const groups, baseline, interval, duration, limit = 40, 10, 2 * time.Second, 6 * time.Second, 50
	res := l.run("bench", "record", "--groups", "40", "--partitions", "4", "--interval", "2s", "--regions", "2",
		"--duration", "6s", "--baseline-groups", "10", "--format", "json")
	if res.code != 0 {
		t.Fatalf("bench record: exit %d, stderr:\n%s", res.code, res.stderr)
	}
	var rep recordBenchReport
	if err := json.Unmarshal([]byte(res.stdout), &rep); err != nil {
		t.Fatalf("decode the report: %v\n%s", err, res.stdout)
	}
	if rep.Run == nil || rep.Baseline == nil {
		t.Fatalf("report lacks a run or the baseline:\n%s", res.stdout)
	}
	s := rep.Settings
	if s.Groups != groups || s.BaselineGroups != baseline || s.Partitions != 4 || s.Regions != 2 || s.IntervalSeconds != 2 ||
		s.DurationSeconds != 6 || s.LimitPerRegion != limit || s.ToleranceSeconds != 0.2 || s.NeededPerRegion != 10 || s.OverLimit {
		t.Errorf("settings %+v", s)
	}
	for _, r := range []*recordRunFigures{rep.Baseline, rep.Run} {
		want := groups
		if r.Label == "baseline" {
			want = baseline
		}
		checkRecordRun(t, r, want, interval, duration, limit)
	}
	if got := rep.Ratios["polls_in_window"]; got < 1.5 || got > 16 {
		t.Errorf("run/baseline polls in the window %.2f, want about %d", got, groups/baseline)
	}
	for _, k := range []string{"cpu_per_1000", "write_p50", "write_p99", "peak_rate", "samples_per_second"} {
		if v, ok := rep.Ratios[k]; !ok || v <= 0 {
			t.Errorf("ratio %s = %v (present %v), want a positive ratio", k, v, ok)
		}
	}
	if rep.Punctual != rep.Run.Punctual || rep.RateWithinLimit != rep.Run.RateWithinLimit {
		t.Errorf("report verdicts %v/%v differ from the run's %v/%v", rep.Punctual, rep.RateWithinLimit, rep.Run.Punctual, rep.Run.RateWithinLimit)
	}

	// The same report as a table has every figure and both verdicts.
	var table bytes.Buffer
	if err := writeRecordBenchTable(&table, &rep); err != nil {
		t.Fatal(err)
	}
	t.Logf("report:\n%s", table.String())
	for _, row := range recordRows(200 * time.Millisecond) {
		if !strings.Contains(table.String(), row.label) {
			t.Errorf("table lacks %q:\n%s", row.label, table.String())
		}
	}
	for _, v := range []string{"punctual: " + yesNo(rep.Punctual) + ":", "rate <= limit: " + yesNo(rep.RateWithinLimit) + ":"} {
		if !strings.Contains(table.String(), v) {
			t.Errorf("table lacks verdict %q:\n%s", v, table.String())
		}
	}

	again := l.run("bench", "record", "--groups", "4", "--interval", "1s", "--duration", "1s", "--regions", "1", "--baseline-groups", "0")
	if again.code != exitFailure || !strings.Contains(again.stderr, "already holds polls") {
		t.Errorf("second run on the same database: exit %d, stderr %q; want 1 and a refusal", again.code, again.stderr)
	}
}

// checkRecordRun asserts that one run's figures are all there, plausible
// and consistent with its verdicts.
func checkRecordRun(t *testing.T, r *recordRunFigures, groups int, interval, duration time.Duration, limit int) {
	t.Helper()
	p := r.Punctuality
	want := groups * int(duration/interval)
	// Loose bounds: on a busy machine a stall of a few seconds moves polls
	// out of (or into) a window of three intervals.
	if r.Groups != groups || p.Polls < want/2 || p.Polls > want*3/2 {
		t.Errorf("%s: %d groups, %d polls in the window; want %d groups and about %d polls", r.Label, r.Groups, p.Polls, groups, want)
	}
	if p.Slots < groups*(int(duration/interval)-1) || p.Within > p.Polls || p.Missing > p.Slots {
		t.Errorf("%s: punctuality %+v", r.Label, p)
	}
	if !(0 <= p.LatenessP50 && p.LatenessP50 <= p.LatenessP99 && p.LatenessP99 <= p.LatenessMax) {
		t.Errorf("%s: lateness p50 %g p99 %g max %g out of order", r.Label, p.LatenessP50, p.LatenessP99, p.LatenessMax)
	}
	if punctual := p.Polls > 0 && p.Within == p.Polls && p.Missing == 0 && p.Doubled == 0; r.Punctual != punctual {
		t.Errorf("%s: punctual %v, but the figures say %v: %+v", r.Label, r.Punctual, punctual, p)
	}
	// A window of 6 s is sampled once; the recorder refreshes the
	// now-state every 2 s, so only a stalled machine leaves it minutes
	// behind.
	if n := r.Now; n.Samples < int(duration/nowSampleEvery) || n.MaxBehind < 0 || n.MaxBehind > 60 || n.BehindShare < 0 || n.BehindShare > 1 {
		t.Errorf("%s: now-state behind %+v; want a sample per %s, seconds behind and a share", r.Label, n, nowSampleEvery)
	}
	if r.ScheduleLag == nil || r.ScheduleLag.Count == 0 {
		t.Errorf("%s: no lagtrail_schedule_lag_seconds figures: %+v", r.Label, r.ScheduleLag)
	}
	rate := r.Rate
	if len(rate.Regions) != 2 || rate.OtherRequests != 0 || rate.FailedAnswers != 0 || rate.AnsweredPolls < p.Polls || rate.CallP50 <= 0 || rate.CallP99 < rate.CallP50 {
		t.Errorf("%s: request rate %+v", r.Label, rate)
	}
	for _, reg := range rate.Regions {
		if reg.Peak < 1 || reg.WindowMean <= 0 {
			t.Errorf("%s: region %s peaks at %d/s (mean %.1f/s); want requests", r.Label, reg.Region, reg.Peak, reg.WindowMean)
		}
	}
	// The recorder's limiter governs send times; arrivals may bunch when
	// the endpoint's process stalls on a loaded machine.
	if rate.SentPeak < 1 || rate.SentPeak > limit || rate.SentPeakRegion == "" {
		t.Errorf("%s: sent peak %d/s in %q; want 1 to %d", r.Label, rate.SentPeak, rate.SentPeakRegion, limit)
	}
	if within := rate.SentPeak > 0 && rate.SentPeak <= limit; r.RateWithinLimit != within {
		t.Errorf("%s: rate within limit %v, but sent peak %d against %d says %v", r.Label, r.RateWithinLimit, rate.SentPeak, limit, within)
	}
	c := r.CPU
	if c.Seconds <= 0 || math.Abs(float64(c.Seconds-c.UserSeconds-c.SystemSeconds)) > 1e-6 || c.PerThousandPolls <= 0 || c.WindowSeconds < 0 || c.ResidentBytes <= 0 {
		t.Errorf("%s: CPU %+v", r.Label, c)
	}
	if got := 1000 * c.Seconds / jsonFloat(rate.AnsweredPolls); math.Abs(float64(got-c.PerThousandPolls)) > 1e-6 {
		t.Errorf("%s: CPU per 1,000 polls %g, want %g", r.Label, c.PerThousandPolls, got)
	}
	w := r.Writes
	if w.Writes < 1 || w.P50 <= 0 || w.P99 < w.P50 || w.PollsWritten < 1 || w.SamplesWritten%4 != 0 ||
		w.SamplesPerSecond <= 0 || w.Errors != 0 || w.Dropped != 0 {
		t.Errorf("%s: writes %+v", r.Label, w)
	}
	// A scrape reads the write histogram and the poll and sample counters
	// one after another, not at one instant: a write that ends during the
	// scrape at either end of the window can be in one figure and not yet
	// in another. Each poll has 4 partitions, and every write holds at
	// least one poll, give or take those two writes.
	inFlight := 2 * int64(math.Ceil(float64(w.PollsPerWrite)))
	if d := w.SamplesWritten/4 - w.PollsWritten; d < -inFlight || d > inFlight || w.PollsWritten < w.Writes-2 {
		t.Errorf("%s: %d writes of %d polls and %d samples; want 4 samples a poll and a poll or more a write, give or take the 2 writes at the window's ends",
			r.Label, w.Writes, w.PollsWritten, w.SamplesWritten)
	}
	if r.Log.SecretLeaked || r.Log.Errors != 0 {
		t.Errorf("%s: recorder log %+v", r.Label, r.Log)
	}
}

// Bad flags get one clear error naming the flag, and exit 2 before any
// database is touched.
func TestBenchRecordFlags(t *testing.T) {
	t.Parallel()
	tests := []struct {
		args []string
		want string
	}{
		{[]string{"--format", "xml"}, "--format"},
		{[]string{"--groups", "0"}, "--groups"},
		{[]string{"--partitions", "0"}, "--partitions"},
		{[]string{"--regions", "0"}, "--regions"},
		{[]string{"--groups", "3", "--regions", "4", "--baseline-groups", "0"}, "--regions"},
		{[]string{"--interval", "500ms"}, "--interval"},
		{[]string{"--requests-per-second", "101"}, "--requests-per-second"},
		{[]string{"--requests-per-second", "0"}, "--requests-per-second"},
		{[]string{"--duration", "30s"}, "--duration"},
		{[]string{"--baseline-groups", "20000"}, "--baseline-groups"},
		{[]string{"--baseline-groups", "2"}, "--baseline-groups"},
	}
	for _, tt := range tests {
		t.Run(strings.Join(tt.args, " "), func(t *testing.T) {
			t.Parallel()
			var out, errb bytes.Buffer
			args := append([]string{"bench", "record", "--database-url", "postgres://nobody@127.0.0.1:1/none"}, tt.args...)
			code := run(t.Context(), args, &out, &errb, func(string) string { return "" })
			if code != exitUsage || !strings.Contains(errb.String(), tt.want) || strings.Count(errb.String(), "\n") != 1 {
				t.Errorf("exit %d, stderr %q; want 2 and one line naming %s", code, errb.String(), tt.want)
			}
		})
	}
}

func TestBucketQuantile(t *testing.T) {
	t.Parallel()
	inf := math.Inf(1)
	b := []promBucket{{0.001, 10}, {0.002, 30}, {0.004, 90}, {0.008, 100}, {inf, 100}}
	tests := []struct {
		name    string
		q       float64
		buckets []promBucket
		want    float64
	}{
		{"median in the third bucket", 0.5, b, 0.002 + 0.002*(50-30)/60.0},
		{"within the first bucket from zero", 0.05, b, 0.0005},
		{"p99 in the last finite bucket", 0.99, b, 0.004 + 0.004*(99-90)/10.0},
		{"all observations", 1, b, 0.008},
		{"rank in +Inf gives the highest finite bound", 0.99, []promBucket{{0.1, 50}, {inf, 100}}, 0.1},
		{"skips empty buckets", 0.5, []promBucket{{1, 0}, {2, 0}, {4, 10}, {inf, 10}}, 3},
		{"empty histogram", 0.5, []promBucket{{1, 0}, {inf, 0}}, math.NaN()},
		{"no buckets", 0.5, nil, math.NaN()},
	}
	for _, tt := range tests {
		got := bucketQuantile(tt.q, tt.buckets)
		if !(math.Abs(got-tt.want) < 1e-12 || math.IsNaN(got) && math.IsNaN(tt.want)) {
			t.Errorf("%s: got %g, want %g", tt.name, got, tt.want)
		}
	}
}

func TestBucketShareAtMost(t *testing.T) {
	t.Parallel()
	b := []promBucket{{1, 10}, {2, 30}, {6, 90}, {10, 100}, {math.Inf(1), 100}}
	tests := []struct{ x, want float64 }{
		{0.5, 0.05}, {1, 0.1}, {4, 0.6}, {6, 0.9}, {10, 1}, {100, 1},
	}
	for _, tt := range tests {
		if got := bucketShareAtMost(tt.x, b); math.Abs(got-tt.want) > 1e-12 {
			t.Errorf("share at most %g: got %g, want %g", tt.x, got, tt.want)
		}
	}
}

func TestRequestRates(t *testing.T) {
	t.Parallel()
	t0 := time.Date(2025, 1, 6, 0, 0, 0, 0, time.UTC)
	ms := func(m int) time.Time { return t0.Add(time.Duration(m) * time.Millisecond) }
	at := func(ms ...int) []time.Time {
		var out []time.Time
		for _, m := range ms {
			out = append(out, t0.Add(time.Duration(m)*time.Millisecond))
		}
		return out
	}
	tests := []struct {
		name   string
		times  []time.Time
		peak   int
		peakAt time.Time
		over2  int // requests over a limit of 2 per second
		gap    time.Duration
	}{
		{"none", nil, 0, time.Time{}, 0, 0},
		{"one", at(5), 1, ms(5), 0, 0},
		{"window is half-open", at(0, 1000), 1, ms(0), 0, time.Second},
		{"just inside", at(0, 999), 2, ms(0), 0, 999 * time.Millisecond},
		{"sliding, not aligned to seconds", at(0, 600, 700, 1500, 1600, 1650, 2700), 4, ms(700), 4, 1050 * time.Millisecond},
		{"same instant", at(10, 10, 10), 3, ms(10), 1, 0},
	}
	for _, tt := range tests {
		peak, peakAt := peakInWindow(tt.times, time.Second)
		over := overRate(tt.times, time.Second, 2)
		gap, _ := longestGap(tt.times)
		if peak != tt.peak || !peakAt.Equal(tt.peakAt) || over != tt.over2 || gap != tt.gap {
			t.Errorf("%s: peak %d at %s, %d over 2/s, longest gap %s; want %d at %s, %d, %s",
				tt.name, peak, peakAt, over, gap, tt.peak, tt.peakAt, tt.over2, tt.gap)
		}
	}
}

func TestPunctuality(t *testing.T) {
	t.Parallel()
	const interval, tol = 10 * time.Second, time.Second
	from := time.Date(2025, 1, 6, 0, 0, 0, 0, time.UTC)
	to := from.Add(30 * time.Second)
	groups := []store.GroupRef{{Region: "r", InstanceID: "i", Group: "a"}, {Region: "r", InstanceID: "i", Group: "b"}}
	// slots returns a group's slots wholly in [from, to).
	slots := func(g store.GroupRef) []time.Time {
		var out []time.Time
		s := ingest.Slot(g, interval, from)
		if s.Before(from) {
			s = s.Add(interval)
		}
		for ; !s.Add(interval).After(to); s = s.Add(interval) {
			out = append(out, s)
		}
		return out
	}
	onTime := func(late time.Duration) []benchPoll {
		var out []benchPoll
		for _, g := range groups {
			for _, s := range slots(g) {
				out = append(out, benchPoll{g, s.Add(late)})
			}
		}
		return out
	}
	nslots := len(slots(groups[0])) + len(slots(groups[1]))
	first := slots(groups[0])[0]
	tests := []struct {
		name                                  string
		polls                                 []benchPoll
		polled, within, missing, doubled, ext int
		max                                   time.Duration
	}{
		{"every slot on time", onTime(100 * time.Millisecond), nslots, nslots, 0, 0, 0, 100 * time.Millisecond},
		{"one late poll", append(onTime(0)[1:], benchPoll{groups[0], first.Add(3 * time.Second)}), nslots, nslots - 1, 0, 0, 0, 3 * time.Second},
		{"one slot missing", onTime(0)[1:], nslots - 1, nslots - 1, 1, 0, 0, 0},
		{"one slot polled three times", append(onTime(0), benchPoll{groups[0], first.Add(time.Second)}, benchPoll{groups[0], first.Add(2 * time.Second)}),
			nslots + 2, nslots + 1, 0, 1, 2, 2 * time.Second},
		{"polls outside the window are ignored", append(onTime(0), benchPoll{groups[1], from.Add(-time.Second)}, benchPoll{groups[1], to}),
			nslots, nslots, 0, 0, 0, 0},
	}
	for _, tt := range tests {
		got := punctuality(tt.polls, groups, interval, tol, from, to)
		if got.Polls != tt.polled || got.Within != tt.within || got.Slots != nslots || got.Missing != tt.missing ||
			got.Doubled != tt.doubled || got.Extra != tt.ext || got.LatenessMax != tt.max.Seconds() {
			t.Errorf("%s: got %+v; want %d polls, %d within, %d slots, %d missing, %d doubled (%d extra), max %s",
				tt.name, got, tt.polled, tt.within, nslots, tt.missing, tt.doubled, tt.ext, tt.max)
		}
	}
}

func TestParsePromText(t *testing.T) {
	t.Parallel()
	text := `# HELP lagtrail_polls_total x
# TYPE lagtrail_polls_total counter
lagtrail_polls_total{code="",region="cn-hangzhou",result="ok"} 120
lagtrail_polls_total{code="Throttling",region="cn-hangzhou",result="error"} 3
lagtrail_polls_total{code="",region="cn-shanghai",result="ok"} 80
lagtrail_write_duration_seconds_bucket{le="0.001"} 4
lagtrail_write_duration_seconds_bucket{le="+Inf"} 9
lagtrail_last_successful_poll_timestamp_seconds{group="a \"quoted\", b",instance="i",region="r"} 1.7e+09
process_cpu_seconds_total 1.25
not a sample
`
	p := promScrape{samples: parsePromText(text)}
	tests := []struct {
		name  string
		match []string
		want  float64
	}{
		{"lagtrail_polls_total", nil, 203},
		{"lagtrail_polls_total", []string{"result", "ok"}, 200},
		{"lagtrail_polls_total", []string{"result", "error", "code", "Throttling"}, 3},
		{"lagtrail_last_successful_poll_timestamp_seconds", []string{"group", `a "quoted", b`}, 1.7e9},
		{"process_cpu_seconds_total", nil, 1.25},
	}
	for _, tt := range tests {
		if got, ok := p.sum(tt.name, tt.match...); !ok || got != tt.want {
			t.Errorf("sum(%s, %v) = %g, %v; want %g", tt.name, tt.match, got, ok, tt.want)
		}
	}
	h, ok := p.histogram("lagtrail_write_duration_seconds")
	if !ok || len(h) != 2 || h[0] != (promBucket{0.001, 4}) || !math.IsInf(h[1].le, 1) || h[1].count != 9 {
		t.Errorf("histogram = %v, %v", h, ok)
	}
	if _, ok := p.sum("absent"); ok {
		t.Error("an absent metric was found")
	}
}

// The simulated fleet has the asked shape, and its offsets are sane.
func TestBenchFleet(t *testing.T) {
	t.Parallel()
	epoch := time.Date(2025, 1, 6, 0, 0, 0, 0, time.UTC)
	tests := []struct{ groups, partitions, regions int }{
		{1, 1, 1}, {7, 5, 3}, {40, 32, 4},
	}
	for _, tt := range tests {
		f := newBenchFleet(tt.groups, tt.partitions, tt.regions, epoch)
		listed := 0
		regions := map[string]bool{}
		for _, tg := range f.targets() {
			listed += len(tg.Groups)
			regions[tg.Region] = true
			if want := (tt.groups - len(regions) + tt.regions) / tt.regions; len(tg.Groups) != want {
				t.Errorf("%+v: region %s has %d groups, want %d", tt, tg.Region, len(tg.Groups), want)
			}
		}
		if listed != tt.groups || len(regions) != tt.regions || len(f.fleet().Instances) != tt.regions {
			t.Errorf("%+v: %d groups listed over %d regions", tt, listed, len(regions))
		}
		for i, ref := range f.refs {
			at := epoch.Add(time.Hour)
			gp := f.progress(ref.Region, ref.InstanceID, ref.Group, at)
			parts := 0
			for _, tp := range gp.Topics {
				for _, p := range tp.Partitions {
					parts++
					if p.Consumer < 0 || p.Consumer > p.Broker || p.LastTimestampMs >= at.UnixMilli() {
						t.Errorf("%+v: group %s partition %+v", tt, ref.Group, p)
					}
				}
			}
			wantTopics := min(1+i%2, tt.partitions)
			if parts != tt.partitions || len(gp.Topics) != wantTopics {
				t.Errorf("%+v: group %s has %d partitions in %d topics, want %d in %d", tt, ref.Group, parts, len(gp.Topics), tt.partitions, wantTopics)
			}
		}
	}
}
