package store

import (
	"context"
	"fmt"
	"log/slog"
	"net/url"
	"strings"
	"sync"

	"github.com/jackc/pgx/v5/pgxpool"
)

// defaultMaxConns is the pool size when Config.MaxConns is 0.
const defaultMaxConns = 4

// Config says how to reach the database.
type Config struct {
	// DatabaseURL is a postgres:// or postgresql:// URL. Required. It is
	// never logged nor put in errors, since it may hold a password.
	DatabaseURL string
	// MaxConns caps the connection pool; 0 means 4.
	MaxConns int32
}

// Store writes polls to and reads them from a migrated lagtrail database. It
// is safe for concurrent use.
type Store struct {
	pool   *pgxpool.Pool
	logger *slog.Logger
	dict   *dictionary

	// leader, when set, is the connection holding the upkeep lock.
	leaderMu sync.Mutex
	leader   *pgxpool.Conn
}

// requiredObjects are the schema objects Open checks for; the function is
// looked up with to_regprocedure, the rest with to_regclass.
var requiredObjects = []string{
	"lagtrail.regions",
	"lagtrail.instances",
	"lagtrail.consumer_groups",
	"lagtrail.topics",
	"lagtrail.raw_polls",
	"lagtrail.partition_samples",
	"lagtrail.rebalance_log",
	"lagtrail.partition_offsets",
	"lagtrail.polls",
	"lagtrail.rebalances",
	"lagtrail.recorders",
	"lagtrail.group_leases",
}

const ensurePartitionsSignature = "lagtrail.ensure_partitions(date,integer)"

// Open validates cfg, connects, pings the database and checks that the schema
// is migrated (ErrNotMigrated otherwise). A nil logger discards logs. Close
// the Store when done.
func Open(ctx context.Context, cfg Config, logger *slog.Logger) (*Store, error) {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	poolCfg, err := poolConfig(cfg)
	if err != nil {
		return nil, err
	}
	pool, err := pgxpool.NewWithConfig(ctx, poolCfg)
	if err != nil {
		return nil, fmt.Errorf("open pool: %w", err)
	}
	if err := pool.Ping(ctx); err != nil {
		pool.Close()
		return nil, fmt.Errorf("ping database: %w", err)
	}
	if err := checkSchema(ctx, pool); err != nil {
		pool.Close()
		return nil, err
	}
	logger.Debug("store opened",
		slog.String("host", poolCfg.ConnConfig.Host),
		slog.String("database", poolCfg.ConnConfig.Database),
		slog.Int("max_conns", int(poolCfg.MaxConns)))
	return &Store{pool: pool, logger: logger, dict: newDictionary()}, nil
}

// OpenUnchecked is Open without the ping and the schema check: it returns
// at once even when the database cannot be reached, and connects when it is
// first used. A recorder that must start, and spool, while the database is
// down uses it; writes fail until the database is back and migrated.
func OpenUnchecked(cfg Config, logger *slog.Logger) (*Store, error) {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	poolCfg, err := poolConfig(cfg)
	if err != nil {
		return nil, err
	}
	pool, err := pgxpool.NewWithConfig(context.Background(), poolCfg)
	if err != nil {
		return nil, fmt.Errorf("open pool: %w", err)
	}
	return &Store{pool: pool, logger: logger, dict: newDictionary()}, nil
}

// Ping checks that the database answers.
func (s *Store) Ping(ctx context.Context) error {
	if err := s.pool.Ping(ctx); err != nil {
		return fmt.Errorf("ping database: %w", err)
	}
	return nil
}

// poolConfig turns cfg into a pool configuration. Its errors never quote the
// URL.
func poolConfig(cfg Config) (*pgxpool.Config, error) {
	if cfg.DatabaseURL == "" {
		return nil, fmt.Errorf("%w: database url is required", ErrInvalidConfig)
	}
	if cfg.MaxConns < 0 {
		return nil, fmt.Errorf("%w: max conns must be >= 0, got %d", ErrInvalidConfig, cfg.MaxConns)
	}
	u, err := url.Parse(cfg.DatabaseURL)
	if err != nil || (u.Scheme != "postgres" && u.Scheme != "postgresql") {
		return nil, fmt.Errorf("%w: database url must be a postgres:// or postgresql:// URL (value not shown)", ErrInvalidConfig)
	}
	if rawAt(cfg.DatabaseURL) {
		return nil, fmt.Errorf("%w: the user or password of the database url holds a raw '@' (value not shown); write it as %%40", ErrInvalidConfig)
	}
	poolCfg, err := pgxpool.ParseConfig(cfg.DatabaseURL)
	if err != nil {
		// pgx redacts passwords only on a best-effort basis: keep its
		// message out.
		return nil, fmt.Errorf("%w: cannot parse database url (value not shown)", ErrInvalidConfig)
	}
	poolCfg.MaxConns = cfg.MaxConns
	if poolCfg.MaxConns == 0 {
		poolCfg.MaxConns = defaultMaxConns
	}
	// JIT compilation costs the aggregate queries seconds and saves them
	// nothing: the planner prices their per-sample generate_series at
	// 1,000 rows a call, and past jit_above_cost it spent 2.7 s of a 2.9 s
	// Buckets compiling (EXPLAIN ANALYZE, 20 groups, 3 days). A URL that
	// sets jit itself keeps its value.
	if _, set := poolCfg.ConnConfig.RuntimeParams["jit"]; !set {
		poolCfg.ConnConfig.RuntimeParams["jit"] = "off"
	}
	return poolCfg, nil
}

// checkSchema returns ErrNotMigrated, naming what is missing, unless every
// object the store uses exists.
func checkSchema(ctx context.Context, pool *pgxpool.Pool) error {
	var missing []string
	err := pool.QueryRow(ctx, `
SELECT coalesce(array_agg(name ORDER BY ord), '{}')
FROM unnest($1::text[]) WITH ORDINALITY AS o(name, ord)
WHERE to_regclass(name) IS NULL`, requiredObjects).Scan(&missing)
	if err != nil {
		return fmt.Errorf("check schema: %w", err)
	}
	var fnOK bool
	if err := pool.QueryRow(ctx, `SELECT to_regprocedure($1) IS NOT NULL`, ensurePartitionsSignature).Scan(&fnOK); err != nil {
		return fmt.Errorf("check schema: %w", err)
	}
	if !fnOK {
		missing = append(missing, ensurePartitionsSignature)
	}
	if len(missing) > 0 {
		return fmt.Errorf("%w (missing %s)", ErrNotMigrated, strings.Join(missing, ", "))
	}
	return nil
}

// Close gives back the upkeep lock, if this store holds it, and closes the
// connection pool, waiting for connections in use to be returned.
func (s *Store) Close() {
	s.releaseLeadership()
	s.pool.Close()
}

// rawAt reports whether the user info of a postgres:// URL holds a raw '@'.
// pgx, like libpq, ends the user info at the first '@' where net/url takes
// the last; the rest of the password would then be taken for the host name,
// which connection errors print.
func rawAt(databaseURL string) bool {
	_, rest, _ := strings.Cut(databaseURL, "://")
	authority, _, _ := strings.Cut(rest, "/")
	return strings.Count(authority, "@") > 1
}
