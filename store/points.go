package store

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
)

// PartitionPoint is one partition's offsets at one poll, as a status
// tracker (query.Tracker) reads them, with its group's allowed lag
// (StatusRule).
type PartitionPoint struct {
	Key
	At                     time.Time
	BrokerOffset, Consumer int64
	AllowedLag             int64
}

// pointsSQL reads the samples PartitionStates reads, by the same CTE s
// (samplesCTE, with the same arguments $1 to $5), in the order a tracker
// takes them: by group, then time.
const pointsSQL = `
WITH ` + samplesCTE + `
SELECT s.g, s.tp, s.p, s.t, s.b, s.c
FROM s
ORDER BY s.g, s.t`

// pointNamesSQL names the groups $1, with their allowed lag, and the
// topics $2.
const pointNamesSQL = `
SELECT 'g' AS kind, gr.group_key AS key, gr.region, gr.instance_id, gr.consumer_group AS name, gr.allowed_lag
FROM lagtrail.group_rules gr WHERE gr.group_key = ANY($1::int[])
UNION ALL
SELECT 't', tn.topic_key, '', '', tn.topic, 0
FROM lagtrail.topic_names tn WHERE tn.topic_key = ANY($2::int[])`

// PartitionPoints returns the partition samples that PartitionStates reads
// for q (from q.Edges[0] - q.Lookback, and past the last edge by
// EdgeSlack), ordered by group and time: what a query.Tracker per
// partition turns into the same states, in memory, at a fraction of the
// database's work. q.By and q.Window are ignored.
func (s *Store) PartitionPoints(ctx context.Context, q AggregateQuery) ([]PartitionPoint, error) {
	args, ok, err := s.aggregateArgs(ctx, q)
	if err != nil || !ok {
		return nil, wrapRead("partition points", err)
	}
	type raw struct {
		g, tp, p int32
		t        time.Time
		b, c     int64
	}
	type group struct {
		ref        GroupRef
		allowedLag int64
	}
	var rows []raw
	groups, topics := map[int32]group{}, map[int32]string{}
	err = pgx.BeginTxFunc(ctx, s.pool, pgx.TxOptions{AccessMode: pgx.ReadOnly}, func(tx pgx.Tx) error {
		rs, err := tx.Query(ctx, pointsSQL, args[:5]...)
		if err != nil {
			return err
		}
		var r raw
		var groupKeys, topicKeys []int32
		if _, err := pgx.ForEachRow(rs, []any{&r.g, &r.tp, &r.p, &r.t, &r.b, &r.c}, func() error {
			rows = append(rows, r)
			if _, ok := groups[r.g]; !ok {
				groups[r.g] = group{}
				groupKeys = append(groupKeys, r.g)
			}
			if _, ok := topics[r.tp]; !ok {
				topics[r.tp] = ""
				topicKeys = append(topicKeys, r.tp)
			}
			return nil
		}); err != nil || len(rows) == 0 {
			return err
		}
		rs, err = tx.Query(ctx, pointNamesSQL, groupKeys, topicKeys)
		if err != nil {
			return err
		}
		var kind, region, instance, name string
		var key int32
		var allowed int64
		_, err = pgx.ForEachRow(rs, []any{&kind, &key, &region, &instance, &name, &allowed}, func() error {
			if kind == "g" {
				groups[key] = group{ref: GroupRef{Region: region, InstanceID: instance, Group: name}, allowedLag: allowed}
			} else {
				topics[key] = name
			}
			return nil
		})
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("partition points: %w", err)
	}
	out := make([]PartitionPoint, len(rows))
	for i, r := range rows {
		g := groups[r.g]
		out[i] = PartitionPoint{
			Key: Key{Group: g.ref, Topic: topics[r.tp], Partition: r.p},
			At:  r.t.UTC(), BrokerOffset: r.b, Consumer: r.c, AllowedLag: g.allowedLag,
		}
	}
	return out, nil
}
