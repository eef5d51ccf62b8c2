package store

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
)

// scanSamplesSQL reads every column of the partition samples of the groups
// $1 (NULL: every group) in [$2, $3).
const scanSamplesSQL = `
SELECT ps.group_key, ps.topic_key, ps.partition, ps.sampled_at,
       ps.broker_offset, ps.consumer_offset, ps.last_timestamp_ms
FROM lagtrail.partition_samples ps
WHERE ($1::int[] IS NULL OR ps.group_key = ANY($1::int[]))
  AND ps.sampled_at >= $2::timestamptz AND ps.sampled_at < $3::timestamptz`

// ScanSamples reads every partition sample of groups (none: every group)
// in [from, to), each column decoded as a reader building an answer from
// them must, and returns how many it read. It is the baseline that
// `lagtrail bench web` times each read against: what reading the rows an
// answer is built from costs, whatever the answer does with them.
func (s *Store) ScanSamples(ctx context.Context, groups []GroupRef, from, to time.Time) (int64, error) {
	var keys []int32
	if len(groups) > 0 {
		var err error
		if keys, err = s.groupKeys(ctx, groups); err != nil {
			return 0, fmt.Errorf("scan samples: %w", err)
		}
		if len(keys) == 0 {
			return 0, nil
		}
	}
	rows, err := s.pool.Query(ctx, scanSamplesSQL, pgx.QueryExecModeExec, keys, from, to)
	if err != nil {
		return 0, fmt.Errorf("scan samples: %w", err)
	}
	var (
		g, tp, p int32
		t        time.Time
		b, c, lt int64
		n        int64
	)
	if _, err := pgx.ForEachRow(rows, []any{&g, &tp, &p, &t, &b, &c, &lt}, func() error { n++; return nil }); err != nil {
		return n, fmt.Errorf("scan samples: %w", err)
	}
	return n, nil
}
