package store_test

import (
	"context"
	"fmt"
	"math"
	"math/rand/v2"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/lagtrail/lagtrail/internal/randhist"
	"github.com/lagtrail/lagtrail/store"
)

// nowRowsSQL lists the stored now-state, and evaluatedSQL the same rows
// evaluated afresh from the samples: RefreshNow must leave the first equal
// to the second, whatever order the polls came in. viewSQL lists what
// partition_status says of every partition but NODATA (the histories are
// in the past), and viewEvaluatedSQL the same from a fresh evaluation.
const (
	nowRowsSQL       = `SELECT pn::text FROM lagtrail.partition_now pn ORDER BY group_key, topic_key, partition`
	evaluatedSQL     = `SELECT e::text FROM lagtrail.evaluate_partitions((SELECT array_agg(group_key) FROM lagtrail.consumer_groups)) e ORDER BY group_key, topic_key, partition`
	viewSQL          = `SELECT (consumer_group, topic, partition, evaluated_at, last_status, lag, time_lag_s, time_lag_kind, consume_rate, produce_rate, lag_slope, eta_s, samples, unchanged_since)::text FROM lagtrail.partition_status ORDER BY consumer_group, topic, partition`
	viewEvaluatedSQL = `SELECT (n.consumer_group, tn.topic, e.partition, e.evaluated_at, e.status, e.lag, e.time_lag_s, e.time_lag_kind, e.consume_rate, e.produce_rate, e.lag_slope, e.eta_s, e.samples, e.unchanged_since)::text
FROM lagtrail.evaluate_partitions((SELECT array_agg(group_key) FROM lagtrail.consumer_groups)) e
JOIN lagtrail.group_names n ON n.group_key = e.group_key
JOIN lagtrail.topic_names tn ON tn.topic_key = e.topic_key
ORDER BY n.consumer_group, tn.topic, e.partition`
)

func textRows(t *testing.T, pool *pgxpool.Pool, sql string) []string {
	t.Helper()
	rows, err := pool.Query(t.Context(), sql)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for rows.Next() {
		var s string
		if err := rows.Scan(&s); err != nil {
			t.Fatal(err)
		}
		out = append(out, s)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

// checkNowIsFresh fails when the stored now-state differs from a fresh
// evaluation of every group.
func checkNowIsFresh(t *testing.T, pool *pgxpool.Pool, when string) {
	t.Helper()
	checkSame(t, textRows(t, pool, nowRowsSQL), textRows(t, pool, evaluatedSQL), when)
}

// checkSame fails when the rows read from the store differ from those
// evaluated afresh.
func checkSame(t *testing.T, stored, fresh []string, when string) {
	t.Helper()
	if len(fresh) == 0 {
		t.Fatalf("%s: no partition evaluated", when)
	}
	if strings.Join(stored, "\n") != strings.Join(fresh, "\n") {
		n := 0
		for i := range max(len(stored), len(fresh)) {
			var s, f string
			if i < len(stored) {
				s = stored[i]
			}
			if i < len(fresh) {
				f = fresh[i]
			}
			if s != f && n < 5 {
				t.Errorf("%s: row %d\nstored %s\nfresh  %s", when, i, s, f)
				n++
			}
		}
		t.Fatalf("%s: %d stored rows, %d evaluated afresh, not the same", when, len(stored), len(fresh))
	}
}

// TestNowStateFollowsEveryWrite writes random histories of every kind the
// status tests use, shuffled into batches that arrive out of order, some
// twice, from two writers at once while two stores refresh the now-state,
// and checks after each round and a last RefreshNow that partition_now
// holds exactly what evaluate_partitions computes from the samples: late
// polls queue the groups they change again. Before the first refresh,
// partition_status evaluates the queued groups when read, and says the
// same. It then changes the status rules, which must re-evaluate the
// groups whose allowed lag changed, and writes a poll whose offsets
// overflow the evaluation, which must be stored with its group left out
// of the now-state.
func TestNowStateFollowsEveryWrite(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	st, pool := newStore(t)
	other, err := store.Open(ctx, store.Config{DatabaseURL: pool.Config().ConnString()}, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(other.Close)
	rng := rand.New(rand.NewPCG(18, 10))
	start := time.Date(2025, 5, 5, 10, 0, 0, 0, time.UTC)
	var polls []*store.Poll
	var groups []store.GroupRef
	for i := range 10 {
		kind := randhist.Kinds[i%len(randhist.Kinds)]
		g := store.GroupRef{Region: "cn-hangzhou", InstanceID: "alikafka-now", Group: fmt.Sprintf("%s-%d", kind, i)}
		groups = append(groups, g)
		polls = append(polls, randhist.Polls(rng, g, kind, start, randhist.Config{Partitions: 3})...)
	}
	rng.Shuffle(len(polls), func(i, j int) { polls[i], polls[j] = polls[j], polls[i] })
	// Three rounds, each of batches from two writers at once; the last
	// round writes a fifth of the polls again.
	thirds := [][]*store.Poll{polls[:len(polls)/3], polls[len(polls)/3 : 2*len(polls)/3], polls[2*len(polls)/3:]}
	thirds[2] = append(thirds[2], polls[:len(polls)/5]...)
	for round, batch := range thirds {
		var writers, refreshers sync.WaitGroup
		errs := make([]error, 4)
		done := make(chan struct{})
		for w, s := range []*store.Store{st, other} {
			writers.Go(func() {
				for i := w * 7; i < len(batch); i += 14 {
					if _, err := s.WritePolls(ctx, batch[i:min(i+7, len(batch))]); err != nil {
						errs[w] = err
						return
					}
				}
			})
			if round == 0 {
				continue // the first round is read before any refresh
			}
			// Both stores refresh while the polls arrive, until they all
			// have.
			refreshers.Go(func() {
				for {
					if _, err := s.RefreshNow(ctx); err != nil {
						errs[2+w] = err
						return
					}
					select {
					case <-done:
						return
					default:
					}
				}
			})
		}
		writers.Wait()
		close(done)
		refreshers.Wait()
		for _, err := range errs {
			if err != nil {
				t.Fatal(err)
			}
		}
		when := fmt.Sprintf("after round %d", round+1)
		if round == 0 {
			checkSame(t, textRows(t, pool, viewSQL), textRows(t, pool, viewEvaluatedSQL), when+", not refreshed, partition_status")
		}
		if _, err := st.RefreshNow(ctx); err != nil {
			t.Fatal(err)
		}
		checkNowIsFresh(t, pool, when)
		checkSame(t, textRows(t, pool, viewSQL), textRows(t, pool, viewEvaluatedSQL), when+", partition_status")
	}

	// An allowed lag above every lag turns the group's partitions OK.
	target := groups[2] // troubled
	if err := st.SetStatusRules(ctx, []store.StatusRule{{Region: target.Region, Instance: target.InstanceID, Group: target.Group, AllowedLag: math.MaxInt32}}); err != nil {
		t.Fatal(err)
	}
	checkNowIsFresh(t, pool, "after the status rules changed")
	var notOK int
	if err := pool.QueryRow(ctx, `SELECT count(*) FROM lagtrail.partition_status WHERE consumer_group = $1 AND last_status <> 'OK'`, target.Group).Scan(&notOK); err != nil {
		t.Fatal(err)
	}
	if notOK != 0 {
		t.Errorf("%s: %d partitions not OK with an allowed lag above every lag", target.Group, notOK)
	}

	// Offsets whose lag leaves bigint (the API may answer anything): the
	// polls are stored, their group has no now-state, the others keep
	// theirs.
	huge := store.GroupRef{Region: "cn-hangzhou", InstanceID: "alikafka-now", Group: "huge"}
	var hugePolls []*store.Poll
	for i := range 3 {
		at := start.Add(time.Duration(i) * time.Minute)
		ts := store.TopicSample{Topic: "t"}
		for p := range int32(2) {
			ts.Partitions = append(ts.Partitions, store.PartitionOffsets{Partition: p, BrokerOffset: math.MaxInt64, ConsumerOffset: math.MinInt64, LastTimestampMs: -1})
		}
		hugePolls = append(hugePolls, &store.Poll{Group: huge, StartedAt: at, SampledAt: at, OK: true, LastTimestampMs: -1, Topics: []store.TopicSample{ts}})
	}
	before := textRows(t, pool, nowRowsSQL)
	if n, err := st.WritePolls(ctx, hugePolls); err != nil || n != len(hugePolls) {
		t.Fatalf("polls with huge offsets: stored %d, %v; want %d stored", n, err, len(hugePolls))
	}
	if res, err := st.RefreshNow(ctx); err != nil || res.Groups != 1 || res.Rows != 0 {
		t.Fatalf("RefreshNow after polls with huge offsets: %+v, %v; want 1 group refreshed, 0 rows", res, err)
	}
	if after := textRows(t, pool, nowRowsSQL); strings.Join(after, "\n") != strings.Join(before, "\n") {
		t.Errorf("the now-state changed for groups other than the one that fails to evaluate: %d rows before, %d after", len(before), len(after))
	}
	var stored int
	if err := pool.QueryRow(context.Background(), `SELECT count(*) FROM lagtrail.polls WHERE consumer_group = 'huge'`).Scan(&stored); err != nil {
		t.Fatal(err)
	}
	if stored != len(hugePolls) {
		t.Errorf("%d polls of the failing group stored, want %d", stored, len(hugePolls))
	}
}
