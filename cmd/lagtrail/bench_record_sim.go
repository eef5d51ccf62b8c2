package main

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"math"
	mrand "math/rand/v2"
	"net"
	"net/http"
	"sync"
	"time"

	"github.com/lagtrail/lagtrail/internal/alisim"
	"github.com/lagtrail/lagtrail/store"
)

// benchRegionIDs name the simulated regions; more regions than these get
// generated names.
var benchRegionIDs = []string{"cn-hangzhou", "cn-shanghai", "cn-beijing", "cn-shenzhen", "cn-zhangjiakou", "cn-huhehaote", "cn-chengdu", "ap-southeast-1"}

func benchRegion(i int) string {
	if i < len(benchRegionIDs) {
		return benchRegionIDs[i]
	}
	return fmt.Sprintf("bench-region-%02d", i)
}

// benchFleet is the simulated fleet of a bench record run: groups spread
// round-robin over one instance per region, and a cheap offset model that
// answers GetConsumerProgress through alisim.Config.Progress instead of
// alisim's per-partition Fleet model, so that 10,000 x 32 partitions cost a
// few megabytes and a few microseconds per answer.
type benchFleet struct {
	refs   []store.GroupRef // in group order
	index  map[string]int   // group ID to index in refs
	groups []benchGroup
	epoch  time.Time
}

type benchGroup struct {
	topics []benchTopic
}

type benchTopic struct {
	name  string
	parts []benchPartition
}

// benchPartition moves linearly: the broker offset grows at rate messages/s
// from start, and the group stays lagMs behind it, so every poll sees
// plausible, moving offsets.
type benchPartition struct {
	start int64
	rate  float64
	lagMs int64
}

// newBenchFleet builds groups groups of partitions partitions over regions
// regions. Group i has one topic when i is even and two when it is odd
// (when it has at least two partitions); its partitions are split between
// them. Rates are log-uniform in [0.5, 500] messages/s per group, each
// partition within ±30% of its group's; the same arguments give the same
// fleet.
func newBenchFleet(groups, partitions, regions int, epoch time.Time) *benchFleet {
	rng := mrand.New(mrand.NewPCG(7, uint64(groups)))
	f := &benchFleet{index: make(map[string]int, groups), epoch: epoch}
	for i := range groups {
		r := i % regions
		ref := store.GroupRef{Region: benchRegion(r), InstanceID: fmt.Sprintf("alikafka_bench-%02d", r), Group: fmt.Sprintf("bench-group-%05d", i)}
		f.index[ref.Group] = i
		f.refs = append(f.refs, ref)
		ntopics := 1 + i%2
		if partitions < 2 {
			ntopics = 1
		}
		groupRate := 0.5 * math.Pow(1000, rng.Float64())
		var g benchGroup
		left := partitions
		for t := range ntopics {
			n := left / (ntopics - t)
			left -= n
			tp := benchTopic{name: fmt.Sprintf("bench-topic-%05d-%c", i, 'a'+t)}
			for range n {
				tp.parts = append(tp.parts, benchPartition{
					start: 1_000_000 + rng.Int64N(1_000_000_000),
					rate:  groupRate * (0.7 + 0.6*rng.Float64()),
					lagMs: 200 + rng.Int64N(2800),
				})
			}
			g.topics = append(g.topics, tp)
		}
		f.groups = append(f.groups, g)
	}
	return f
}

// fleet returns the alisim Fleet: which instances and groups exist.
func (f *benchFleet) fleet() alisim.Fleet {
	byInstance := map[string]int{}
	var out alisim.Fleet
	for _, ref := range f.refs {
		k, ok := byInstance[ref.InstanceID]
		if !ok {
			k = len(out.Instances)
			byInstance[ref.InstanceID] = k
			out.Instances = append(out.Instances, alisim.Instance{Region: ref.Region, ID: ref.InstanceID, Name: "bench " + ref.Region})
		}
		out.Instances[k].Groups = append(out.Instances[k].Groups, alisim.Group{ID: ref.Group})
	}
	return out
}

// targets returns the groups by region and instance, in group order.
func (f *benchFleet) targets() []targetYAML {
	byInstance := map[string]int{}
	var out []targetYAML
	for _, ref := range f.refs {
		k, ok := byInstance[ref.InstanceID]
		if !ok {
			k = len(out)
			byInstance[ref.InstanceID] = k
			out = append(out, targetYAML{Region: ref.Region, Instance: ref.InstanceID})
		}
		out[k].Groups = append(out[k].Groups, ref.Group)
	}
	return out
}

// progress answers GetConsumerProgress; it is safe for concurrent use.
func (f *benchFleet) progress(_, _, group string, at time.Time) alisim.GroupProgress {
	i, ok := f.index[group]
	if !ok {
		return alisim.GroupProgress{}
	}
	secs := max(at.Sub(f.epoch).Seconds(), 0)
	nowMs := at.UnixMilli()
	g := f.groups[i]
	out := alisim.GroupProgress{Topics: make([]alisim.TopicProgress, len(g.topics))}
	for t, tp := range g.topics {
		parts := make([]alisim.PartitionProgress, len(tp.parts))
		for p, bp := range tp.parts {
			broker := bp.start + int64(bp.rate*secs)
			consumer := max(broker-int64(bp.rate*float64(bp.lagMs)/1000), 0)
			parts[p] = alisim.PartitionProgress{Partition: p, Broker: broker, Consumer: consumer, LastTimestampMs: nowMs - bp.lagMs}
		}
		out.Topics[t] = alisim.TopicProgress{Name: tp.name, Partitions: parts}
	}
	return out
}

// benchSim is a simulated endpoint served on a loopback port.
type benchSim struct {
	sim   *alisim.Server
	srv   *http.Server
	addr  string
	done  chan struct{}
	close func()
}

// startBenchSim serves the fleet on 127.0.0.1 with one AccessKey. maxRecorded
// bounds the request log, which must hold every request of the run.
func startBenchSim(f *benchFleet, keyID, secret string, maxRecorded int) (*benchSim, error) {
	sim, err := alisim.New(alisim.Config{
		Fleet:       f.fleet(),
		Credentials: map[string]string{keyID: secret},
		Epoch:       f.epoch,
		MaxRecorded: maxRecorded,
		Progress:    f.progress,
	})
	if err != nil {
		return nil, fmt.Errorf("simulator: %w", err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("simulator: %w", err)
	}
	s := &benchSim{sim: sim, srv: &http.Server{Handler: sim, ReadHeaderTimeout: 10 * time.Second}, addr: ln.Addr().String(), done: make(chan struct{})}
	go func() {
		defer close(s.done)
		_ = s.srv.Serve(ln)
	}()
	// close stops serving, waiting a little for requests in flight; it may
	// be called more than once.
	s.close = sync.OnceFunc(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := s.srv.Shutdown(ctx); err != nil {
			_ = s.srv.Close()
		}
		<-s.done
	})
	return s, nil
}

// newBenchAccessKey returns a random AccessKey pair for one benchmark.
func newBenchAccessKey() (id, secret string) {
	var b [24]byte
	_, _ = rand.Read(b[:]) // crypto/rand.Read never fails
	return "LTAIbench" + hex.EncodeToString(b[:6]), base64.RawURLEncoding.EncodeToString(b[6:])
}
