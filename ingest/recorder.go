package ingest

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"sort"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"golang.org/x/sync/errgroup"

	"github.com/lagtrail/lagtrail/store"
)

// Writer stores polls. *store.Store satisfies it.
type Writer interface {
	// WritePolls stores polls in one transaction; writing the same poll
	// twice stores it once. An error wrapping store.ErrInvalidPoll means
	// the batch can never be written as it is.
	WritePolls(ctx context.Context, polls []*store.Poll) (int, error)
	// Upkeep makes partitions ahead and drops expired ones, when this
	// writer is the one of its database that does upkeep.
	Upkeep(ctx context.Context, cfg store.UpkeepConfig, now time.Time) (store.UpkeepResult, error)
	// RefreshRollups brings the rollups up to date with the polls written.
	RefreshRollups(ctx context.Context) (store.RollupResult, error)
	// RefreshNow brings the stored now-state up to date with the polls
	// written.
	RefreshNow(ctx context.Context) (store.NowResult, error)
	// SetStatusRules replaces the stored status rules with those of the
	// config (Config.StatusRules).
	SetStatusRules(ctx context.Context, rules []store.StatusRule) error
}

// writeTimeout bounds one WritePolls call.
const writeTimeout = 30 * time.Second

// Recorder polls every consumer group of its targets and writes each poll.
type Recorder struct {
	cfg     Config
	w       Writer
	log     *slog.Logger
	metrics *metrics
	apis    map[string]*regionAPI
	base    *http.Transport
	d       *delivery

	// membersSeen is the coordinator's recent counts of live recorders.
	membersSeen []membersAt

	healthMu    sync.Mutex
	lastPollOK  time.Time
	lastPollErr time.Time
}

// New validates cfg and builds a Recorder. reg may be nil, in which case the
// recorder's metrics are not exported. logger may be nil.
func New(cfg Config, w Writer, logger *slog.Logger, reg prometheus.Registerer) (*Recorder, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if w == nil {
		return nil, fmt.Errorf("%w: nil writer", ErrInvalidConfig)
	}
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	cfg = cfg.withDefaults()
	m, err := newMetrics(reg)
	if err != nil {
		return nil, fmt.Errorf("register metrics: %w", err)
	}
	r := &Recorder{cfg: cfg, w: w, log: logger, metrics: m, apis: map[string]*regionAPI{}, base: newBaseTransport()}
	r.d = newDelivery(w, cfg.Spool, logger, m, cfg.Buffer)
	creds := newSharedCredentials(cfg.Alibaba.Credentials)
	for _, t := range cfg.Targets {
		if _, ok := r.apis[t.Region]; ok {
			continue
		}
		api, err := newRegionAPI(t.Region, cfg, creds, r.base)
		if err != nil {
			return nil, err
		}
		r.apis[t.Region] = api
	}
	return r, nil
}

// Close releases idle connections.
func (r *Recorder) Close() { r.base.CloseIdleConnections() }

// Run polls until ctx is cancelled, then lets in-flight polls finish,
// writes what is waiting (spooling what the database does not take) and
// returns nil. Failed polls are written, not returned.
func (r *Recorder) Run(ctx context.Context) error {
	stopWriting := r.startDelivery(ctx)
	defer stopWriting()
	eg, ctx := errgroup.WithContext(ctx)
	sup := &supervisor{eg: eg, ctx: ctx, run: r.runGroup, sets: map[int][]store.GroupRef{}, running: map[store.GroupRef]context.CancelFunc{}, gauge: r.metrics.groups, log: r.log}
	if r.cfg.HA.Leases != nil {
		sup.allowed = map[store.GroupRef]bool{}
		eg.Go(func() error {
			r.coordinate(ctx, sup)
			return nil
		})
	}
	eg.Go(func() error {
		r.keepPartitions(ctx)
		return nil
	})
	eg.Go(func() error {
		r.keepRollups(ctx)
		return nil
	})
	eg.Go(func() error {
		r.keepNowState(ctx)
		return nil
	})
	eg.Go(func() error {
		r.storeStatusRules(ctx)
		return nil
	})
	for i, t := range r.cfg.Targets {
		eg.Go(func() error {
			r.discoverLoop(ctx, i, t, sup)
			return nil
		})
	}
	return eg.Wait()
}

// startDelivery starts the writer goroutine and returns the function that
// stops it once the pollers are done: it writes or spools what is left.
func (r *Recorder) startDelivery(ctx context.Context) func() {
	dctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	done := make(chan struct{})
	go func() {
		defer close(done)
		r.d.run(dctx)
	}()
	return func() {
		cancel()
		<-done
		r.d.finish(ctx)
	}
}

// Health is what the recorder knows of its own state, for readiness checks.
type Health struct {
	// LastPollOK is when a poll last succeeded; zero if none has.
	LastPollOK time.Time
	// LastPollFailed is when a poll last failed; zero if none has.
	LastPollFailed time.Time
	// WritesFailing is true while the last database write failed.
	WritesFailing bool
	// LastWriteOK is when a database write last succeeded.
	LastWriteOK time.Time
	// Interval is the poll interval, to judge LastPollOK by.
	Interval time.Duration
}

// Health reports the recorder's state.
func (r *Recorder) Health() Health {
	r.healthMu.Lock()
	h := Health{LastPollOK: r.lastPollOK, LastPollFailed: r.lastPollErr, Interval: r.cfg.Interval}
	r.healthMu.Unlock()
	h.WritesFailing, h.LastWriteOK = r.d.state()
	return h
}

// OnceResult summarises RunOnce.
type OnceResult struct {
	// Groups is how many groups were polled.
	Groups int
	// Failed lists "region/instance/group: code" for every group whose last
	// attempt failed, and discovery failures.
	Failed []string
	// Unwritten is how many polls the database did not take: they are in
	// the spool, or were lost without one.
	Unwritten int
}

// RunOnce discovers every target once, polls every group once (retrying
// throttled calls with backoff within one interval), writes the polls and
// returns what failed.
func (r *Recorder) RunOnce(ctx context.Context) (OnceResult, error) {
	var res OnceResult
	if _, err := r.w.Upkeep(ctx, r.cfg.Upkeep, r.cfg.Now().UTC()); err != nil {
		r.log.Warn("storage upkeep", slog.Any("err", err))
	}
	if err := r.w.SetStatusRules(ctx, r.cfg.StatusRules()); err != nil {
		r.log.Warn("store status rules", slog.Any("err", err))
	}
	seen := map[store.GroupRef]bool{}
	var groups []store.GroupRef
	for _, t := range r.cfg.Targets {
		gs, err := r.discover(ctx, t)
		if err != nil {
			res.Failed = append(res.Failed, fmt.Sprintf("discovery %s/%s: %v", t.Region, t.Instance, err))
			continue
		}
		for _, g := range gs {
			if !seen[g] {
				seen[g] = true
				groups = append(groups, g)
			}
		}
	}
	res.Groups = len(groups)
	stopWriting := r.startDelivery(ctx)
	deadline := time.Now().Add(r.cfg.Interval)
	var mu sync.Mutex
	var wg sync.WaitGroup
	for _, g := range groups {
		wg.Go(func() {
			p := r.pollWithRetry(ctx, g, time.Time{}, deadline)
			if p == nil || !p.OK {
				code := CodeCanceled
				if p != nil {
					code = p.ErrorCode
				}
				mu.Lock()
				res.Failed = append(res.Failed, fmt.Sprintf("%s/%s/%s: %s", g.Region, g.InstanceID, g.Group, code))
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	stopWriting()
	res.Unwritten = r.d.unwritten()
	sort.Strings(res.Failed)
	if ctx.Err() == nil {
		if _, err := r.w.RefreshNow(ctx); err != nil {
			r.log.Warn("refresh now-state", slog.Any("err", err))
		}
		if _, err := r.w.RefreshRollups(ctx); err != nil {
			r.log.Warn("refresh rollups", slog.Any("err", err))
		}
	}
	return res, ctx.Err()
}

// runGroup polls one group at its ticks until ctx is cancelled.
func (r *Recorder) runGroup(ctx context.Context, g store.GroupRef) {
	ph := phase(g, r.cfg.Interval)
	for {
		tick := nextTick(time.Now(), ph, r.cfg.Interval)
		timer := time.NewTimer(time.Until(tick))
		select {
		case <-ctx.Done():
			timer.Stop()
			return
		case <-timer.C:
		}
		r.pollWithRetry(ctx, g, tick, tick.Add(r.cfg.Interval))
	}
}

// pollWithRetry polls g and writes the outcome. Throttled attempts are
// written too, and retried after an exponential, jittered backoff as long as
// the retry can finish before deadline. slot, when not zero, is when the
// first attempt was due. It returns the last attempt, or nil when the
// recorder stopped before anything was sent.
func (r *Recorder) pollWithRetry(ctx context.Context, g store.GroupRef, slot, deadline time.Time) *store.Poll {
	for attempt := 1; ; attempt++ {
		p := r.pollOnce(ctx, g, slot)
		slot = time.Time{}
		if p == nil || p.OK || !isThrottleCode(p.ErrorCode) {
			return p
		}
		wait := backoff(attempt, r.cfg.ThrottleBackoff, r.cfg.Interval/2)
		if time.Now().Add(wait + r.cfg.PollTimeout).After(deadline) {
			r.log.Warn("throttled; giving up until the next interval", groupAttrs(g), slog.Int("attempts", attempt))
			return p
		}
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return p
		case <-t.C:
		}
	}
}

// pollOnce makes one GetConsumerProgress call for g and hands its outcome
// to the writer.
func (r *Recorder) pollOnce(ctx context.Context, g store.GroupRef, slot time.Time) *store.Poll {
	api := r.apis[g.Region]
	resp, sent, err := api.consumerProgress(ctx, g.InstanceID, g.Group)
	if sent.IsZero() {
		return nil
	}
	if !slot.IsZero() {
		r.metrics.scheduleLag.Observe(max(sent.Sub(slot), 0).Seconds())
	}
	took := time.Since(sent)
	stamp := r.cfg.Now().UTC()
	p := &store.Poll{
		Group:     g,
		StartedAt: stamp.Add(-took),
		SampledAt: stamp,
		Duration:  took,
	}
	if err == nil {
		p.RequestID = cleanText(resp.RequestId, 100)
		var clamped []clamp
		clamped, err = convertProgress(p, resp)
		for _, c := range clamped {
			r.log.Warn("response value clamped", groupAttrs(g), slog.String("kind", c.Kind), slog.Int("count", c.Count), slog.String("detail", c.Detail))
			r.metrics.clamped.WithLabelValues(g.Region, c.Kind).Add(float64(c.Count))
		}
	}
	if err != nil {
		var ae *APIError
		if !errors.As(err, &ae) {
			ae = &APIError{Code: CodeClient, Message: err.Error()}
		}
		p.OK, p.Topics, p.Rebalances, p.TotalDiff, p.LastTimestampMs = false, nil, nil, 0, 0
		p.ErrorCode, p.ErrorMessage = cleanText(ae.Code, 100), cleanText(ae.Message, maxMessage)
		if ae.RequestID != "" {
			p.RequestID = cleanText(ae.RequestID, 100)
		}
		r.log.Warn("poll failed", groupAttrs(g), slog.String("code", p.ErrorCode), slog.String("message", p.ErrorMessage), slog.Duration("duration", p.Duration))
		r.metrics.polls.WithLabelValues(g.Region, "error", p.ErrorCode).Inc()
		r.healthMu.Lock()
		r.lastPollErr = time.Now()
		r.healthMu.Unlock()
	} else {
		r.healthMu.Lock()
		r.lastPollOK = time.Now()
		r.healthMu.Unlock()
		p.OK = true
		r.metrics.polls.WithLabelValues(g.Region, "ok", "").Inc()
		r.metrics.lastSuccess.WithLabelValues(g.Region, g.InstanceID, g.Group).Set(float64(stamp.UnixMilli()) / 1000)
		r.log.Debug("polled", groupAttrs(g), slog.Int("partitions", p.PartitionCount()), slog.Duration("duration", p.Duration))
	}
	r.metrics.pollDuration.WithLabelValues(g.Region).Observe(p.Duration.Seconds())
	r.d.enqueue(p)
	return p
}

// keepPartitions runs storage upkeep now and every UpkeepInterval: the
// writer makes partitions ahead and drops expired ones if it leads upkeep
// for its database, and does nothing otherwise.
func (r *Recorder) keepPartitions(ctx context.Context) {
	for {
		res, err := r.w.Upkeep(ctx, r.cfg.Upkeep, r.cfg.Now().UTC())
		switch {
		case err != nil && ctx.Err() == nil:
			r.log.Warn("storage upkeep", slog.Any("err", err))
		case err == nil && res.Leader && (res.Created > 0 || len(res.Dropped) > 0):
			r.log.Info("storage upkeep", slog.Int("created", res.Created), slog.Int("dropped", len(res.Dropped)))
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(r.cfg.UpkeepInterval):
		}
	}
}

// storeStatusRules stores the config's status rules, retrying with backoff
// until the database takes them: the status every reader gives follows
// them from then on.
func (r *Recorder) storeStatusRules(ctx context.Context) {
	rules := r.cfg.StatusRules()
	wait := time.Second
	for {
		err := r.w.SetStatusRules(ctx, rules)
		if err == nil {
			r.log.Debug("stored status rules", slog.Int("rules", len(rules)))
			return
		}
		if ctx.Err() != nil {
			return
		}
		r.log.Warn("store status rules", slog.Any("err", err), slog.Duration("retry_in", wait))
		select {
		case <-ctx.Done():
			return
		case <-time.After(wait):
		}
		wait = min(2*wait, time.Minute)
	}
}

// keepRollups refreshes the rollups every RollupInterval. Several
// recorders of one database may do it at once: each takes queued hours the
// others do not hold.
func (r *Recorder) keepRollups(ctx context.Context) {
	r.every(ctx, r.cfg.RollupInterval, "refresh rollups", func() error {
		_, err := r.w.RefreshRollups(ctx)
		return err
	})
}

// keepNowState refreshes the now-state of the groups written since the
// last time, every NowInterval. Several recorders of one database may do
// it at once: each takes queued groups the others do not hold.
func (r *Recorder) keepNowState(ctx context.Context) {
	r.every(ctx, r.cfg.NowInterval, "refresh now-state", func() error {
		_, err := r.w.RefreshNow(ctx)
		return err
	})
}

// every runs do each interval after the last run ended, until ctx is
// cancelled, and logs its errors as warnings under what.
func (r *Recorder) every(ctx context.Context, interval time.Duration, what string, do func() error) {
	for {
		select {
		case <-ctx.Done():
			return
		case <-time.After(interval):
		}
		if err := do(); err != nil && ctx.Err() == nil {
			r.log.Warn(what, slog.Any("err", err))
		}
	}
}

func groupAttrs(g store.GroupRef) slog.Attr {
	return slog.Group("target", slog.String("region", g.Region), slog.String("instance", g.InstanceID), slog.String("group", g.Group))
}
