package query

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/lagtrail/lagtrail/store"
)

// ErrInvalidRequest is wrapped by every error about a request itself: a bad
// selection, time range, step or window. The lagtrail command exits with
// status 2 on it.
var ErrInvalidRequest = errors.New("invalid query")

// ErrUnknownGroup is returned (wrapping ErrInvalidRequest) when no recorded
// group matches the selection.
var ErrUnknownGroup = fmt.Errorf("%w: unknown group", ErrInvalidRequest)

// ErrAmbiguousGroup is returned (wrapping ErrInvalidRequest) when a group
// name matches groups of several instances and the selection does not say
// which.
var ErrAmbiguousGroup = fmt.Errorf("%w: ambiguous group", ErrInvalidRequest)

// ErrUnknownTopic is returned (wrapping ErrInvalidRequest) when no poll
// recorded the selected topic.
var ErrUnknownTopic = fmt.Errorf("%w: unknown topic", ErrInvalidRequest)

// Source is the recorded history the engine reads. *store.Store is one.
type Source interface {
	FindGroups(ctx context.Context, name, region, instance string) ([]store.GroupRef, error)
	TopicExists(ctx context.Context, name string) (bool, error)
	Buckets(ctx context.Context, q store.AggregateQuery) ([]store.BucketAggregate, error)
	RollupBuckets(ctx context.Context, q store.AggregateQuery) ([]store.BucketAggregate, error)
	Events(ctx context.Context, q store.AggregateQuery) ([]store.Event, error)
	PartitionPoints(ctx context.Context, q store.AggregateQuery) ([]store.PartitionPoint, error)
	ReadPolls(ctx context.Context, r store.Range) ([]store.PollRecord, error)
	ReadRebalances(ctx context.Context, r store.Range) ([]store.RebalanceRecord, error)
	CapacityProfiles(ctx context.Context, q store.CapacityQuery) ([]store.CapacityProfile, error)
	CapacityWeek(ctx context.Context, g store.GroupRef, from, to time.Time) ([]store.CapacityCell, error)
	CapacityHours(ctx context.Context, g store.GroupRef, from, to time.Time) ([]store.CapacityHour, error)
	Top(ctx context.Context, q store.TopQuery) ([]store.TopRow, error)
	Fleet(ctx context.Context, q store.FleetQuery) ([]store.FleetRow, error)
	ExplainBuckets(ctx context.Context, q store.AggregateQuery, rollup bool) (string, error)
}

// DefaultLookback is Config.Lookback's default.
const DefaultLookback = 24 * time.Hour

// Config tunes the engine. The zero value is the default.
type Config struct {
	// Lookback is how much history before a range is read as context: the
	// broker offsets time lag is estimated from, the fastest consumption
	// a reset to latest is judged against, and the status window. Default
	// 24h.
	Lookback time.Duration
	// GapFactor and ResetFactor override store.DefaultGapFactor and
	// store.DefaultResetFactor when positive.
	GapFactor   float64
	ResetFactor float64
}

// Engine answers questions about recorded history.
type Engine struct {
	src Source
	cfg Config
	log *slog.Logger
}

// New returns an Engine reading src.
func New(src Source, cfg Config, logger *slog.Logger) (*Engine, error) {
	if src == nil {
		return nil, errors.New("query: nil source")
	}
	if cfg.Lookback < 0 || cfg.GapFactor < 0 || cfg.ResetFactor < 0 {
		return nil, fmt.Errorf("query: negative config value: lookback %s, gap factor %v, reset factor %v", cfg.Lookback, cfg.GapFactor, cfg.ResetFactor)
	}
	if cfg.Lookback == 0 {
		cfg.Lookback = DefaultLookback
	}
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	return &Engine{src: src, cfg: cfg, log: logger}, nil
}

// Selection says which recorded partitions a query reads.
type Selection struct {
	// Group is a consumer group name. Empty selects every recorded group.
	// A name recorded under several instances must be narrowed by Region
	// or Instance.
	Group string
	// Region and Instance narrow the groups; empty matches any.
	Region   string
	Instance string
	// Topic selects one topic; empty selects every topic.
	Topic string
	// Partition selects one partition; nil selects every partition.
	Partition *int32
}

// resolve returns the groups sel names, or an error wrapping
// ErrUnknownGroup or ErrAmbiguousGroup that names them.
func (e *Engine) resolve(ctx context.Context, sel Selection) ([]store.GroupRef, error) {
	if sel.Partition != nil && *sel.Partition < 0 {
		return nil, fmt.Errorf("%w: partition must not be negative, got %d", ErrInvalidRequest, *sel.Partition)
	}
	groups, err := e.src.FindGroups(ctx, sel.Group, sel.Region, sel.Instance)
	if err != nil {
		return nil, fmt.Errorf("find groups: %w", err)
	}
	if len(groups) == 0 {
		if near := e.nearGroups(ctx, sel); len(near) > 0 {
			return nil, fmt.Errorf("%w %s: no such group is recorded; did you mean %s?", ErrUnknownGroup, describe(sel), orList(near))
		}
		return nil, fmt.Errorf("%w %s: no such group is recorded (lagtrail record stores groups as it polls them)", ErrUnknownGroup, describe(sel))
	}
	if sel.Topic != "" {
		ok, err := e.src.TopicExists(ctx, sel.Topic)
		if err != nil {
			return nil, err
		}
		if !ok {
			return nil, fmt.Errorf("%w %q: no poll recorded it", ErrUnknownTopic, sel.Topic)
		}
	}
	if sel.Group != "" && len(groups) > 1 {
		names := make([]string, len(groups))
		for i, g := range groups {
			names[i] = g.Region + "/" + g.InstanceID + "/" + g.Group
		}
		return nil, fmt.Errorf("%w %q: recorded in %d instances, narrow it with --region or --instance: %s",
			ErrAmbiguousGroup, sel.Group, len(groups), strings.Join(names, ", "))
	}
	return groups, nil
}

// maxNearGroups is how many recorded groups an unknown group's error
// suggests at most.
const maxNearGroups = 3

// nearGroups returns the recorded groups an unknown sel.Group may have
// meant, nearest first: the same name outside sel's region or instance,
// then names at a small edit distance (case ignored) or that start with
// it. A group within sel's region and instance is written by its name,
// others as region/instance/name. It returns none when listing the groups
// fails: the error it would explain stands alone.
func (e *Engine) nearGroups(ctx context.Context, sel Selection) []string {
	if sel.Group == "" {
		return nil
	}
	all, err := e.src.FindGroups(ctx, "", "", "")
	if err != nil {
		return nil
	}
	typed := strings.ToLower(sel.Group)
	maxDist := min(1+utf8.RuneCountInString(typed)/4, 3)
	type cand struct {
		label  string
		dist   int
		inside bool
	}
	var cands []cand
	for _, g := range all {
		inside := (sel.Region == "" || g.Region == sel.Region) && (sel.Instance == "" || g.InstanceID == sel.Instance)
		dist := -1 // the name itself, outside sel's region or instance
		if g.Group != sel.Group {
			name := strings.ToLower(g.Group)
			dist = levenshtein(typed, name)
			if dist > maxDist && (len(typed) < 3 || !strings.HasPrefix(name, typed)) {
				continue
			}
		}
		label := fmt.Sprintf("%q", g.Group)
		if !inside {
			label = g.Region + "/" + g.InstanceID + "/" + g.Group
		}
		cands = append(cands, cand{label, dist, inside})
	}
	slices.SortFunc(cands, func(a, b cand) int {
		if a.dist != b.dist {
			return cmp.Compare(a.dist, b.dist)
		}
		if a.inside != b.inside {
			if a.inside {
				return -1
			}
			return 1
		}
		return strings.Compare(a.label, b.label)
	})
	var out []string
	for _, c := range cands {
		if len(out) < maxNearGroups && !slices.Contains(out, c.label) {
			out = append(out, c.label)
		}
	}
	return out
}

// levenshtein is the edit distance between a and b, in runes: the fewest
// insertions, deletions and substitutions that turn one into the other.
func levenshtein(a, b string) int {
	ra, rb := []rune(a), []rune(b)
	prev := make([]int, len(rb)+1)
	cur := make([]int, len(rb)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(ra); i++ {
		cur[0] = i
		for j := 1; j <= len(rb); j++ {
			sub := prev[j-1]
			if ra[i-1] != rb[j-1] {
				sub++
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, sub)
		}
		prev, cur = cur, prev
	}
	return prev[len(rb)]
}

// orList writes "a, b or c".
func orList(s []string) string {
	if len(s) < 2 {
		return strings.Join(s, "")
	}
	return strings.Join(s[:len(s)-1], ", ") + " or " + s[len(s)-1]
}

func describe(sel Selection) string {
	var parts []string
	if sel.Group != "" {
		parts = append(parts, fmt.Sprintf("%q", sel.Group))
	} else {
		parts = append(parts, "(any)")
	}
	if sel.Region != "" {
		parts = append(parts, "in region "+sel.Region)
	}
	if sel.Instance != "" {
		parts = append(parts, "in instance "+sel.Instance)
	}
	return strings.Join(parts, " ")
}

// aggregate builds the store query of sel over edges.
func (e *Engine) aggregate(groups []store.GroupRef, sel Selection, by store.Level, edges []time.Time) store.AggregateQuery {
	return store.AggregateQuery{
		Groups:      groups,
		Topic:       sel.Topic,
		Partition:   sel.Partition,
		By:          by,
		Edges:       edges,
		Lookback:    e.cfg.Lookback,
		GapFactor:   e.cfg.GapFactor,
		ResetFactor: e.cfg.ResetFactor,
	}
}

// ParseLevel reads "group", "topic" or "partition".
func ParseLevel(s string) (store.Level, error) {
	switch s {
	case "group", "":
		return store.LevelGroup, nil
	case "topic":
		return store.LevelTopic, nil
	case "partition":
		return store.LevelPartition, nil
	}
	return 0, fmt.Errorf("%w: --by must be group, topic or partition, got %q", ErrInvalidRequest, s)
}
