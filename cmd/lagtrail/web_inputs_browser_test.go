package main

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/lagtrail/lagtrail/internal/strictyaml"
	"github.com/lagtrail/lagtrail/internal/webui"
	"github.com/lagtrail/lagtrail/query"
)

// webTimeInputs are the range bounds and durations TestWebTimeInputs reads
// both ways; webTimeInputTable adds their combinations.
var webTimeInputs = []string{
	// Absolute times.
	"2026-12-05", "2024-02-29", "2026-02-29", "2026-13-01", "2026-12-32", "2026-1-05", "0001-01-01", "9999-12-31",
	"2026-12-05T10:00:00Z", "2026-12-05T10:00:00.123456789Z", "2026-12-05T10:00:00.1Z", "2026-12-05T10:00:00,5Z",
	"2026-12-05T10:00:00.Z", "2026-12-05T10:00:00+08:00", "2026-12-05T10:00:00-05:30", "2026-12-05T1:00:00Z",
	"2026-12-05T24:00:00Z", "2026-12-05T10:60:00Z", "2026-12-05T10:00:60Z", "2026-12-05t10:00:00Z",
	"2026-12-05T10:00:00z", "2026-12-05T10:00:00", "2026-12-05 10:00:00Z", "2026-12-05T10:00:00.1234567891234Z",
	// Now and relative times; durations.
	"now", "NOW", "", " ", "-", "+", "-0", "0", "+0", "-24h", "-90m", "+15m", "-7d", "-2w", "-1d12h", "-1w3d",
	"-1w3d2h10m", "-1d1w", "-3d2w", "-1.5d", "-1.5h", "-.5h", "-1.h", "-.h", "-1h30m15s", "-250ms", "-1µs", "-1μs",
	"-1us", "-1ns", "-1x", "-1", "-h", "-d", "-w", "-0d", "-0w", "-00d", "-1d-1h", "-1d+1h", "--1h", "-+1h",
	"-1h -1m", " -24h ", "\t-24h\n", "\u00a0-24h", "\ufeff-24h", "\u0085-24h", "2w", "1d12h", "90m", "1w",
	"14285w", "14286w", "100000d", "100001d", "14285w5d", "14285w6d", "-100000d", "2562047h", "2562048h",
	"9223372036854775807ns", "9223372036854775808ns", "-9223372036854775808ns", "99999999999999999999d",
	"1d9223372036854775807ns", "0.0000000001s", "1.0000000009s", "5d2h10m", "1D", "1W", "1d ", "1 d",
}

// webTimeInputTable is webTimeInputs, then signed combinations of weeks,
// days and a Go duration.
func webTimeInputTable() []string {
	out := append([]string(nil), webTimeInputs...)
	for _, sign := range []string{"", "-", "+"} {
		for _, w := range []string{"", "0w", "1w", "2w"} {
			for _, d := range []string{"", "0d", "1d", "3d"} {
				for _, rest := range []string{"", "12h", "90m", "1.5h", "30s", "h", "1h30m", ".5s"} {
					out = append(out, sign+w+d+rest)
				}
			}
		}
	}
	return out
}

// TestWebTimeInputs checks the web pages' reading of times and durations
// (resolveTime and durationNs of assets/common.js) against the Go parsers
// the CLI and API use (query.ParseTime and strictyaml.ParseDuration), input
// by input, in headless Chromium: the same instant (to the millisecond),
// the same duration (to the nanosecond), or an error both ways. It also
// checks that the pages' error message lists the forms. It needs Chromium,
// not a database.
func TestWebTimeInputs(t *testing.T) {
	exe := requireChromium(t)
	mux := http.NewServeMux()
	mux.Handle("/assets/", webui.Handler())
	mux.HandleFunc("/parse-test", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		fmt.Fprint(w, `<!doctype html><meta charset="utf-8"><title>parse</title><link rel="icon" href="data:,">
<script type="module">import * as c from '/assets/common.js'; window.common = c; window.ready = true;</script>`)
	})
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	b := newWebBrowser(t, exe)
	b.do(t, "open the test page", chromedp.Navigate(srv.URL+"/parse-test"))
	b.waitFor(t, "common.js", `window.ready === true`)

	now := time.Date(2026, 12, 7, 12, 34, 56, 789_000_000, time.UTC)
	inputs := webTimeInputTable()
	in, err := json.Marshal(inputs)
	if err != nil {
		t.Fatal(err)
	}
	type parsed struct {
		T *int64  `json:"t"` // ms since the epoch; nil for an error
		D *string `json:"d"` // nanoseconds; nil for an error
	}
	got := webEval[[]parsed](t, b, fmt.Sprintf(`%s.map(s => {
		const t = window.common.resolveTime(s, %d), d = window.common.durationNs(s);
		return {t: Number.isFinite(t) ? t : null, d: d === null ? null : String(d)};
	})`, in, now.UnixMilli()))
	if len(got) != len(inputs) {
		t.Fatalf("the page read %d of %d inputs", len(got), len(inputs))
	}
	show := func(p *int64) string {
		if p == nil {
			return "error"
		}
		return time.UnixMilli(*p).UTC().Format(time.RFC3339Nano)
	}
	showD := func(p *string) string {
		if p == nil {
			return "error"
		}
		return *p + "ns"
	}
	bad := 0
	for i, s := range inputs {
		var wantT *int64
		if tm, err := query.ParseTime(s, now); err == nil {
			ms := tm.UnixMilli()
			wantT = &ms
		}
		var wantD *string
		if d, err := strictyaml.ParseDuration(s); err == nil {
			ns := fmt.Sprint(int64(d))
			wantD = &ns
		}
		if show(got[i].T) != show(wantT) {
			bad++
			t.Errorf("time %q: the page reads %s, query.ParseTime %s", s, show(got[i].T), show(wantT))
		}
		if showD(got[i].D) != showD(wantD) {
			bad++
			t.Errorf("duration %q: the page reads %s, strictyaml.ParseDuration %s", s, showD(got[i].D), showD(wantD))
		}
	}
	t.Logf("%d inputs read alike by the page and the Go parsers, %d differences", len(inputs), bad)

	// A bad bound's message lists the forms the API takes.
	msg := webEval[string](t, b, `(() => { try { window.common.alignedRange('2026-13-01', 'now'); return ''; } catch (e) { return e.message; } })()`)
	for _, want := range []string{`bad "from" time "2026-13-01"`, "RFC3339", "a date (2006-01-02, midnight UTC)", "now", "-2w", "-1d12h"} {
		if !strings.Contains(msg, want) {
			t.Errorf("the page's error %q does not say %q", msg, want)
		}
	}
	// The forms new to the page resolve to the API's buckets.
	r := webEval[map[string]float64](t, b, fmt.Sprintf(`window.common.alignedRange('2026-12-05', '-1d12h', %d)`, now.UnixMilli()))
	if from := time.UnixMilli(int64(r["rawFrom"])).UTC(); !from.Equal(time.Date(2026, 12, 5, 0, 0, 0, 0, time.UTC)) {
		t.Errorf("alignedRange('2026-12-05', ...) starts at %s, want midnight UTC", from)
	}
	if to := time.UnixMilli(int64(r["rawTo"])).UTC(); !to.Equal(now.Add(-36 * time.Hour).Truncate(time.Millisecond)) {
		t.Errorf("alignedRange(..., '-1d12h') ends at %s, want %s", to, now.Add(-36*time.Hour))
	}
	b.checkConsole(t)
}
