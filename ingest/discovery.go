package ingest

import (
	"context"
	"log/slog"
	"sort"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"golang.org/x/sync/errgroup"

	"github.com/lagtrail/lagtrail/store"
)

// discover returns the groups of a target: its fixed list, or what
// GetInstanceList and GetConsumerList report.
func (r *Recorder) discover(ctx context.Context, t Target) ([]store.GroupRef, error) {
	var out []store.GroupRef
	if len(t.Groups) > 0 {
		for _, g := range t.Groups {
			out = append(out, store.GroupRef{Region: t.Region, InstanceID: t.Instance, Group: g})
		}
		return out, nil
	}
	api := r.apis[t.Region]
	instances := []string{t.Instance}
	if t.Instance == "" {
		ids, err := api.runningInstances(ctx)
		if err != nil {
			return nil, err
		}
		instances = ids
	}
	for _, inst := range instances {
		groups, err := api.consumerGroups(ctx, inst)
		if err != nil {
			return nil, err
		}
		for _, g := range groups {
			out = append(out, store.GroupRef{Region: t.Region, InstanceID: inst, Group: g})
		}
	}
	sort.Slice(out, func(i, j int) bool { return lessGroup(out[i], out[j]) })
	return out, nil
}

// discoverLoop refreshes a target's groups every DiscoveryInterval and hands
// them to the supervisor. A failed refresh keeps the groups already known;
// it is retried after one poll interval.
func (r *Recorder) discoverLoop(ctx context.Context, idx int, t Target, sup *supervisor) {
	for {
		groups, err := r.discover(ctx, t)
		wait := r.cfg.DiscoveryInterval
		if err != nil {
			if ctx.Err() != nil {
				return
			}
			r.log.Warn("discovery failed; keeping known groups", slog.String("region", t.Region), slog.String("instance", t.Instance), slog.Any("err", err))
			wait = min(wait, r.cfg.Interval)
		} else {
			sup.update(idx, groups)
			if len(t.Groups) > 0 {
				return // a fixed list needs no refresh
			}
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(wait):
		}
	}
}

// supervisor runs one goroutine per group in the union of every target's
// groups, starting goroutines for new groups and stopping those of groups
// that vanished. In HA mode it runs only the groups this recorder holds a
// lease on.
type supervisor struct {
	eg      *errgroup.Group
	ctx     context.Context
	run     func(context.Context, store.GroupRef)
	gauge   prometheus.Gauge
	log     *slog.Logger
	mu      sync.Mutex
	sets    map[int][]store.GroupRef
	allowed map[store.GroupRef]bool // nil: every group
	running map[store.GroupRef]context.CancelFunc
}

// update sets the groups discovered for a target.
func (s *supervisor) update(target int, groups []store.GroupRef) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.sets[target] = groups
	s.reconcile()
}

// allow limits polling to the groups held.
func (s *supervisor) allow(held []store.GroupRef) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.allowed = make(map[store.GroupRef]bool, len(held))
	for _, g := range held {
		s.allowed[g] = true
	}
	s.reconcile()
}

// discovered returns the union of the targets' groups, sorted.
func (s *supervisor) discovered() []store.GroupRef {
	s.mu.Lock()
	defer s.mu.Unlock()
	seen := map[store.GroupRef]bool{}
	var out []store.GroupRef
	for _, gs := range s.sets {
		for _, g := range gs {
			if !seen[g] {
				seen[g] = true
				out = append(out, g)
			}
		}
	}
	sort.Slice(out, func(i, j int) bool { return lessGroup(out[i], out[j]) })
	return out
}

func (s *supervisor) reconcile() {
	want := map[store.GroupRef]bool{}
	for _, gs := range s.sets {
		for _, g := range gs {
			if s.allowed == nil || s.allowed[g] {
				want[g] = true
			}
		}
	}
	for g, cancel := range s.running {
		if !want[g] {
			cancel()
			delete(s.running, g)
			s.log.Info("stopped polling group", groupAttrs(g))
		}
	}
	for g := range want {
		if _, ok := s.running[g]; ok || s.ctx.Err() != nil {
			continue
		}
		gctx, cancel := context.WithCancel(s.ctx)
		s.running[g] = cancel
		s.log.Debug("polling group", groupAttrs(g))
		s.eg.Go(func() error {
			s.run(gctx, g)
			return nil
		})
	}
	s.gauge.Set(float64(len(s.running)))
}

func lessGroup(a, b store.GroupRef) bool {
	if a.Region != b.Region {
		return a.Region < b.Region
	}
	if a.InstanceID != b.InstanceID {
		return a.InstanceID < b.InstanceID
	}
	return a.Group < b.Group
}
