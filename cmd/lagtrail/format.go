package main

import (
	"bufio"
	"bytes"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"sort"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"
)

// kind says how a column's values are written.
type kind int

const (
	kText    kind = iota // strings, as they are
	kTime                // time.Time: RFC3339 UTC; table: "2006-01-02 15:04:05"
	kCount               // int64 or float64 messages; table: 12,345 or 1.23M
	kRate                // float64 messages per second; table: 1.23k/s
	kSeconds             // float64 seconds; table: 1h2m3s
	kInt                 // int64 or int, plainly
)

// column is one output column: its stable name and how it is written.
type column struct {
	name string
	kind kind
}

// table is a command's result, written as an aligned table, CSV or JSON.
// A nil cell is unknown: empty in table and CSV, null in JSON.
type table struct {
	columns []column
	rows    [][]any
	// meta goes into the JSON document beside the rows.
	meta map[string]any
	// human overrides the table rendering of single cells, by row and
	// column index (e.g. marking estimated time lags).
	human map[[2]int]string
}

func (t *table) add(cells ...any) {
	if len(cells) != len(t.columns) {
		panic(fmt.Sprintf("row of %d cells for %d columns", len(cells), len(t.columns)))
	}
	t.rows = append(t.rows, cells)
}

func (t *table) setHuman(col string, s string) {
	if t.human == nil {
		t.human = map[[2]int]string{}
	}
	for i, c := range t.columns {
		if c.name == col {
			t.human[[2]int{len(t.rows) - 1, i}] = s
			return
		}
	}
}

// write renders t in format: "table", "csv" or "json".
func (t *table) write(w io.Writer, format string) error {
	switch format {
	case "csv":
		return t.writeCSV(w)
	case "json":
		return t.writeJSON(w)
	default:
		return t.writeTable(w)
	}
}

func (t *table) writeCSV(w io.Writer) error {
	cw := csv.NewWriter(w)
	head := make([]string, len(t.columns))
	for i, c := range t.columns {
		head[i] = c.name
	}
	if err := cw.Write(head); err != nil {
		return err
	}
	rec := make([]string, len(t.columns))
	for _, r := range t.rows {
		for i, v := range r {
			rec[i] = plain(v)
		}
		if err := cw.Write(rec); err != nil {
			return err
		}
	}
	cw.Flush()
	return cw.Error()
}

// writeJSON writes one JSON document: the meta keys, "columns" and "rows",
// sorted by key and indented by two spaces, as json.Encoder writes a map.
// Rows are encoded one at a time as they are written, so a large result
// streams instead of being built twice in memory.
func (t *table) writeJSON(w io.Writer) error {
	doc := make(map[string]any, len(t.meta)+1)
	for k, v := range t.meta {
		doc[k] = jsonValue(v)
	}
	cols := make([]string, len(t.columns))
	for i, c := range t.columns {
		cols[i] = c.name
	}
	doc["columns"] = cols
	keys := make([]string, 0, len(doc)+1)
	for k := range doc {
		keys = append(keys, k)
	}
	keys = append(keys, "rows")
	sort.Strings(keys)
	bw := bufio.NewWriterSize(w, 32<<10)
	bw.WriteString("{\n")
	for i, k := range keys {
		if i > 0 {
			bw.WriteString(",\n")
		}
		name, _ := json.Marshal(k)
		bw.WriteString("  ")
		bw.Write(name)
		bw.WriteString(": ")
		if k == "rows" {
			if err := t.writeJSONRows(bw); err != nil {
				return err
			}
			continue
		}
		v, err := json.MarshalIndent(doc[k], "  ", "  ")
		if err != nil {
			return err
		}
		bw.Write(v)
	}
	bw.WriteString("\n}\n")
	return bw.Flush()
}

// writeJSONRows writes the rows array of writeJSON, each row an object
// keyed by column name.
func (t *table) writeJSONRows(bw *bufio.Writer) error {
	if len(t.rows) == 0 {
		_, err := bw.WriteString("[]")
		return err
	}
	bw.WriteString("[\n")
	m := make(map[string]any, len(t.columns))
	for i, r := range t.rows {
		for j, v := range r {
			m[t.columns[j].name] = jsonValue(v)
		}
		b, err := json.MarshalIndent(m, "    ", "  ")
		if err != nil {
			return err
		}
		if i > 0 {
			bw.WriteString(",\n")
		}
		bw.WriteString("    ")
		if _, err := bw.Write(b); err != nil {
			return err
		}
	}
	_, err := bw.WriteString("\n  ]")
	return err
}

func (t *table) writeTable(w io.Writer) error {
	var buf bytes.Buffer
	tw := tabwriter.NewWriter(&buf, 0, 0, 2, ' ', 0)
	head := make([]string, len(t.columns))
	for i, c := range t.columns {
		head[i] = strings.ToUpper(c.name)
	}
	fmt.Fprintln(tw, strings.Join(head, "\t"))
	for ri, r := range t.rows {
		cells := make([]string, len(r))
		for i, v := range r {
			if s, ok := t.human[[2]int{ri, i}]; ok {
				cells[i] = s
			} else {
				cells[i] = human(v, t.columns[i].kind)
			}
		}
		fmt.Fprintln(tw, strings.Join(cells, "\t"))
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	// Columns are left-aligned; drop the padding after the last one.
	for line := range strings.Lines(buf.String()) {
		if _, err := io.WriteString(w, strings.TrimRight(line, " \n")+"\n"); err != nil {
			return err
		}
	}
	return nil
}

// plain writes v for CSV: RFC3339 UTC times, plain numbers, empty for nil.
func plain(v any) string {
	switch x := v.(type) {
	case nil:
		return ""
	case string:
		return x
	case time.Time:
		return x.UTC().Format(time.RFC3339Nano)
	case int:
		return strconv.Itoa(x)
	case int32:
		return strconv.FormatInt(int64(x), 10)
	case int64:
		return strconv.FormatInt(x, 10)
	case float64:
		return strconv.FormatFloat(roundFloat(x), 'f', -1, 64)
	case bool:
		return strconv.FormatBool(x)
	}
	return fmt.Sprint(v)
}

// roundFloat keeps 9 decimals, so that float noise from interpolation does
// not reach the output (and golden files stay stable).
func roundFloat(x float64) float64 {
	if math.IsInf(x, 0) || math.IsNaN(x) || math.Abs(x) > 1e15 {
		return x
	}
	r := math.Round(x*1e9) / 1e9
	if r == 0 {
		return 0 // no "-0"
	}
	return r
}

func jsonValue(v any) any {
	switch x := v.(type) {
	case time.Time:
		return x.UTC().Format(time.RFC3339Nano)
	case float64:
		if math.IsInf(x, 0) || math.IsNaN(x) {
			return nil
		}
		return roundFloat(x)
	}
	return v
}

// human writes v for the aligned table.
func human(v any, k kind) string {
	if v == nil {
		return "-"
	}
	switch k {
	case kTime:
		if t, ok := v.(time.Time); ok {
			return t.UTC().Format("2006-01-02 15:04:05")
		}
	case kCount:
		return humanCount(toFloat(v))
	case kRate:
		return humanCount(toFloat(v)) + "/s"
	case kSeconds:
		return humanSeconds(toFloat(v))
	}
	return plain(v)
}

func toFloat(v any) float64 {
	switch x := v.(type) {
	case int:
		return float64(x)
	case int64:
		return float64(x)
	case float64:
		return x
	}
	return math.NaN()
}

// humanCount writes whole numbers below a million exactly with thousands
// separators, and everything else with three significant digits and a
// k/M/G/T suffix.
func humanCount(x float64) string {
	if math.IsNaN(x) {
		return "?"
	}
	neg := ""
	if x < 0 {
		neg, x = "-", -x
	}
	if x < 1e6 && x == math.Trunc(x) {
		return neg + thousands(int64(x))
	}
	if x < 1000 {
		return neg + strconv.FormatFloat(x, 'f', decimals(x), 64)
	}
	units := []string{"k", "M", "G", "T", "P"}
	u := -1
	for x >= 1000 && u < len(units)-1 {
		x /= 1000
		u++
	}
	return neg + strconv.FormatFloat(x, 'f', decimals(x), 64) + units[u]
}

// decimals gives three significant digits for x in [0, 1000).
func decimals(x float64) int {
	switch {
	case x >= 100:
		return 0
	case x >= 10:
		return 1
	}
	return 2
}

func thousands(n int64) string {
	s := strconv.FormatInt(n, 10)
	var b strings.Builder
	for i, c := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(c)
	}
	return b.String()
}

// humanSeconds writes seconds as a duration rounded to what matters.
func humanSeconds(s float64) string {
	if math.IsNaN(s) {
		return "?"
	}
	d := time.Duration(s * float64(time.Second))
	switch {
	case d >= time.Hour:
		d = d.Round(time.Minute)
	case d >= time.Minute:
		d = d.Round(time.Second)
	case d >= time.Second:
		d = d.Round(100 * time.Millisecond)
	default:
		d = d.Round(time.Millisecond)
	}
	out := d.String()
	if strings.HasSuffix(out, "m0s") {
		out = strings.TrimSuffix(out, "0s")
	}
	if strings.HasSuffix(out, "h0m") {
		out = strings.TrimSuffix(out, "0m")
	}
	return out
}
