package ingest

import (
	"context"
	"errors"
	"log/slog"
	"math/rand/v2"
	"slices"
	"sync"
	"time"

	"github.com/lagtrail/lagtrail/internal/spool"
	"github.com/lagtrail/lagtrail/store"
)

// Spool keeps encoded polls on disk, oldest first, while the database cannot
// take them. *spool.Spool satisfies it.
type Spool interface {
	// Append adds records at the end, durably, and returns how many of the
	// oldest records it dropped to stay within its bound.
	Append(recs ...[]byte) (dropped int, err error)
	// Read returns up to max of the oldest records not acknowledged yet.
	Read(max int) ([][]byte, error)
	// Ack marks the n oldest records done.
	Ack(n int) error
	// Stats reports what the spool holds.
	Stats() spool.Stats
}

// Reasons a poll was dropped, the label of lagtrail_dropped_polls_total.
const (
	dropSpoolFull  = "spool_full"
	dropMemoryFull = "memory_full"
	dropInvalid    = "invalid"
	dropUnreadable = "unreadable"
)

// spillChunk is the most polls appended to the spool in one call.
const spillChunk = 256

// Bounds of the wait between write attempts while the database fails.
const (
	minWriteRetry = 500 * time.Millisecond
	maxWriteRetry = 10 * time.Second
)

// delivery carries polls from the poll goroutines to the Writer. Polls
// wait in a bounded in-memory queue; while the database fails, and when the
// queue overflows, they move to the spool, oldest first, and are written
// from there, in order, once the database takes writes again. Every poll
// in the spool is older than every poll in memory, so draining the spool
// first keeps the order.
//
// One goroutine (run) writes, spills and removes from the head of the
// queue; enqueue only appends, and drops the oldest polls not in flight
// when the queue is over its bound and cannot spill.
type delivery struct {
	w      Writer
	sp     Spool // nil: no spool, overflow is dropped
	log    *slog.Logger
	m      *metrics
	maxMem int
	batch  int
	linger time.Duration
	// lingering, when set (by tests), is called as the writer starts to
	// wait for a batch.
	lingering func()

	wake chan struct{}

	mu       sync.Mutex
	mem      []*store.Poll
	inflight int // polls at the head of mem being written
	down     bool
	lastOK   time.Time
}

func newDelivery(w Writer, sp Spool, log *slog.Logger, m *metrics, cfg BufferConfig) *delivery {
	d := &delivery{w: w, sp: sp, log: log, m: m, maxMem: cfg.MemoryPolls, batch: cfg.BatchPolls, linger: cfg.Linger, wake: make(chan struct{}, 1)}
	d.updateGauges()
	return d
}

// enqueue hands p to the writer goroutine. It never waits for the
// database.
func (d *delivery) enqueue(p *store.Poll) {
	d.mu.Lock()
	d.mem = append(d.mem, p)
	over := len(d.mem) - d.maxMem
	if over > 0 {
		// The writer goroutine spills when the queue passes its bound; it is
		// this far behind only when the spool cannot keep up, or there is
		// none.
		d.mem = slices.Delete(d.mem, d.inflight, d.inflight+over)
	}
	n := len(d.mem)
	d.mu.Unlock()
	d.m.memoryPolls.Set(float64(n))
	if over > 0 {
		d.m.dropped.WithLabelValues(dropMemoryFull).Add(float64(over))
		d.log.Error("DROPPED POLLS: in-memory queue full and nothing could take them", slog.Int("dropped", over), slog.Int("memory_polls", d.maxMem))
	}
	d.signal()
}

func (d *delivery) signal() {
	select {
	case d.wake <- struct{}{}:
	default:
	}
}

// run writes until ctx is cancelled. finish then writes what is left.
func (d *delivery) run(ctx context.Context) {
	var retry time.Duration
	for {
		progressed, err := d.writeBatch(ctx)
		if err == nil {
			retry = 0
			if !progressed {
				select {
				case <-ctx.Done():
					return
				case <-d.wake:
					d.waitForBatch(ctx)
				}
			}
			if d.overBound() {
				d.spill()
			}
			continue
		}
		// The database failed: keep what is waiting on disk, where it
		// survives a crash, and try again after a jittered backoff. New
		// polls go to the spool as they come.
		d.spill()
		retry = min(max(2*retry, minWriteRetry), maxWriteRetry)
		timer := time.NewTimer(retry/2 + rand.N(retry/2+1))
	wait:
		for {
			select {
			case <-ctx.Done():
				timer.Stop()
				return
			case <-d.wake:
				d.spill()
			case <-timer.C:
				break wait
			}
		}
	}
}

// waitForBatch waits, up to the linger, for more polls to join the one
// just queued in the next write: it returns early when a full batch waits
// or ctx ends, and at once when nothing is queued.
func (d *delivery) waitForBatch(ctx context.Context) {
	if d.queued() == 0 {
		return
	}
	if d.lingering != nil {
		d.lingering()
	}
	timer := time.NewTimer(d.linger)
	defer timer.Stop()
	for d.queued() < d.batch {
		select {
		case <-ctx.Done():
			return
		case <-timer.C:
			return
		case <-d.wake:
		}
	}
}

// queued is how many polls wait in memory.
func (d *delivery) queued() int {
	d.mu.Lock()
	defer d.mu.Unlock()
	return len(d.mem)
}

// finish writes what is in memory, bounded by writeTimeout, and spills what
// it cannot write. The spool keeps the rest for the next start.
func (d *delivery) finish(ctx context.Context) {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), writeTimeout)
	defer cancel()
	for {
		d.mu.Lock()
		n := len(d.mem)
		d.mu.Unlock()
		if n == 0 {
			return
		}
		if _, err := d.writeMemory(ctx); err != nil {
			d.spill()
			return
		}
	}
}

func (d *delivery) overBound() bool {
	d.mu.Lock()
	defer d.mu.Unlock()
	return len(d.mem) > d.maxMem/2 && d.sp != nil
}

// writeBatch writes one batch: from the spool while it holds polls, which
// are the oldest, else from memory. It reports whether it wrote anything.
func (d *delivery) writeBatch(ctx context.Context) (bool, error) {
	if d.sp != nil && d.sp.Stats().Records > 0 {
		return d.writeSpooled(ctx)
	}
	return d.writeMemory(ctx)
}

func (d *delivery) writeSpooled(ctx context.Context) (bool, error) {
	recs, err := d.sp.Read(d.batch)
	if err != nil {
		return false, err
	}
	polls := make([]*store.Poll, 0, len(recs))
	for _, rec := range recs {
		p, err := decodePoll(rec)
		if err != nil {
			d.m.dropped.WithLabelValues(dropUnreadable).Inc()
			d.log.Error("DROPPED POLL: spooled record cannot be decoded", slog.Any("err", err))
			continue
		}
		polls = append(polls, p)
	}
	if err := d.write(ctx, polls); err != nil {
		return false, err
	}
	if err := d.sp.Ack(len(recs)); err != nil {
		// The polls are stored; a restart writes them again, which stores
		// nothing twice.
		d.log.Error("acknowledge spooled polls", slog.Any("err", err))
	}
	d.updateGauges()
	return len(recs) > 0, nil
}

func (d *delivery) writeMemory(ctx context.Context) (bool, error) {
	d.mu.Lock()
	n := min(len(d.mem), d.batch)
	batch := slices.Clone(d.mem[:n])
	d.inflight = n
	d.mu.Unlock()
	if n == 0 {
		return false, nil
	}
	err := d.write(ctx, batch)
	d.mu.Lock()
	d.inflight = 0
	if err == nil {
		d.mem = slices.Delete(d.mem, 0, n)
	}
	d.mu.Unlock()
	d.updateGauges()
	return err == nil, err
}

// write stores polls. A poll the store rejects as invalid can never be
// written: it is dropped, counted and logged, and the others are written.
// Any other error is the database's, and the polls are kept.
func (d *delivery) write(ctx context.Context, polls []*store.Poll) error {
	if len(polls) == 0 {
		return nil
	}
	err := d.writeTimed(ctx, polls)
	if errors.Is(err, store.ErrInvalidPoll) {
		for _, p := range polls {
			if err := d.writeTimed(ctx, []*store.Poll{p}); errors.Is(err, store.ErrInvalidPoll) {
				d.m.dropped.WithLabelValues(dropInvalid).Inc()
				d.log.Error("DROPPED POLL: the store rejects it", groupAttrs(p.Group), slog.Time("sampled_at", p.SampledAt), slog.Any("err", err))
			} else if err != nil {
				return d.failed(err)
			}
		}
		return d.ok()
	}
	if err != nil {
		return d.failed(err)
	}
	return d.ok()
}

func (d *delivery) writeTimed(ctx context.Context, polls []*store.Poll) error {
	wctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), writeTimeout)
	defer cancel()
	start := time.Now()
	_, err := d.w.WritePolls(wctx, polls)
	d.m.writeDuration.Observe(time.Since(start).Seconds())
	if err != nil {
		return err
	}
	samples := 0
	for _, p := range polls {
		samples += p.PartitionCount()
	}
	d.m.samples.Add(float64(samples))
	d.m.pollsWritten.Add(float64(len(polls)))
	return nil
}

func (d *delivery) failed(err error) error {
	d.m.writeErrors.Inc()
	d.mu.Lock()
	was := d.down
	d.down = true
	d.mu.Unlock()
	if !was {
		d.log.Error("database write failed; holding polls until it recovers", slog.Any("err", err), slog.Bool("spool", d.sp != nil))
	} else {
		d.log.Debug("database write failed again", slog.Any("err", err))
	}
	return err
}

func (d *delivery) ok() error {
	d.mu.Lock()
	was := d.down
	d.down = false
	d.lastOK = time.Now()
	d.mu.Unlock()
	if was {
		d.log.Info("database writes recovered")
	}
	return nil
}

// spill moves every poll in memory that is not being written to the spool.
// Without a spool, polls stay in memory up to its bound. It holds the lock
// while it writes, so enqueue waits for the disk rather than dropping.
func (d *delivery) spill() {
	if d.sp == nil {
		return
	}
	d.mu.Lock()
	defer d.updateGauges()
	defer d.mu.Unlock()
	polls := d.mem[d.inflight:]
	if len(polls) == 0 {
		return
	}
	recs := make([][]byte, 0, len(polls))
	for _, p := range polls {
		rec, err := encodePoll(p)
		if err != nil {
			// Cannot happen for a Poll; keep it in memory rather than lose it.
			d.log.Error("encode poll for the spool", groupAttrs(p.Group), slog.Any("err", err))
			return
		}
		recs = append(recs, rec)
	}
	// Appended in chunks, each fsynced, so that no one call needs more
	// than a small part of the spool's bound.
	spilled, dropped := 0, 0
	for len(recs) > 0 {
		n := min(len(recs), spillChunk)
		dr, err := d.sp.Append(recs[:n]...)
		dropped += dr
		if err != nil {
			d.log.Error("spool polls; keeping them in memory", slog.Int("polls", len(recs)), slog.Any("err", err))
			break
		}
		recs = recs[n:]
		spilled += n
	}
	d.mem = slices.Delete(d.mem, d.inflight, d.inflight+spilled)
	if dropped > 0 {
		d.m.dropped.WithLabelValues(dropSpoolFull).Add(float64(dropped))
		d.log.Error("DROPPED POLLS: spool full, oldest polls discarded", slog.Int("dropped", dropped))
	}
}

func (d *delivery) updateGauges() {
	d.mu.Lock()
	n := len(d.mem)
	d.mu.Unlock()
	d.m.memoryPolls.Set(float64(n))
	if d.sp != nil {
		st := d.sp.Stats()
		d.m.spoolPolls.Set(float64(st.Records))
		d.m.spoolBytes.Set(float64(st.Bytes))
	}
}

// unwritten returns how many polls wait in memory or the spool.
func (d *delivery) unwritten() int {
	n := d.queued()
	if d.sp != nil {
		n += d.sp.Stats().Records
	}
	return n
}

// state reports whether the last write failed and when one last succeeded.
func (d *delivery) state() (down bool, lastOK time.Time) {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.down, d.lastOK
}
