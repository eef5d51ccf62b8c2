package query_test

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/lagtrail/lagtrail/internal/pgtest"
	"github.com/lagtrail/lagtrail/query"
	"github.com/lagtrail/lagtrail/store"
)

// TestUnknownGroupSuggests records a few groups and asks for names that
// are not recorded: the error stays ErrUnknownGroup (and so
// ErrInvalidRequest) and names the recorded groups near the one asked for.
func TestUnknownGroupSuggests(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	_, url := pgtest.Pool(t)
	e, st := engineOn(t, url)
	at := time.Date(2025, 6, 1, 0, 0, 0, 0, time.UTC)
	var polls []*store.Poll
	for _, g := range []store.GroupRef{
		{Region: "cn-hangzhou", InstanceID: "alikafka-a", Group: "billing"},
		{Region: "cn-hangzhou", InstanceID: "alikafka-b", Group: "billing"},
		{Region: "cn-hangzhou", InstanceID: "alikafka-a", Group: "search-indexer"},
		{Region: "cn-hangzhou", InstanceID: "alikafka-a", Group: "Payments"},
		{Region: "cn-shanghai", InstanceID: "alikafka-s", Group: "orders-svc"},
		{Region: "cn-shanghai", InstanceID: "alikafka-s", Group: "orders-api"},
	} {
		polls = append(polls, &store.Poll{Group: g, StartedAt: at, SampledAt: at, OK: true, LastTimestampMs: -1,
			Topics: []store.TopicSample{{Topic: "t", Partitions: []store.PartitionOffsets{{Partition: 0, BrokerOffset: 10, ConsumerOffset: 5, LastTimestampMs: -1}}}}})
	}
	if _, err := st.WritePolls(ctx, polls); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		sel  query.Selection
		want string // the end of the error, after "no such group is recorded"
	}{
		{"one letter off", query.Selection{Group: "billng"}, `; did you mean "billing"?`},
		{"case", query.Selection{Group: "payments"}, `; did you mean "Payments"?`},
		{"prefix", query.Selection{Group: "search"}, `; did you mean "search-indexer"?`},
		{"two near", query.Selection{Group: "orders-sv"}, `; did you mean "orders-svc" or "orders-api"?`},
		{"the name in other instances", query.Selection{Group: "billing", Instance: "alikafka-z"},
			`; did you mean cn-hangzhou/alikafka-a/billing or cn-hangzhou/alikafka-b/billing?`},
		{"near, in another region", query.Selection{Group: "order-svc", Region: "cn-hangzhou"}, `; did you mean cn-shanghai/alikafka-s/orders-svc?`},
		{"near within the region first", query.Selection{Group: "billin", Region: "cn-hangzhou", Instance: "alikafka-b"},
			`; did you mean "billing" or cn-hangzhou/alikafka-a/billing?`},
		{"nothing near", query.Selection{Group: "zzzzzz"}, ` (lagtrail record stores groups as it polls them)`},
		{"short and far", query.Selection{Group: "ab"}, ` (lagtrail record stores groups as it polls them)`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			_, err := e.Events(ctx, query.Range{Selection: tc.sel, From: at.Add(-time.Hour), To: at.Add(time.Hour)})
			if !errors.Is(err, query.ErrUnknownGroup) || !errors.Is(err, query.ErrInvalidRequest) {
				t.Fatalf("error %v, want ErrUnknownGroup", err)
			}
			if !strings.HasSuffix(err.Error(), "no such group is recorded"+tc.want) {
				t.Errorf("error %q does not end %q", err, "no such group is recorded"+tc.want)
			}
		})
	}
}
