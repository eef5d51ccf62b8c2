package alisim

import (
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"time"
)

// APIVersion is the only Version the server accepts.
const APIVersion = "2019-09-16"

// The actions the server answers.
const (
	ActionGetConsumerProgress = "GetConsumerProgress"
	ActionGetConsumerList     = "GetConsumerList"
	ActionGetInstanceList     = "GetInstanceList"
)

// DefaultHangFor is how long FaultHang holds a request when Config.HangFor is
// zero.
const DefaultHangFor = time.Minute

// DefaultMaxRecorded is how many requests are kept for Requests when
// Config.MaxRecorded is zero.
const DefaultMaxRecorded = 100_000

// maxBodyBytes bounds a request body.
const maxBodyBytes = 1 << 20

// Config configures a Server. Zero values select the documented defaults.
type Config struct {
	// Fleet is the initial model. It is copied; later changes by the caller
	// have no effect (use Server.SetFleet).
	Fleet Fleet
	// Credentials maps AccessKeyId to AccessKeySecret. At least one is
	// required. Secrets are never logged. A SecurityToken parameter (STS) is
	// accepted and signed but not checked.
	Credentials map[string]string
	// Epoch is the model's time zero (see Partition.At). Zero means the
	// time New was called, per Now.
	Epoch time.Time
	// Now is the model clock: offsets are computed at Now() and requests
	// are recorded with it. Nil means time.Now.
	Now func() time.Time
	// WallClock is the clock request Timestamps and nonce expiry are checked
	// against. It is separate from Now because the SDK always stamps
	// requests with the real time, while tests usually drive Now by hand.
	// Nil means time.Now.
	WallClock func() time.Time
	// FaultRates gives, per fault, the probability that a GetConsumerProgress
	// request (one not served from the Inject queue) gets it. Each rate must
	// be in [0,1] and their sum at most 1.
	FaultRates map[Fault]float64
	// Seed seeds the RNG that draws FaultRates, so a given sequence of
	// requests gets the same faults on every run (zero is a valid seed).
	Seed int64
	// HangFor is how long FaultHang holds a request. Zero means
	// DefaultHangFor.
	HangFor time.Duration
	// MaxRecorded bounds the requests kept for Requests; the oldest are
	// dropped first. Zero means DefaultMaxRecorded.
	MaxRecorded int
	// Logger receives one debug record per request. Nil discards.
	Logger *slog.Logger
	// Progress, when set, answers GetConsumerProgress for every group of
	// the Fleet in place of the group's Topics and Rebalances, which are
	// then ignored (the Fleet still decides which instances and groups
	// exist). It is called with the request's region, instance and group
	// and the model time Now(), and must be safe for concurrent use.
	Progress func(region, instance, group string, at time.Time) GroupProgress
}

// GroupProgress is what GetConsumerProgress reports for one group when
// Config.Progress supplies it. TotalDiff and the group and topic
// LastTimestamp are derived from the partitions as for the Fleet model.
type GroupProgress struct {
	// Topics are reported in this order.
	Topics []TopicProgress
	// Rebalances are reported as the RebalanceInfoList, with GroupId set
	// to the group's ID; none leaves the field out.
	Rebalances []Rebalance
}

// TopicProgress is one topic of a GroupProgress.
type TopicProgress struct {
	// Name is the topic name.
	Name string
	// Partitions are reported in this order.
	Partitions []PartitionProgress
}

// PartitionProgress is one partition's offsets as GetConsumerProgress
// reports them.
type PartitionProgress struct {
	// Partition is the partition number.
	Partition int
	// Broker and Consumer are BrokerOffset and ConsumerOffset.
	Broker, Consumer int64
	// LastTimestampMs is LastTimestamp, in Unix milliseconds.
	LastTimestampMs int64
}

// Server is the simulated alikafka endpoint. It is an http.Handler and safe
// for concurrent use.
type Server struct {
	creds       map[string]string
	epoch       time.Time
	now         func() time.Time
	wall        func() time.Time
	hangFor     time.Duration
	maxRecorded int
	log         *slog.Logger
	nonces      *nonceCache
	faults      *faultSource
	progress    func(region, instance, group string, at time.Time) GroupProgress

	fleetMu sync.RWMutex
	fleet   Fleet

	recMu    sync.Mutex
	requests []Request
}

// Request is the record of one request the server received.
type Request struct {
	// Time is the arrival time per Config.Now.
	Time time.Time
	// RequestID is the RequestId the server generated.
	RequestID string
	// Action, RegionID, InstanceID, ConsumerID and AccessKeyID are the
	// request's parameters of those names ("" when absent).
	Action, RegionID, InstanceID, ConsumerID, AccessKeyID string
	// Fault is the fault applied (FaultNone when none, or when the request
	// was rejected before faults apply).
	Fault Fault
	// Status is the HTTP status sent, or 0 when the client went away
	// before an answer.
	Status int
	// Code is the error code sent: the string Code of a rejection, the
	// numeric Code (as decimal text) of a Success=false body, or "" for a
	// success.
	Code string
}

// New validates cfg and returns a Server. It reports missing or empty
// credentials, an invalid Fleet (see Fleet.Validate), invalid fault rates and
// negative durations as errors.
func New(cfg Config) (*Server, error) {
	if len(cfg.Credentials) == 0 {
		return nil, errors.New("alisim: no credentials configured")
	}
	creds := make(map[string]string, len(cfg.Credentials))
	for id, secret := range cfg.Credentials {
		if id == "" || secret == "" {
			return nil, fmt.Errorf("alisim: credential %q: empty access key id or secret", id)
		}
		creds[id] = secret
	}
	if err := cfg.Fleet.Validate(); err != nil {
		return nil, fmt.Errorf("alisim: fleet: %w", err)
	}
	if cfg.HangFor < 0 {
		return nil, fmt.Errorf("alisim: negative HangFor %v", cfg.HangFor)
	}
	if cfg.MaxRecorded < 0 {
		return nil, fmt.Errorf("alisim: negative MaxRecorded %d", cfg.MaxRecorded)
	}
	fs, err := newFaultSource(cfg.FaultRates, cfg.Seed)
	if err != nil {
		return nil, fmt.Errorf("alisim: %w", err)
	}
	s := &Server{
		creds:       creds,
		epoch:       cfg.Epoch,
		now:         cfg.Now,
		wall:        cfg.WallClock,
		hangFor:     cfg.HangFor,
		maxRecorded: cfg.MaxRecorded,
		log:         cfg.Logger,
		nonces:      newNonceCache(maxNonces),
		faults:      fs,
		fleet:       cfg.Fleet.clone(),
		progress:    cfg.Progress,
	}
	if s.now == nil {
		s.now = time.Now
	}
	if s.wall == nil {
		s.wall = time.Now
	}
	if s.epoch.IsZero() {
		s.epoch = s.now()
	}
	if s.hangFor == 0 {
		s.hangFor = DefaultHangFor
	}
	if s.maxRecorded == 0 {
		s.maxRecorded = DefaultMaxRecorded
	}
	if s.log == nil {
		s.log = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	return s, nil
}

// Epoch returns the model's time zero.
func (s *Server) Epoch() time.Time { return s.epoch }

// Fleet returns a copy of the current model.
func (s *Server) Fleet() Fleet {
	s.fleetMu.RLock()
	defer s.fleetMu.RUnlock()
	return s.fleet.clone()
}

// SetFleet validates f and replaces the model with a copy of it, so groups and
// instances can appear or vanish between requests. The epoch is unchanged.
func (s *Server) SetFleet(f Fleet) error {
	if err := f.Validate(); err != nil {
		return fmt.Errorf("alisim: set fleet: %w", err)
	}
	c := f.clone()
	s.fleetMu.Lock()
	s.fleet = c
	s.fleetMu.Unlock()
	return nil
}

// Inject queues faults for the next GetConsumerProgress requests, in order:
// the n-th queued fault goes to the n-th correctly signed request after it.
// Queued faults take precedence over Config.FaultRates. It reports an unknown
// fault as an error and then queues nothing.
func (s *Server) Inject(faults ...Fault) error {
	return s.InjectAction(ActionGetConsumerProgress, faults...)
}

// InjectAction is Inject for any action, e.g. ActionGetConsumerList.
func (s *Server) InjectAction(action string, faults ...Fault) error {
	if err := s.faults.inject(action, faults); err != nil {
		return fmt.Errorf("alisim: %w", err)
	}
	return nil
}

// PendingFaults reports how many injected faults are still queued for action.
func (s *Server) PendingFaults(action string) int {
	return s.faults.pending(action)
}

// Requests returns a copy of the recorded requests, oldest first, in the order
// they completed.
func (s *Server) Requests() []Request {
	s.recMu.Lock()
	defer s.recMu.Unlock()
	return append([]Request(nil), s.requests...)
}

// RequestCount reports how many recorded requests had this action; "" counts
// all.
func (s *Server) RequestCount(action string) int {
	s.recMu.Lock()
	defer s.recMu.Unlock()
	if action == "" {
		return len(s.requests)
	}
	n := 0
	for _, r := range s.requests {
		if r.Action == action {
			n++
		}
	}
	return n
}

// ResetRequests forgets the recorded requests.
func (s *Server) ResetRequests() {
	s.recMu.Lock()
	defer s.recMu.Unlock()
	s.requests = nil
}

func (s *Server) record(r Request) {
	s.recMu.Lock()
	defer s.recMu.Unlock()
	if len(s.requests) >= s.maxRecorded {
		drop := len(s.requests) - s.maxRecorded + 1
		s.requests = append(s.requests[:0], s.requests[drop:]...)
	}
	s.requests = append(s.requests, r)
}

// ServeHTTP authenticates the request, applies any fault and answers the
// action. See the package documentation for the order of checks.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	rc := &call{
		w:   w,
		r:   r,
		rec: Request{Time: s.now(), RequestID: newRequestID()},
	}
	defer func() {
		s.record(rc.rec)
		s.log.Debug("alisim request",
			slog.String("request_id", rc.rec.RequestID),
			slog.String("action", rc.rec.Action),
			slog.String("access_key_id", rc.rec.AccessKeyID),
			slog.String("region_id", rc.rec.RegionID),
			slog.String("instance_id", rc.rec.InstanceID),
			slog.String("consumer_id", rc.rec.ConsumerID),
			slog.String("fault", rc.rec.Fault.String()),
			slog.Int("status", rc.rec.Status),
			slog.String("code", rc.rec.Code),
		)
	}()

	r.Body = http.MaxBytesReader(w, r.Body, maxBodyBytes)
	if err := r.ParseForm(); err != nil {
		rc.reject(400, "InvalidParameter", "The request could not be parsed: "+err.Error())
		return
	}
	params := make(map[string]string, len(r.Form))
	for k, v := range r.Form {
		if len(v) > 0 {
			params[k] = v[0]
		}
	}
	rc.params = params
	rc.rec.Action = params["Action"]
	rc.rec.RegionID = params["RegionId"]
	rc.rec.InstanceID = params["InstanceId"]
	rc.rec.ConsumerID = params["ConsumerId"]
	rc.rec.AccessKeyID = params["AccessKeyId"]

	if !s.authenticate(rc) {
		return
	}
	fault := s.faults.next(rc.rec.Action)
	rc.rec.Fault = fault
	if e, ok := errorFaults[fault]; ok {
		rc.reject(e.status, e.code, e.message)
		return
	}
	switch fault {
	case FaultNumericCode:
		rc.numericFailure(500, "InternalError: the alikafka back end failed to process the request.")
		return
	case FaultSuccessFalse:
		rc.businessFailure(500, "InternalError: the alikafka back end failed to process the request.")
		return
	case FaultHang:
		t := time.NewTimer(s.hangFor)
		defer t.Stop()
		select {
		case <-r.Context().Done():
			rc.rec.Status = 0
			return
		case <-t.C:
		}
	}
	rc.hideTimestamps = fault == FaultHiddenTimestamps
	rc.truncate = fault == FaultMalformed
	s.dispatch(rc)
}

// authenticate runs the protocol checks and writes the rejection when one
// fails.
func (s *Server) authenticate(rc *call) bool {
	p := rc.params
	for _, name := range []string{"Action", "Version", "AccessKeyId", "Signature", "SignatureMethod", "SignatureVersion", "SignatureNonce", "Timestamp"} {
		if p[name] == "" {
			rc.reject(400, "MissingParameter", fmt.Sprintf("The input parameter \"%s\" that is mandatory for processing this request is not supplied.", name))
			return false
		}
	}
	if f, ok := p["Format"]; ok && !strings.EqualFold(f, "JSON") {
		rc.reject(400, "InvalidParameter", fmt.Sprintf("The specified parameter \"Format\" value %q is not supported; alisim serves only JSON.", f))
		return false
	}
	if p["SignatureMethod"] != "HMAC-SHA1" {
		rc.reject(400, "InvalidParameter", fmt.Sprintf("The specified parameter \"SignatureMethod\" value %q is not supported.", p["SignatureMethod"]))
		return false
	}
	if p["SignatureVersion"] != "1.0" {
		rc.reject(400, "InvalidParameter", fmt.Sprintf("The specified parameter \"SignatureVersion\" value %q is not supported.", p["SignatureVersion"]))
		return false
	}
	switch p["Action"] {
	case ActionGetConsumerProgress, ActionGetConsumerList, ActionGetInstanceList:
	default:
		rc.reject(404, "InvalidAction.NotFound", "Specified api is not found, please check your url and method.")
		return false
	}
	if p["Version"] != APIVersion {
		rc.reject(400, "InvalidVersion", "Specified parameter Version is not valid.")
		return false
	}
	secret, ok := s.creds[p["AccessKeyId"]]
	if !ok {
		rc.reject(404, "InvalidAccessKeyId.NotFound", "Specified access key is not found.")
		return false
	}
	ts, err := time.Parse("2006-01-02T15:04:05Z", p["Timestamp"])
	if err != nil {
		rc.reject(400, "InvalidTimeStamp.Format", "Specified time stamp or date value is not well formatted.")
		return false
	}
	wall := s.wall()
	if d := wall.Sub(ts); d > nonceWindow || d < -nonceWindow {
		rc.reject(400, "InvalidTimeStamp.Expired", fmt.Sprintf("Specified time stamp or date value is expired. Request timestamp %s, server time %s.",
			p["Timestamp"], wall.UTC().Format("2006-01-02T15:04:05Z")))
		return false
	}
	sts := StringToSign(rc.r.Method, p)
	if !signatureMatches(p["Signature"], Sign(sts, secret)) {
		rc.reject(400, "SignatureDoesNotMatch", "Specified signature is not matched with our calculation. server string to sign is:"+sts)
		return false
	}
	if !s.nonces.use(p["AccessKeyId"]+"\x00"+p["SignatureNonce"], wall) {
		rc.reject(400, "SignatureNonceUsed", "Specified signature nonce was used already.")
		return false
	}
	return true
}

// call carries one request through the handler.
type call struct {
	w              http.ResponseWriter
	r              *http.Request
	params         map[string]string
	rec            Request
	hideTimestamps bool
	truncate       bool
}

// gatewayError is the body of a rejection with a string Code.
type gatewayError struct {
	RequestID string `json:"RequestId"`
	HostID    string `json:"HostId"`
	Code      string `json:"Code"`
	Message   string `json:"Message"`
	Recommend string `json:"Recommend"`
}

// failureBody is an alikafka body with Success=false and a numeric Code.
type failureBody struct {
	Code      int    `json:"Code"`
	Message   string `json:"Message"`
	RequestID string `json:"RequestId"`
	Success   bool   `json:"Success"`
}

func (c *call) hostID() string {
	region := c.params["RegionId"]
	if region == "" {
		return "alikafka.aliyuncs.com"
	}
	return "alikafka." + region + ".aliyuncs.com"
}

// reject writes a gateway error with a string Code.
func (c *call) reject(status int, code, message string) {
	c.rec.Code = code
	c.write(status, gatewayError{
		RequestID: c.rec.RequestID,
		HostID:    c.hostID(),
		Code:      code,
		Message:   message,
		Recommend: fmt.Sprintf("https://api.aliyun.com/troubleshoot?q=%s&product=alikafka&requestId=%s", code, c.rec.RequestID),
	})
}

// businessFailure writes HTTP 200 with Success=false and a numeric Code.
func (c *call) businessFailure(code int, message string) {
	c.numericFailureStatus(200, code, message)
}

// numericFailure writes an HTTP status equal to code with a numeric Code.
func (c *call) numericFailure(code int, message string) {
	c.numericFailureStatus(code, code, message)
}

func (c *call) numericFailureStatus(status, code int, message string) {
	c.rec.Code = fmt.Sprint(code)
	c.write(status, failureBody{Code: code, Message: message, RequestID: c.rec.RequestID})
}

// write sends v as JSON, cut in half when the call carries FaultMalformed.
func (c *call) write(status int, v any) {
	body, err := json.Marshal(v)
	if err != nil {
		// Only plain structs are marshalled; this cannot happen.
		status = 500
		body = []byte(`{"Code":"InternalError","Message":"alisim: encoding the response failed."}`)
	}
	if c.truncate {
		body = body[:len(body)/2]
	}
	h := c.w.Header()
	h.Set("Content-Type", "application/json;charset=utf-8")
	h.Set("X-Acs-Request-Id", c.rec.RequestID)
	c.w.WriteHeader(status)
	c.rec.Status = status
	_, _ = c.w.Write(body)
}

// newRequestID returns an uppercase UUID-shaped random ID.
func newRequestID() string {
	var b [16]byte
	_, _ = rand.Read(b[:]) // crypto/rand.Read never fails
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	h := strings.ToUpper(hex.EncodeToString(b[:]))
	return h[0:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:32]
}
