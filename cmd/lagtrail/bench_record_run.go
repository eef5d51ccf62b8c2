package main

import (
	"context"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"

	"github.com/lagtrail/lagtrail/ingest"
	"github.com/lagtrail/lagtrail/internal/alisim"
	"github.com/lagtrail/lagtrail/store"
)

// recordBench runs the recorder against simulated fleets.
type recordBench struct {
	f             *recordBenchFlags
	dbURL         string
	stderr        io.Writer
	exe           string
	keyID, secret string
	self          *prometheus.Registry // this process's CPU, for the simulator's cost
}

func newRecordBench(f *recordBenchFlags, dbURL string, stderr io.Writer) (*recordBench, error) {
	exe, err := os.Executable()
	if err != nil {
		return nil, fmt.Errorf("find this binary to run record: %w", err)
	}
	id, secret := newBenchAccessKey()
	self := prometheus.NewRegistry()
	self.MustRegister(collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return &recordBench{f: f, dbURL: dbURL, stderr: stderr, exe: exe, keyID: id, secret: secret, self: self}, nil
}

func (b *recordBench) progress(format string, args ...any) {
	fmt.Fprintf(b.stderr, "bench record: "+format+"\n", args...)
}

// tolerance is how late a poll may start and still count as punctual.
func (b *recordBench) tolerance() time.Duration { return b.f.interval / 10 }

// neededPerRegion is the request rate the busiest region needs.
func neededPerRegion(groups, regions int, interval time.Duration) float64 {
	return float64((groups+regions-1)/regions) / interval.Seconds()
}

func (b *recordBench) settings() recordBenchSettings {
	need := neededPerRegion(b.f.groups, b.f.regions, b.f.interval)
	return recordBenchSettings{
		Groups: b.f.groups, BaselineGroups: b.f.baseline, Partitions: b.f.partitions, Regions: b.f.regions,
		IntervalSeconds: b.f.interval.Seconds(), WarmupSeconds: b.f.interval.Seconds(), DurationSeconds: b.f.duration.Seconds(),
		LimitPerRegion: b.f.rps, QuotaPerRegion: ingest.MaxRequestsPerSecond, ToleranceSeconds: b.tolerance().Seconds(),
		NeededPerRegion: need, OverLimit: need > b.f.rps, RecorderBinary: b.exe, AccessKeyIDForRun: b.keyID,
	}
}

// writeConfig writes the recorder's config for the fleet into dir.
func (b *recordBench) writeConfig(dir string, fleet *benchFleet, endpoint string) (string, error) {
	var s strings.Builder
	fmt.Fprintf(&s, "interval: %dms\ndata_dir: %s\n", b.f.interval.Milliseconds(), strconv.Quote(filepath.Join(dir, "data")))
	fmt.Fprintf(&s, "alibaba:\n  endpoint: %s\n  scheme: http\n  requests_per_second: %s\n", strconv.Quote(endpoint), strconv.FormatFloat(b.f.rps, 'g', -1, 64))
	s.WriteString("targets:\n")
	for _, t := range fleet.targets() {
		fmt.Fprintf(&s, "  - region: %s\n    instance: %s\n    groups:\n", t.Region, t.Instance)
		for _, g := range t.Groups {
			fmt.Fprintf(&s, "      - %s\n", g)
		}
	}
	path := filepath.Join(dir, "lagtrail.yaml")
	if err := os.WriteFile(path, []byte(s.String()), 0o600); err != nil {
		return "", fmt.Errorf("write the recorder's config: %w", err)
	}
	return path, nil
}

// run measures the recorder on a fleet of groups groups.
func (b *recordBench) run(ctx context.Context, label string, groups int) (*recordRunFigures, error) {
	f := b.f
	fleet := newBenchFleet(groups, f.partitions, f.regions, time.Now())
	rounds := int((f.interval+f.duration)/f.interval) + 3
	sim, err := startBenchSim(fleet, b.keyID, b.secret, max(alisim.DefaultMaxRecorded, 2*groups*rounds))
	if err != nil {
		return nil, err
	}
	defer sim.close()
	dir, err := os.MkdirTemp("", "lagtrail-bench-record-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(dir)
	cfgPath, err := b.writeConfig(dir, fleet, sim.addr)
	if err != nil {
		return nil, err
	}
	began := time.Now()
	args := []string{"record", "--config", cfgPath, "--listen", "127.0.0.1:0", "--log-format", "json"}
	child, err := startBenchChild(b.exe, args, benchEnv(b.keyID, b.secret, b.dbURL), b.secret, func(s string) { b.progress("%s: recorder: %s", label, s) })
	if err != nil {
		return nil, err
	}
	defer child.kill()
	addr, err := child.waitAddr(ctx, 2*time.Minute)
	if err != nil {
		return nil, err
	}
	from := time.Now().Add(f.interval)
	to := from.Add(f.duration)
	b.progress("%s: %s groups x %d partitions over %s; warm-up until %s, measuring until %s",
		label, thousands(int64(groups)), f.partitions, regionCount(f.regions), from.Format(time.TimeOnly), to.Format(time.TimeOnly))
	if err := child.sleepUntil(ctx, from); err != nil {
		return nil, err
	}
	m0, err := scrapeMetrics(ctx, addr)
	if err != nil {
		return nil, err
	}
	mach0 := b.machine()
	now, err := b.sampleNowState(ctx, child, to)
	if err != nil {
		return nil, err
	}
	m1, err := scrapeMetrics(ctx, addr)
	if err != nil {
		return nil, err
	}
	mach1 := b.machine()
	b.progress("%s: measured; stopping the recorder", label)
	if err := child.stop(f.interval + 2*time.Minute); err != nil {
		return nil, err
	}
	sim.close()

	r := &recordRunFigures{
		Label: label, Groups: groups, Partitions: f.partitions, Regions: f.regions,
		NeededPerRegion: jsonFloat(neededPerRegion(groups, f.regions, f.interval)),
		WindowFrom:      from.UTC(), WindowTo: to.UTC(),
	}
	b.requestFigures(r, sim.sim.Requests(), fleet, from, to)
	if err := b.sendPeaks(ctx, r, began, time.Now()); err != nil {
		return nil, err
	}
	b.metricFigures(r, m0, m1)
	r.Machine = machineDelta(mach0, mach1)
	r.Now = now
	user, sys := child.cpu()
	r.CPU.UserSeconds, r.CPU.SystemSeconds = jsonFloat(user.Seconds()), jsonFloat(sys.Seconds())
	r.CPU.Seconds = jsonFloat((user + sys).Seconds())
	r.CPU.PerThousandPolls = perThousand(r.CPU.Seconds, r.Rate.AnsweredPolls)
	r.CPU.WindowPerThousandPolls = perThousand(r.CPU.WindowSeconds, r.Punctuality.Polls)
	child.mu.Lock()
	r.Log = recordLog{Warnings: child.warnings, Errors: child.errors, SecretLeaked: child.leaked, Tail: slices.Clone(child.tail)}
	child.mu.Unlock()
	r.Punctual = r.Punctuality.Polls > 0 && r.Punctuality.Within == r.Punctuality.Polls &&
		r.Punctuality.Missing == 0 && r.Punctuality.Doubled == 0
	r.RateWithinLimit = r.Rate.AnsweredPolls > 0 && float64(r.Rate.SentPeak) <= f.rps
	b.progress("%s: %s polls in the window, %.2f%% within %s of their slot, peak %d requests in 1s in one region, %.3f CPU s per 1,000 polls",
		label, thousands(int64(r.Punctuality.Polls)), 100*r.Punctuality.WithinShare, b.tolerance(), r.Rate.Peak, r.CPU.PerThousandPolls)
	return r, nil
}

func perThousand(x jsonFloat, n int) jsonFloat {
	if n == 0 {
		return jsonFloat(math.NaN())
	}
	return 1000 * x / jsonFloat(n)
}

// nowSampleEvery is how often sampleNowState reads how far the stored
// now-state is behind.
const nowSampleEvery = 5 * time.Second

// sampleNowState reads every nowSampleEvery until to how far the stored
// now-state is behind the polls written, while the child records.
func (b *recordBench) sampleNowState(ctx context.Context, child *benchChild, to time.Time) (recordNow, error) {
	var out recordNow
	st, err := store.Open(ctx, store.Config{DatabaseURL: b.dbURL}, nil)
	if err != nil {
		return out, fmt.Errorf("open store: %w", err)
	}
	defer st.Close()
	var shares float64
	for {
		next := time.Now().Add(nowSampleEvery)
		if next.After(to) {
			break
		}
		if err := child.sleepUntil(ctx, next); err != nil {
			return out, err
		}
		nb, err := st.NowBehind(ctx)
		if err != nil {
			return out, err
		}
		out.Samples++
		out.MaxBehind = max(out.MaxBehind, jsonFloat(nb.Max.Seconds()))
		if nb.Groups > 0 {
			shares += float64(nb.Behind) / float64(nb.Groups)
		}
	}
	if out.Samples > 0 {
		out.BehindShare = jsonFloat(shares / float64(out.Samples))
	}
	return out, child.sleepUntil(ctx, to)
}

// sendPeaks fills the peak of calls sent per second from the stored polls.
func (b *recordBench) sendPeaks(ctx context.Context, r *recordRunFigures, from, to time.Time) error {
	st, err := store.Open(ctx, store.Config{DatabaseURL: b.dbURL}, nil)
	if err != nil {
		return fmt.Errorf("open store: %w", err)
	}
	defer st.Close()
	peaks, err := st.SendPeaks(ctx, from, to)
	if err != nil {
		return err
	}
	for _, p := range peaks {
		if p.Peak > r.Rate.SentPeak {
			r.Rate.SentPeak, r.Rate.SentPeakRegion = p.Peak, p.Region
		}
	}
	return nil
}

// requestFigures fills punctuality and request rates from the endpoint's
// request log.
func (b *recordBench) requestFigures(r *recordRunFigures, reqs []alisim.Request, fleet *benchFleet, from, to time.Time) {
	var polls []benchPoll
	byRegion := map[string][]time.Time{}
	for _, q := range reqs {
		if q.Status == 0 {
			continue // the client went away before an answer
		}
		if q.Action != alisim.ActionGetConsumerProgress {
			r.Rate.OtherRequests++
			continue
		}
		if q.Status != 200 || q.Code != "" {
			r.Rate.FailedAnswers++
		}
		i, ok := fleet.index[q.ConsumerID]
		if !ok || fleet.refs[i].Region != q.RegionID || fleet.refs[i].InstanceID != q.InstanceID {
			r.Rate.FailedAnswers++
			continue
		}
		polls = append(polls, benchPoll{group: fleet.refs[i], at: q.Time})
		byRegion[q.RegionID] = append(byRegion[q.RegionID], q.Time)
	}
	r.Rate.AnsweredPolls = len(polls)
	r.Punctuality = punctuality(polls, fleet.refs, b.f.interval, b.tolerance(), from, to)
	regions := make([]string, 0, len(byRegion))
	for reg := range byRegion {
		regions = append(regions, reg)
	}
	slices.Sort(regions)
	for _, reg := range regions {
		times := byRegion[reg]
		slices.SortFunc(times, func(a, b time.Time) int { return a.Compare(b) })
		inWindow := 0
		for _, t := range times {
			if !t.Before(from) && t.Before(to) {
				inWindow++
			}
		}
		peak, peakAt := peakInWindow(times, time.Second)
		gap, gapEnd := longestGap(times)
		rr := recordRegionRate{Region: reg, Requests: len(times), Peak: peak, PeakAt: peakAt.UTC(),
			WindowMean:    jsonFloat(float64(inWindow) / to.Sub(from).Seconds()),
			OverLimit:     overRate(times, time.Second, b.f.rps),
			OverQuota:     overRate(times, time.Second, ingest.MaxRequestsPerSecond),
			LongestGap:    jsonFloat(gap.Seconds()),
			LongestGapEnd: gapEnd.UTC()}
		r.Rate.Regions = append(r.Rate.Regions, rr)
		if rr.Peak > r.Rate.Peak {
			r.Rate.Peak, r.Rate.PeakRegion = rr.Peak, reg
		}
		r.Rate.WindowMeanMax = max(r.Rate.WindowMeanMax, rr.WindowMean)
	}
}

// metricFigures fills what the recorder's own metrics say about the window.
func (b *recordBench) metricFigures(r *recordRunFigures, m0, m1 promScrape) {
	secs := m1.at.Sub(m0.at).Seconds()
	delta := func(name string, match ...string) (float64, bool) {
		v1, ok1 := m1.sum(name, match...)
		v0, _ := m0.sum(name, match...)
		return v1 - v0, ok1
	}
	if v, ok := delta("process_cpu_seconds_total"); ok {
		r.CPU.WindowSeconds = jsonFloat(v)
	} else {
		r.CPU.WindowSeconds = jsonFloat(math.NaN())
	}
	if v, ok := m1.sum("process_resident_memory_bytes"); ok {
		r.CPU.ResidentBytes = int64(v)
	}
	if h1, ok := m1.histogram("lagtrail_write_duration_seconds"); ok {
		h0, _ := m0.histogram("lagtrail_write_duration_seconds")
		d := bucketDelta(h1, h0)
		r.Writes.Writes = int64(d[len(d)-1].count)
		r.Writes.P50 = jsonFloat(bucketQuantile(0.50, d))
		r.Writes.P99 = jsonFloat(bucketQuantile(0.99, d))
	} else {
		r.Writes.P50, r.Writes.P99 = jsonFloat(math.NaN()), jsonFloat(math.NaN())
	}
	pw, _ := delta("lagtrail_polls_written_total")
	sw, _ := delta("lagtrail_samples_written_total")
	r.Writes.PollsWritten, r.Writes.SamplesWritten = int64(pw), int64(sw)
	r.Writes.PollsPerWrite = jsonFloat(math.NaN())
	if r.Writes.Writes > 0 {
		r.Writes.PollsPerWrite = jsonFloat(pw / float64(r.Writes.Writes))
	}
	r.Writes.SamplesPerSecond = jsonFloat(sw / secs)
	we, _ := delta("lagtrail_write_errors_total")
	dr, _ := delta("lagtrail_dropped_polls_total")
	r.Writes.Errors, r.Writes.Dropped = int64(we), int64(dr)
	bp, _ := m1.sum("lagtrail_buffer_polls")
	sp, _ := m1.sum("lagtrail_spool_polls")
	r.Writes.BufferPollsAtEnd, r.Writes.SpoolPollsAtEnd = int64(bp), int64(sp)
	okPolls, _ := delta("lagtrail_polls_total", "result", "ok")
	errPolls, _ := delta("lagtrail_polls_total", "result", "error")
	r.Rate.RecorderOK, r.Rate.RecorderErrors = int64(okPolls), int64(errPolls)
	r.Rate.CallP50, r.Rate.CallP99 = jsonFloat(math.NaN()), jsonFloat(math.NaN())
	if h1, ok := m1.histogram("lagtrail_poll_duration_seconds"); ok {
		h0, _ := m0.histogram("lagtrail_poll_duration_seconds")
		d := bucketDelta(h1, h0)
		r.Rate.CallP50, r.Rate.CallP99 = jsonFloat(bucketQuantile(0.50, d)), jsonFloat(bucketQuantile(0.99, d))
	}
	if h1, ok := m1.histogram("lagtrail_schedule_lag_seconds"); ok {
		h0, _ := m0.histogram("lagtrail_schedule_lag_seconds")
		d := bucketDelta(h1, h0)
		r.ScheduleLag = &recordHistogram{
			Count: int64(d[len(d)-1].count), P50: jsonFloat(bucketQuantile(0.50, d)), P99: jsonFloat(bucketQuantile(0.99, d)),
			WithinShare: jsonFloat(bucketShareAtMost(b.tolerance().Seconds(), d)),
		}
	}
}

// machineSample is what bench record notes of the machine at one moment.
type machineSample struct {
	at          time.Time
	load1       float64
	busy, total float64 // /proc/stat jiffies, all CPUs
	selfCPU     float64 // this process's CPU seconds
	ok          bool
}

func (b *recordBench) machine() machineSample {
	m := machineSample{at: time.Now(), load1: math.NaN(), selfCPU: math.NaN()}
	if data, err := os.ReadFile("/proc/loadavg"); err == nil {
		if f := strings.Fields(string(data)); len(f) > 0 {
			m.load1, _ = strconv.ParseFloat(f[0], 64)
		}
	}
	if data, err := os.ReadFile("/proc/stat"); err == nil {
		line, _, _ := strings.Cut(string(data), "\n")
		if f := strings.Fields(line); len(f) > 5 && f[0] == "cpu" {
			for i, v := range f[1:] {
				x, _ := strconv.ParseFloat(v, 64)
				if i < 8 { // user nice system idle iowait irq softirq steal; guest is in user
					m.total += x
					if i != 3 && i != 4 {
						m.busy += x
					}
				}
			}
			m.ok = true
		}
	}
	if mfs, err := b.self.Gather(); err == nil {
		for _, mf := range mfs {
			if mf.GetName() == "process_cpu_seconds_total" && len(mf.GetMetric()) > 0 {
				m.selfCPU = mf.GetMetric()[0].GetCounter().GetValue()
			}
		}
	}
	return m
}

// machineDelta describes the machine over the window.
func machineDelta(a, b machineSample) recordMachine {
	m := recordMachine{Cores: runtime.NumCPU(), Load1Start: jsonFloat(a.load1), Load1End: jsonFloat(b.load1), BusyShare: jsonFloat(math.NaN()),
		BenchCPUSeconds: jsonFloat(b.selfCPU - a.selfCPU)}
	if a.ok && b.ok && b.total > a.total {
		m.BusyShare = jsonFloat((b.busy - a.busy) / (b.total - a.total))
	}
	return m
}
