package alisim_test

import (
	"errors"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aliyun/alibaba-cloud-sdk-go/sdk"
	"github.com/aliyun/alibaba-cloud-sdk-go/sdk/auth/credentials"
	sdkerrors "github.com/aliyun/alibaba-cloud-sdk-go/sdk/errors"
	"github.com/aliyun/alibaba-cloud-sdk-go/services/alikafka"

	"github.com/lagtrail/lagtrail/internal/alisim"
)

const (
	testKeyID  = "LTAI-test-key"
	testSecret = "test-secret-0123456789"
)

// manualClock is a settable clock for Config.Now.
type manualClock struct {
	mu sync.Mutex
	t  time.Time
}

func newManualClock(t time.Time) *manualClock { return &manualClock{t: t} }

func (c *manualClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *manualClock) Set(t time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = t
}

// startServer builds a Server from cfg (adding the test credentials when
// none are given) and serves it over HTTP until the test ends.
func startServer(t *testing.T, cfg alisim.Config) (*alisim.Server, *httptest.Server) {
	t.Helper()
	if cfg.Credentials == nil {
		cfg.Credentials = map[string]string{testKeyID: testSecret}
	}
	srv, err := alisim.New(cfg)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	ts := httptest.NewServer(srv)
	t.Cleanup(ts.Close)
	return srv, ts
}

// newClientMu serialises alikafka.NewClientWithOptions: it lazily fills a
// package-level endpoint map without locking (a data race under -race).
var newClientMu sync.Mutex

// newClient returns a real SDK client pointed at ts.
func newClient(t *testing.T, ts *httptest.Server, keyID, secret string) *alikafka.Client {
	t.Helper()
	cfg := sdk.NewConfig().WithScheme("HTTP")
	newClientMu.Lock()
	client, err := alikafka.NewClientWithOptions(alisim.ExampleRegion, cfg, credentials.NewAccessKeyCredential(keyID, secret))
	newClientMu.Unlock()
	if err != nil {
		t.Fatalf("NewClientWithOptions: %v", err)
	}
	client.Domain = strings.TrimPrefix(ts.URL, "http://")
	client.SetReadTimeout(5 * time.Second)
	client.SetConnectTimeout(2 * time.Second)
	return client
}

func progressRequest(region, instance, group string, hide bool) *alikafka.GetConsumerProgressRequest {
	req := alikafka.CreateGetConsumerProgressRequest()
	req.RegionId = region
	req.InstanceId = instance
	req.ConsumerId = group
	if hide {
		req.QueryParams["HideLastTimestamp"] = "true"
	}
	return req
}

// getProgress calls GetConsumerProgress through the SDK and turns an SDK
// panic into a returned value.
func getProgress(client *alikafka.Client, req *alikafka.GetConsumerProgressRequest) (resp *alikafka.GetConsumerProgressResponse, err error, panicked any) {
	defer func() { panicked = recover() }()
	resp, err = client.GetConsumerProgress(req)
	return resp, err, nil
}

func exampleProgress(t *testing.T, client *alikafka.Client) (*alikafka.GetConsumerProgressResponse, error) {
	t.Helper()
	resp, err, p := getProgress(client, progressRequest(alisim.ExampleRegion, alisim.ExampleInstance, alisim.ExampleGroup, false))
	if p != nil {
		t.Fatalf("SDK panicked: %v", p)
	}
	return resp, err
}

// serverError unwraps the SDK's server error.
func serverError(t *testing.T, err error) *sdkerrors.ServerError {
	t.Helper()
	var se *sdkerrors.ServerError
	if !errors.As(err, &se) {
		t.Fatalf("want *errors.ServerError, got %T: %v", err, err)
	}
	return se
}
