package alisim_test

import (
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	sdkerrors "github.com/aliyun/alibaba-cloud-sdk-go/sdk/errors"
	"github.com/aliyun/alibaba-cloud-sdk-go/services/alikafka"

	"github.com/lagtrail/lagtrail/internal/alisim"
)

// Each fault as the SDK sees it.
func TestFaultsAsSeenBySDK(t *testing.T) {
	t.Parallel()
	serverErr := func(status int, code string) func(*testing.T, *alikafka.GetConsumerProgressResponse, error, any) {
		return func(t *testing.T, _ *alikafka.GetConsumerProgressResponse, err error, p any) {
			if p != nil {
				t.Fatalf("panic %v", p)
			}
			se := serverError(t, err)
			if se.HttpStatus() != status || se.ErrorCode() != code || se.RequestId() == "" {
				t.Errorf("HTTP %d code %q RequestId %q, want %d %q", se.HttpStatus(), se.ErrorCode(), se.RequestId(), status, code)
			}
		}
	}
	tests := []struct {
		fault  alisim.Fault
		status int // recorded
		check  func(*testing.T, *alikafka.GetConsumerProgressResponse, error, any)
	}{
		{alisim.FaultThrottlingUser, 400, serverErr(400, "Throttling.User")},
		{alisim.FaultThrottlingAPI, 400, serverErr(400, "Throttling.Api")},
		{alisim.FaultThrottling, 400, serverErr(400, "Throttling")},
		{alisim.FaultFlowControl, 400, serverErr(400, "ONS_SYSTEM_FLOW_CONTROL")},
		{alisim.FaultServiceUnavailable, 503, serverErr(503, "ServiceUnavailable")},
		{alisim.FaultInternalError, 500, serverErr(500, "InternalError")},
		{alisim.FaultMalformed, 200, func(t *testing.T, resp *alikafka.GetConsumerProgressResponse, err error, p any) {
			if p != nil {
				t.Fatalf("panic %v", p)
			}
			var ce *sdkerrors.ClientError
			if !errors.As(err, &ce) || ce.ErrorCode() != sdkerrors.JsonUnmarshalErrorCode {
				t.Fatalf("want ClientError %s, got %T %v", sdkerrors.JsonUnmarshalErrorCode, err, err)
			}
		}},
		{alisim.FaultSuccessFalse, 200, func(t *testing.T, resp *alikafka.GetConsumerProgressResponse, err error, p any) {
			if p != nil || err != nil {
				t.Fatalf("err %v panic %v, want a response", err, p)
			}
			if resp.Success || resp.Code != 500 || resp.Message == "" || resp.RequestId == "" {
				t.Errorf("Success %v Code %d Message %q RequestId %q", resp.Success, resp.Code, resp.Message, resp.RequestId)
			}
			if len(resp.ConsumerProgress.TopicList.TopicListItem) != 0 {
				t.Errorf("failure carries topics")
			}
		}},
		{alisim.FaultNumericCode, 500, func(t *testing.T, _ *alikafka.GetConsumerProgressResponse, err error, p any) {
			if p == nil {
				t.Fatalf("SDK did not panic (err %v); the simulator no longer reproduces the numeric-code defect", err)
			}
			if !strings.Contains(fmt.Sprint(p), "interface conversion") {
				t.Errorf("panic %v, want the SDK's interface conversion panic", p)
			}
		}},
		{alisim.FaultHiddenTimestamps, 200, func(t *testing.T, resp *alikafka.GetConsumerProgressResponse, err error, p any) {
			if p != nil || err != nil {
				t.Fatalf("err %v panic %v", err, p)
			}
			cp := resp.ConsumerProgress
			if !resp.Success || cp.LastTimestamp != -1 {
				t.Fatalf("Success %v group LastTimestamp %d", resp.Success, cp.LastTimestamp)
			}
			for _, tp := range cp.TopicList.TopicListItem {
				if tp.LastTimestamp != -1 {
					t.Errorf("topic LastTimestamp %d", tp.LastTimestamp)
				}
				for _, o := range tp.OffsetList.OffsetListItem {
					if o.LastTimestamp != -1 || o.BrokerOffset == 0 {
						t.Errorf("partition %+v", o)
					}
				}
			}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.fault.String(), func(t *testing.T) {
			t.Parallel()
			srv, ts := startServer(t, alisim.Config{Fleet: alisim.ExampleFleet()})
			if err := srv.Inject(tt.fault); err != nil {
				t.Fatal(err)
			}
			client := newClient(t, ts, testKeyID, testSecret)
			resp, err, p := getProgress(client, progressRequest(alisim.ExampleRegion, alisim.ExampleInstance, alisim.ExampleGroup, false))
			tt.check(t, resp, err, p)
			reqs := srv.Requests()
			if len(reqs) != 1 || reqs[0].Fault != tt.fault || reqs[0].Status != tt.status {
				t.Errorf("recorded %+v, want fault %s status %d", reqs, tt.fault, tt.status)
			}
			// The fault was used up: the next call succeeds.
			resp, err, p = getProgress(client, progressRequest(alisim.ExampleRegion, alisim.ExampleInstance, alisim.ExampleGroup, false))
			if err != nil || p != nil || !resp.Success || resp.ConsumerProgress.LastTimestamp != 1566874931671 {
				t.Errorf("after the fault: err %v panic %v", err, p)
			}
		})
	}
}

func TestHang(t *testing.T) {
	t.Parallel()
	t.Run("client times out", func(t *testing.T) {
		t.Parallel()
		// The hang outlasts the client's timeout many times over, so the
		// time taken shows which ended the call, on a loaded machine too.
		const hang = 5 * time.Minute
		srv, ts := startServer(t, alisim.Config{Fleet: alisim.ExampleFleet(), HangFor: hang})
		if err := srv.Inject(alisim.FaultHang); err != nil {
			t.Fatal(err)
		}
		client := newClient(t, ts, testKeyID, testSecret)
		client.SetReadTimeout(200 * time.Millisecond)
		start := time.Now()
		_, err, p := getProgress(client, progressRequest(alisim.ExampleRegion, alisim.ExampleInstance, alisim.ExampleGroup, false))
		if p != nil || err == nil {
			t.Fatalf("err %v panic %v, want a timeout error", err, p)
		}
		if !strings.Contains(err.Error(), "Client.Timeout") && !strings.Contains(err.Error(), "timeout") {
			t.Errorf("err %v, want a timeout", err)
		}
		if d := time.Since(start); d > hang/2 {
			t.Errorf("took %v, want the client's timeout, not the hang of %v", d, hang)
		}
		// The handler notices the client left and records Status 0.
		deadline := time.Now().Add(hang / 2)
		for srv.RequestCount("") == 0 && time.Now().Before(deadline) {
			time.Sleep(50 * time.Millisecond)
		}
		reqs := srv.Requests()
		if len(reqs) != 1 || reqs[0].Fault != alisim.FaultHang || reqs[0].Status != 0 {
			t.Errorf("recorded %+v", reqs)
		}
	})
	t.Run("slow success", func(t *testing.T) {
		t.Parallel()
		srv, ts := startServer(t, alisim.Config{Fleet: alisim.ExampleFleet(), HangFor: 300 * time.Millisecond})
		if err := srv.Inject(alisim.FaultHang); err != nil {
			t.Fatal(err)
		}
		client := newClient(t, ts, testKeyID, testSecret)
		start := time.Now()
		resp, err := exampleProgress(t, client)
		if err != nil || !resp.Success {
			t.Fatalf("err %v", err)
		}
		if d := time.Since(start); d < 300*time.Millisecond {
			t.Errorf("answered after %v, before HangFor", d)
		}
	})
}

func TestInjectOrder(t *testing.T) {
	t.Parallel()
	srv, ts := startServer(t, alisim.Config{Fleet: alisim.ExampleFleet(), FaultRates: map[alisim.Fault]float64{alisim.FaultThrottlingAPI: 1}})
	order := []alisim.Fault{alisim.FaultServiceUnavailable, alisim.FaultNone, alisim.FaultThrottlingUser, alisim.FaultSuccessFalse}
	if err := srv.Inject(order...); err != nil {
		t.Fatal(err)
	}
	if err := srv.Inject(alisim.Fault("bogus")); err == nil {
		t.Errorf("Inject accepted an unknown fault")
	}
	if n := srv.PendingFaults(alisim.ActionGetConsumerProgress); n != len(order) {
		t.Errorf("PendingFaults %d, want %d", n, len(order))
	}
	client := newClient(t, ts, testKeyID, testSecret)
	// List calls neither consume nor get GetConsumerProgress faults.
	if _, err := client.GetInstanceList(instanceListRequest("cn-hangzhou")); err != nil {
		t.Fatalf("GetInstanceList: %v", err)
	}
	for range len(order) + 1 {
		_, _, _ = getProgress(client, progressRequest(alisim.ExampleRegion, alisim.ExampleInstance, alisim.ExampleGroup, false))
	}
	want := append(append([]alisim.Fault{alisim.FaultNone}, order...), alisim.FaultThrottlingAPI) // then rates apply
	reqs := srv.Requests()
	if len(reqs) != len(want) {
		t.Fatalf("%d requests recorded, want %d", len(reqs), len(want))
	}
	for i, r := range reqs {
		if r.Fault != want[i] {
			t.Errorf("request %d (%s) fault %s, want %s", i, r.Action, r.Fault, want[i])
		}
	}
	if srv.PendingFaults(alisim.ActionGetConsumerProgress) != 0 {
		t.Errorf("faults left in the queue")
	}

	// InjectAction targets the list calls.
	if err := srv.InjectAction(alisim.ActionGetConsumerList, alisim.FaultThrottlingUser); err != nil {
		t.Fatal(err)
	}
	_, err := client.GetConsumerList(consumerListRequest(alisim.ExampleInstance, 1, 10))
	if se := serverError(t, err); se.ErrorCode() != "Throttling.User" {
		t.Errorf("GetConsumerList code %q", se.ErrorCode())
	}
}

func faultSequence(t *testing.T, seed int64, n int) []alisim.Fault {
	t.Helper()
	srv, ts := startServer(t, alisim.Config{
		Fleet: alisim.ExampleFleet(),
		Seed:  seed,
		FaultRates: map[alisim.Fault]float64{
			alisim.FaultThrottlingUser:     0.2,
			alisim.FaultServiceUnavailable: 0.1,
			alisim.FaultHiddenTimestamps:   0.1,
		},
	})
	client := newClient(t, ts, testKeyID, testSecret)
	for range n {
		_, _, _ = getProgress(client, progressRequest(alisim.ExampleRegion, alisim.ExampleInstance, alisim.ExampleGroup, false))
	}
	var out []alisim.Fault
	for _, r := range srv.Requests() {
		out = append(out, r.Fault)
	}
	return out
}

func TestFaultRatesDeterministic(t *testing.T) {
	t.Parallel()
	const n = 200
	a, b, c := faultSequence(t, 42, n), faultSequence(t, 42, n), faultSequence(t, 7, n)
	if len(a) != n || len(b) != n {
		t.Fatalf("recorded %d and %d requests", len(a), len(b))
	}
	same := true
	counts := map[alisim.Fault]int{}
	for i := range a {
		if a[i] != b[i] {
			t.Fatalf("same seed differs at request %d: %s vs %s", i, a[i], b[i])
		}
		if a[i] != c[i] {
			same = false
		}
		counts[a[i]]++
	}
	if same {
		t.Errorf("seeds 42 and 7 gave the same %d faults", n)
	}
	// Expected 40 / 20 / 20 / 120; allow generous binomial spread.
	for f, want := range map[alisim.Fault]int{alisim.FaultThrottlingUser: 40, alisim.FaultServiceUnavailable: 20, alisim.FaultHiddenTimestamps: 20, alisim.FaultNone: 120} {
		if got := counts[f]; got < want/2 || got > want*3/2 {
			t.Errorf("%s: %d of %d, want about %d", f, got, n, want)
		}
	}
}

// Many clients at once, with faults drawn at rates; run with -race.
func TestConcurrentRequests(t *testing.T) {
	t.Parallel()
	srv, ts := startServer(t, alisim.Config{
		Fleet:      modelFleet(),
		Seed:       1,
		FaultRates: map[alisim.Fault]float64{alisim.FaultThrottling: 0.3, alisim.FaultMalformed: 0.1},
	})
	const workers, calls = 8, 25
	var wg sync.WaitGroup
	errs := make(chan error, workers)
	for w := range workers {
		client := newClient(t, ts, testKeyID, testSecret) // one client per worker: the SDK client is not concurrency-safe
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range calls {
				switch i % 3 {
				case 0:
					_, _, p := getProgress(client, progressRequest("cn-hangzhou", "inst-1", "g1", w%2 == 0))
					if p != nil {
						errs <- fmt.Errorf("worker %d: panic %v", w, p)
						return
					}
				case 1:
					if _, err := client.GetConsumerList(consumerListRequest("inst-1", 1, 10)); err != nil {
						errs <- err
						return
					}
				case 2:
					if _, err := client.GetInstanceList(instanceListRequest("cn-hangzhou")); err != nil {
						errs <- err
						return
					}
				}
				if i%10 == 0 {
					if err := srv.SetFleet(modelFleet()); err != nil {
						errs <- err
						return
					}
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	if got := srv.RequestCount(""); got != workers*calls {
		t.Errorf("RequestCount = %d, want %d", got, workers*calls)
	}
	if got, want := srv.RequestCount(alisim.ActionGetConsumerProgress), workers*9; got != want {
		t.Errorf("GetConsumerProgress count = %d, want %d", got, want)
	}
	srv.ResetRequests()
	if len(srv.Requests()) != 0 {
		t.Errorf("ResetRequests left records")
	}
}
