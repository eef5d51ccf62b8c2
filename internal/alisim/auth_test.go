package alisim_test

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aliyun/alibaba-cloud-sdk-go/sdk/requests"

	"github.com/lagtrail/lagtrail/internal/alisim"
)

func TestSDKAuthRejections(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name          string
		keyID, secret string
		wallSkew      time.Duration
		status        int
		code          string
		recommendHas  string
	}{
		{name: "wrong secret", keyID: testKeyID, secret: "wrong", status: 400, code: "SignatureDoesNotMatch", recommendHas: "InvalidAccessKeySecret"},
		{name: "unknown key id", keyID: "LTAI-nobody", secret: testSecret, status: 404, code: "InvalidAccessKeyId.NotFound"},
		{name: "stale timestamp", keyID: testKeyID, secret: testSecret, wallSkew: 16 * time.Minute, status: 400, code: "InvalidTimeStamp.Expired"},
		{name: "future timestamp", keyID: testKeyID, secret: testSecret, wallSkew: -16 * time.Minute, status: 400, code: "InvalidTimeStamp.Expired"},
		{name: "skew within window", keyID: testKeyID, secret: testSecret, wallSkew: 10 * time.Minute},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			wall := func() time.Time { return time.Now().Add(tt.wallSkew) }
			srv, ts := startServer(t, alisim.Config{Fleet: alisim.ExampleFleet(), WallClock: wall, FaultRates: map[alisim.Fault]float64{alisim.FaultThrottling: 1}})
			resp, err := exampleProgress(t, newClient(t, ts, tt.keyID, tt.secret))
			if tt.code == "" {
				// Authenticated: the configured fault applies.
				se := serverError(t, err)
				if se.ErrorCode() != "Throttling" {
					t.Fatalf("ErrorCode %q, want the fault's Throttling", se.ErrorCode())
				}
				return
			}
			if err == nil {
				t.Fatalf("want error, got response %+v", resp)
			}
			se := serverError(t, err)
			if se.ErrorCode() != tt.code || se.HttpStatus() != tt.status {
				t.Errorf("ErrorCode %q HttpStatus %d, want %q %d", se.ErrorCode(), se.HttpStatus(), tt.code, tt.status)
			}
			if se.RequestId() == "" || se.HostId() == "" {
				t.Errorf("RequestId %q HostId %q, want both set", se.RequestId(), se.HostId())
			}
			if !strings.Contains(se.Recommend(), tt.recommendHas) {
				t.Errorf("Recommend %q does not contain %q", se.Recommend(), tt.recommendHas)
			}
			reqs := srv.Requests()
			if len(reqs) != 1 || reqs[0].Status != tt.status || reqs[0].Code != tt.code || reqs[0].Fault != alisim.FaultNone {
				t.Errorf("recorded %+v", reqs)
			}
		})
	}
}

// captureHandler records the raw query of every request before passing it on.
type captureHandler struct {
	next http.Handler
	mu   sync.Mutex
	raw  []string
}

func (h *captureHandler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	h.mu.Lock()
	h.raw = append(h.raw, r.URL.RawQuery)
	h.mu.Unlock()
	h.next.ServeHTTP(w, r)
}

type errorBody struct {
	Code, Message, RequestId, HostId, Recommend string
}

func post(t *testing.T, rawURL string, body url.Values) (int, errorBody) {
	t.Helper()
	resp, err := http.PostForm(rawURL, body)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	var eb errorBody
	if err := json.Unmarshal(b, &eb); err != nil {
		t.Fatalf("body %q: %v", b, err)
	}
	return resp.StatusCode, eb
}

// A request the SDK signed is rejected when sent a second time.
func TestReplayedNonceRejected(t *testing.T) {
	t.Parallel()
	srv, err := alisim.New(alisim.Config{Fleet: alisim.ExampleFleet(), Credentials: map[string]string{testKeyID: testSecret}})
	if err != nil {
		t.Fatal(err)
	}
	capture := &captureHandler{next: srv}
	ts := httptest.NewServer(capture)
	t.Cleanup(ts.Close)
	if _, err := exampleProgress(t, newClient(t, ts, testKeyID, testSecret)); err != nil {
		t.Fatalf("first call: %v", err)
	}
	status, eb := post(t, ts.URL+"/?"+capture.raw[0], nil)
	if status != 400 || eb.Code != "SignatureNonceUsed" || eb.RequestId == "" {
		t.Errorf("replay: HTTP %d %+v, want 400 SignatureNonceUsed", status, eb)
	}
}

// Parameters may come in the form body; they are merged for signing.
func TestFormBodyParamsAndProtocolErrors(t *testing.T) {
	t.Parallel()
	_, ts := startServer(t, alisim.Config{Fleet: alisim.ExampleFleet()})
	sign := func(method string, p map[string]string, secret string) {
		p["Signature"] = alisim.Sign(alisim.StringToSign(method, p), secret)
	}
	base := func(nonce string) map[string]string {
		return map[string]string{
			"Version": alisim.APIVersion, "Action": alisim.ActionGetConsumerProgress, "Format": "JSON",
			"Timestamp": time.Now().UTC().Format("2006-01-02T15:04:05Z"), "SignatureMethod": "HMAC-SHA1",
			"SignatureVersion": "1.0", "SignatureType": "", "SignatureNonce": nonce, "AccessKeyId": testKeyID,
			"RegionId": alisim.ExampleRegion, "InstanceId": alisim.ExampleInstance, "ConsumerId": alisim.ExampleGroup,
		}
	}
	split := func(p map[string]string, bodyKeys ...string) (string, url.Values) {
		q, f := url.Values{}, url.Values{}
		for k, v := range p {
			q.Set(k, v)
		}
		for _, k := range bodyKeys {
			f.Set(k, p[k])
			q.Del(k)
		}
		return ts.URL + "/?" + q.Encode(), f
	}

	// A good request with some params in the body succeeds.
	p := base("n-form-ok")
	sign("POST", p, testSecret)
	u, f := split(p, "ConsumerId", "InstanceId", "SignatureNonce")
	resp, err := http.PostForm(u, f)
	if err != nil {
		t.Fatal(err)
	}
	var ok struct {
		Success bool
		Code    int
	}
	if err := json.NewDecoder(resp.Body).Decode(&ok); err != nil || resp.StatusCode != 200 || !ok.Success {
		t.Fatalf("form request: HTTP %d %+v %v", resp.StatusCode, ok, err)
	}
	resp.Body.Close()

	tests := []struct {
		name   string
		mutate func(p map[string]string)
		resign bool
		status int
		code   string
	}{
		{"missing timestamp", func(p map[string]string) { delete(p, "Timestamp") }, true, 400, "MissingParameter"},
		{"missing signature", func(p map[string]string) { delete(p, "Signature") }, false, 400, "MissingParameter"},
		{"missing consumer id", func(p map[string]string) { delete(p, "ConsumerId") }, true, 400, "MissingParameter"},
		{"wrong version", func(p map[string]string) { p["Version"] = "2018-10-15" }, true, 400, "InvalidVersion"},
		{"unknown action", func(p map[string]string) { p["Action"] = "DeleteEverything" }, true, 404, "InvalidAction.NotFound"},
		{"bad timestamp", func(p map[string]string) { p["Timestamp"] = "yesterday" }, true, 400, "InvalidTimeStamp.Format"},
		{"xml format", func(p map[string]string) { p["Format"] = "XML" }, true, 400, "InvalidParameter"},
		{"tampered after signing", func(p map[string]string) { p["ConsumerId"] = "other" }, false, 400, "SignatureDoesNotMatch"},
		{"bad page size", func(p map[string]string) { p["Action"] = alisim.ActionGetConsumerList; p["PageSize"] = "ten" }, true, 400, "InvalidParameter"},
	}
	for _, tt := range tests {
		p := base("n-proto-" + tt.name)
		sign("POST", p, testSecret)
		tt.mutate(p)
		if tt.resign {
			delete(p, "Signature")
			sign("POST", p, testSecret)
		}
		u, f := split(p)
		status, eb := post(t, u, f)
		if status != tt.status || eb.Code != tt.code {
			t.Errorf("%s: HTTP %d %q (%s), want %d %q", tt.name, status, eb.Code, eb.Message, tt.status, tt.code)
		}
	}
}

// Unknown actions and versions are rejected as the SDK sees them.
func TestSDKCommonRequestRejections(t *testing.T) {
	t.Parallel()
	_, ts := startServer(t, alisim.Config{Fleet: alisim.ExampleFleet()})
	client := newClient(t, ts, testKeyID, testSecret)
	tests := []struct {
		action, version string
		status          int
		code            string
	}{
		{"GetTopicList", alisim.APIVersion, 404, "InvalidAction.NotFound"},
		{alisim.ActionGetConsumerProgress, "2018-10-15", 400, "InvalidVersion"},
	}
	for _, tt := range tests {
		req := requests.NewCommonRequest()
		req.Method = "POST"
		req.Scheme = "HTTP"
		req.Domain = strings.TrimPrefix(ts.URL, "http://")
		req.Version = tt.version
		req.ApiName = tt.action
		req.QueryParams["RegionId"] = alisim.ExampleRegion
		_, err := client.ProcessCommonRequest(req)
		se := serverError(t, err)
		if se.HttpStatus() != tt.status || se.ErrorCode() != tt.code {
			t.Errorf("%s %s: HTTP %d %q, want %d %q", tt.action, tt.version, se.HttpStatus(), se.ErrorCode(), tt.status, tt.code)
		}
	}
}
