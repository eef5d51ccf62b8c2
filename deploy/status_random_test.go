package deploy

import (
	"fmt"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/lagtrail/lagtrail/internal/pgtest"
	"github.com/lagtrail/lagtrail/query"
	"github.com/lagtrail/lagtrail/store"
)

// TestStatusViewMatchesEvaluateOnRandomHistories writes random histories
// (idle partitions that get a message now and then, steady consumers,
// stalls, rewinds, resets, broker offsets going back, gaps, consumers
// catching up or falling behind) of under an hour, so that the view's hour read holds all of
// them, and checks that partition_status's last_status is what
// query.Evaluate says at each group's last poll, partition by partition.
// It also checks that the histories reach every status, so that the
// agreement is not over OK alone.
func TestStatusViewMatchesEvaluateOnRandomHistories(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	pool, url := pgtest.Pool(t)
	st, err := store.Open(ctx, store.Config{DatabaseURL: url}, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(st.Close)

	rng := rand.New(rand.NewPCG(17, 5))
	first := time.Now().UTC().Truncate(time.Minute).Add(-2 * time.Hour)
	const groups, partitions = 60, 3
	var polls []*store.Poll
	for gi := range groups {
		g := store.GroupRef{Region: "cn-hangzhou", InstanceID: "alikafka-random", Group: fmt.Sprintf("random-%02d", gi)}
		type part struct {
			b, c    int64
			stalled int
		}
		parts := make([]part, partitions)
		for p := range parts {
			parts[p] = part{b: 10_000, c: 10_000 - int64(rng.IntN(3)*100)}
		}
		// How the group behaves: 0 idle, 1 steady, 2 troubled, 3 falling
		// behind.
		kind := gi % 4
		n := 20 + rng.IntN(35)
		at := first.Add(time.Duration(gi) * time.Second)
		for range n {
			at = at.Add(time.Minute + time.Duration(rng.IntN(4000)-2000)*time.Millisecond)
			if rng.IntN(30) == 0 {
				at = at.Add(time.Duration(1+rng.IntN(3)) * time.Minute) // a gap
			}
			ts := store.TopicSample{Topic: "t"}
			for p := range parts {
				pt := &parts[p]
				switch kind {
				case 0:
					if rng.IntN(6) == 0 {
						pt.b++ // a message now and then
					}
					if rng.IntN(3) > 0 {
						pt.c = pt.b // consumed by the next poll or so
					}
				case 1:
					pt.b += int64(40 + rng.IntN(40))
					pt.c = min(pt.b, pt.c+int64(30+rng.IntN(60)))
				case 3:
					pt.b += int64(60 + rng.IntN(20))
					pt.c += int64(20 + rng.IntN(30))
				default:
					pt.b += int64(rng.IntN(80))
					switch r := rng.IntN(100); {
					case pt.stalled > 0:
						pt.stalled--
					case r < 8:
						pt.stalled = 2 + rng.IntN(20)
					case r < 12 && pt.c > 500:
						pt.c -= int64(1 + rng.IntN(400))
					case r < 13:
						pt.c = pt.b
					case r < 14:
						pt.b -= int64(rng.IntN(100))
						pt.c = min(pt.c, pt.b)
					default:
						pt.c = min(pt.b, pt.c+int64(rng.IntN(90)))
					}
				}
				ts.Partitions = append(ts.Partitions, store.PartitionOffsets{Partition: int32(p), BrokerOffset: pt.b, ConsumerOffset: pt.c, LastTimestampMs: -1})
			}
			polls = append(polls, &store.Poll{Group: g, StartedAt: at.Add(-time.Second), SampledAt: at, Duration: time.Second, OK: true, LastTimestampMs: -1, Topics: []store.TopicSample{ts}})
		}
	}
	if _, err := st.WritePolls(ctx, polls); err != nil {
		t.Fatal(err)
	}

	type key struct {
		group string
		part  int32
	}
	view := map[key]string{}
	evaluatedAt := map[string]time.Time{}
	err = asReader(ctx, pool, func(tx pgx.Tx) error {
		rows, err := tx.Query(ctx, `SELECT consumer_group, partition, last_status, evaluated_at FROM lagtrail.partition_status WHERE instance_id = 'alikafka-random'`)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			var g, s string
			var p int32
			var at time.Time
			if err := rows.Scan(&g, &p, &s, &at); err != nil {
				return err
			}
			view[key{g, p}], evaluatedAt[g] = s, at
		}
		return rows.Err()
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(view) != groups*partitions {
		t.Fatalf("partition_status has %d rows, want %d", len(view), groups*partitions)
	}
	seen := map[query.Status]int{}
	for gi := range groups {
		name := fmt.Sprintf("random-%02d", gi)
		at := evaluatedAt[name]
		states, err := st.PartitionStates(ctx, store.AggregateQuery{
			Groups: []store.GroupRef{{Region: "cn-hangzhou", InstanceID: "alikafka-random", Group: name}}, By: store.LevelPartition,
			Edges: []time.Time{at.Add(-time.Minute), at.Add(time.Microsecond)}, Lookback: time.Hour, Window: statusWindow,
		})
		if err != nil {
			t.Fatal(err)
		}
		for _, s := range states {
			if s.Bucket != 0 {
				continue
			}
			status, why := query.Evaluate(s, query.Rules{Window: statusWindow})
			seen[status]++
			if got := view[key{name, s.Partition}]; got != status.String() {
				t.Errorf("%s/%d at %s: view %s, query.Evaluate %s (%s)", name, s.Partition, at.Format(time.TimeOnly), got, status, why)
			}
		}
	}
	for _, s := range []query.Status{query.StatusOK, query.StatusWarn, query.StatusRewind, query.StatusStall, query.StatusStop} {
		if seen[s] == 0 {
			t.Errorf("no partition ended %s: the histories do not test it (%v)", s, seen)
		}
	}
	t.Logf("statuses compared: %v", seen)
}
