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
// evaluation of every group, or group_status from the aggregate of
// partition_status.
func checkNowIsFresh(t *testing.T, pool *pgxpool.Pool, when string) {
	t.Helper()
	checkSame(t, textRows(t, pool, nowRowsSQL), textRows(t, pool, evaluatedSQL), when)
	checkSame(t, textRows(t, pool, fmt.Sprintf(groupRowSQL, "SELECT * FROM lagtrail.group_status")),
		textRows(t, pool, fmt.Sprintf(groupRowSQL, groupStatusOracleSQL)), when+", group_status")
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

// groupStatusOracleSQL is group_status as 000009 defined it, an aggregate
// of partition_status on every read: group_status, which reads the stored
// group rows where no partition or every partition is NODATA, must say the
// same. groupRowSQL lists either's rows, floats to 9 significant digits
// (sums of rates in another order differ in the last bits).
const (
	groupStatusOracleSQL = `
SELECT p.region, p.instance_id, p.consumer_group,
       max(p.evaluated_at) AS evaluated_at,
       (array_agg(p.status ORDER BY p.severity DESC, p.topic, p.partition))[1] AS status,
       max(p.severity) AS severity,
       (array_agg(p.last_status ORDER BY p.last_severity DESC, p.topic, p.partition))[1] AS last_status,
       string_agg(p.topic || '/' || p.partition, ',' ORDER BY p.topic, p.partition)
           FILTER (WHERE p.last_severity = p.worst_last AND p.last_severity > 1) AS partitions,
       CASE WHEN max(p.severity) = 1 THEN 'every partition OK'
            ELSE (array_agg(p.reason ORDER BY p.severity DESC, p.topic, p.partition))[1] END AS reason,
       count(*)::integer AS partition_count,
       sum(p.lag)::bigint AS lag,
       max(p.time_lag_s) AS time_lag_s,
       CASE WHEN bool_or(p.time_lag_kind = 'lower_bound') THEN 'lower_bound'
            ELSE (array_agg(p.time_lag_kind ORDER BY p.time_lag_s DESC NULLS LAST, p.topic, p.partition))[1] END AS time_lag_kind,
       sum(p.consume_rate) AS consume_rate, sum(p.produce_rate) AS produce_rate, sum(p.lag_slope) AS lag_slope,
       CASE WHEN NOT sum(p.lag) > 60 * greatest(coalesce(sum(p.produce_rate), 0), 1) THEN 0::float8
            WHEN sum(p.lag_slope) < 0 THEN sum(p.lag) / -sum(p.lag_slope) END AS eta_s
FROM (
    SELECT ps.*, max(ps.last_severity) OVER (PARTITION BY ps.region, ps.instance_id, ps.consumer_group) AS worst_last
    FROM (
        SELECT s.*, array_position(ARRAY['OK', 'WARN', 'REWIND', 'STALL', 'STOP'], s.last_status) AS last_severity
        FROM lagtrail.partition_status s
    ) ps
) p
GROUP BY p.region, p.instance_id, p.consumer_group`
	groupRowSQL = `SELECT (region, instance_id, consumer_group, evaluated_at, status, severity, last_status, partitions, reason,
       partition_count, lag, time_lag_s::float4, time_lag_kind, consume_rate::float4, produce_rate::float4,
       lag_slope::float4, eta_s::float4)::text
FROM (%s) g ORDER BY region, instance_id, consumer_group`
)

// TestGroupStatusAtEveryAge checks group_status against the aggregate of
// partition_status it used to be, for groups whose partitions are all
// NODATA (an old history), none (polled a minute ago), some (a partition
// seen at the last poll only, whose single poll stays fresh for 45
// minutes, beside partitions polled every minute, NODATA after 3), a group
// written but never refreshed, and one polled since its now-state was
// stored, which is not NODATA; and that RefreshNow stores a row per group
// in group_now.
func TestGroupStatusAtEveryAge(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	st, pool := newStore(t)
	rng := rand.New(rand.NewPCG(18, 11))
	var polls []*store.Poll
	for i, kind := range randhist.Kinds {
		g := store.GroupRef{Region: "cn-hangzhou", InstanceID: "alikafka-old", Group: fmt.Sprintf("%s-%d", kind, i)}
		polls = append(polls, randhist.Polls(rng, g, kind, time.Date(2025, 5, 5, 10, 0, 0, 0, time.UTC), randhist.Config{Partitions: 3})...)
	}
	// recent polls g every minute for 20 minutes up to end, partitions 0
	// and 1 of two topics at every poll and partition 2 of topic b at the
	// last one only; the consumer of topic a stops halfway.
	now := time.Now().UTC().Truncate(time.Second)
	recent := func(name string, end time.Time) []*store.Poll {
		g := store.GroupRef{Region: "cn-hangzhou", InstanceID: "alikafka-new", Group: name}
		var out []*store.Poll
		for i := range 20 {
			at := end.Add(time.Duration(i-19) * time.Minute)
			p := &store.Poll{Group: g, StartedAt: at, SampledAt: at, OK: true, LastTimestampMs: -1}
			for _, topic := range []string{"a", "b"} {
				ts := store.TopicSample{Topic: topic}
				for part := range int32(3) {
					if part == 2 && (topic == "a" || i < 19) {
						continue
					}
					consumer := int64(100 * i)
					if topic == "a" && i > 10 {
						consumer = 1000
					}
					ts.Partitions = append(ts.Partitions, store.PartitionOffsets{Partition: part, BrokerOffset: int64(100*i + 50), ConsumerOffset: consumer, LastTimestampMs: -1})
				}
				p.Topics = append(p.Topics, ts)
			}
			out = append(out, p)
		}
		return out
	}
	polls = append(polls, recent("fresh", now.Add(-time.Minute))...)
	polls = append(polls, recent("some-nodata", now.Add(-10*time.Minute))...)
	polls = append(polls, recent("refresh-behind", now.Add(-10*time.Minute))...)
	if _, err := st.WritePolls(ctx, polls); err != nil {
		t.Fatal(err)
	}
	if _, err := st.RefreshNow(ctx); err != nil {
		t.Fatal(err)
	}
	// Written, not refreshed yet: never-refreshed's polls, and a poll of
	// refresh-behind half a minute ago, after the one its now-state was
	// evaluated at, 10 minutes ago. Its partitions are not NODATA: their
	// group was polled since.
	late := recent("refresh-behind", now.Add(-30*time.Second))
	if _, err := st.WritePolls(ctx, append(recent("never-refreshed", now.Add(-time.Minute)), late[len(late)-1])); err != nil {
		t.Fatal(err)
	}

	oracle := textRows(t, pool, fmt.Sprintf(groupRowSQL, groupStatusOracleSQL))
	got := textRows(t, pool, fmt.Sprintf(groupRowSQL, "SELECT * FROM lagtrail.group_status"))
	checkSame(t, got, oracle, "group_status")
	statuses := map[string]string{}
	rows, err := pool.Query(ctx, `SELECT consumer_group, status FROM lagtrail.group_status`)
	if err != nil {
		t.Fatal(err)
	}
	for rows.Next() {
		var g, s string
		if err := rows.Scan(&g, &s); err != nil {
			t.Fatal(err)
		}
		statuses[g] = s
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	// Every age is covered: the case the test is about must not vanish
	// with a change of the histories.
	for g, want := range map[string]string{"fresh": "STOP", "some-nodata": "OK", "never-refreshed": "STOP", "refresh-behind": "STOP", "idle-0": "NODATA"} {
		if statuses[g] != want {
			t.Errorf("group %s: status %q, want %q (all: %v)", g, statuses[g], want, statuses)
		}
	}
	// Behind: refresh-behind by the 9m30s between its two last polls, and
	// never-refreshed, which has no now-state yet.
	behind, err := st.NowBehind(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if want := (store.NowBehind{Groups: len(randhist.Kinds) + 4, Behind: 2, Max: 9*time.Minute + 30*time.Second}); behind != want {
		t.Errorf("NowBehind = %+v, want %+v", behind, want)
	}
	var stored int
	if err := pool.QueryRow(ctx, `SELECT count(*) FROM lagtrail.group_now`).Scan(&stored); err != nil {
		t.Fatal(err)
	}
	if want := len(randhist.Kinds) + 3; stored != want {
		t.Errorf("group_now holds %d rows, want %d: every refreshed group", stored, want)
	}
}

// TestRefreshNowTakesOnlyWhatWasQueued checks that RefreshNow takes the
// groups queued before it started and leaves later ones for the next
// refresh, so that it returns while polls keep arriving.
func TestRefreshNowTakesOnlyWhatWasQueued(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	st, pool := newStore(t)
	rng := rand.New(rand.NewPCG(18, 12))
	var polls []*store.Poll
	for _, name := range []string{"earlier", "later"} {
		g := store.GroupRef{Region: "cn-hangzhou", InstanceID: "alikafka-queue", Group: name}
		polls = append(polls, randhist.Polls(rng, g, randhist.Steady, time.Date(2025, 5, 5, 10, 0, 0, 0, time.UTC), randhist.Config{Partitions: 2})...)
	}
	if _, err := st.WritePolls(ctx, polls); err != nil {
		t.Fatal(err)
	}
	// later's entry as a write committing after the refresh began leaves it.
	if _, err := pool.Exec(ctx, `UPDATE lagtrail.now_queue q SET queued_at = now() + interval '1 hour'
		FROM lagtrail.group_names n WHERE n.group_key = q.group_key AND n.consumer_group = 'later'`); err != nil {
		t.Fatal(err)
	}
	res, err := st.RefreshNow(ctx)
	if err != nil || res.Groups != 1 {
		t.Fatalf("RefreshNow = %+v, %v; want the one group queued before it began", res, err)
	}
	queued := textRows(t, pool, `SELECT n.consumer_group FROM lagtrail.now_queue q JOIN lagtrail.group_names n ON n.group_key = q.group_key`)
	if len(queued) != 1 || queued[0] != "later" {
		t.Errorf("still queued: %v, want [later]", queued)
	}
}

// TestFleetLastPoll checks the last poll the fleet reports, which the
// writer records in group_last_poll: the latest poll, failed or not, with
// its error code; a late poll, older than it, changes nothing; and the
// status is judged from the latest successful poll.
func TestFleetLastPoll(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	st, _ := newStore(t)
	g := store.GroupRef{Region: "cn-hangzhou", InstanceID: "alikafka-last", Group: "flaky"}
	// Polls 5 minutes apart, the last successful one a minute ago: its
	// partitions are NODATA only 15 minutes after it.
	at := time.Now().UTC().Truncate(time.Second).Add(-6 * time.Minute)
	failed := func(at time.Time) *store.Poll {
		return &store.Poll{Group: g, StartedAt: at, SampledAt: at, ErrorCode: "Throttling.User", ErrorMessage: "throttled"}
	}
	last := at.Add(5*time.Minute + 30*time.Second)
	for _, batch := range [][]*store.Poll{
		{okPoll(g, at, 1, 2), okPoll(g, at.Add(5*time.Minute), 1, 2)},
		{failed(last)},
		{failed(at.Add(2 * time.Minute))}, // late, and older than the last
	} {
		if _, err := st.WritePolls(ctx, batch); err != nil {
			t.Fatal(err)
		}
	}
	rows, err := st.Fleet(ctx, store.FleetQuery{})
	if err != nil {
		t.Fatal(err)
	}
	if len(rows) != 1 {
		t.Fatalf("fleet: %d rows, want 1", len(rows))
	}
	r := rows[0]
	if !r.LastPollAt.Equal(last) || r.LastPollOK || r.LastError != "Throttling.User" {
		t.Errorf("last poll %s ok %v error %q; want the failed poll at %s with its code", r.LastPollAt, r.LastPollOK, r.LastError, last)
	}
	if r.LagAt == nil || !r.LagAt.Equal(at.Add(5*time.Minute)) || r.Status == "NODATA" {
		t.Errorf("status %s at %v; want a status evaluated at the last successful poll, %s", r.Status, r.LagAt, at.Add(5*time.Minute))
	}
}
