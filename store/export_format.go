package store

import (
	"database/sql/driver"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"strconv"
	"time"
	"unicode/utf8"
)

// CSVExport is an ExportWriter that writes CSV (RFC 4180, by encoding/csv,
// with "\n" line ends): a header row of the column names, then one record
// per row. Timestamps are RFC3339Nano in UTC, numbers are plain (no
// exponent), booleans are true or false, and NULL is an empty field.
type CSVExport struct {
	cw  *csv.Writer
	rec []string
}

// NewCSVExport returns a CSVExport writing to w. It buffers (encoding/csv
// wraps w in a bufio.Writer); End flushes.
func NewCSVExport(w io.Writer) *CSVExport {
	return &CSVExport{cw: csv.NewWriter(w)}
}

// Begin writes the header row.
func (e *CSVExport) Begin(columns []string) error {
	e.rec = make([]string, len(columns))
	return e.cw.Write(columns)
}

// Row writes one record.
func (e *CSVExport) Row(values []any) error {
	for i, v := range values {
		e.rec[i] = csvField(v)
	}
	return e.cw.Write(e.rec)
}

// End flushes the buffered records.
func (e *CSVExport) End() error {
	e.cw.Flush()
	return e.cw.Error()
}

// csvField writes one value as a CSV field.
func csvField(v any) string {
	switch x := v.(type) {
	case nil:
		return ""
	case string:
		return x
	case time.Time:
		return x.UTC().Format(time.RFC3339Nano)
	case int64:
		return strconv.FormatInt(x, 10)
	case int32:
		return strconv.FormatInt(int64(x), 10)
	case int16:
		return strconv.FormatInt(int64(x), 10)
	case int:
		return strconv.Itoa(x)
	case float64:
		return strconv.FormatFloat(x, 'f', -1, 64)
	case float32:
		return strconv.FormatFloat(float64(x), 'f', -1, 32)
	case bool:
		return strconv.FormatBool(x)
	case []byte:
		return string(x)
	case driver.Valuer:
		// pgtype values such as Numeric and UUID give their text form.
		if dv, err := x.Value(); err == nil {
			if dv == nil {
				return ""
			}
			if _, again := dv.(driver.Valuer); !again {
				return csvField(dv)
			}
		}
	}
	// Arrays and composites: their JSON form is one unambiguous field.
	if b, err := json.Marshal(v); err == nil {
		return string(b)
	}
	return fmt.Sprint(v)
}

// JSONLExport is an ExportWriter that writes JSON Lines: one JSON object per
// row, its keys the column names in column order. Timestamps are RFC3339Nano
// strings in UTC, integers are JSON numbers, NULL is null, and so are NaN
// and infinite floats, which JSON cannot hold.
type JSONLExport struct {
	w     io.Writer
	names []string
	keys  [][]byte // `"name":`, JSON-quoted, per column
	buf   []byte
}

// NewJSONLExport returns a JSONLExport writing to w, one Write per row;
// wrap w in a bufio.Writer for fewer system calls.
func NewJSONLExport(w io.Writer) *JSONLExport {
	return &JSONLExport{w: w}
}

// Begin records the column names; JSON Lines has no header.
func (e *JSONLExport) Begin(columns []string) error {
	e.names = columns
	e.keys = make([][]byte, len(columns))
	for i, c := range columns {
		e.keys[i] = append(appendJSONString(nil, c), ':')
	}
	return nil
}

// Row writes one line.
func (e *JSONLExport) Row(values []any) error {
	b := append(e.buf[:0], '{')
	for i, v := range values {
		if i > 0 {
			b = append(b, ',')
		}
		b = append(b, e.keys[i]...)
		var err error
		if b, err = appendJSONValue(b, v); err != nil {
			return fmt.Errorf("column %s: %w", e.names[i], err)
		}
	}
	b = append(b, '}', '\n')
	e.buf = b
	_, err := e.w.Write(b)
	return err
}

// End does nothing: every row is written when Row returns.
func (e *JSONLExport) End() error { return nil }

// appendJSONValue appends v as JSON.
func appendJSONValue(b []byte, v any) ([]byte, error) {
	switch x := v.(type) {
	case nil:
		return append(b, "null"...), nil
	case string:
		return appendJSONString(b, x), nil
	case time.Time:
		b = append(b, '"')
		b = x.UTC().AppendFormat(b, time.RFC3339Nano)
		return append(b, '"'), nil
	case int64:
		return strconv.AppendInt(b, x, 10), nil
	case int32:
		return strconv.AppendInt(b, int64(x), 10), nil
	case int16:
		return strconv.AppendInt(b, int64(x), 10), nil
	case int:
		return strconv.AppendInt(b, int64(x), 10), nil
	case bool:
		return strconv.AppendBool(b, x), nil
	case float64:
		if math.IsNaN(x) || math.IsInf(x, 0) {
			return append(b, "null"...), nil
		}
	case float32:
		if math.IsNaN(float64(x)) || math.IsInf(float64(x), 0) {
			return append(b, "null"...), nil
		}
	}
	// Floats, pgtype values (Numeric marshals as a number), arrays.
	j, err := json.Marshal(v)
	if err != nil {
		return b, err
	}
	return append(b, j...), nil
}

// appendJSONString appends s as a JSON string, escaped as encoding/json
// does except that <, > and & are kept: invalid UTF-8 becomes U+FFFD.
func appendJSONString(b []byte, s string) []byte {
	const hex = "0123456789abcdef"
	b = append(b, '"')
	start := 0
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			if c >= 0x20 && c != '"' && c != '\\' {
				i++
				continue
			}
			b = append(b, s[start:i]...)
			switch c {
			case '"', '\\':
				b = append(b, '\\', c)
			case '\n':
				b = append(b, '\\', 'n')
			case '\r':
				b = append(b, '\\', 'r')
			case '\t':
				b = append(b, '\\', 't')
			default:
				b = append(b, '\\', 'u', '0', '0', hex[c>>4], hex[c&0xf])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			b = append(b, s[start:i]...)
			b = append(b, `\ufffd`...)
			i += size
			start = i
			continue
		}
		// U+2028 and U+2029 end lines in JavaScript.
		if r == '\u2028' || r == '\u2029' {
			b = append(b, s[start:i]...)
			b = append(b, '\\', 'u', '2', '0', '2', hex[r&0xf])
			i += size
			start = i
			continue
		}
		i += size
	}
	b = append(b, s[start:]...)
	return append(b, '"')
}
