package store

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"

	"github.com/jackc/pgx/v5"
)

// instanceName identifies a row of lagtrail.instances by name.
type instanceName struct {
	Region     string
	InstanceID string
}

// dictionary caches the keys of the dictionary tables (regions, instances,
// consumer_groups, topics). Keys enter the cache only through merge, after
// the transaction that read or created them committed, so a rolled-back
// transaction never leaves a key that does not exist.
type dictionary struct {
	mu        sync.RWMutex
	regions   map[string]int16
	instances map[instanceName]int32
	groups    map[GroupRef]int32
	topics    map[string]int32
}

func newDictionary() *dictionary {
	return &dictionary{
		regions:   make(map[string]int16),
		instances: make(map[instanceName]int32),
		groups:    make(map[GroupRef]int32),
		topics:    make(map[string]int32),
	}
}

// dictTx resolves dictionary keys inside one transaction. It reads the shared
// cache and records what it had to look up or create; merge publishes that
// once the transaction committed.
type dictTx struct {
	d         *dictionary
	tx        pgx.Tx
	regions   map[string]int16
	instances map[instanceName]int32
	groups    map[GroupRef]int32
	topics    map[string]int32
}

func (d *dictionary) begin(tx pgx.Tx) *dictTx {
	return &dictTx{d: d, tx: tx}
}

// merge publishes the keys resolved by a committed transaction.
func (d *dictionary) merge(t *dictTx) {
	if len(t.regions)+len(t.instances)+len(t.groups)+len(t.topics) == 0 {
		return
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	for k, v := range t.regions {
		d.regions[k] = v
	}
	for k, v := range t.instances {
		d.instances[k] = v
	}
	for k, v := range t.groups {
		d.groups[k] = v
	}
	for k, v := range t.topics {
		d.topics[k] = v
	}
}

func (d *dictionary) cachedRegion(name string) (int16, bool) {
	d.mu.RLock()
	defer d.mu.RUnlock()
	k, ok := d.regions[name]
	return k, ok
}

func (d *dictionary) cachedInstance(n instanceName) (int32, bool) {
	d.mu.RLock()
	defer d.mu.RUnlock()
	k, ok := d.instances[n]
	return k, ok
}

func (d *dictionary) cachedGroup(g GroupRef) (int32, bool) {
	d.mu.RLock()
	defer d.mu.RUnlock()
	k, ok := d.groups[g]
	return k, ok
}

// cachedKeys returns the keys of every poll's group and every topic when
// all of them are cached, and false otherwise.
func (d *dictionary) cachedKeys(polls []*Poll) ([]int32, map[string]int32, bool) {
	d.mu.RLock()
	defer d.mu.RUnlock()
	groups := make([]int32, len(polls))
	topics := make(map[string]int32)
	for i, p := range polls {
		k, ok := d.groups[p.Group]
		if !ok {
			return nil, nil, false
		}
		groups[i] = k
		for _, t := range p.Topics {
			k, ok := d.topics[t.Topic]
			if !ok {
				return nil, nil, false
			}
			topics[t.Topic] = k
		}
	}
	return groups, topics, true
}

// getOrCreate returns the key of a dictionary row. It selects first and
// inserts only when the row is missing, so that known names do not burn
// identity values (an INSERT … ON CONFLICT DO NOTHING draws one even when it
// conflicts). The insert does nothing if a concurrent transaction created the
// row meanwhile; it then waits for that transaction, and the final SELECT,
// running with a fresh snapshot, sees the committed row.
func getOrCreate[K any](ctx context.Context, tx pgx.Tx, selectSQL, insertSQL string, args ...any) (K, error) {
	var key K
	for i, q := range []string{selectSQL, insertSQL, selectSQL} {
		err := tx.QueryRow(ctx, q, args...).Scan(&key)
		if err == nil {
			return key, nil
		}
		if !errors.Is(err, pgx.ErrNoRows) || i == 2 {
			return key, err
		}
	}
	return key, nil // unreachable
}

// groupKey returns the key of the group, creating it, its instance and its
// region as needed.
func (t *dictTx) groupKey(ctx context.Context, g GroupRef) (int32, error) {
	if k, ok := t.d.cachedGroup(g); ok {
		return k, nil
	}
	regionKey, ok := t.d.cachedRegion(g.Region)
	if !ok {
		var err error
		regionKey, err = getOrCreate[int16](ctx, t.tx,
			`SELECT region_key FROM lagtrail.regions WHERE name = $1`,
			`INSERT INTO lagtrail.regions (name) VALUES ($1)
			 ON CONFLICT (name) DO NOTHING RETURNING region_key`,
			g.Region)
		if err != nil {
			return 0, fmt.Errorf("upsert region: %w", err)
		}
		setKey(&t.regions, g.Region, regionKey)
	}
	in := instanceName{Region: g.Region, InstanceID: g.InstanceID}
	instanceKey, ok := t.d.cachedInstance(in)
	if !ok {
		var err error
		instanceKey, err = getOrCreate[int32](ctx, t.tx,
			`SELECT instance_key FROM lagtrail.instances WHERE region_key = $1 AND instance_id = $2`,
			`INSERT INTO lagtrail.instances (region_key, instance_id) VALUES ($1, $2)
			 ON CONFLICT (region_key, instance_id) DO NOTHING RETURNING instance_key`,
			regionKey, g.InstanceID)
		if err != nil {
			return 0, fmt.Errorf("upsert instance: %w", err)
		}
		setKey(&t.instances, in, instanceKey)
	}
	groupKey, err := getOrCreate[int32](ctx, t.tx,
		`SELECT group_key FROM lagtrail.consumer_groups WHERE instance_key = $1 AND name = $2`,
		`INSERT INTO lagtrail.consumer_groups (instance_key, name) VALUES ($1, $2)
		 ON CONFLICT (instance_key, name) DO NOTHING RETURNING group_key`,
		instanceKey, g.Group)
	if err != nil {
		return 0, fmt.Errorf("upsert consumer group: %w", err)
	}
	setKey(&t.groups, g, groupKey)
	return groupKey, nil
}

// topicKeys returns the key of every name, creating missing topics. Lookups
// and inserts are set-based: one SELECT, and for misses one INSERT in name
// order (so concurrent writers lock new names in the same order) and one
// SELECT for names a concurrent transaction created.
func (t *dictTx) topicKeys(ctx context.Context, names []string) (map[string]int32, error) {
	keys := make(map[string]int32, len(names))
	var missing []string
	t.d.mu.RLock()
	for _, n := range names {
		if k, ok := t.d.topics[n]; ok {
			keys[n] = k
		} else {
			missing = append(missing, n)
		}
	}
	t.d.mu.RUnlock()
	if len(missing) == 0 {
		return keys, nil
	}
	slices.Sort(missing)
	queries := []string{
		`SELECT name, topic_key FROM lagtrail.topics WHERE name = ANY($1::text[])`,
		`INSERT INTO lagtrail.topics (name)
		 SELECT n FROM unnest($1::text[]) AS u(n) ORDER BY n
		 ON CONFLICT (name) DO NOTHING
		 RETURNING name, topic_key`,
		`SELECT name, topic_key FROM lagtrail.topics WHERE name = ANY($1::text[])`,
	}
	for _, q := range queries {
		rows, err := t.tx.Query(ctx, q, missing)
		if err != nil {
			return nil, fmt.Errorf("upsert topics: %w", err)
		}
		var (
			name string
			key  int32
		)
		_, err = pgx.ForEachRow(rows, []any{&name, &key}, func() error {
			keys[name] = key
			setKey(&t.topics, name, key)
			return nil
		})
		if err != nil {
			return nil, fmt.Errorf("upsert topics: %w", err)
		}
		missing = slices.DeleteFunc(missing, func(n string) bool {
			_, ok := keys[n]
			return ok
		})
		if len(missing) == 0 {
			return keys, nil
		}
	}
	return nil, fmt.Errorf("upsert topics: %d topic(s) neither found nor created", len(missing))
}

func setKey[K comparable, V any](m *map[K]V, k K, v V) {
	if *m == nil {
		*m = make(map[K]V)
	}
	(*m)[k] = v
}
