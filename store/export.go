package store

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
)

// ErrUnknownView is wrapped by the error an export returns for a view that
// is not in the export registry; the wrapping error lists the valid names.
var ErrUnknownView = errors.New("unknown view")

// exportView describes one view of schema lagtrail that Export can read.
// Adding a view to the export is adding one entry to exportViews: the output
// columns come from the query's field descriptions.
type exportView struct {
	// time is the view's time column: an export reads the rows whose time
	// is in [From, To), ordered by it.
	time string
	// order are the columns that order the rows of one time, after time,
	// so that the output is deterministic.
	order []string
	// group, region and instance say whether the view has the columns
	// consumer_group, region and instance_id, which the filters apply to.
	group, region, instance bool
}

// exportViews is the export registry: the only view and column names the
// export SQL is built from.
var exportViews = map[string]exportView{
	"partition_offsets": {
		time:  "sampled_at",
		order: []string{"consumer_group", "topic", "partition", "region", "instance_id"},
		group: true, region: true, instance: true,
	},
	"polls": {
		time:  "sampled_at",
		order: []string{"consumer_group", "region", "instance_id"},
		group: true, region: true, instance: true,
	},
	"rebalances": {
		time:  "first_seen_at",
		order: []string{"consumer_group", "region", "instance_id", "generation"},
		group: true, region: true, instance: true,
	},
	"group_lag_hourly":        groupRollupView,
	"group_lag_daily":         groupRollupView,
	"group_rates_hourly":      groupRollupView,
	"group_rates_daily":       groupRollupView,
	"partition_rates_hourly":  partitionRollupView,
	"partition_lag_hourly":    partitionRollupView,
	"partition_daily_summary": partitionRollupView,
}

// The rollup views: one row per group, or per partition, and bucket.
var (
	groupRollupView = exportView{
		time:  "bucket",
		order: []string{"consumer_group", "region", "instance_id"},
		group: true, region: true, instance: true,
	}
	partitionRollupView = exportView{
		time:  "bucket",
		order: []string{"consumer_group", "topic", "partition", "region", "instance_id"},
		group: true, region: true, instance: true,
	}
)

// ExportViews returns the names of the views Export can read, sorted.
func ExportViews() []string {
	names := make([]string, 0, len(exportViews))
	for n := range exportViews {
		names = append(names, n)
	}
	slices.Sort(names)
	return names
}

// ExportTimeColumn returns the time column of view, the column an export's
// From and To bound, or false when view is not in the registry.
func ExportTimeColumn(view string) (string, bool) {
	v, ok := exportViews[view]
	return v.time, ok
}

// ExportBatchSize is how many rows an export fetches from its cursor at a
// time.
const ExportBatchSize = 5000

// exportCursor is the name of the cursor an export declares; it lives only
// inside the export's transaction.
const exportCursor = "lagtrail_export"

// ExportRequest selects the rows of one view for Export.
type ExportRequest struct {
	// View is a name returned by ExportViews, e.g. "partition_offsets".
	View string
	// From and To bound the view's time column, half-open: [From, To).
	// From must be before To.
	From, To time.Time
	// Groups keeps only the rows whose consumer_group is one of these
	// names; empty keeps every group.
	Groups []string
	// Region and InstanceID keep only the rows of that region and instance;
	// empty matches any.
	Region, InstanceID string
}

// Validate returns an error for a request Export refuses, without touching
// the database: one wrapping ErrUnknownView for a view not in the registry,
// or ErrInvalidRange for From not before To or a filter on a column the view
// lacks.
func (r ExportRequest) Validate() error {
	v, ok := exportViews[r.View]
	if !ok {
		return fmt.Errorf("%w %q: want one of %s", ErrUnknownView, r.View, strings.Join(ExportViews(), ", "))
	}
	if !r.From.Before(r.To) {
		return fmt.Errorf("%w: from %s is not before to %s", ErrInvalidRange,
			r.From.UTC().Format(time.RFC3339Nano), r.To.UTC().Format(time.RFC3339Nano))
	}
	for _, c := range []struct {
		set, has bool
		col      string
	}{
		{len(r.Groups) > 0, v.group, "consumer_group"},
		{r.Region != "", v.region, "region"},
		{r.InstanceID != "", v.instance, "instance_id"},
	} {
		if c.set && !c.has {
			return fmt.Errorf("%w: view %s has no %s column to filter on", ErrInvalidRange, r.View, c.col)
		}
	}
	return nil
}

// ExportWriter receives the rows of an export: Begin once with the column
// names, then Row for each row in order, then End. An error from any of them
// stops the export and is returned by Export.
type ExportWriter interface {
	// Begin is called once, before the first row, even when there are no
	// rows.
	Begin(columns []string) error
	// Row receives one row, a value per column: nil for NULL, time.Time in
	// UTC for timestamps, and otherwise what pgx decodes (string, int16,
	// int32, int64, float64, bool, ...). values is only valid during the
	// call.
	Row(values []any) error
	// End is called once after the last row, when every row was read.
	End() error
}

// Export writes the rows of req's view whose time column is in
// [req.From, req.To) to w, ordered by the time column and then the view's
// key columns (consumer_group, topic, partition, ...), and returns how many
// rows it wrote. On error the count is of the rows w accepted.
//
// Export streams in constant memory. It declares a server-side cursor in a
// read-only REPEATABLE READ transaction, so that the rows are one consistent
// snapshot, fetches it ExportBatchSize rows at a time and hands each row to
// w as it is decoded.
func (s *Store) Export(ctx context.Context, req ExportRequest, w ExportWriter) (int64, error) {
	if err := req.Validate(); err != nil {
		return 0, fmt.Errorf("export: %w", err)
	}
	declare, args := exportSQL(req)
	n, err := s.export(ctx, declare, args, w)
	if err != nil {
		return n, fmt.Errorf("export %s: %w", req.View, err)
	}
	return n, nil
}

func (s *Store) export(ctx context.Context, declare string, args []any, w ExportWriter) (n int64, err error) {
	tx, err := s.pool.BeginTx(ctx, pgx.TxOptions{IsoLevel: pgx.RepeatableRead, AccessMode: pgx.ReadOnly})
	if err != nil {
		return 0, err
	}
	defer func() {
		// Read-only: rolling back loses nothing, and closes the cursor.
		if rbErr := tx.Rollback(context.WithoutCancel(ctx)); rbErr != nil && !errors.Is(rbErr, pgx.ErrTxClosed) && err == nil {
			err = rbErr
		}
	}()
	// Every row will be fetched: plan for all of them, not for the first
	// 10% as the planner does for cursors by default.
	if _, err := tx.Exec(ctx, `SET LOCAL cursor_tuple_fraction = 1.0`); err != nil {
		return 0, err
	}
	// The extended protocol carries the bind parameters into DECLARE's
	// query. Describe-exec uses the unnamed statement, so the query is
	// planned for these values (partition pruning) and nothing is cached.
	if _, err := tx.Exec(ctx, declare, append([]any{pgx.QueryExecModeDescribeExec}, args...)...); err != nil {
		return 0, fmt.Errorf("declare cursor: %w", err)
	}
	fetch := fmt.Sprintf("FETCH FORWARD %d FROM %s", ExportBatchSize, pgx.Identifier{exportCursor}.Sanitize())
	for first := true; ; first = false {
		// Describe-exec again: a cached FETCH would keep the columns of
		// the first view it read on this connection.
		rows, err := tx.Query(ctx, fetch, pgx.QueryExecModeDescribeExec)
		if err != nil {
			return n, fmt.Errorf("fetch: %w", err)
		}
		if first {
			fds := rows.FieldDescriptions()
			cols := make([]string, len(fds))
			for i, fd := range fds {
				cols[i] = fd.Name
			}
			if err := w.Begin(cols); err != nil {
				rows.Close()
				return n, err
			}
		}
		// Each row goes to w as soon as it is decoded, instead of through
		// pgx.CollectRows: collecting would hold a whole batch of decoded
		// rows (and, without the cursor, the whole range) in memory, while
		// an export of months of samples has to run in constant memory.
		got, err := exportBatch(rows, w)
		n += got
		if err != nil {
			return n, err
		}
		if got < ExportBatchSize {
			break
		}
	}
	if err := tx.Commit(ctx); err != nil {
		return n, err
	}
	return n, w.End()
}

// exportBatch hands the rows of one FETCH to w, with times in UTC, and
// returns how many w accepted. It closes rows.
func exportBatch(rows pgx.Rows, w ExportWriter) (int64, error) {
	defer rows.Close()
	var n int64
	for rows.Next() {
		vals, err := rows.Values()
		if err != nil {
			return n, fmt.Errorf("fetch: %w", err)
		}
		for i, v := range vals {
			if t, ok := v.(time.Time); ok {
				vals[i] = t.UTC()
			}
		}
		if err := w.Row(vals); err != nil {
			return n, err
		}
		n++
	}
	if err := rows.Err(); err != nil {
		return n, fmt.Errorf("fetch: %w", err)
	}
	return n, nil
}

// exportSQL returns the DECLARE statement of req, which Validate accepted,
// and its arguments. Identifiers come only from the registry, quoted;
// values are bind parameters.
func exportSQL(req ExportRequest) (string, []any) {
	v := exportViews[req.View]
	var f filter
	tc := pgx.Identifier{v.time}.Sanitize()
	f.add(tc+" >= $%d", req.From)
	f.add(tc+" < $%d", req.To)
	if len(req.Groups) > 0 {
		f.add(pgx.Identifier{"consumer_group"}.Sanitize()+" = ANY($%d)", req.Groups)
	}
	if req.Region != "" {
		f.add(pgx.Identifier{"region"}.Sanitize()+" = $%d", req.Region)
	}
	if req.InstanceID != "" {
		f.add(pgx.Identifier{"instance_id"}.Sanitize()+" = $%d", req.InstanceID)
	}
	order := []string{tc}
	for _, k := range v.order {
		order = append(order, pgx.Identifier{k}.Sanitize())
	}
	q := "DECLARE " + pgx.Identifier{exportCursor}.Sanitize() + " NO SCROLL CURSOR FOR\nSELECT *\nFROM " +
		pgx.Identifier{"lagtrail", req.View}.Sanitize() + f.where() +
		"\nORDER BY " + strings.Join(order, ", ")
	return q, f.args
}
