package store

import (
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
)

// TestAggregatePlans checks, with EXPLAIN ANALYZE of the exact SQL and
// arguments Buckets, Events and PartitionStates send, in both the custom and
// the generic plan, that a one-group read reads only that group's rows:
//
//   - every scan of lagtrail.raw_polls is a scan of a daily partition
//     through its primary key, with the group in the index condition (no
//     sequential scan of any partition);
//   - only the partitions of the days the read window overlaps (edges
//     widened by EdgeSlack and the lookback) appear in the plan: the other
//     days' are pruned, while planning or when execution starts;
//   - the scans return exactly the rows selected, counted with a plain
//     count(*), and read (return or discard) no more than the group's rows
//     in the window: no other group's row and no row outside the window.
//     A custom plan discards none.
//
// Nothing is disabled: the planner makes its real choice, so the database
// holds enough rows (20 groups polled every minute for 5 days) for the plan
// a production database would get. The last subtests are controls: the same
// SQL with the group or the time filter made unusable must fail the checks.
func TestAggregatePlans(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	s, pool := openInternal(t)
	first := time.Date(2025, 3, 13, 0, 0, 0, 0, time.UTC)
	refs := writePlanData(ctx, t, s, pool, first, 20, 5, 4)
	existing := planPartitionDays(ctx, t, pool)
	if len(existing) != 5 {
		t.Fatalf("raw_polls has partitions of days %v, want 5", existing)
	}
	pages := planRelPages(ctx, t, pool)

	mid := first.AddDate(0, 0, 2)
	cases := []struct {
		name      string
		from, to  time.Time
		lookback  time.Duration
		topic     string
		partition *int32
	}{
		// The slack past both edges reaches into the neighbouring days.
		{name: "one day", from: mid, to: mid.AddDate(0, 0, 1)},
		// Slack and lookback stay inside the day.
		{name: "inside one day", from: mid.Add(8 * time.Hour), to: mid.Add(14 * time.Hour), lookback: 3 * time.Hour},
		// A day of lookback reaches back into the day before.
		{name: "day lookback", from: mid.Add(12 * time.Hour), to: mid.Add(18 * time.Hour), lookback: 24 * time.Hour},
		// A topic and a partition: the index still selects the group.
		{name: "one partition", from: mid, to: mid.AddDate(0, 0, 1), topic: "payments", partition: new(int32(1))},
	}
	queries := []struct {
		name string
		sql  string
	}{
		{"buckets by group", bucketsSQL(LevelGroup)},
		{"buckets by topic", bucketsSQL(LevelTopic)},
		{"buckets by partition", bucketsSQL(LevelPartition)},
		{"events", eventsSQL},
		{"states", statesSQL},
	}
	target := refs[len(refs)/2]
	for _, c := range cases {
		q := AggregateQuery{
			Groups: []GroupRef{target}, Topic: c.topic, Partition: c.partition,
			Edges: planEdges(c.from, c.to, 15*time.Minute), Lookback: c.lookback, Window: 30 * time.Minute,
		}
		args, ok, err := s.aggregateArgs(ctx, q)
		if err != nil || !ok {
			t.Fatalf("%s: aggregateArgs: ok %v, %v", c.name, ok, err)
		}
		readFrom, readTo := args[1].(time.Time), args[2].(time.Time)
		wantDays := planOverlappingDays(readFrom, readTo)
		if len(wantDays) >= len(existing) {
			t.Fatalf("%s: read window [%s, %s) overlaps every partition %v: nothing to prune", c.name, readFrom, readTo, existing)
		}
		// wantRows are the rows the scans select: the group's polls in
		// the read window (a topic is picked after unpacking them);
		// groupRows the same, windowRows every group's.
		var wantRows, groupRows, windowRows int64
		if err := pool.QueryRow(ctx, `
SELECT count(*) FILTER (WHERE rp.group_key = ANY($1::int[])), count(*)
FROM lagtrail.raw_polls rp
WHERE rp.sampled_at >= $2 AND rp.sampled_at < $3`, args[0], readFrom, readTo).Scan(&groupRows, &windowRows); err != nil {
			t.Fatal(err)
		}
		wantRows = groupRows
		if wantRows == 0 || groupRows*10 > windowRows {
			t.Fatalf("%s: %d of the %d rows in the read window are the group's: the test needs a few among many", c.name, groupRows, windowRows)
		}
		for _, qq := range queries {
			a := args
			if qq.sql == statesSQL {
				a = statesArgs(args, q.Window)
			}
			for _, mode := range []string{customPlan, genericPlan} {
				t.Run(c.name+"/"+qq.name+"/"+mode, func(t *testing.T) {
					t.Parallel()
					plan := explainAnalyze(t.Context(), t, pool, qq.sql, a, mode)
					sum := checkGroupScans(plan, wantDays, wantRows, groupRows)
					t.Logf("%d rows selected, %d of the group's and %d in all in the read window [%s, %s); %d partitions pruned at run time; raw_polls scans:\n%s",
						wantRows, groupRows, windowRows, readFrom.Format(time.RFC3339), readTo.Format(time.RFC3339), sum.runtimePruned, sum.describe(pages))
					for _, p := range sum.problems {
						t.Error(p)
					}
					// A custom plan reads the group's rows and nothing
					// else.
					if mode == customPlan && sum.removed != 0 {
						t.Errorf("the custom plan discarded %.0f rows after reading them", sum.removed)
					}
				})
			}
		}
	}

	// Controls: the checks must catch a plan that reads other groups' rows
	// or other days' partitions.
	controls := []struct {
		name, from, to string
		want           []string
	}{
		{
			name: "group filter not indexable",
			from: "ps.group_key = ANY($1::int[])", to: "ps.group_key + 0 = ANY($1::int[])",
			want: []string{"does not select the group", "more than the group's"},
		},
		{
			name: "time filter not prunable",
			from: "ps.sampled_at >= $2::timestamptz", to: "ps.sampled_at >= $2::timestamptz + random() * interval '0'",
			want: []string{"scanned the partitions of days", "more than the group's"},
		},
	}
	q := AggregateQuery{Groups: []GroupRef{target}, Edges: planEdges(mid, mid.AddDate(0, 0, 1), 15*time.Minute)}
	args, _, err := s.aggregateArgs(ctx, q)
	if err != nil {
		t.Fatal(err)
	}
	var wantRows int64
	if err := pool.QueryRow(ctx, `SELECT count(*) FROM lagtrail.raw_polls WHERE group_key = ANY($1::int[]) AND sampled_at >= $2 AND sampled_at < $3`,
		args[0], args[1], args[2]).Scan(&wantRows); err != nil {
		t.Fatal(err)
	}
	for _, c := range controls {
		for _, mode := range []string{customPlan, genericPlan} {
			t.Run("control/"+c.name+"/"+mode, func(t *testing.T) {
				t.Parallel()
				sql := bucketsSQL(LevelGroup)
				if strings.Count(sql, c.from) != 1 {
					t.Fatalf("the SQL no longer contains %q once: update the control", c.from)
				}
				plan := explainAnalyze(t.Context(), t, pool, strings.Replace(sql, c.from, c.to, 1), args, mode)
				sum := checkGroupScans(plan, planOverlappingDays(args[1].(time.Time), args[2].(time.Time)), wantRows, wantRows)
				t.Logf("caught:\n%s", strings.Join(sum.problems, "\n"))
				for _, w := range c.want {
					if !slices.ContainsFunc(sum.problems, func(p string) bool { return strings.Contains(p, w) }) {
						t.Errorf("checks did not report %q on a broken plan; they reported:\n%s\nscans:\n%s", w, strings.Join(sum.problems, "\n"), sum.describe(pages))
					}
				}
			})
		}
	}
}

// writePlanData records groups groups polled once a minute for days days
// from first, each poll with two topics of parts partitions, and analyzes
// the tables. One poll per group goes through WritePoll, which creates the
// dictionary entries; the rest are inserted in bulk in the same row shape,
// interleaved in time as a recorder of many groups writes them.
func writePlanData(ctx context.Context, t *testing.T, s *Store, pool *pgxpool.Pool, first time.Time, groups, days, parts int) []GroupRef {
	t.Helper()
	refs := make([]GroupRef, groups)
	for i := range refs {
		refs[i] = GroupRef{Region: "cn-hangzhou", InstanceID: "alikafka-1", Group: fmt.Sprintf("group-%02d", i)}
		p := &Poll{Group: refs[i], StartedAt: first, SampledAt: first, OK: true}
		for _, topic := range []string{"orders", "payments"} {
			ts := TopicSample{Topic: topic}
			for pi := range int32(parts) {
				ts.Partitions = append(ts.Partitions, PartitionOffsets{Partition: pi, BrokerOffset: int64(pi) * 7, ConsumerOffset: int64(pi) * 5, LastTimestampMs: -1})
			}
			p.Topics = append(p.Topics, ts)
		}
		if err := s.WritePoll(ctx, p); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := s.EnsurePartitions(ctx, first, days); err != nil {
		t.Fatal(err)
	}
	// The packed form WritePoll uses for these values: broker offsets
	// relative to the first partition's, lags, and timestamps 5 minutes
	// behind sampled_at.
	if _, err := pool.Exec(ctx, `
INSERT INTO lagtrail.raw_polls (group_key, sampled_at, started_at, duration_ms, ok, total_diff, last_timestamp_ms,
                                broker_base, topic_keys, topic_ends, samples)
SELECT g.group_key, $1::timestamptz + x.i * interval '1 minute', $1::timestamptz + x.i * interval '1 minute', 0, true, 0, -1,
       x.i * 100,
       (SELECT array_agg(tk.topic_key ORDER BY tk.topic_key) FROM lagtrail.topics tk),
       ARRAY[$3, 2 * $3],
       array(SELECT u.v
             FROM generate_series(1, 2) tt, generate_series(0, $3 - 1) p,
                  unnest(ARRAY[p * 7, x.i * 10 + p * 2, 300000]) WITH ORDINALITY AS u(v, o)
             ORDER BY tt, p, u.o)
FROM generate_series(0, $2 * 1440 - 1) AS x(i)
CROSS JOIN lagtrail.consumer_groups g
ORDER BY x.i, g.group_key
ON CONFLICT DO NOTHING`, first, days, parts); err != nil {
		t.Fatal(err)
	}
	var n int
	if err := pool.QueryRow(ctx, "SELECT count(*) FROM lagtrail.raw_polls").Scan(&n); err != nil {
		t.Fatal(err)
	}
	if want := groups * days * 1440; n != want {
		t.Fatalf("raw_polls holds %d rows, want %d", n, want)
	}
	// The bulk rows read back as the values they stand for.
	var bad int
	if err := pool.QueryRow(ctx, `
SELECT count(*) FROM lagtrail.partition_samples s
WHERE s.sampled_at > $1 AND (s.broker_offset <> (extract(epoch FROM s.sampled_at - $1) / 60)::bigint * 100 + s.partition * 7
   OR s.consumer_offset <> (extract(epoch FROM s.sampled_at - $1) / 60)::bigint * 90 + s.partition * 5
   OR s.last_timestamp_ms <> (extract(epoch FROM s.sampled_at - interval '5 minutes') * 1000)::bigint)`, first).Scan(&bad); err != nil {
		t.Fatal(err)
	}
	if bad != 0 {
		t.Fatalf("%d bulk partition samples do not read back as written", bad)
	}
	if _, err := pool.Exec(ctx, "ANALYZE lagtrail.raw_polls, lagtrail.topics, lagtrail.consumer_groups, lagtrail.instances, lagtrail.regions"); err != nil {
		t.Fatal(err)
	}
	return refs
}

// planNode is the part of a node of EXPLAIN (ANALYZE, BUFFERS, FORMAT JSON)
// the checks read.
type planNode struct {
	NodeType         string     `json:"Node Type"`
	RelationName     string     `json:"Relation Name"`
	IndexName        string     `json:"Index Name"`
	IndexCond        string     `json:"Index Cond"`
	Filter           string     `json:"Filter"`
	ActualRows       float64    `json:"Actual Rows"`
	ActualLoops      float64    `json:"Actual Loops"`
	RemovedByFilter  float64    `json:"Rows Removed by Filter"`
	RemovedByRecheck float64    `json:"Rows Removed by Index Recheck"`
	SubplansRemoved  int        `json:"Subplans Removed"`
	WorkersPlanned   int        `json:"Workers Planned"`
	ExactHeapBlocks  int64      `json:"Exact Heap Blocks"`
	LossyHeapBlocks  int64      `json:"Lossy Heap Blocks"`
	SharedHitBlocks  int64      `json:"Shared Hit Blocks"`
	SharedReadBlocks int64      `json:"Shared Read Blocks"`
	Plans            []planNode `json:"Plans"`
}

// walk calls f on n and every node below it, with the names of the nodes
// above it.
func (n *planNode) walk(f func(n *planNode, above []string)) {
	var rec func(n *planNode, above []string)
	rec = func(n *planNode, above []string) {
		f(n, above)
		above = append(above, n.NodeType)
		for i := range n.Plans {
			rec(&n.Plans[i], above)
		}
	}
	rec(n, nil)
}

// The plans a statement runs with. pgx prepares each statement once per
// connection and PostgreSQL plans its first five executions for their
// parameter values (custom plans, pruning partitions while planning) and
// may then switch to one generic plan for any values (pruning partitions
// when execution starts). The store runs both, so both are checked.
const (
	customPlan  = "custom"
	genericPlan = "generic"
)

// noParallel keeps a plan in one process. Under a Gather, each scan's
// actual row count is an average over the workers, rounded, so the exact
// row checks cannot be made; which rows are read does not depend on it.
const noParallel = "SET LOCAL max_parallel_workers_per_gather = 0"

// explainAnalyze runs EXPLAIN (ANALYZE, BUFFERS, FORMAT JSON) of q with args
// and returns the root plan node. A custom plan is explained as pgx sends
// the statement, with args bound in the extended protocol. A generic plan
// is explained by preparing q and executing it with generic plans forced,
// as they would be after the first executions.
func explainAnalyze(ctx context.Context, t *testing.T, pool *pgxpool.Pool, q string, args []any, mode string) planNode {
	t.Helper()
	var raw []byte
	switch mode {
	case customPlan:
		tx, err := pool.Begin(ctx)
		if err != nil {
			t.Fatal(err)
		}
		defer func() { _ = tx.Rollback(context.WithoutCancel(ctx)) }()
		if _, err := tx.Exec(ctx, noParallel); err != nil {
			t.Fatal(err)
		}
		if err := tx.QueryRow(ctx, "EXPLAIN (ANALYZE, BUFFERS, FORMAT JSON) "+q, args...).Scan(&raw); err != nil {
			t.Fatalf("explain: %v", err)
		}
	case genericPlan:
		conn, err := pool.Acquire(ctx)
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Release()
		tx, err := conn.Begin(ctx)
		if err != nil {
			t.Fatal(err)
		}
		// The prepared statement outlives the transaction, which resets
		// plan_cache_mode: drop it before the connection returns to the
		// pool, also after a failure.
		defer func() {
			ctx := context.WithoutCancel(ctx)
			_ = tx.Rollback(ctx)
			_, _ = conn.Exec(ctx, "DEALLOCATE aggregate_plan")
		}()
		if _, err := tx.Exec(ctx, noParallel+"; SET LOCAL plan_cache_mode = force_generic_plan; PREPARE aggregate_plan AS "+q); err != nil {
			t.Fatalf("prepare: %v", err)
		}
		// EXECUTE takes its arguments as literals: the simple protocol
		// inlines them.
		placeholders := make([]string, len(args))
		for i := range args {
			placeholders[i] = fmt.Sprintf("$%d", i+1)
		}
		if err := tx.QueryRow(ctx, "EXPLAIN (ANALYZE, BUFFERS, FORMAT JSON) EXECUTE aggregate_plan("+strings.Join(placeholders, ", ")+")",
			append([]any{pgx.QueryExecModeSimpleProtocol}, args...)...).Scan(&raw); err != nil {
			t.Fatalf("explain execute: %v", err)
		}
	default:
		t.Fatalf("unknown plan mode %q", mode)
	}
	var out []struct {
		Plan planNode `json:"Plan"`
	}
	if err := json.Unmarshal(raw, &out); err != nil {
		t.Fatalf("decode plan: %v\n%s", err, raw)
	}
	if len(out) != 1 {
		t.Fatalf("got %d plans, want 1:\n%s", len(out), raw)
	}
	return out[0].Plan
}

var planSamplePartition = regexp.MustCompile(`^raw_polls_(\d{8})$`)

// scanSummary is what checkGroupScans found.
type scanSummary struct {
	// runtimePruned counts the subplans removed when execution started.
	runtimePruned int
	// removed counts the rows scans read and then discarded.
	removed  float64
	scans    []*planNode
	conds    []string
	problems []string
}

// checkGroupScans checks that plan reads raw_polls only through the
// primary keys of the partitions of wantDays (YYYYMMDD), with the group in
// the index condition, and that those scans return wantRows rows in all
// and read (return or discard) at most groupRows, the group's rows in the
// read window: no row of another group or outside the window.
func checkGroupScans(plan planNode, wantDays []string, wantRows, groupRows int64) scanSummary {
	var (
		sum      scanSummary
		scanned  = map[string]bool{}
		rows     float64
		problemf = func(format string, a ...any) { sum.problems = append(sum.problems, fmt.Sprintf(format, a...)) }
	)
	plan.walk(func(n *planNode, above []string) {
		sum.runtimePruned += n.SubplansRemoved
		if n.NodeType == "Bitmap Index Scan" {
			return // checked with its heap scan
		}
		if !strings.HasPrefix(n.RelationName, "raw_polls") {
			return
		}
		m := planSamplePartition.FindStringSubmatch(n.RelationName)
		if m == nil {
			problemf("%s on %s, not on a daily partition", n.NodeType, n.RelationName)
			return
		}
		scanned[m[1]] = true
		pkey := n.RelationName + "_pkey"
		cond := n.IndexCond
		switch n.NodeType {
		case "Index Scan", "Index Only Scan":
			if n.IndexName != pkey {
				problemf("%s on %s uses index %q, want %s", n.NodeType, n.RelationName, n.IndexName, pkey)
			}
		case "Bitmap Heap Scan":
			if len(n.Plans) != 1 || n.Plans[0].NodeType != "Bitmap Index Scan" || n.Plans[0].IndexName != pkey {
				problemf("Bitmap Heap Scan on %s is not fed by one Bitmap Index Scan on %s", n.RelationName, pkey)
			} else {
				cond = n.Plans[0].IndexCond
			}
			if n.LossyHeapBlocks > 0 {
				problemf("Bitmap Heap Scan on %s went lossy on %d blocks", n.RelationName, n.LossyHeapBlocks)
			}
		default:
			problemf("%s on %s, want a scan of %s", n.NodeType, n.RelationName, pkey)
		}
		if !strings.Contains(cond, "group_key = ANY") {
			problemf("%s on %s: index condition %q does not select the group", n.NodeType, n.RelationName, cond)
		}
		// Parallel workers make Actual Rows a rounded per-loop average.
		if slices.ContainsFunc(above, func(s string) bool { return strings.HasPrefix(s, "Gather") }) {
			problemf("%s on %s runs under a Gather: its row count is not exact", n.NodeType, n.RelationName)
		}
		rows += n.ActualRows * n.ActualLoops
		sum.removed += n.RemovedByFilter + n.RemovedByRecheck
		sum.scans = append(sum.scans, n)
		sum.conds = append(sum.conds, cond)
	})
	if got := slices.Sorted(maps.Keys(scanned)); !slices.Equal(got, wantDays) {
		problemf("scanned the partitions of days %v, want those of %v only", got, wantDays)
	}
	if int64(rows) != wantRows {
		problemf("raw_polls scans returned %.0f rows, want the %d selected in the read window", rows, wantRows)
	}
	if read := int64(rows + sum.removed); read > groupRows {
		problemf("raw_polls scans read %d rows (%.0f discarded), more than the group's %d in the read window", read, sum.removed, groupRows)
	}
	return sum
}

// describe lists the scans, with the heap pages of each partition.
func (s scanSummary) describe(pages map[string]int64) string {
	var b strings.Builder
	for i, n := range s.scans {
		fmt.Fprintf(&b, "  %s on %s (%d heap pages) via %s_pkey, index cond %s, filter %q: %.0f rows x %.0f loops, removed %.0f, heap blocks %d, buffers hit %d read %d\n",
			n.NodeType, n.RelationName, pages[n.RelationName], n.RelationName, s.conds[i], n.Filter, n.ActualRows, n.ActualLoops,
			n.RemovedByFilter+n.RemovedByRecheck, n.ExactHeapBlocks, n.SharedHitBlocks, n.SharedReadBlocks)
	}
	return b.String()
}

// planPartitionDays returns the day suffixes (YYYYMMDD) of the partitions of
// raw_polls, ascending.
func planPartitionDays(ctx context.Context, t *testing.T, pool *pgxpool.Pool) []string {
	t.Helper()
	var days []string
	for name := range planRelPages(ctx, t, pool) {
		if m := planSamplePartition.FindStringSubmatch(name); m != nil {
			days = append(days, m[1])
		}
	}
	slices.Sort(days)
	return days
}

// planRelPages returns the heap pages of each partition of raw_polls,
// as of the last ANALYZE.
func planRelPages(ctx context.Context, t *testing.T, pool *pgxpool.Pool) map[string]int64 {
	t.Helper()
	rows, err := pool.Query(ctx, `
SELECT c.relname::text, c.relpages::bigint FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
WHERE i.inhparent = 'lagtrail.raw_polls'::regclass`)
	if err != nil {
		t.Fatal(err)
	}
	m := map[string]int64{}
	var (
		name  string
		pages int64
	)
	if _, err := pgx.ForEachRow(rows, []any{&name, &pages}, func() error { m[name] = pages; return nil }); err != nil {
		t.Fatal(err)
	}
	return m
}

// planOverlappingDays returns the UTC days (YYYYMMDD) that [from, to)
// overlaps.
func planOverlappingDays(from, to time.Time) []string {
	var days []string
	for d := from.UTC().Truncate(24 * time.Hour); d.Before(to); d = d.AddDate(0, 0, 1) {
		days = append(days, d.Format("20060102"))
	}
	return days
}

// planEdges returns the edges from, from+step, ... up to to.
func planEdges(from, to time.Time, step time.Duration) []time.Time {
	var e []time.Time
	for t := from; !t.After(to); t = t.Add(step) {
		e = append(e, t)
	}
	return e
}
