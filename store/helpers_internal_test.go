package store

import (
	"testing"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/lagtrail/lagtrail/internal/pgtest"
)

// openInternal opens a Store on a fresh migrated database for the tests
// inside package store, with a pool on the same database for SQL checks.
func openInternal(t *testing.T) (*Store, *pgxpool.Pool) {
	t.Helper()
	pool, url := pgtest.Pool(t)
	s, err := Open(t.Context(), Config{DatabaseURL: url}, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Close)
	return s, pool
}
