package store

import (
	"context"
	"fmt"
	"time"
)

// RegionSendPeak is the most polls of one region whose requests were sent
// (StartedAt) within any one second.
type RegionSendPeak struct {
	Region string    `db:"region"`
	Peak   int       `db:"peak"`
	At     time.Time `db:"peak_at"`
}

// SendPeaks returns, per region, the most polls started within any sliding
// one-second window of [from, to), by the recorder's clock: what its rate
// limiter governs. Throttle retries count, as they are calls too.
func (s *Store) SendPeaks(ctx context.Context, from, to time.Time) ([]RegionSendPeak, error) {
	if !from.Before(to) {
		return nil, fmt.Errorf("%w: send peaks: from %s is not before to %s", ErrInvalidRange, from.Format(time.RFC3339), to.Format(time.RFC3339))
	}
	out, err := collect[RegionSendPeak](ctx, s, `
SELECT DISTINCT ON (region) region, n AS peak, started_at AS peak_at
FROM (
  SELECT region, started_at,
         count(*) OVER (PARTITION BY region ORDER BY started_at
                        RANGE BETWEEN CURRENT ROW AND interval '999999 microseconds' FOLLOWING)::int AS n
  FROM lagtrail.polls
  WHERE started_at >= $1 AND started_at < $2
) w
ORDER BY region, n DESC, started_at`, []any{from, to})
	if err != nil {
		return nil, fmt.Errorf("send peaks: %w", err)
	}
	return out, nil
}
