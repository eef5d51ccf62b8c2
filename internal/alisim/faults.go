package alisim

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"sync"
)

// Fault is a misbehaviour the server can apply to one request after the
// request passed the signature checks. The zero value FaultNone means a
// normal answer. Each constant documents exactly what goes on the wire.
type Fault string

// The faults. Error bodies with a string Code have the gateway shape
// {"RequestId","HostId","Code","Message","Recommend"}.
const (
	// FaultNone answers normally.
	FaultNone Fault = ""
	// FaultThrottlingUser: HTTP 400, Code "Throttling.User",
	// Message "Request was denied due to user flow control.".
	FaultThrottlingUser Fault = "throttling-user"
	// FaultThrottlingAPI: HTTP 400, Code "Throttling.Api",
	// Message "Request was denied due to api flow control.".
	FaultThrottlingAPI Fault = "throttling-api"
	// FaultThrottling: HTTP 400, Code "Throttling",
	// Message "Request was denied due to flow control.".
	FaultThrottling Fault = "throttling"
	// FaultFlowControl: the alikafka back end's own flow control, delivered
	// like the gateway's throttling: HTTP 400, Code "ONS_SYSTEM_FLOW_CONTROL",
	// Message "The system is busy due to flow control, please try again later.".
	FaultFlowControl Fault = "ons-system-flow-control"
	// FaultServiceUnavailable: HTTP 503, Code "ServiceUnavailable",
	// Message "The request has failed due to a temporary failure of the server.".
	// Note that an SDK client with AutoRetry enabled retries 5xx at once.
	FaultServiceUnavailable Fault = "service-unavailable"
	// FaultInternalError: HTTP 500, Code "InternalError" (a string),
	// Message "The request processing has failed due to some unknown error, exception or failure.".
	FaultInternalError Fault = "internal-error"
	// FaultHang does not answer until Config.HangFor has passed or the
	// client has gone away. If HangFor passes first, the request is then
	// answered normally (a slow success). If the client goes away first,
	// nothing is written and the request is recorded with Status 0.
	FaultHang Fault = "hang"
	// FaultMalformed: HTTP 200 with the first half of the normal JSON body,
	// which is invalid JSON. The SDK returns a ClientError
	// (JsonUnmarshalError).
	FaultMalformed Fault = "malformed"
	// FaultSuccessFalse: HTTP 200,
	// {"Code":500,"Message":"InternalError: the alikafka back end failed to process the request.","RequestId":...,"Success":false}
	// with a numeric Code. The SDK returns it with a nil error.
	FaultSuccessFalse Fault = "success-false"
	// FaultNumericCode: HTTP 500,
	// {"Code":500,"Message":"...","RequestId":...,"Success":false} with a
	// numeric Code. The SDK v1.63.107 panics in errors.NewServerError on
	// errorCode.(string) (aliyun/alibaba-cloud-sdk-go#534).
	FaultNumericCode Fault = "numeric-code"
	// FaultHiddenTimestamps answers normally but with every LastTimestamp
	// (group, topic, partition) -1, as HideLastTimestamp=true would. On the
	// list actions it has no effect.
	FaultHiddenTimestamps Fault = "hidden-timestamps"
)

// Faults lists every Fault except FaultNone.
func Faults() []Fault {
	return []Fault{
		FaultThrottlingUser, FaultThrottlingAPI, FaultThrottling, FaultFlowControl,
		FaultServiceUnavailable, FaultInternalError, FaultHang, FaultMalformed,
		FaultSuccessFalse, FaultNumericCode, FaultHiddenTimestamps,
	}
}

// Valid reports whether f is FaultNone or one of Faults().
func (f Fault) Valid() bool {
	return f == FaultNone || slices.Contains(Faults(), f)
}

// String returns the fault's name, "none" for FaultNone.
func (f Fault) String() string {
	if f == FaultNone {
		return "none"
	}
	return string(f)
}

// GatewayError returns the HTTP status, string Code and Message the server
// sends for f when f is answered with a gateway error body (the throttling
// faults, FaultServiceUnavailable and FaultInternalError); ok is false for
// every other fault.
func (f Fault) GatewayError() (status int, code, message string, ok bool) {
	e, ok := errorFaults[f]
	return e.status, e.code, e.message, ok
}

// errorReply is a rejection with a string Code.
type errorReply struct {
	status  int
	code    string
	message string
}

// errorFaults are the faults answered with a gateway error body.
var errorFaults = map[Fault]errorReply{
	FaultThrottlingUser:     {400, "Throttling.User", "Request was denied due to user flow control."},
	FaultThrottlingAPI:      {400, "Throttling.Api", "Request was denied due to api flow control."},
	FaultThrottling:         {400, "Throttling", "Request was denied due to flow control."},
	FaultFlowControl:        {400, "ONS_SYSTEM_FLOW_CONTROL", "The system is busy due to flow control, please try again later."},
	FaultServiceUnavailable: {503, "ServiceUnavailable", "The request has failed due to a temporary failure of the server."},
	FaultInternalError:      {500, "InternalError", "The request processing has failed due to some unknown error, exception or failure."},
}

// faultSource hands out faults: first from per-action FIFO queues, then, for
// GetConsumerProgress only, from a seeded RNG according to fixed rates.
type faultSource struct {
	mu     sync.Mutex
	queues map[string][]Fault
	rates  []weightedFault // sorted by fault name for determinism
	rng    *rand.Rand
}

type weightedFault struct {
	fault Fault
	rate  float64
}

func newFaultSource(rates map[Fault]float64, seed int64) (*faultSource, error) {
	fs := &faultSource{
		queues: make(map[string][]Fault),
		rng:    rand.New(rand.NewPCG(uint64(seed), 0x616c6973696d)), // "alisim"
	}
	sum := 0.0
	for f, r := range rates {
		if f == FaultNone || !f.Valid() {
			return nil, fmt.Errorf("fault rates: unknown fault %q", string(f))
		}
		if !(r >= 0 && r <= 1) {
			return nil, fmt.Errorf("fault rates: rate %v for %s outside [0,1]", r, f)
		}
		if r > 0 {
			fs.rates = append(fs.rates, weightedFault{f, r})
			sum += r
		}
	}
	if sum > 1+1e-9 {
		return nil, fmt.Errorf("fault rates: sum %v exceeds 1", sum)
	}
	slices.SortFunc(fs.rates, func(a, b weightedFault) int {
		switch {
		case a.fault < b.fault:
			return -1
		case a.fault > b.fault:
			return 1
		}
		return 0
	})
	return fs, nil
}

func (fs *faultSource) inject(action string, faults []Fault) error {
	for _, f := range faults {
		if !f.Valid() {
			return fmt.Errorf("inject: unknown fault %q", string(f))
		}
	}
	fs.mu.Lock()
	defer fs.mu.Unlock()
	fs.queues[action] = append(fs.queues[action], faults...)
	return nil
}

// next returns the fault for the next request of this action. Queued faults
// come first and consume no random draw; otherwise GetConsumerProgress draws
// one uniform number per request when any rate is configured.
func (fs *faultSource) next(action string) Fault {
	fs.mu.Lock()
	defer fs.mu.Unlock()
	if q := fs.queues[action]; len(q) > 0 {
		f := q[0]
		if len(q) == 1 {
			delete(fs.queues, action)
		} else {
			fs.queues[action] = q[1:]
		}
		return f
	}
	if action != ActionGetConsumerProgress || len(fs.rates) == 0 {
		return FaultNone
	}
	u := fs.rng.Float64()
	acc := 0.0
	for _, w := range fs.rates {
		acc += w.rate
		if u < acc {
			return w.fault
		}
	}
	return FaultNone
}

func (fs *faultSource) pending(action string) int {
	fs.mu.Lock()
	defer fs.mu.Unlock()
	return len(fs.queues[action])
}
