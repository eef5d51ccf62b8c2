package store_test

import (
	"context"
	"testing"
	"time"

	"github.com/lagtrail/lagtrail/store"
)

func TestSendPeaksCountTheBusiestSecondPerRegion(t *testing.T) {
	t.Parallel()
	st, _ := newStore(t)
	ctx := context.Background()
	t0 := time.Date(2026, 3, 2, 10, 0, 0, 0, time.UTC)
	var polls []*store.Poll
	add := func(region, group string, at time.Duration) {
		start := t0.Add(at)
		polls = append(polls, &store.Poll{Group: store.GroupRef{Region: region, InstanceID: "i", Group: group},
			StartedAt: start, SampledAt: start.Add(5 * time.Millisecond), Duration: 5 * time.Millisecond, OK: false, ErrorCode: "Timeout"})
	}
	// cn-a: four starts within 999ms (0.1 .. 1.099), then one at 2.0.
	for i, ms := range []int{100, 400, 700, 1099, 2000} {
		add("cn-a", string(rune('a'+i)), time.Duration(ms)*time.Millisecond)
	}
	// cn-b: two starts exactly one second apart are not in one window.
	add("cn-b", "x", 0)
	add("cn-b", "y", time.Second)
	if _, err := st.WritePolls(ctx, polls); err != nil {
		t.Fatal(err)
	}
	got, err := st.SendPeaks(ctx, t0, t0.Add(time.Minute))
	if err != nil {
		t.Fatal(err)
	}
	want := []store.RegionSendPeak{{Region: "cn-a", Peak: 4, At: t0.Add(100 * time.Millisecond)}, {Region: "cn-b", Peak: 1, At: t0}}
	if len(got) != len(want) {
		t.Fatalf("got %+v, want %+v", got, want)
	}
	for i := range want {
		if got[i].Region != want[i].Region || got[i].Peak != want[i].Peak || !got[i].At.Equal(want[i].At) {
			t.Errorf("row %d = %+v, want %+v", i, got[i], want[i])
		}
	}
	if _, err := st.SendPeaks(ctx, t0, t0); err == nil {
		t.Error("an empty range was accepted")
	}
}
