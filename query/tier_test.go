package query_test

import (
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/lagtrail/lagtrail/internal/pgtest"
	"github.com/lagtrail/lagtrail/query"
	"github.com/lagtrail/lagtrail/store"
)

// TestHistoryTiers records two days of one group and checks which tier
// History reads for each request, and that the rollup tier answers the
// rows the raw tier answers: counts, rates and lag.
func TestHistoryTiers(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	_, url := pgtest.Pool(t)
	st, err := store.Open(ctx, store.Config{DatabaseURL: url}, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(st.Close)
	start := time.Date(2025, 6, 1, 0, 0, 0, 0, time.UTC)
	g := store.GroupRef{Region: "cn-hangzhou", InstanceID: "alikafka-1", Group: "orders-svc"}
	var polls []*store.Poll
	for m := range 48 * 60 {
		at := start.Add(time.Duration(m)*time.Minute + time.Duration(m%7)*time.Second)
		p := &store.Poll{Group: g, StartedAt: at, SampledAt: at, OK: true, LastTimestampMs: -1}
		ts := store.TopicSample{Topic: "orders"}
		for pi := range int32(4) {
			b := int64(10_000 + m*(60+int(pi)*10))
			ts.Partitions = append(ts.Partitions, store.PartitionOffsets{Partition: pi, BrokerOffset: b, ConsumerOffset: b - int64(m%50) - int64(pi), LastTimestampMs: -1})
		}
		p.Topics = []store.TopicSample{ts}
		polls = append(polls, p)
	}
	if _, err := st.WritePolls(ctx, polls); err != nil {
		t.Fatal(err)
	}
	if _, err := st.RefreshRollups(ctx); err != nil {
		t.Fatal(err)
	}
	e, err := query.New(st, query.Config{}, nil)
	if err != nil {
		t.Fatal(err)
	}
	p1 := int32(1)
	day := query.Range{Selection: query.Selection{Group: g.Group}, From: start, To: start.Add(24 * time.Hour), Step: time.Hour}
	tests := []struct {
		name     string
		edit     func(r *query.Range)
		want     query.Tier
		wantErr  error
		compared bool // compare with the raw tier
	}{
		{name: "a day hourly", want: query.TierRollup, compared: true},
		{name: "two days daily", edit: func(r *query.Range) { r.To = start.Add(48 * time.Hour); r.Step = 24 * time.Hour }, want: query.TierRollup, compared: true},
		{name: "partitions of a topic, 6-hourly", edit: func(r *query.Range) { r.By = store.LevelPartition; r.Topic = "orders"; r.Step = 6 * time.Hour }, want: query.TierRollup, compared: true},
		{name: "one partition of a group", edit: func(r *query.Range) { r.By = store.LevelPartition; r.Partition = &p1 }, want: query.TierRollup, compared: true},
		{name: "shorter than a day", edit: func(r *query.Range) { r.To = start.Add(12 * time.Hour) }, want: query.TierRaw},
		{name: "5-minute step", edit: func(r *query.Range) { r.Step = 5 * time.Minute }, want: query.TierRaw},
		{name: "off the hour", edit: func(r *query.Range) { r.From = start.Add(time.Minute); r.To = r.To.Add(time.Minute) }, want: query.TierRaw},
		{name: "by topic", edit: func(r *query.Range) { r.By = store.LevelTopic }, want: query.TierRaw},
		{name: "a topic of a group", edit: func(r *query.Range) { r.Topic = "orders" }, want: query.TierRaw},
		{name: "raw asked", edit: func(r *query.Range) { r.Tier = query.TierRaw }, want: query.TierRaw},
		{name: "rollup asked, short", edit: func(r *query.Range) { r.Tier = query.TierRollup; r.To = start.Add(3 * time.Hour) }, want: query.TierRollup, compared: true},
		{name: "rollup asked, 5-minute step", edit: func(r *query.Range) { r.Tier = query.TierRollup; r.Step = 5 * time.Minute }, wantErr: query.ErrInvalidRequest},
		{name: "rollup asked, by topic", edit: func(r *query.Range) { r.Tier = query.TierRollup; r.By = store.LevelTopic }, wantErr: query.ErrInvalidRequest},
		{name: "unknown tier", edit: func(r *query.Range) { r.Tier = "warm" }, wantErr: query.ErrInvalidRequest},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			r := day
			if tt.edit != nil {
				tt.edit(&r)
			}
			h, err := e.History(ctx, r)
			if tt.wantErr != nil {
				if !errors.Is(err, tt.wantErr) {
					t.Fatalf("History = %v, want %v", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if h.Tier != tt.want {
				t.Errorf("tier %q, want %q", h.Tier, tt.want)
			}
			if !tt.compared {
				return
			}
			r.Tier = query.TierRaw
			raw, err := e.History(ctx, r)
			if err != nil {
				t.Fatal(err)
			}
			if len(raw.Rows) != len(h.Rows) || len(raw.Rows) == 0 {
				t.Fatalf("%d raw rows, %d rollup rows", len(raw.Rows), len(h.Rows))
			}
			s := func(f *float64) string { return fmt.Sprint(deref(f)) }
			for i, a := range raw.Rows {
				b := h.Rows[i]
				if a.Key != b.Key || !a.Start.Equal(b.Start) || a.Polls != b.Polls || s(a.Consumed) != s(b.Consumed) ||
					s(a.Produced) != s(b.Produced) || s(a.ConsumeRate) != s(b.ConsumeRate) || s(a.ProduceRate) != s(b.ProduceRate) ||
					fmt.Sprint(deref(a.Lag)) != fmt.Sprint(deref(b.Lag)) || fmt.Sprint(deref(a.LagMax)) != fmt.Sprint(deref(b.LagMax)) {
					t.Errorf("row %d differs:\n raw    %+v consumed %s rate %s lag %v\n rollup %+v consumed %s rate %s lag %v",
						i, a.Key, s(a.Consumed), s(a.ConsumeRate), deref(a.Lag), b.Key, s(b.Consumed), s(b.ConsumeRate), deref(b.Lag))
				}
			}
		})
	}
}
