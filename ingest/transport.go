package ingest

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"time"
)

// maxCapturedBody bounds how much of a response body a call keeps for error
// reporting.
const maxCapturedBody = 64 << 10

// newBaseTransport returns the HTTP transport every SDK client of a recorder
// shares. Idle connections are closed after 5s, before the server resets
// them (it does so after about 10s idle). TLS verification stays on.
func newBaseTransport() *http.Transport {
	return &http.Transport{
		Proxy:                 http.ProxyFromEnvironment,
		MaxIdleConnsPerHost:   16,
		IdleConnTimeout:       5 * time.Second,
		TLSHandshakeTimeout:   10 * time.Second,
		ExpectContinueTimeout: time.Second,
		ForceAttemptHTTP2:     true,
	}
}

// callTransport is the per-client RoundTripper the SDK sees. Because it is
// not an *http.Transport, the SDK cannot rewrite its dialer or TLS settings
// (aliyun/alibaba-cloud-sdk-go#538). It attaches the current call's context,
// so a poll can be cancelled and bounded, and it keeps the status and the
// first bytes of the last response, so a response that makes the SDK panic
// can still be reported.
//
// A callTransport belongs to one SDK client, which one goroutine uses at a
// time, so its fields need no lock.
type callTransport struct {
	base   http.RoundTripper
	ctx    context.Context
	status int
	body   bytes.Buffer
}

// RoundTrip implements http.RoundTripper.
func (t *callTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	if t.ctx != nil {
		req = req.WithContext(t.ctx)
	}
	resp, err := t.base.RoundTrip(req)
	if err != nil {
		return nil, err
	}
	t.status = resp.StatusCode
	resp.Body = &capturingBody{ReadCloser: resp.Body, buf: &t.body}
	return resp, nil
}

// begin readies the transport for one call.
func (t *callTransport) begin(ctx context.Context) {
	t.ctx = ctx
	t.status = 0
	t.body.Reset()
}

// end detaches the call's context.
func (t *callTransport) end() { t.ctx = nil }

type capturingBody struct {
	io.ReadCloser
	buf *bytes.Buffer
}

func (b *capturingBody) Read(p []byte) (int, error) {
	n, err := b.ReadCloser.Read(p)
	if room := maxCapturedBody - b.buf.Len(); room > 0 && n > 0 {
		b.buf.Write(p[:min(n, room)])
	}
	return n, err
}
