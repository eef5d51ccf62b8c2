package store

import (
	"context"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5"
)

// ErrInvalidRule is wrapped by SetStatusRules's error for a rule it
// refuses.
var ErrInvalidRule = errors.New("invalid status rule")

// StatusRule is the status setting of one target of the recorder's config:
// a region, optionally one instance of it, optionally one group of that
// instance. A group's rule is the most specific one that matches it (group,
// then instance, then region); a group no rule matches has the defaults.
// The lagtrail.group_rules view gives each recorded group its rule, and
// both the status views and PartitionStates read it.
type StatusRule struct {
	Region   string
	Instance string // empty: every instance of the region
	Group    string // empty: every group of the instance; needs Instance
	// AllowedLag is the lag a partition may have and still count as caught
	// up (Burrow's allowed-lag). It must not be negative.
	AllowedLag int64
}

// statusRuleInsertSQL stores one rule; a second rule for the same target
// keeps the larger allowed lag.
const statusRuleInsertSQL = `
INSERT INTO lagtrail.status_rules (region, instance_id, consumer_group, allowed_lag)
VALUES ($1, $2, $3, $4)
ON CONFLICT (region, instance_id, consumer_group)
DO UPDATE SET allowed_lag = greatest(lagtrail.status_rules.allowed_lag, EXCLUDED.allowed_lag)`

// statusRulesRefreshSQL refreshes the now-state of the groups whose
// allowed lag is no longer the one they had before the rules changed: $1
// and $2, the group keys and allowed lags of group_rules read first.
const statusRulesRefreshSQL = `
SELECT lagtrail.refresh_now(coalesce(array_agg(r.group_key), '{}'))
FROM lagtrail.group_rules r
JOIN unnest($1::int[], $2::bigint[]) AS o(group_key, allowed_lag) ON o.group_key = r.group_key
WHERE r.allowed_lag <> o.allowed_lag`

// SetStatusRules replaces every stored status rule with rules, in one
// transaction: the rules are those of the config of the recorder that set
// them last. Rules naming the same target keep the larger allowed lag. The
// same transaction re-evaluates the now-state (lagtrail.partition_now) of
// the groups whose allowed lag changed. It checks every rule before it
// changes anything.
func (s *Store) SetStatusRules(ctx context.Context, rules []StatusRule) error {
	for i, r := range rules {
		switch {
		case r.Region == "":
			return fmt.Errorf("status rule %d: %w: region is required", i, ErrInvalidRule)
		case r.Group != "" && r.Instance == "":
			return fmt.Errorf("status rule %d (%s): %w: a group needs an instance", i, r.Region, ErrInvalidRule)
		case r.AllowedLag < 0:
			return fmt.Errorf("status rule %d (%s/%s/%s): %w: allowed lag must not be negative, got %d", i, r.Region, r.Instance, r.Group, ErrInvalidRule, r.AllowedLag)
		}
	}
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		var keys []int32
		var lags []int64
		if err := tx.QueryRow(ctx, `SELECT coalesce(array_agg(group_key), '{}'), coalesce(array_agg(allowed_lag), '{}') FROM lagtrail.group_rules`).Scan(&keys, &lags); err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, `DELETE FROM lagtrail.status_rules`); err != nil {
			return err
		}
		b := &pgx.Batch{}
		for _, r := range rules {
			b.Queue(statusRuleInsertSQL, r.Region, r.Instance, r.Group, r.AllowedLag)
		}
		if err := tx.SendBatch(ctx, b).Close(); err != nil {
			return err
		}
		// Statuses depend on the allowed lag: re-evaluate the groups
		// whose allowed lag changed.
		_, err := tx.Exec(ctx, statusRulesRefreshSQL, keys, lags)
		return err
	})
	if err != nil {
		return fmt.Errorf("set status rules: %w", err)
	}
	return nil
}
