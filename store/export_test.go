package store_test

import (
	"bytes"
	"cmp"
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/lagtrail/lagtrail/store"
)

// exportRecorder is an ExportWriter that keeps everything it is given.
type exportRecorder struct {
	cols          []string
	rows          [][]any
	begins, ends  int
	failAfterRows int // Row fails once this many rows were kept; 0 never
}

var errRecorder = errors.New("recorder full")

func (r *exportRecorder) Begin(cols []string) error {
	r.begins++
	r.cols = slices.Clone(cols)
	return nil
}

func (r *exportRecorder) Row(v []any) error {
	if r.failAfterRows > 0 && len(r.rows) == r.failAfterRows {
		return errRecorder
	}
	r.rows = append(r.rows, slices.Clone(v))
	return nil
}

func (r *exportRecorder) End() error {
	r.ends++
	return nil
}

// get returns the value of column name in row.
func (r *exportRecorder) get(t *testing.T, row []any, name string) any {
	t.Helper()
	i := slices.Index(r.cols, name)
	if i < 0 {
		t.Fatalf("no column %q in %v", name, r.cols)
	}
	return row[i]
}

// exportAll runs Export into a recorder and fails the test on error.
func exportAll(t *testing.T, s *store.Store, req store.ExportRequest) *exportRecorder {
	t.Helper()
	rec := &exportRecorder{}
	n, err := s.Export(t.Context(), req, rec)
	if err != nil {
		t.Fatalf("Export(%+v): %v", req, err)
	}
	if n != int64(len(rec.rows)) || rec.begins != 1 || rec.ends != 1 {
		t.Fatalf("Export returned %d rows, wrote %d, Begin %d times, End %d times", n, len(rec.rows), rec.begins, rec.ends)
	}
	return rec
}

func asInt64(t *testing.T, v any) int64 {
	t.Helper()
	switch x := v.(type) {
	case int16:
		return int64(x)
	case int32:
		return int64(x)
	case int64:
		return x
	}
	t.Fatalf("%v (%T) is not an integer", v, v)
	return 0
}

// exportedSamples turns exported partition_offsets rows into samples.
func exportedSamples(t *testing.T, rec *exportRecorder) []store.PartitionSample {
	t.Helper()
	out := make([]store.PartitionSample, len(rec.rows))
	for i, row := range rec.rows {
		s := store.PartitionSample{
			SampledAt: rec.get(t, row, "sampled_at").(time.Time),
			Group: store.GroupRef{
				Region:     rec.get(t, row, "region").(string),
				InstanceID: rec.get(t, row, "instance_id").(string),
				Group:      rec.get(t, row, "consumer_group").(string),
			},
			Topic:          rec.get(t, row, "topic").(string),
			Partition:      int32(asInt64(t, rec.get(t, row, "partition"))),
			BrokerOffset:   asInt64(t, rec.get(t, row, "broker_offset")),
			ConsumerOffset: asInt64(t, rec.get(t, row, "consumer_offset")),
			Lag:            asInt64(t, rec.get(t, row, "lag")),
		}
		if lc := rec.get(t, row, "last_consumed_at"); lc != nil {
			tm := lc.(time.Time)
			s.LastConsumedAt = &tm
		}
		if s.SampledAt.Location() != time.UTC {
			t.Errorf("row %d: sampled_at %v is not in UTC", i, s.SampledAt)
		}
		out[i] = s
	}
	return out
}

// exportOrder is the order Export promises for partition_offsets.
func exportOrder(a, b store.PartitionSample) int {
	return cmp.Or(a.SampledAt.Compare(b.SampledAt), cmp.Compare(a.Group.Group, b.Group.Group),
		cmp.Compare(a.Topic, b.Topic), cmp.Compare(a.Partition, b.Partition), compareGroups(a.Group, b.Group))
}

func TestExportPartitionOffsetsMatchesRead(t *testing.T) {
	t.Parallel()
	f := newReadFixture(t)
	t0, t1, t2, t3 := f.times[0], f.times[1], f.times[2], f.times[3]
	tests := []struct {
		name   string
		req    store.ExportRequest
		ranges []store.Range // ReadPartitionOffsets of these, together, is the want
		want   int
	}{
		{"everything", store.ExportRequest{From: day0, To: t3.Add(time.Hour)},
			[]store.Range{{From: day0, To: t3.Add(time.Hour)}}, 72},
		{"one group name across instances", store.ExportRequest{From: t0, To: t3, Groups: []string{"billing"}},
			[]store.Range{{Group: "billing", From: t0, To: t3}}, 36},
		{"two groups", store.ExportRequest{From: t0, To: t3, Groups: []string{"search", "billing"}},
			[]store.Range{{Group: "billing", From: t0, To: t3}, {Group: "search", From: t0, To: t3}}, 54},
		{"group in one region", store.ExportRequest{From: t0, To: t3, Groups: []string{"billing"}, Region: "cn-shanghai"},
			[]store.Range{{Group: "billing", Region: "cn-shanghai", From: t0, To: t3}}, 18},
		{"instance", store.ExportRequest{From: t0, To: t3.Add(time.Second), InstanceID: "alikafka-2"},
			[]store.Range{{InstanceID: "alikafka-2", From: t0, To: t3.Add(time.Second)}}, 24},
		{"half-open: from included, to excluded", store.ExportRequest{From: t1, To: t2},
			[]store.Range{{From: t1, To: t2}}, 18},
		{"to one microsecond later includes to", store.ExportRequest{From: t1, To: t2.Add(time.Microsecond)},
			[]store.Range{{From: t1, To: t2.Add(time.Microsecond)}}, 36},
		{"unknown group", store.ExportRequest{From: t0, To: t3, Groups: []string{"nope"}}, nil, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			tt.req.View = "partition_offsets"
			rec := exportAll(t, f.store, tt.req)
			if !slices.Equal(rec.cols[:6], []string{"sampled_at", "region", "instance_id", "consumer_group", "topic", "partition"}) {
				t.Errorf("columns = %v", rec.cols)
			}
			got := exportedSamples(t, rec)
			if len(got) != tt.want {
				t.Errorf("exported %d rows, want %d", len(got), tt.want)
			}
			if !slices.IsSortedFunc(got, exportOrder) {
				t.Errorf("rows are not ordered by sampled_at, consumer_group, topic, partition")
			}
			var want []store.PartitionSample
			for _, r := range tt.ranges {
				part, err := f.store.ReadPartitionOffsets(t.Context(), r)
				if err != nil {
					t.Fatalf("ReadPartitionOffsets: %v", err)
				}
				want = append(want, part...)
			}
			slices.SortFunc(want, exportOrder)
			if !reflect.DeepEqual(got, want) && !(len(got) == 0 && len(want) == 0) {
				t.Errorf("export differs from ReadPartitionOffsets:\n got %d rows, first %+v\nwant %d rows, first %+v",
					len(got), first(got), len(want), first(want))
			}
			for _, s := range got {
				if s.SampledAt.Before(tt.req.From) || !s.SampledAt.Before(tt.req.To) {
					t.Errorf("sampled_at %s outside [%s, %s)", s.SampledAt, tt.req.From, tt.req.To)
				}
			}
		})
	}
}

func first[T any](s []T) any {
	if len(s) == 0 {
		return nil
	}
	return s[0]
}

func TestExportPollsAndRebalances(t *testing.T) {
	t.Parallel()
	f := newReadFixture(t)
	t0, t3 := f.times[0], f.times[3]

	polls := exportAll(t, f.store, store.ExportRequest{View: "polls", From: t0, To: t3, Groups: []string{"search"}})
	want, err := f.store.ReadPolls(t.Context(), store.Range{Group: "search", From: t0, To: t3})
	if err != nil {
		t.Fatal(err)
	}
	if len(polls.rows) != len(want) || len(want) != 4 {
		t.Fatalf("exported %d polls, ReadPolls %d, want 4 (3 ok, 1 failed)", len(polls.rows), len(want))
	}
	var failed int
	for _, row := range polls.rows {
		ok := polls.get(t, row, "ok").(bool)
		code, diff := polls.get(t, row, "error_code"), polls.get(t, row, "total_diff")
		if ok && (code != nil || diff == nil) || !ok && (code != "Timeout" || diff != nil) {
			t.Errorf("poll ok=%v has error_code %v, total_diff %v", ok, code, diff)
		}
		if !ok {
			failed++
		}
	}
	if failed != 1 {
		t.Errorf("%d failed polls exported, want 1", failed)
	}

	// Rebalances are bounded by first_seen_at: generation 1 was first seen
	// at t0, generation 2 at t3.
	reb := exportAll(t, f.store, store.ExportRequest{View: "rebalances", From: t0, To: t0.Add(time.Microsecond)})
	if len(reb.rows) != 3 {
		t.Fatalf("exported %d rebalances first seen at t0, want 3", len(reb.rows))
	}
	for _, row := range reb.rows {
		if g := asInt64(t, reb.get(t, row, "generation")); g != 1 {
			t.Errorf("generation %d first seen at t0, want 1", g)
		}
	}
	reb = exportAll(t, f.store, store.ExportRequest{View: "rebalances", From: t0, To: t3.Add(time.Second), Region: "cn-shanghai"})
	if len(reb.rows) != 2 {
		t.Errorf("exported %d rebalances of cn-shanghai, want 2", len(reb.rows))
	}
}

func TestExportRejects(t *testing.T) {
	t.Parallel()
	t0 := day0
	tests := []struct {
		name    string
		req     store.ExportRequest
		want    error
		message string
	}{
		{"unknown view", store.ExportRequest{View: "topic_samples", From: t0, To: t0.Add(time.Hour)},
			store.ErrUnknownView, "partition_offsets, partition_rates_hourly, polls, rebalances"},
		{"empty view", store.ExportRequest{From: t0, To: t0.Add(time.Hour)}, store.ErrUnknownView, "polls"},
		{"from equals to", store.ExportRequest{View: "polls", From: t0, To: t0}, store.ErrInvalidRange, "not before"},
		{"from after to", store.ExportRequest{View: "polls", From: t0.Add(time.Hour), To: t0}, store.ErrInvalidRange, "not before"},
		{"no to", store.ExportRequest{View: "polls", From: t0}, store.ErrInvalidRange, "not before"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			err := tt.req.Validate()
			if !errors.Is(err, tt.want) || !strings.Contains(err.Error(), tt.message) {
				t.Errorf("Validate() = %v, want %v containing %q", err, tt.want, tt.message)
			}
		})
	}
	if got := store.ExportViews(); !slices.Equal(got, []string{"group_lag_daily", "group_lag_hourly", "group_rates_daily", "group_rates_hourly",
		"partition_daily_summary", "partition_lag_hourly", "partition_offsets", "partition_rates_hourly", "polls", "rebalances"}) {
		t.Errorf("ExportViews() = %v", got)
	}
	for view, want := range map[string]string{"partition_offsets": "sampled_at", "polls": "sampled_at", "rebalances": "first_seen_at"} {
		if got, ok := store.ExportTimeColumn(view); !ok || got != want {
			t.Errorf("ExportTimeColumn(%s) = %q, %v; want %q", view, got, ok, want)
		}
	}
}

func TestExportUnknownViewTouchesNothing(t *testing.T) {
	t.Parallel()
	s, _ := newStore(t)
	rec := &exportRecorder{}
	n, err := s.Export(t.Context(), store.ExportRequest{View: "lagtrail.polls; --", From: day0, To: day0.AddDate(0, 0, 1)}, rec)
	if !errors.Is(err, store.ErrUnknownView) || n != 0 || rec.begins != 0 {
		t.Errorf("Export = %d, %v, Begin called %d times; want ErrUnknownView and nothing written", n, err, rec.begins)
	}
}

// TestExportBatches crosses the cursor's batch size: exactly one full
// batch, and one row more.
func TestExportBatches(t *testing.T) {
	t.Parallel()
	s, _ := newStore(t)
	t0 := day0.Add(time.Hour)
	const parts = 10 // ExportBatchSize/parts polls fill one batch
	var polls []*store.Poll
	for i := range store.ExportBatchSize / parts {
		polls = append(polls, okPoll(testGroup, t0.Add(time.Duration(i)*time.Second), 1, parts))
	}
	end := polls[len(polls)-1].SampledAt.Add(time.Second)
	polls = append(polls, okPoll(testGroup, end, 1, 1))
	if _, err := s.WritePolls(t.Context(), polls); err != nil {
		t.Fatalf("WritePolls: %v", err)
	}
	for _, tc := range []struct {
		to   time.Time
		want int
	}{{end, store.ExportBatchSize}, {end.Add(time.Microsecond), store.ExportBatchSize + 1}} {
		got := exportedSamples(t, exportAll(t, s, store.ExportRequest{View: "partition_offsets", From: t0, To: tc.to}))
		if len(got) != tc.want {
			t.Errorf("to %s: exported %d rows, want %d", tc.to, len(got), tc.want)
		}
		for i := 1; i < len(got); i++ {
			if exportOrder(got[i-1], got[i]) >= 0 {
				t.Fatalf("rows %d and %d are out of order or repeated: %+v, %+v", i-1, i, got[i-1], got[i])
			}
		}
	}

	// A writer error stops the export at once and comes back.
	rec := &exportRecorder{failAfterRows: 3}
	n, err := s.Export(t.Context(), store.ExportRequest{View: "partition_offsets", From: t0, To: t0.Add(time.Hour)}, rec)
	if !errors.Is(err, errRecorder) || n != 3 || rec.ends != 0 {
		t.Errorf("Export with failing writer = %d, %v, End %d times; want 3, errRecorder, 0", n, err, rec.ends)
	}
}

// TestExportFormats writes the fixture's polls (with NULLs, booleans,
// integers and timestamps) as CSV and JSON Lines and reads them back.
func TestExportFormats(t *testing.T) {
	t.Parallel()
	f := newReadFixture(t)
	req := store.ExportRequest{View: "polls", From: day0, To: f.times[3].Add(time.Hour)}
	rec := exportAll(t, f.store, req)
	if len(rec.rows) != 13 {
		t.Fatalf("exported %d polls, want 13", len(rec.rows))
	}

	t.Run("csv", func(t *testing.T) {
		t.Parallel()
		var buf bytes.Buffer
		n, err := f.store.Export(t.Context(), req, store.NewCSVExport(&buf))
		if err != nil || n != 13 {
			t.Fatalf("Export csv = %d, %v", n, err)
		}
		records, err := csv.NewReader(&buf).ReadAll()
		if err != nil {
			t.Fatalf("read csv back: %v", err)
		}
		if !slices.Equal(records[0], rec.cols) || len(records) != 14 {
			t.Fatalf("header %v, %d records; want %v and 14", records[0], len(records), rec.cols)
		}
		for i, row := range rec.rows {
			for j, v := range row {
				if want := csvWant(v); records[i+1][j] != want {
					t.Errorf("row %d %s = %q, want %q", i, rec.cols[j], records[i+1][j], want)
				}
			}
		}
	})

	t.Run("jsonl", func(t *testing.T) {
		t.Parallel()
		var buf bytes.Buffer
		n, err := f.store.Export(t.Context(), req, store.NewJSONLExport(&buf))
		if err != nil || n != 13 {
			t.Fatalf("Export jsonl = %d, %v", n, err)
		}
		lines := strings.Split(strings.TrimSuffix(buf.String(), "\n"), "\n")
		if len(lines) != 13 {
			t.Fatalf("%d lines, want 13", len(lines))
		}
		for i, line := range lines {
			d := json.NewDecoder(strings.NewReader(line))
			d.UseNumber()
			var obj map[string]any
			if err := d.Decode(&obj); err != nil {
				t.Fatalf("line %d: %v: %s", i, err, line)
			}
			if len(obj) != len(rec.cols) {
				t.Errorf("line %d has %d keys, want %d", i, len(obj), len(rec.cols))
			}
			for j, v := range rec.rows[i] {
				got, ok := obj[rec.cols[j]]
				if want := jsonWant(v); !ok || got != want {
					t.Errorf("line %d %s = %#v, want %#v", i, rec.cols[j], got, want)
				}
			}
		}
	})
}

// csvWant is how the CSV export must write v.
func csvWant(v any) string {
	switch x := v.(type) {
	case nil:
		return ""
	case time.Time:
		return x.UTC().Format(time.RFC3339Nano)
	}
	return fmt.Sprint(v)
}

// jsonWant is what decoding the JSON Lines export (UseNumber) must give
// for v.
func jsonWant(v any) any {
	switch x := v.(type) {
	case nil, string, bool:
		return v
	case time.Time:
		return x.UTC().Format(time.RFC3339Nano)
	}
	return json.Number(fmt.Sprint(v))
}

// TestExportFormatValues checks the formats on values the views may hold,
// without a database.
func TestExportFormatValues(t *testing.T) {
	t.Parallel()
	ts := time.Date(2025, 3, 14, 12, 0, 0, 123456000, time.FixedZone("CST", 8*3600))
	cols := []string{"s", "t", "i", "n", "b", "f", "nan", "small"}
	strs := []string{"plain", `quote " and \ back`, "comma, and\nnewline\r\ttab", "\x00\x1f ctl", "<tag>&amp;",
		"line\u2028sep\u2029", "bad \xff utf8", "汉字", ""}
	for _, s := range strs {
		row := []any{s, ts, int64(math.MaxInt64), nil, true, 0.1, math.NaN(), int32(-7)}

		var cb bytes.Buffer
		c := store.NewCSVExport(&cb)
		if err := errors.Join(c.Begin(cols), c.Row(row), c.End()); err != nil {
			t.Fatal(err)
		}
		recs, err := csv.NewReader(&cb).ReadAll()
		if err != nil || len(recs) != 2 {
			t.Fatalf("csv of %q: %v, %d records", s, err, len(recs))
		}
		wantCSV := []string{s, "2025-03-14T04:00:00.123456Z", "9223372036854775807", "", "true", "0.1", "NaN", "-7"}
		if !slices.Equal(recs[1], wantCSV) {
			t.Errorf("csv of %q = %q, want %q", s, recs[1], wantCSV)
		}

		var jb bytes.Buffer
		j := store.NewJSONLExport(&jb)
		if err := errors.Join(j.Begin(cols), j.Row(row), j.End()); err != nil {
			t.Fatal(err)
		}
		if !strings.HasSuffix(jb.String(), "}\n") || strings.Count(jb.String(), "\n") != 1 {
			t.Errorf("jsonl of %q is not one line: %q", s, jb.String())
		}
		d := json.NewDecoder(&jb)
		d.UseNumber()
		var obj map[string]any
		if err := d.Decode(&obj); err != nil {
			t.Fatalf("jsonl of %q does not parse: %v: %s", s, err, jb.String())
		}
		wantS := strings.ToValidUTF8(s, "\uFFFD")
		want := map[string]any{"s": wantS, "t": "2025-03-14T04:00:00.123456Z", "i": json.Number("9223372036854775807"),
			"n": nil, "b": true, "f": json.Number("0.1"), "nan": nil, "small": json.Number("-7")}
		if !reflect.DeepEqual(obj, want) {
			t.Errorf("jsonl of %q = %#v, want %#v", s, obj, want)
		}
	}
}

// TestExportEveryView exports every registered view after the rollups are
// refreshed: each must exist with the registered columns and hold the
// fixture's rows, filtered by group.
func TestExportEveryView(t *testing.T) {
	t.Parallel()
	f := newReadFixture(t)
	if _, err := f.store.RefreshRollups(t.Context()); err != nil {
		t.Fatalf("RefreshRollups: %v", err)
	}
	for _, view := range store.ExportViews() {
		t.Run(view, func(t *testing.T) {
			t.Parallel()
			rec := exportAll(t, f.store, store.ExportRequest{View: view, From: day0.AddDate(0, 0, -1), To: day0.AddDate(0, 0, 2), Groups: []string{"billing"}})
			if len(rec.rows) == 0 && view != "rebalances" {
				t.Fatalf("%s: no rows exported", view)
			}
			col := slices.Index(rec.cols, "consumer_group")
			if col < 0 {
				t.Fatalf("%s: no consumer_group column in %v", view, rec.cols)
			}
			for _, r := range rec.rows {
				if r[col] != "billing" {
					t.Errorf("%s: row of group %v, want only billing", view, r[col])
				}
			}
		})
	}
}
