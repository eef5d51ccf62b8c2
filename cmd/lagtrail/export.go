package main

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/lagtrail/lagtrail/query"
	"github.com/lagtrail/lagtrail/store"
)

// exportFlags are the flags of lagtrail export.
type exportFlags struct {
	dbURL, configPath string
	view, from, to    string
	groups            []string
	region, instance  string
	format, output    string
}

func newExportCmd(g *globals) *cobra.Command {
	f := &exportFlags{}
	cmd := &cobra.Command{
		Use:   "export --view NAME [--from T] [--to T] [--group NAME ...] [--format csv|jsonl] [--output FILE]",
		Short: "Stream the rows of a BI view to CSV or JSON Lines",
		Long: `export writes the rows of one view of schema lagtrail whose time column is in
[--from, --to), ordered by time, consumer_group, topic and partition, to
stdout or to --output FILE. Views (time column): ` + exportViewList() + `.

--group (repeatable) keeps only those consumer groups, --region and
--instance only that region and instance. --format csv writes a header row
and one record per row (RFC3339 UTC times, plain numbers, NULL as an empty
field); --format jsonl writes one JSON object per row, keyed by column name
(NULL as null). Times are RFC3339, "now", or relative to now: -24h, -7d.

export streams through a server-side cursor in one read-only snapshot, so
its memory does not grow with the number of rows. When stderr is a
terminal it shows rows and rows/s as it goes. If the export fails, the
partial --output file is removed.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return runExport(cmd, g, f)
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&f.dbURL, "database-url", "", "PostgreSQL URL (default $"+envDatabaseURL+", then database_url of --config)")
	fl.StringVar(&f.configPath, "config", "", "config file, for database_url")
	fl.StringVar(&f.view, "view", "", "view to export: "+strings.Join(store.ExportViews(), ", "))
	fl.StringVar(&f.from, "from", "-24h", "start of the range: RFC3339, now, or relative (-24h, -7d)")
	fl.StringVar(&f.to, "to", "now", "end of the range (exclusive)")
	fl.StringArrayVar(&f.groups, "group", nil, "consumer group name; repeat for several (default every group)")
	fl.StringVar(&f.region, "region", "", "only groups of this region")
	fl.StringVar(&f.instance, "instance", "", "only groups of this instance")
	fl.StringVar(&f.format, "format", "csv", "output format: csv or jsonl")
	fl.StringVarP(&f.output, "output", "o", "", "write to FILE, created or truncated (default stdout)")
	return cmd
}

// exportViewList names the exportable views with their time columns.
func exportViewList() string {
	views := store.ExportViews()
	for i, v := range views {
		tc, _ := store.ExportTimeColumn(v)
		views[i] = v + " (" + tc + ")"
	}
	return strings.Join(views, ", ")
}

// request validates the flags against now, without the database.
func (f *exportFlags) request(now time.Time) (store.ExportRequest, error) {
	req := store.ExportRequest{View: f.view, Groups: f.groups, Region: f.region, InstanceID: f.instance}
	if f.view == "" {
		return req, usagef("--view is required: one of %s", strings.Join(store.ExportViews(), ", "))
	}
	switch f.format {
	case "csv", "jsonl":
	default:
		return req, usagef("--format must be csv or jsonl, got %q", f.format)
	}
	if slices.Contains(f.groups, "") {
		return req, usagef("--group must not be empty")
	}
	var err error
	if req.From, err = query.ParseTime(f.from, now); err != nil {
		return req, usagef("--from: %v", err)
	}
	if req.To, err = query.ParseTime(f.to, now); err != nil {
		return req, usagef("--to: %v", err)
	}
	if err := req.Validate(); err != nil {
		if errors.Is(err, store.ErrUnknownView) {
			return req, usagef("--view: %v", err)
		}
		return req, usageError{err}
	}
	return req, nil
}

func runExport(cmd *cobra.Command, g *globals, f *exportFlags) (err error) {
	start := time.Now()
	req, err := f.request(start.UTC())
	if err != nil {
		return err
	}
	file, err := optionalConfig(f.configPath)
	if err != nil {
		return err
	}
	ctx := cmd.Context()
	st, _, release, err := g.readStore(ctx, f.dbURL, file)
	if err != nil {
		return err
	}
	defer release()

	// The output file is created only once the database is open, so that
	// a bad URL leaves an existing file alone.
	var out io.Writer = g.stdout
	if f.output != "" {
		fh, cerr := os.Create(f.output)
		if cerr != nil {
			return cerr
		}
		// err is the named result: what runExport returns.
		defer func() {
			if cerr := fh.Close(); cerr != nil && err == nil {
				err = cerr
			}
			if err != nil {
				os.Remove(f.output)
			}
		}()
		out = fh
	}
	bw := bufio.NewWriterSize(out, 64<<10)
	var w store.ExportWriter
	if f.format == "jsonl" {
		w = store.NewJSONLExport(bw)
	} else {
		w = store.NewCSVExport(bw)
	}
	p := newProgress(g.stderr, start)
	n, err := st.Export(ctx, req, progressWriter{w, p})
	if err == nil {
		err = bw.Flush()
	}
	p.finish(n, err)
	if errors.Is(err, store.ErrInvalidRange) || errors.Is(err, store.ErrUnknownView) {
		return usageError{err}
	}
	return err
}

// progress reports an export's rows and rows/s on a terminal: a line
// rewritten about once a second, and a summary at the end. It says nothing
// when its writer is not a terminal.
type progress struct {
	line        *statusLine
	start, last time.Time
	n           int64
}

func newProgress(stderr io.Writer, start time.Time) *progress {
	return &progress{line: newStatusLine(stderr), start: start, last: start}
}

// row counts one row, and redraws the line when a second has passed.
func (p *progress) row() {
	p.n++
	if !p.line.tty || p.n%1024 != 0 {
		return
	}
	if now := time.Now(); now.Sub(p.last) >= time.Second {
		p.last = now
		p.line.show(fmt.Sprintf("exported %d rows, %.0f rows/s", p.n, rate(p.n, now.Sub(p.start))))
	}
}

// finish prints the summary, or ends the progress line before an error.
func (p *progress) finish(n int64, err error) {
	if !p.line.tty {
		return
	}
	if err != nil {
		p.line.clear()
		return
	}
	d := time.Since(p.start)
	p.line.done(fmt.Sprintf("exported %d rows in %s, %.0f rows/s", n, d.Round(time.Millisecond), rate(n, d)))
}

func rate(n int64, d time.Duration) float64 {
	if d <= 0 {
		return 0
	}
	return float64(n) / d.Seconds()
}

// progressWriter counts the rows it passes on to ExportWriter.
type progressWriter struct {
	store.ExportWriter
	p *progress
}

func (w progressWriter) Row(values []any) error {
	if err := w.ExportWriter.Row(values); err != nil {
		return err
	}
	w.p.row()
	return nil
}
