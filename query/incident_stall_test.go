package query_test

import (
	"slices"
	"testing"
	"time"

	"github.com/lagtrail/lagtrail/internal/pgtest"
	"github.com/lagtrail/lagtrail/query"
	"github.com/lagtrail/lagtrail/store"
)

// TestCoverStalls checks that every stall run ends up inside an episode:
// widened, merged or new.
func TestCoverStalls(t *testing.T) {
	t.Parallel()
	lags := []int64{0, 0, 5, 9, 14, 20, 3, 0, 0, 0, 7, 8, 9, 0, 0, 0}
	pts := make([]query.LagPoint, len(lags))
	for i, l := range lags {
		pts[i] = query.LagPoint{At: t0.Add(time.Duration(i) * time.Second), Lag: l}
	}
	for _, tc := range []struct {
		name   string
		eps    []query.Episode
		stalls [][2]int
		want   []query.Episode
	}{
		{"no stall changes nothing", []query.Episode{{Start: 1, Detected: 3, Peak: 5, End: 7}}, nil,
			[]query.Episode{{Start: 1, Detected: 3, Peak: 5, End: 7}}},
		{"a covered stall changes nothing", []query.Episode{{Start: 1, Detected: 3, Peak: 5, End: 7}}, [][2]int{{2, 5}},
			[]query.Episode{{Start: 1, Detected: 2, Peak: 5, End: 7}}},
		{"a stall no episode touches is one", []query.Episode{{Start: 1, Detected: 3, Peak: 5, End: 7}}, [][2]int{{10, 12}},
			[]query.Episode{{Start: 1, Detected: 3, Peak: 5, End: 7}, {Start: 9, Detected: 10, Peak: 12, End: 13}}},
		{"an episode is widened to its stall", []query.Episode{{Start: 3, Detected: 4, Peak: 5, End: 6}}, [][2]int{{2, 6}},
			[]query.Episode{{Start: 1, Detected: 2, Peak: 5, End: 7}}},
		{"a stall at the end is open", nil, [][2]int{{13, 15}},
			[]query.Episode{{Start: 12, Detected: 13, Peak: 12, End: -1}}},
		{"a stall at the start started before", nil, [][2]int{{0, 2}},
			[]query.Episode{{Start: 0, StartedBefore: true, Detected: 0, Peak: 3, End: 3}}},
		{"adjacent stalls merge", nil, [][2]int{{2, 4}, {5, 6}},
			[]query.Episode{{Start: 1, Detected: 2, Peak: 5, End: 7}}},
	} {
		got := query.CoverStalls(pts, tc.eps, tc.stalls)
		if !slices.Equal(got, tc.want) {
			t.Errorf("%s:\n got %+v\nwant %+v", tc.name, got, tc.want)
		}
	}
}

// TestIncidentAtOneSecondPolls records a group polled every second that
// keeps up at 10 messages a second, then stalls for 15 s: the lag reaches
// 15 s of production, far below a minute's. The status says STALL, and the
// incident report must find the incident, starting at the stall, peaking
// at its end and recovering once the consumer caught up.
func TestIncidentAtOneSecondPolls(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	e, st := engineOn(t, pgtest.URL(t))
	g := store.GroupRef{Region: "cn-hangzhou", InstanceID: "alikafka-fast", Group: "fast"}
	start := time.Date(2025, 6, 3, 12, 0, 0, 0, time.UTC)
	const stallFrom, stallTo, total = 600, 615, 700 // seconds
	var polls []*store.Poll
	consumer := int64(0)
	for i := range total {
		at := start.Add(time.Duration(i) * time.Second)
		broker := int64(10 * i)
		switch {
		case i >= stallFrom && i < stallTo:
			// stalled: the consumer offset stays
		case consumer < broker-2:
			consumer = min(broker-2, consumer+60) // catches up at 60/s
		default:
			consumer = broker - 2 // in flight
		}
		polls = append(polls, &store.Poll{Group: g, StartedAt: at, SampledAt: at, OK: true, LastTimestampMs: -1,
			Topics: []store.TopicSample{{Topic: "events", Partitions: []store.PartitionOffsets{{Partition: 0, BrokerOffset: broker, ConsumerOffset: consumer, LastTimestampMs: -1}}}}})
	}
	if _, err := st.WritePolls(ctx, polls); err != nil {
		t.Fatal(err)
	}
	from, to := start.Add(500*time.Second), start.Add(total*time.Second)
	rep, err := e.Incident(ctx, query.IncidentRequest{Selection: query.Selection{Group: g.Group}, From: from, To: to,
		Baseline: 500 * time.Second, StatusWindow: time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	stalled := slices.ContainsFunc(rep.Statuses, func(iv query.Interval) bool { return iv.Status == query.StatusStall })
	if !stalled {
		t.Fatalf("statuses %+v: no STALL", rep.Statuses)
	}
	if len(rep.Incidents) != 1 {
		t.Fatalf("%d incidents, want 1: %+v", len(rep.Incidents), rep.Incidents)
	}
	inc := rep.Incidents[0]
	near := func(got time.Time, want int, slack time.Duration) bool {
		d := got.Sub(start.Add(time.Duration(want) * time.Second))
		return d >= -slack && d <= slack
	}
	if !near(inc.Start, stallFrom, 2*time.Second) || !near(inc.Peak, stallTo, 2*time.Second) || inc.Recovered == nil || !near(*inc.Recovered, stallTo+3, 3*time.Second) {
		t.Errorf("incident start %s, peak %s, recovered %v; want the stall at +%ds to +%ds, recovered a few seconds later",
			inc.Start.Sub(start), inc.Peak.Sub(start), inc.Recovered, stallFrom, stallTo)
	}
	if inc.PeakLag < 140 || inc.PeakLag > 180 {
		t.Errorf("peak lag %d, want about 15 s of production (150) plus the 2 in flight", inc.PeakLag)
	}
}
