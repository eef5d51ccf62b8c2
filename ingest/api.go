package ingest

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/aliyun/alibaba-cloud-sdk-go/sdk"
	"github.com/aliyun/alibaba-cloud-sdk-go/sdk/requests"
	"github.com/aliyun/alibaba-cloud-sdk-go/services/alikafka"
	"golang.org/x/time/rate"
)

// instanceRunning is GetInstanceList's ServiceStatus of a running instance.
const instanceRunning = 5

// consumerListPageSize is the page size used with GetConsumerList.
const consumerListPageSize = 100

// maxConsumerListPages bounds paging (100,000 groups), so an absurd Total
// cannot keep discovery calling for ever.
const maxConsumerListPages = 1000

// regionAPI calls the alikafka API of one region. It owns a fixed set of SDK
// clients, each used by one goroutine at a time because the SDK's client is
// not safe for concurrent use, and one rate limiter per API, since the quota
// is per region and per API.
type regionAPI struct {
	region    string
	timeout   time.Duration
	hide      bool
	clients   chan *sdkClient
	progress  *callLimiter
	consumers *callLimiter
	instances *callLimiter
}

// newClientMu serialises alikafka.NewClientWithOptions.
var newClientMu sync.Mutex

type sdkClient struct {
	c  *alikafka.Client
	tr *callTransport
}

func newRegionAPI(region string, cfg Config, creds *sharedCredentials, base http.RoundTripper) (*regionAPI, error) {
	a := &regionAPI{
		region:    region,
		timeout:   cfg.PollTimeout,
		hide:      cfg.Alibaba.HideLastTimestamp,
		clients:   make(chan *sdkClient, cfg.Alibaba.ClientsPerRegion),
		progress:  newLimiter(cfg.Alibaba.RequestsPerSecond),
		consumers: newLimiter(cfg.Alibaba.RequestsPerSecond),
		instances: newLimiter(cfg.Alibaba.RequestsPerSecond),
	}
	for range cfg.Alibaba.ClientsPerRegion {
		tr := &callTransport{base: base}
		sc := sdk.NewConfig().WithScheme(strings.ToUpper(cfg.Alibaba.Scheme)).WithAutoRetry(false)
		sc.Transport = tr
		// NewClientWithOptions writes a package-level endpoint map of the
		// SDK without a lock, so client creation is serialised process-wide.
		newClientMu.Lock()
		c, err := alikafka.NewClientWithOptions(region, sc, creds)
		newClientMu.Unlock()
		if err != nil {
			return nil, fmt.Errorf("new alikafka client for %s: %w", region, err)
		}
		// Timeouts are set on the client, never per request: a per-request
		// timeout would stick to the client anyway.
		c.SetReadTimeout(cfg.PollTimeout)
		c.SetConnectTimeout(min(cfg.PollTimeout, 10*time.Second))
		if cfg.Alibaba.Endpoint != "" {
			c.Domain = cfg.Alibaba.Endpoint
		}
		a.clients <- &sdkClient{c: c, tr: tr}
	}
	return a, nil
}

// newLimiter returns the limiter of one API for a recorder alone with the
// quota rps (see share).
func newLimiter(rps float64) *callLimiter {
	return newCallLimiter(share(rps, 1))
}

// share is the rate each of members recorders may call at so that, together,
// they make at most rps calls in any one-second window. A token bucket of
// rate r and burst 1 allows r+1 calls in such a window (the token it holds,
// then r more), so each gets (rps-members)/members; never less than half
// its even share, which only matters when members approaches rps.
func share(rps float64, members int) rate.Limit {
	n := float64(max(members, 1))
	return rate.Limit(max((rps-n)/n, rps/(2*n)))
}

// call runs fn with a borrowed client once the limiter allows, bounded by the
// poll timeout. It never panics: a panic inside the SDK is recovered and
// reported from the captured response. It returns the time the request was
// sent.
//
// Cancelling ctx stops the wait for the limiter or a client (sent is then
// zero: nothing was sent), but not a call already sent, which finishes or
// times out on its own so that a stopping recorder completes its in-flight
// polls.
func (a *regionAPI) call(ctx context.Context, lim *callLimiter, fn func(*alikafka.Client) error) (sent time.Time, err error) {
	// The client first, then the limiter: a call leaves as soon as the
	// limiter lets it. The other way round, calls admitted while every
	// client was busy would queue for one and leave together when the
	// stalled calls return, far over the limit.
	var c *sdkClient
	select {
	case c = <-a.clients:
	case <-ctx.Done():
		return time.Time{}, errNotSent
	}
	defer func() { a.clients <- c }()
	sent, err = lim.Wait(ctx)
	if err != nil {
		return time.Time{}, errNotSent
	}

	callCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), a.timeout)
	defer cancel()
	c.tr.begin(callCtx)
	defer c.tr.end()
	defer func() {
		if r := recover(); r != nil {
			err = fromPanic(r, c.tr.status, c.tr.body.Bytes())
		}
	}()
	if err := fn(c.c); err != nil {
		return sent, classify(err, callCtx)
	}
	return sent, nil
}

// checkSuccess turns a 2xx body with Success=false, which the SDK does not
// report as an error, into an *APIError.
func checkSuccess(success bool, code int, message, requestID string) error {
	if success {
		return nil
	}
	if code == 0 && message == "" {
		return &APIError{Code: CodeMalformedResponse, Message: "response has neither Success=true nor an error", RequestID: requestID}
	}
	return &APIError{Code: codeFromBody(code, message), Message: message, RequestID: requestID}
}

// consumerProgress calls GetConsumerProgress for one group.
func (a *regionAPI) consumerProgress(ctx context.Context, instance, group string) (*alikafka.GetConsumerProgressResponse, time.Time, error) {
	var resp *alikafka.GetConsumerProgressResponse
	sent, err := a.call(ctx, a.progress, func(c *alikafka.Client) error {
		req := alikafka.CreateGetConsumerProgressRequest()
		req.RegionId = a.region
		req.InstanceId = instance
		req.ConsumerId = group
		if a.hide {
			// The SDK has no field for it.
			req.QueryParams["HideLastTimestamp"] = "true"
		}
		r, err := c.GetConsumerProgress(req)
		if err != nil {
			return err
		}
		if err := checkSuccess(r.Success, r.Code, r.Message, r.RequestId); err != nil {
			return err
		}
		resp = r
		return nil
	})
	return resp, sent, err
}

// consumerGroups lists every group of an instance with GetConsumerList,
// page by page until Total is reached.
func (a *regionAPI) consumerGroups(ctx context.Context, instance string) ([]string, error) {
	var groups []string
	seen := map[string]bool{}
	for page := 1; ; page++ {
		var total int64
		var got int
		_, err := a.call(ctx, a.consumers, func(c *alikafka.Client) error {
			req := alikafka.CreateGetConsumerListRequest()
			req.RegionId = a.region
			req.InstanceId = instance
			req.CurrentPage = requests.NewInteger(page)
			req.PageSize = requests.NewInteger(consumerListPageSize)
			r, err := c.GetConsumerList(req)
			if err != nil {
				return err
			}
			if err := checkSuccess(r.Success, r.Code, r.Message, r.RequestId); err != nil {
				return err
			}
			total = r.Total
			got = len(r.ConsumerList.ConsumerVO)
			for _, vo := range r.ConsumerList.ConsumerVO {
				if vo.ConsumerId != "" && !seen[vo.ConsumerId] {
					seen[vo.ConsumerId] = true
					groups = append(groups, vo.ConsumerId)
				}
			}
			return nil
		})
		if err != nil {
			return nil, fmt.Errorf("list consumer groups of %s page %d: %w", instance, page, err)
		}
		if got == 0 || int64(page)*consumerListPageSize >= total {
			return groups, nil
		}
		if page >= maxConsumerListPages {
			return nil, &APIError{Code: CodeInvalidResponse, Message: fmt.Sprintf("GetConsumerList of %s reports Total %d, more than %d pages; refusing to page further", instance, total, maxConsumerListPages)}
		}
	}
}

// runningInstances lists the running instances of the region with
// GetInstanceList.
func (a *regionAPI) runningInstances(ctx context.Context) ([]string, error) {
	var ids []string
	_, err := a.call(ctx, a.instances, func(c *alikafka.Client) error {
		req := alikafka.CreateGetInstanceListRequest()
		req.RegionId = a.region
		r, err := c.GetInstanceList(req)
		if err != nil {
			return err
		}
		if err := checkSuccess(r.Success, r.Code, r.Message, r.RequestId); err != nil {
			return err
		}
		for _, vo := range r.InstanceList.InstanceVO {
			if vo.ServiceStatus == instanceRunning && vo.InstanceId != "" {
				ids = append(ids, vo.InstanceId)
			}
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("list instances of %s: %w", a.region, err)
	}
	return ids, nil
}
