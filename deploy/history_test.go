package deploy

import (
	"context"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/lagtrail/lagtrail/internal/benchgen"
	"github.com/lagtrail/lagtrail/internal/pgtest"
	"github.com/lagtrail/lagtrail/store"
)

func TestMain(m *testing.M) { pgtest.Main(m) }

// fleet sizes a generated history (internal/benchgen) that ends now, so
// that the views evaluated against now() see fresh polls.
type fleet struct {
	groups, partitions, days int
	interval                 time.Duration
}

// testFleet is what the dashboard tests read: small enough to load in a
// few seconds, long enough for the daily rollups and the 7-day ranges.
var testFleet = fleet{groups: 6, partitions: 4, days: 7, interval: 5 * time.Minute}

// failedEvery and rebalanceEvery space the failed polls and rebalances
// writeFleet adds to the generated history, in rounds: at the test fleet's
// 5 minutes, each group has some in any 6 hours.
const failedEvery, rebalanceEvery = 37, 41

// errorCodes are the codes of the failed polls writeFleet adds.
var errorCodes = []string{"Throttling.User", "Timeout", "ServiceUnavailable"}

// writeFleet writes f's history into the database at url, with a failed
// poll of each group every failedEvery rounds (between two of its polls)
// and a rebalance reported every rebalanceEvery rounds, then brings the
// rollups up to date. The last round is at most one interval before now.
func writeFleet(tb testing.TB, url string, f fleet) {
	tb.Helper()
	ctx := tb.Context()
	rounds := int(time.Duration(f.days) * 24 * time.Hour / f.interval)
	start := time.Now().UTC().Truncate(f.interval).Add(-time.Duration(rounds-1) * f.interval)
	gen, err := benchgen.New(benchgen.Config{
		Groups: f.groups, Partitions: f.partitions, Rounds: rounds, Interval: f.interval, Start: start, Seed: 5,
	})
	if err != nil {
		tb.Fatal(err)
	}
	st, err := store.Open(ctx, store.Config{DatabaseURL: url}, nil)
	if err != nil {
		tb.Fatal(err)
	}
	defer st.Close()
	if _, err := st.EnsurePartitions(ctx, start, f.days+2); err != nil {
		tb.Fatal(err)
	}
	var batch []*store.Poll
	flush := func() {
		if _, err := st.WritePolls(ctx, batch); err != nil {
			tb.Fatalf("write polls: %v", err)
		}
		batch = batch[:0]
	}
	for i := range rounds {
		for gi, p := range gen.Round(i) {
			if (i+gi)%rebalanceEvery == 0 {
				p.Rebalances = []store.Rebalance{{
					Generation: int64(i), RebalancedAt: p.SampledAt.Add(-20 * time.Second), DurationMs: 300,
					Success: true, Reason: "member left the group", ReportedGroup: p.Group.Group,
				}}
			}
			batch = append(batch, p)
			if (i+3*gi)%failedEvery == 0 {
				// Benchgen's polls lie within half an interval after their
				// round, so half an interval later no poll of the group is.
				at := p.SampledAt.Add(f.interval / 2)
				code := errorCodes[(i/failedEvery)%len(errorCodes)]
				batch = append(batch, &store.Poll{
					Group: p.Group, StartedAt: at.Add(-2 * time.Second), SampledAt: at, Duration: 2 * time.Second,
					ErrorCode: code, ErrorMessage: fmt.Sprintf("%s: simulated failure", code),
				})
			}
		}
		if len(batch) >= 2000 {
			flush()
		}
	}
	flush()
	if _, err := st.RefreshNow(ctx); err != nil {
		tb.Fatal(err)
	}
	if _, err := st.RefreshRollups(ctx); err != nil {
		tb.Fatal(err)
	}
}

// asReader runs fn in a read-only transaction as lagtrail_reader, the role
// whose grants Grafana's login has, with JIT off as that login sets it. The
// transaction is rolled back.
func asReader(ctx context.Context, pool *pgxpool.Pool, fn func(pgx.Tx) error) error {
	tx, err := pool.BeginTx(ctx, pgx.TxOptions{AccessMode: pgx.ReadOnly})
	if err != nil {
		return fmt.Errorf("begin: %w", err)
	}
	defer func() { _ = tx.Rollback(context.WithoutCancel(ctx)) }()
	if _, err := tx.Exec(ctx, "SET LOCAL ROLE lagtrail_reader; SET LOCAL jit = off"); err != nil {
		return fmt.Errorf("become lagtrail_reader: %w", err)
	}
	return fn(tx)
}

// result is what a query returned.
type result struct {
	fields []pgconn.FieldDescription
	rows   [][]any
}

// column returns the index of the column called name, or -1.
func (r result) column(name string) int {
	for i, f := range r.fields {
		if f.Name == name {
			return i
		}
	}
	return -1
}

// readerQuery runs sql as lagtrail_reader (see asReader) and returns every
// row.
func readerQuery(ctx context.Context, pool *pgxpool.Pool, sql string) (result, error) {
	var res result
	err := asReader(ctx, pool, func(tx pgx.Tx) error {
		rows, err := tx.Query(ctx, sql)
		if err != nil {
			return err
		}
		// Copied: pgx reuses the slice's backing array for the next
		// query on the same connection, which a parallel test may run
		// while this one still reads the columns.
		res.fields = slices.Clone(rows.FieldDescriptions())
		res.rows, err = pgx.CollectRows(rows, func(r pgx.CollectableRow) ([]any, error) { return r.Values() })
		return err
	})
	return res, err
}
