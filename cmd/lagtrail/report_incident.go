package main

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/spf13/cobra"

	"github.com/lagtrail/lagtrail/internal/cliflag"
	"github.com/lagtrail/lagtrail/query"
)

// incidentFlags are report incident's flags.
type incidentFlags struct {
	q                   queryFlags
	baseline            time.Duration
	minTimeLag          time.Duration
	out, chartFormat    string
	format, from, until string
}

func newReportIncidentCmd(g *globals) *cobra.Command {
	f := &incidentFlags{}
	cmd := &cobra.Command{
		Use:   "incident --group G --from T --to T",
		Short: "What happened to a group between two times: a post-incident summary",
		Long: `incident reads every poll of the group between --from and --to, and the
--baseline before --from as the group's normal, and writes a post-incident
summary: when the lag began to grow, status changes, rebalances (recorded
from RebalanceInfoList, or inferred), rewinds and resets, the peak lag and
time lag, when it recovered; which partitions were affected; whether
production rose or consumption dropped around the start; and the failed
polls that explain gaps.

An incident is a run of at least 2 polls whose lag is elevated: above
--min-time-lag of production (at the larger of the normal and the last 10
polls' median production rate; default 3 poll intervals, at most 60 s) and
above twice the normal lag (the 95th percentile of the baseline's). It began
at the last poll before that whose lag was normal (at most a twelfth of
--min-time-lag of production, 5 s at 60 s, or 1.5 times the normal lag) and
recovered at the first poll after it back at normal. Every STALL or STOP
lasting 3 polls or more lies inside an incident.

--format markdown (the default) prints the summary as Markdown; json prints
the whole report, including every poll; csv prints one row per incident:
start, peak, recovery, cause and affected partitions. With --out DIR it writes
DIR/incident.md, DIR/incident.json and three charts (lag by partition, rates,
time lag) as --chart-format png or svg, and prints their paths.`,
		Args: cobra.NoArgs,
	}
	fl := cmd.Flags()
	fl.StringVar(&f.q.dbURL, "database-url", "", "PostgreSQL URL (default $"+envDatabaseURL+", then database_url of --config)")
	fl.StringVar(&f.q.configPath, "config", "", "config file, for database_url")
	fl.StringVar(&f.q.group, "group", "", "consumer group name (required)")
	fl.StringVar(&f.q.region, "region", "", "region of the group, when its name is recorded in several")
	fl.StringVar(&f.q.instance, "instance", "", "instance of the group, when its name is recorded in several")
	fl.StringVar(&f.q.topic, "topic", "", "one topic of the group (default every topic)")
	fl.StringVar(&f.from, "from", "-24h", "start of the range: RFC3339, a date (midnight UTC), now, or relative (-6h, -2d)")
	fl.StringVar(&f.until, "to", "now", "end of the range (exclusive)")
	cliflag.DurationVar(fl, &f.baseline, "baseline", query.DefaultBaseline, "history before --from read as the group's normal")
	cliflag.DurationVar(fl, &f.minTimeLag, "min-time-lag", 0, "lag above this long of production is elevated (default 3 poll intervals, at most 1m)")
	fl.StringVar(&f.format, "format", "markdown", "output format: markdown, json or csv")
	fl.StringVar(&f.out, "out", "", "directory to write incident.md, incident.json and the charts into")
	fl.StringVar(&f.chartFormat, "chart-format", "png", "chart image format with --out: png or svg")
	cmd.RunE = func(cmd *cobra.Command, _ []string) error {
		now := time.Now().UTC()
		req, err := f.request(now)
		if err != nil {
			return err
		}
		e, closeStore, err := f.q.engine(cmd.Context(), g)
		if err != nil {
			return err
		}
		defer closeStore()
		rep, err := e.Incident(cmd.Context(), req)
		if err != nil {
			return queryErr(err)
		}
		if f.out == "" {
			switch f.format {
			case "json":
				return writeJSONDoc(g.stdout, rep)
			case "csv":
				return incidentTable(rep).write(g.stdout, "csv")
			}
			_, err := g.stdout.Write(incidentMarkdown(rep, nil))
			return err
		}
		paths, err := writeIncidentFiles(rep, f.out, f.chartFormat)
		if err != nil {
			return err
		}
		for _, p := range paths {
			fmt.Fprintln(g.stdout, p)
		}
		return nil
	}
	return cmd
}

// request validates the flags against now.
func (f *incidentFlags) request(now time.Time) (query.IncidentRequest, error) {
	var req query.IncidentRequest
	switch {
	case f.q.group == "":
		return req, usagef("--group is required: the report is about one consumer group")
	case f.format != "markdown" && f.format != "json" && f.format != "csv":
		return req, usagef("--format must be markdown, json or csv, got %q", f.format)
	case f.chartFormat != "png" && f.chartFormat != "svg":
		return req, usagef("--chart-format must be png or svg, got %q", f.chartFormat)
	case f.baseline <= 0:
		return req, usagef("--baseline must be positive, got %s", f.baseline)
	case f.minTimeLag < 0:
		return req, usagef("--min-time-lag must not be negative, got %s", f.minTimeLag)
	}
	from, err := query.ParseTime(f.from, now)
	if err != nil {
		return req, usagef("--from: %v", err)
	}
	to, err := query.ParseTime(f.until, now)
	if err != nil {
		return req, usagef("--to: %v", err)
	}
	if !from.Before(to) {
		return req, usagef("--from %s must be before --to %s", from.UTC().Format(time.RFC3339), to.UTC().Format(time.RFC3339))
	}
	if to.Sub(from) > query.MaxIncidentRange {
		return req, usagef("--from to --to spans %s; an incident report reads every poll and covers at most %s", to.Sub(from), query.MaxIncidentRange)
	}
	if f.out != "" {
		if err := os.MkdirAll(f.out, 0o755); err != nil {
			return req, usagef("--out: %v", err)
		}
	}
	return query.IncidentRequest{
		Selection: query.Selection{Group: f.q.group, Region: f.q.region, Instance: f.q.instance, Topic: f.q.topic},
		From:      from, To: to, Baseline: f.baseline,
		Detect: query.DetectConfig{BehindSeconds: f.minTimeLag.Seconds()},
	}, nil
}

// writeIncidentFiles writes the report's Markdown, JSON and charts into
// dir and returns their paths.
func writeIncidentFiles(rep *query.IncidentReport, dir, chartFormat string) ([]string, error) {
	charts, err := incidentCharts(rep, dir, chartFormat)
	if err != nil {
		return nil, err
	}
	md := filepath.Join(dir, "incident.md")
	if err := os.WriteFile(md, incidentMarkdown(rep, charts), 0o644); err != nil {
		return nil, fmt.Errorf("write report: %w", err)
	}
	js := filepath.Join(dir, "incident.json")
	data, err := json.MarshalIndent(rep, "", "  ")
	if err != nil {
		return nil, fmt.Errorf("encode report: %w", err)
	}
	if err := os.WriteFile(js, append(data, '\n'), 0o644); err != nil {
		return nil, fmt.Errorf("write report: %w", err)
	}
	paths := []string{md, js}
	for _, c := range charts {
		paths = append(paths, filepath.Join(dir, c.file))
	}
	return paths, nil
}

// incidentTable is one row per incident of rep, for CSV.
func incidentTable(rep *query.IncidentReport) *table {
	t := &table{columns: []column{
		{"region", kText}, {"instance", kText}, {"group", kText}, {"incident", kInt},
		{"start", kTime}, {"started_before", kText}, {"detected", kTime},
		{"peak", kTime}, {"peak_lag", kCount}, {"peak_time_lag_seconds", kSeconds}, {"peak_time_lag_kind", kText},
		{"recovered", kTime}, {"recovery_seconds", kSeconds}, {"drain_seconds", kSeconds},
		{"cause_kind", kText}, {"cause", kText}, {"affected_partitions", kText},
	}}
	for i, inc := range rep.Incidents {
		var recovered, recovery, drain, kind any
		if inc.Recovered != nil {
			recovered, recovery, drain = *inc.Recovered, inc.RecoverySeconds, inc.DrainSeconds
		}
		if inc.PeakTimeLagKind != "" {
			kind = inc.PeakTimeLagKind
		}
		refs := make([]query.PartitionRef, len(inc.Affected))
		for j, a := range inc.Affected {
			refs[j] = a.PartitionRef
		}
		t.add(rep.Group.Region, rep.Group.InstanceID, rep.Group.Group, int64(i+1),
			inc.Start, inc.StartedBefore, inc.Detected, inc.Peak, inc.PeakLag, f64(inc.PeakTimeLag), kind,
			recovered, recovery, drain, inc.Cause.Kind, inc.Cause.Text, query.JoinPartitions(refs))
	}
	return t
}
