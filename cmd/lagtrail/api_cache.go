package main

import (
	"bytes"
	"context"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"golang.org/x/sync/singleflight"
)

// apiCache holds recent answers of endpoints with a cacheFor, by their
// command arguments.
type apiCache struct {
	group singleflight.Group
	mu    sync.Mutex
	items map[string]cachedAnswer
}

// cachedAnswer is one computed answer: the command's output, or the error
// response it ended in.
type cachedAnswer struct {
	at          time.Time
	body        []byte
	status      int
	msg, param  string
	computedFor time.Duration
	contentType string
}

// serveCached answers from an answer computed less than ep.cacheFor ago
// for the same arguments, or computes one (once for all concurrent
// requests) and keeps it. The response says when it was computed
// (Last-Modified, Age).
func (a *apiServer) serveCached(w http.ResponseWriter, ep apiEndpoint, args []string, format string) {
	key := strings.Join(args, "\x00")
	now := time.Now()
	a.cache.mu.Lock()
	ans, ok := a.cache.items[key]
	a.cache.mu.Unlock()
	if !ok || now.Sub(ans.at) >= ep.cacheFor {
		v, _, _ := a.cache.group.Do(key, func() (any, error) {
			ans := a.compute(ep, args, format)
			a.cache.mu.Lock()
			if a.cache.items == nil {
				a.cache.items = map[string]cachedAnswer{}
			}
			for k, old := range a.cache.items {
				if time.Since(old.at) >= ep.cacheFor {
					delete(a.cache.items, k)
				}
			}
			if ans.status == http.StatusOK {
				a.cache.items[key] = ans
			}
			a.cache.mu.Unlock()
			return ans, nil
		})
		ans = v.(cachedAnswer)
	}
	if ans.status != http.StatusOK {
		writeAPIError(w, ans.status, ans.msg, ans.param)
		return
	}
	h := w.Header()
	setAPIHeaders(h, ans.contentType)
	h.Set("Last-Modified", ans.at.UTC().Format(http.TimeFormat))
	h.Set("Age", strconv.Itoa(int(time.Since(ans.at).Seconds())))
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(ans.body)
}

// compute runs ep's command into a buffer, detached from any one request.
func (a *apiServer) compute(ep apiEndpoint, args []string, format string) cachedAnswer {
	began := time.Now()
	var buf bytes.Buffer
	status, msg, param, err := a.run(context.Background(), ep, args, &buf)
	if err != nil {
		return cachedAnswer{at: began, status: status, msg: msg, param: param}
	}
	return cachedAnswer{at: began, body: buf.Bytes(), status: http.StatusOK, contentType: contentTypes[format]}
}
