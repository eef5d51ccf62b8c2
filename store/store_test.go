package store_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/lagtrail/lagtrail/internal/pgtest"
	"github.com/lagtrail/lagtrail/store"
)

func TestOpenNotMigrated(t *testing.T) {
	t.Parallel()
	url := pgtest.EmptyURL(t)
	s, err := store.Open(t.Context(), store.Config{DatabaseURL: url}, nil)
	if err == nil {
		s.Close()
		t.Fatal("Open on an unmigrated database succeeded")
	}
	if !errors.Is(err, store.ErrNotMigrated) {
		t.Fatalf("Open error = %v, want ErrNotMigrated", err)
	}
	if !strings.Contains(err.Error(), "lagtrail migrate up") || !strings.Contains(err.Error(), "lagtrail.raw_polls") {
		t.Errorf("Open error = %q, want it to name `lagtrail migrate up` and lagtrail.raw_polls", err)
	}
}

func TestOpenMigrated(t *testing.T) {
	t.Parallel()
	s, _ := newStore(t) // fails the test unless Open succeeds
	groups, err := s.Groups(t.Context())
	if err != nil || len(groups) != 0 {
		t.Errorf("Groups on a new database = %v, %v; want none", groups, err)
	}
}

func TestOpenBadConfig(t *testing.T) {
	t.Parallel()
	const secret = "s3cr3t-pw"
	tests := []struct {
		name       string
		cfg        store.Config
		wantConfig bool // error wraps ErrInvalidConfig
	}{
		{"empty url", store.Config{}, true},
		{"negative max conns", store.Config{DatabaseURL: "postgres://localhost/x", MaxConns: -1}, true},
		{"keyword form", store.Config{DatabaseURL: "host=localhost password=" + secret}, true},
		{"bad port", store.Config{DatabaseURL: "postgres://u:" + secret + "@localhost:notaport/x"}, true},
		{"bad option", store.Config{DatabaseURL: "postgres://u:" + secret + "@localhost/x?pool_max_conns=zz"}, true},
		{"unreachable", store.Config{DatabaseURL: "postgres://u:" + secret + "@127.0.0.1:1/x?connect_timeout=2"}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			s, err := store.Open(t.Context(), tt.cfg, nil)
			if err == nil {
				s.Close()
				t.Fatal("Open succeeded")
			}
			if got := errors.Is(err, store.ErrInvalidConfig); got != tt.wantConfig {
				t.Errorf("errors.Is(%v, ErrInvalidConfig) = %v, want %v", err, got, tt.wantConfig)
			}
			if strings.Contains(err.Error(), secret) {
				t.Errorf("error %q leaks the password", err)
			}
		})
	}
}
