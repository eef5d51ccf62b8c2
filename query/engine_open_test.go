package query_test

import (
	"testing"

	"github.com/lagtrail/lagtrail/query"
	"github.com/lagtrail/lagtrail/store"
)

// engineOn returns an engine on the database at url and the store under
// it, closed at cleanup.
func engineOn(t *testing.T, url string) (*query.Engine, *store.Store) {
	t.Helper()
	st, err := store.Open(t.Context(), store.Config{DatabaseURL: url}, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(st.Close)
	e, err := query.New(st, query.Config{}, nil)
	if err != nil {
		t.Fatal(err)
	}
	return e, st
}
