package scenario

import (
	"context"
	"fmt"
	"time"

	"github.com/lagtrail/lagtrail/store"
)

// HistoryWriter is what WriteHistory needs of the store; *store.Store is
// one.
type HistoryWriter interface {
	WritePolls(ctx context.Context, polls []*store.Poll) (int, error)
	RefreshRollups(ctx context.Context) (store.RollupResult, error)
	RefreshNow(ctx context.Context) (store.NowResult, error)
}

// HistoryStats counts what WriteHistory wrote.
type HistoryStats struct {
	Polls, Failed, Samples int64
	Hours                  int
}

// historyBatch is how many rounds WriteHistory writes per statement batch.
const historyBatch = 2000

// WriteHistory generates the model's history over [from, to) and writes
// it, then brings the now-state and the rollups up to date. progress, when
// not nil, gets the fraction done now and then.
func (m *Model) WriteHistory(ctx context.Context, w HistoryWriter, from, to time.Time, progress func(string)) (HistoryStats, error) {
	var st HistoryStats
	var batch []*store.Poll
	flush := func() error {
		if len(batch) == 0 {
			return nil
		}
		if _, err := w.WritePolls(ctx, batch); err != nil {
			return fmt.Errorf("write history: %w", err)
		}
		batch = batch[:0]
		return nil
	}
	span := to.Sub(from)
	last := time.Time{}
	err := m.History(from, to, m.PollInterval(), func(round []*store.Poll) error {
		for _, p := range round {
			st.Polls++
			if !p.OK {
				st.Failed++
			}
			st.Samples += int64(p.PartitionCount())
		}
		batch = append(batch, round...)
		if len(batch) < historyBatch {
			return nil
		}
		if progress != nil && time.Since(last) > time.Second {
			last = time.Now()
			progress(fmt.Sprintf("generating history: %3.0f%%", 100*float64(round[0].SampledAt.Sub(from))/float64(span)))
		}
		return flush()
	})
	if err == nil {
		err = flush()
	}
	if err != nil {
		return st, err
	}
	if _, err := w.RefreshNow(ctx); err != nil {
		return st, fmt.Errorf("refresh now-state: %w", err)
	}
	for {
		if progress != nil {
			progress(fmt.Sprintf("computing hourly and daily rollups: %d hours done", st.Hours))
		}
		res, err := w.RefreshRollups(ctx)
		if err != nil {
			return st, fmt.Errorf("refresh rollups: %w", err)
		}
		st.Hours += res.Hours
		if res.Pending == 0 || res.Hours == 0 {
			return st, nil
		}
	}
}
