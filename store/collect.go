package store

import (
	"fmt"
	"reflect"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
)

// collectByName reads every row of rows into a T, matching each column to
// the field of T whose db tag names it, as pgx.RowToStructByName does, but
// once per result instead of once per row: on a long incident report the
// per-row matching cost a quarter of the report's CPU. Every column must
// have a field; a field without a column keeps its zero value.
func collectByName[T any](rows pgx.Rows) ([]T, error) {
	defer rows.Close()
	var row T
	dest, err := fieldTargets(&row, rows.FieldDescriptions())
	if err != nil {
		return nil, err
	}
	var out []T
	for rows.Next() {
		// Start each row from zero, so that nothing scanned into the last
		// row (a slice's array, a pointer's value) is reused by this one.
		var zero T
		row = zero
		if err := rows.Scan(dest...); err != nil {
			return nil, err
		}
		out = append(out, row)
	}
	return out, rows.Err()
}

// fieldTargets returns, for each column named in fields, a pointer to the
// field of the struct *row whose db tag is that name.
func fieldTargets[T any](row *T, fields []pgconn.FieldDescription) ([]any, error) {
	v := reflect.ValueOf(row).Elem()
	if v.Kind() != reflect.Struct {
		return nil, fmt.Errorf("collect: %T is not a struct", *row)
	}
	byTag := make(map[string]int, v.NumField())
	for i := range v.NumField() {
		if tag := v.Type().Field(i).Tag.Get("db"); tag != "" && tag != "-" {
			byTag[tag] = i
		}
	}
	dest := make([]any, len(fields))
	for i, f := range fields {
		j, ok := byTag[f.Name]
		if !ok {
			return nil, fmt.Errorf("collect: column %q has no field in %T", f.Name, *row)
		}
		dest[i] = v.Field(j).Addr().Interface()
	}
	return dest, nil
}
