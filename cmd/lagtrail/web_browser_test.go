package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"math"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/chromedp"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/lagtrail/lagtrail/internal/pgtest"
	"github.com/lagtrail/lagtrail/internal/scenario"
	"github.com/lagtrail/lagtrail/internal/scenariotest"
	"github.com/lagtrail/lagtrail/store"
)

// The web test's environment.
const (
	// envRequireBrowser, when "1", turns a missing Chromium from a skip into
	// a failure.
	envRequireBrowser = "LAGTRAIL_REQUIRE_BROWSER"
	// envTestArtifacts names the directory the screenshots go to; the
	// default is lagtrail-test-artifacts under os.TempDir().
	envTestArtifacts = "LAGTRAIL_TEST_ARTIFACTS"
	// chromiumPath is Debian's chromium package.
	chromiumPath = "/usr/bin/chromium"
)

// webWait bounds each wait for the page.
const webWait = 60 * time.Second

// webStatusOrder is STATUS_ORDER of assets/common.js: the status chart's y
// values are indexes into it.
var webStatusOrder = []string{"NODATA", "OK", "WARN", "REWIND", "STALL", "STOP"}

// TestWebUI drives the pages in headless Chromium against the real handler
// on a database holding the incident scenario up to now: the fleet, a
// group's charts over the default range, a preset, a drag-zoom, Back and
// Forward, and the incident report; and checks that every point each chart
// drew is the API's value for the same request. It saves screenshots.
func TestWebUI(t *testing.T) {
	exe := requireChromium(t)
	began := time.Now()
	h := webHistory(t)
	t.Logf("history: %s to %s, stall at %s, written in %s", h.from.Format(time.RFC3339), h.to.Format(time.RFC3339),
		h.stall.Format(time.RFC3339), time.Since(began).Round(time.Millisecond))
	srv := webServer(t, h.url, "")
	b := newWebBrowser(t, exe)
	shots := artifactDir(t)

	t.Run("fleet", func(t *testing.T) { webFleet(t, b, srv, h, shots) })
	t.Run("fleet-2000", func(t *testing.T) { webFleetScale(t, b, srv, shots) })
	t.Run("group", func(t *testing.T) { webGroup(t, b, srv, h, shots) })
	t.Run("incident", func(t *testing.T) { webIncident(t, b, srv, h, shots) })
	t.Run("token", func(t *testing.T) { webToken(t, b, h, shots) })
	b.checkConsole(t)
	t.Logf("TestWebUI took %s", time.Since(began).Round(time.Millisecond))
}

// webHist is the database of TestWebUI.
type webHist struct {
	url      string
	model    *scenario.Model
	from, to time.Time
	// stall is when payments-ledger's consumers stall for 45 minutes.
	stall time.Time
}

// webStallAfter is when the incident scenario stalls payments-ledger, from
// its start: 02:10 on day 5.
const webStallAfter = 5*24*time.Hour + 2*time.Hour + 10*time.Minute

// webHistory writes the incident scenario's history from 2 hours before
// payments-ledger's stall, at 02:10 UTC at least 3 hours ago, up to now:
// 5 to 29 hours, so that the fleet is live and the 7-day range holds the
// stall.
//
// The stall is at 02:10 UTC whenever the test runs. The scenario is
// written for a start at midnight UTC: its daily cycles follow the hour of
// day in UTC (peak_hour), not the time since its start, and it stalls
// payments-ledger at 02:10, at night, when payments come in at about half
// their mean rate; the backlog of the 45 minutes (175,000 messages) then
// drains 56 minutes after the stall began. Started at another time of day,
// the stall falls at another hour, and the backlog with it: at 09:45 UTC
// (a run at 12:45) payments come 2.5 times as fast, the backlog is 440,000
// messages, and it drains only 84 minutes after the stall began (90 near
// the 13:00 peak), past the end of the zoomed range whose incident report
// webIncident checks (75 minutes after it). So the model starts at the
// midnight UTC 5d2h10m before the latest 02:10 at least 3 hours ago: the
// offsets of payments-ledger, noise included (drawn per minute from the
// start), are the same at every run; only the polls' request times (tens
// to hundreds of milliseconds) and rare faults, drawn from the clock,
// differ. The stall's age, and so the history's length, depends on the
// time of day; what the test checks does not.
func webHistory(t *testing.T) webHist {
	t.Helper()
	now := time.Now().UTC()
	start := now.Add(-3*time.Hour - webStallAfter).Truncate(24 * time.Hour)
	stall := start.Add(webStallAfter)
	m := scenariotest.Model(t, "incident", start)
	h := webHist{url: pgtest.URL(t), model: m, from: stall.Add(-2 * time.Hour), to: now, stall: stall}
	ctx := t.Context()
	st, err := store.Open(ctx, store.Config{DatabaseURL: h.url}, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	if _, err := m.WriteHistory(ctx, st, h.from, h.to, nil); err != nil {
		t.Fatalf("write history: %v", err)
	}
	return h
}

// webServer serves the real handler on st at a loopback port.
func webServer(t *testing.T, dbURL, token string) *httptest.Server {
	t.Helper()
	st, err := store.Open(t.Context(), store.Config{DatabaseURL: dbURL}, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(st.Close)
	h, err := newHTTPHandler(httpConfig{
		st: st, log: slog.New(slog.DiscardHandler), reg: prometheus.NewRegistry(), token: token,
		ready:  func(context.Context) string { return "" },
		getenv: func(string) string { return "" },
	})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	return srv
}

// requireChromium returns Chromium's path, or skips the test without it
// (fails it with LAGTRAIL_REQUIRE_BROWSER=1).
func requireChromium(t *testing.T) string {
	t.Helper()
	if _, err := os.Stat(chromiumPath); err != nil {
		msg := fmt.Sprintf("no Chromium at %s (%v): install Debian's chromium package (apt-get install -y chromium)", chromiumPath, err)
		if os.Getenv(envRequireBrowser) == "1" {
			t.Fatalf("%s; %s=1 is set, so this is a failure, not a skip", msg, envRequireBrowser)
		}
		t.Skipf("%s; set %s=1 to make this a failure instead of a skip", msg, envRequireBrowser)
	}
	return chromiumPath
}

// artifactDir is where the screenshots go.
func artifactDir(t *testing.T) string {
	t.Helper()
	dir := os.Getenv(envTestArtifacts)
	if dir == "" {
		dir = filepath.Join(os.TempDir(), "lagtrail-test-artifacts")
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	return dir
}

// webBrowser is one headless Chromium with one tab, and the console
// messages of that tab.
type webBrowser struct {
	ctx context.Context

	mu      sync.Mutex
	console []chromedp.ConsoleMessage
	// allowed are substrings of console errors a subtest expects.
	allowed []string
}

// newWebBrowser starts Chromium with a fresh profile; it is stopped at the
// test's cleanup.
func newWebBrowser(t *testing.T, exe string) *webBrowser {
	t.Helper()
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(exe),
		chromedp.Headless,
		chromedp.NoSandbox, // the tests run as root
		chromedp.DisableGPU,
		chromedp.NoFirstRun,
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.UserDataDir(t.TempDir()),
		chromedp.WindowSize(1400, 1000),
	)
	actx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancel := chromedp.NewContext(actx)
	// Cleanups run last first: the browser ends before its profile goes.
	t.Cleanup(cancelAlloc)
	t.Cleanup(cancel)
	if err := chromedp.Do(ctx); err != nil {
		t.Fatalf("start %s: %v", exe, err)
	}
	b := &webBrowser{ctx: ctx}
	b.watchConsole()
	return b
}

// watchConsole collects the tab's console messages.
func (b *webBrowser) watchConsole() {
	messages := chromedp.Console(b.ctx)
	go func() {
		for m, err := range messages {
			if err != nil {
				return
			}
			b.mu.Lock()
			b.console = append(b.console, m)
			b.mu.Unlock()
		}
	}()
}

// newTab opens another tab in the same browser, closed at the test's
// cleanup, where its console is checked.
func (b *webBrowser) newTab(t *testing.T) *webBrowser {
	t.Helper()
	ctx, cancel := chromedp.NewContext(b.ctx)
	t.Cleanup(cancel)
	if err := chromedp.Do(ctx); err != nil {
		t.Fatalf("open a tab: %v", err)
	}
	tab := &webBrowser{ctx: ctx}
	tab.watchConsole()
	t.Cleanup(func() { tab.checkConsole(t) })
	return tab
}

// checkConsole fails the test on any exception or error the pages wrote
// to the console (a CSP violation is one), but those allowed.
func (b *webBrowser) checkConsole(t *testing.T) {
	t.Helper()
	b.mu.Lock()
	defer b.mu.Unlock()
	for _, m := range b.console {
		if m.Type != chromedp.ConsoleError && m.Type != chromedp.ConsoleException {
			continue
		}
		if slices.ContainsFunc(b.allowed, func(s string) bool { return strings.Contains(m.Text, s) }) {
			continue
		}
		t.Errorf("browser console: %s (%s:%d)", m, m.URL, m.Line+1)
	}
}

// do runs actions, failing the test on error.
func (b *webBrowser) do(t *testing.T, what string, steps ...chromedp.Action[chromedp.Void]) {
	t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, webWait)
	defer cancel()
	if err := chromedp.Do(ctx, steps...); err != nil {
		t.Fatalf("%s: %v", what, err)
	}
}

// eval evaluates a JavaScript expression into T.
func webEval[T any](t *testing.T, b *webBrowser, expr string) T {
	t.Helper()
	var v T
	err := b.retry(webWait, func(ctx context.Context) error {
		var err error
		v, err = chromedp.Run(ctx, chromedp.Evaluate[T](expr))
		return err
	})
	if err != nil {
		t.Fatalf("evaluate %s: %v", expr, err)
	}
	return v
}

// waitFor waits until the expression is truthy.
func (b *webBrowser) waitFor(t *testing.T, what, expr string) {
	t.Helper()
	err := b.retry(webWait, func(ctx context.Context) error {
		_, err := chromedp.Run(ctx, chromedp.Poll[chromedp.Void](expr, chromedp.WithPollingInterval(50*time.Millisecond)))
		return err
	})
	if err != nil {
		errs := webEval[string](t, b, `(document.getElementById('error') || {}).textContent || ''`)
		t.Fatalf("waiting for %s (%s): %v; page error banner: %q", what, expr, err, errs)
	}
}

// retry runs f until it succeeds or wait has passed, and returns its last
// error. A page that navigates (a reload, Back, a link) destroys the
// JavaScript context an evaluation or a poll runs in, and the browser
// answers with a protocol error: on a busy machine a wait can straddle a
// navigation, so every failure short of the deadline is tried again. A
// wait that cannot succeed still fails, at the deadline, with its error.
func (b *webBrowser) retry(wait time.Duration, f func(ctx context.Context) error) error {
	ctx, cancel := context.WithTimeout(b.ctx, wait)
	defer cancel()
	for {
		err := f(ctx)
		if err == nil || ctx.Err() != nil || b.ctx.Err() != nil {
			return err
		}
		select {
		case <-ctx.Done():
			return err
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// loaded returns the page's count of finished renders.
func (b *webBrowser) loaded(t *testing.T) int {
	t.Helper()
	return webEval[int](t, b, `(window.lagtrail && window.lagtrail.loaded) || 0`)
}

// waitLoaded waits until the page has finished more than n renders and is
// not loading.
func (b *webBrowser) waitLoaded(t *testing.T, what string, n int) {
	t.Helper()
	b.waitFor(t, what, fmt.Sprintf(`window.lagtrail && window.lagtrail.loaded > %d && !window.lagtrail.busy`, n))
}

// screenshot saves the page as a PNG.
func (b *webBrowser) screenshot(t *testing.T, dir, name string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, webWait)
	defer cancel()
	png, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
	if err != nil {
		t.Fatalf("screenshot %s: %v", name, err)
	}
	path := filepath.Join(dir, name+".png")
	if err := os.WriteFile(path, png, 0o644); err != nil {
		t.Fatal(err)
	}
	t.Logf("screenshot: %s", path)
}

// webFleet checks the fleet table against the scenario and the API, and
// its sorting and filter.
func webFleet(t *testing.T, b *webBrowser, srv *httptest.Server, h webHist, shots string) {
	b.do(t, "open the fleet", chromedp.Navigate(srv.URL+"/"))
	b.waitLoaded(t, "the fleet", 0)

	type row struct {
		Group, Region, Instance, Status, Lag string
	}
	rows := webEval[[]row](t, b, `[...document.querySelectorAll('[data-testid=fleet-row]')].map(tr => ({
		group: tr.dataset.group, region: tr.dataset.region, instance: tr.dataset.instance,
		status: tr.dataset.status, lag: tr.children[2].title}))`)
	var fleet struct {
		Rows []struct {
			Region, Instance, Group, Status string
			Lag                             *int64
		} `json:"rows"`
	}
	webAPI(t, srv.URL+"/api/v1/fleet", "", &fleet)
	want := map[string]string{}
	for _, r := range fleet.Rows {
		lag := ""
		if r.Lag != nil {
			lag = strconv.FormatInt(*r.Lag, 10)
		}
		want[r.Region+"/"+r.Instance+"/"+r.Group] = r.Status + " " + lag
	}
	got := map[string]string{}
	for _, r := range rows {
		got[r.Region+"/"+r.Instance+"/"+r.Group] = r.Status + " " + r.Lag
		if r.Status == "NODATA" {
			t.Errorf("fleet: %s is NODATA: the history runs up to now, so every group should be live", r.Group)
		}
	}
	var groups []string
	for _, g := range h.model.Groups() {
		groups = append(groups, g.Region+"/"+g.InstanceID+"/"+g.Group)
	}
	slices.Sort(groups)
	if keys := slices.Sorted(maps.Keys(got)); !slices.Equal(keys, groups) {
		t.Errorf("fleet rows: got %v, want the scenario's groups %v", keys, groups)
	}
	for k, w := range want {
		if got[k] != w {
			t.Errorf("fleet row %s: page shows status and lag %q, API says %q", k, got[k], w)
		}
	}
	b.screenshot(t, shots, "fleet")

	// Sorting by lag, largest first: the first row has the largest lag.
	b.do(t, "sort by lag", chromedp.Click(chromedp.CSS(`[data-testid=sort-lag]`)))
	first := webEval[string](t, b, `document.querySelector('[data-testid=fleet-row]').dataset.group`)
	var maxGroup string
	var maxLag int64 = -1
	for _, r := range fleet.Rows {
		if r.Lag != nil && *r.Lag > maxLag {
			maxLag, maxGroup = *r.Lag, r.Group
		}
	}
	if first != maxGroup {
		t.Errorf("sorted by lag, the first row is %s; want %s with lag %d", first, maxGroup, maxLag)
	}
	if s := webEval[string](t, b, `location.search`); !strings.Contains(s, "sort=lag") {
		t.Errorf("the address %q does not keep the sort", s)
	}

	// The filter keeps the rows that match every word.
	b.do(t, "filter", chromedp.SendKeys(chromedp.CSS(`[data-testid=filter]`), "payments"))
	b.waitFor(t, "the filter", `document.querySelectorAll('[data-testid=fleet-row]').length === 1`)
	if g := webEval[string](t, b, `document.querySelector('[data-testid=fleet-row]').dataset.group`); g != "payments-ledger" {
		t.Errorf("filtered on payments: the row is %s", g)
	}

	// The table refreshes by itself (every 2s with ?refresh=2), keeping the
	// filter, until paused.
	b.do(t, "open the fleet refreshing every 2s", chromedp.Navigate(srv.URL+"/?refresh=2&q=payments"))
	b.waitLoaded(t, "the fleet", 0)
	b.waitLoaded(t, "an automatic refresh", 1)
	if n := webEval[int](t, b, `document.querySelectorAll('[data-testid=fleet-row]').length`); n != 1 {
		t.Errorf("after a refresh the filtered table has %d rows, want 1", n)
	}
	if u := webEval[string](t, b, `document.querySelector('[data-testid=updated]').textContent`); !strings.Contains(u, "UTC") || !strings.Contains(u, "every 2s") {
		t.Errorf("the table says %q: want when it was updated, in UTC, and how often it refreshes", u)
	}
	b.do(t, "pause", chromedp.Click(chromedp.CSS(`[data-testid=pause]`)))
	if u := webEval[string](t, b, `document.querySelector('[data-testid=updated]').textContent + ' ' +
		document.querySelector('[data-testid=pause]').getAttribute('aria-pressed')`); !strings.Contains(u, "paused") || !strings.HasSuffix(u, "true") {
		t.Errorf("after Pause the table says %q", u)
	}
}

// webFleetScale loads the fleet page with 2,000 synthetic groups, served
// by a stand-in for fetch in the page, and checks that it makes one request,
// lays out only the rows in view, and sorts, scrolls and filters all of
// them quickly.
func webFleetScale(t *testing.T, b *webBrowser, srv *httptest.Server, shots string) {
	const groups = 2000
	tab := b.newTab(t)
	_, err := chromedp.Call(tab.ctx, page.AddScriptToEvaluateOnNewDocument, page.AddScriptToEvaluateOnNewDocumentParams{Source: fmt.Sprintf(`(() => {
		const real = window.fetch;
		window.apiCalls = [];
		window.fetch = (input, init) => {
			const u = new URL(typeof input === 'string' ? input : input.url, location.href);
			if (!u.pathname.startsWith('/api/')) return real(input, init);
			window.apiCalls.push(u.pathname);
			if (u.pathname !== '/api/v1/fleet') return real(input, init);
			const st = ['OK', 'OK', 'OK', 'OK', 'WARN', 'STALL', 'STOP', 'REWIND', 'NODATA'];
			const now = Date.now(), rows = [];
			for (let i = 0; i < %d; i++) rows.push({
				region: 'cn-r' + (i %% 5), instance: 'alikafka_post-' + (i %% 40), group: 'grp-' + String(i).padStart(4, '0'),
				status: st[i %% 9], partitions: '', reason: 'synthetic ' + i, lag: (i * 7919) %% 100003,
				lag_at: new Date(now).toISOString(), time_lag_seconds: i %% 600, time_lag_kind: 'sampled',
				consume_rate: i, produce_rate: i + 1, slope: (i %% 7) - 3, eta_seconds: i %% 3 ? null : i,
				partition_count: 1 + i %% 64, last_poll_at: new Date(now - i * 1000).toISOString(),
				last_poll_ok: i %% 50 !== 0, last_error: i %% 50 ? '' : 'Throttling.User'});
			return Promise.resolve(new Response(JSON.stringify({at: new Date(now).toISOString(), rows}),
				{status: 200, headers: {'Content-Type': 'application/json'}}));
		};
	})()`, groups)})
	if err != nil {
		t.Fatal(err)
	}
	tab.do(t, "open the fleet", chromedp.Navigate(srv.URL+"/"))
	tab.waitLoaded(t, "the fleet of 2,000 groups", 0)
	type stats struct {
		Shown, Rendered int
		Calls           []string
		LoadMs, SortMs  float64
		First, Last     string
	}
	const read = `({shown: window.lagtrail.fleet.shown, rendered: document.querySelectorAll('[data-testid=fleet-row]').length,
		calls: window.apiCalls, loadMs: window.lagtrail.fleet.loadMs,
		first: document.querySelector('[data-testid=fleet-row]').dataset.group,
		last: [...document.querySelectorAll('[data-testid=fleet-row]')].pop().dataset.group})`
	st := webEval[stats](t, tab, read)
	if st.Shown != groups {
		t.Errorf("the fleet shows %d of %d groups", st.Shown, groups)
	}
	if st.Rendered == 0 || st.Rendered > 200 {
		t.Errorf("the table holds %d of the 2,000 rows; want only those in view and a margin", st.Rendered)
	}
	if !slices.Equal(st.Calls, []string{"/api/v1/fleet"}) {
		t.Errorf("the fleet page made the API calls %v; want one to /api/v1/fleet", st.Calls)
	}
	// The rows in the table fill the window.
	if st.Rendered < 1000/40 {
		t.Errorf("the table holds %d rows: too few to fill a 1000px window", st.Rendered)
	}
	tab.screenshot(t, shots, "fleet-2000")

	// Sorting by lag, with the layout it causes.
	sortMs := webEval[float64](t, tab, `(() => { const t0 = performance.now();
		document.querySelector('[data-testid=sort-lag]').click(); document.body.offsetHeight;
		return performance.now() - t0; })()`)
	lags := make([]int, groups)
	for i := range lags {
		lags[i] = (i * 7919) % 100003
	}
	order := make([]int, groups)
	for i := range order {
		order[i] = i
	}
	slices.SortStableFunc(order, func(a, b int) int { return lags[b] - lags[a] })
	if st := webEval[stats](t, tab, read); st.First != fmt.Sprintf("grp-%04d", order[0]) {
		t.Errorf("sorted by lag, the first of 2,000 rows is %s, want grp-%04d", st.First, order[0])
	}
	// Scrolled to the bottom, the table holds the last rows.
	tab.do(t, "scroll to the bottom", chromedp.Evaluate[chromedp.Void](`document.getElementById('wrap').scrollTop = 1e9`))
	wantLast := fmt.Sprintf("grp-%04d", order[groups-1])
	tab.waitFor(t, "the last rows", fmt.Sprintf(`[...document.querySelectorAll('[data-testid=fleet-row]')].pop().dataset.group === %q`, wantLast))
	if st := webEval[stats](t, tab, read); st.Rendered > 200 {
		t.Errorf("scrolled to the bottom, the table holds %d rows", st.Rendered)
	}

	tab.do(t, "filter", chromedp.SendKeys(chromedp.CSS(`[data-testid=filter]`), "status:STOP cn-r1"))
	tab.waitFor(t, "the filter", `window.lagtrail.fleet.filter === 'status:STOP cn-r1'`)
	filtered := webEval[int](t, tab, `document.querySelectorAll('[data-testid=fleet-row]').length`)
	want := 0
	for i := range groups {
		if i%9 == 6 && i%5 == 1 {
			want++
		}
	}
	if filtered != want {
		t.Errorf("filtered on status:STOP cn-r1, %d rows show, want %d", filtered, want)
	}
	// Timed for the log only: the machines are shared, and what keeps the
	// page fast (only the rows in view are in the table) is checked above.
	t.Logf("2,000 groups: built and rendered in %.0f ms; sorted and laid out in %.0f ms; %d rows in the table", st.LoadMs, sortMs, st.Rendered)
}

// webGroup opens payments-ledger from the fleet and checks its charts over
// the default range, the 6h preset, a drag-zoom onto the stall, Back and
// Forward.
func webGroup(t *testing.T, b *webBrowser, srv *httptest.Server, h webHist, shots string) {
	b.do(t, "click payments-ledger",
		chromedp.Click(chromedp.CSS(`tr[data-group="payments-ledger"] a[data-testid=group-link]`)),
		chromedp.WaitVisible(chromedp.CSS(`[data-testid=chart-lag] canvas`)))
	b.waitLoaded(t, "the group view", 0)
	loc := webEval[string](t, b, `location.pathname + location.search`)
	if !strings.HasPrefix(loc, "/group?") || !strings.Contains(loc, "group=payments-ledger") {
		t.Fatalf("after the click the page is %s", loc)
	}
	c := checkWebGroupCharts(t, b, srv, h, "the default range (24h)", 2*time.Minute)
	// Widened to whole buckets: at most a step more at each end.
	if span := c.to.Sub(c.from); span < 24*time.Hour || span > 24*time.Hour+4*time.Minute {
		t.Errorf("default range: the charts span %s, want 24h widened to whole 2m buckets", span)
	}
	b.screenshot(t, shots, "group-24h")

	// A preset.
	n := b.loaded(t)
	b.do(t, "click 6h", chromedp.Click(chromedp.CSS(`[data-testid=range-6h]`)))
	b.waitLoaded(t, "the 6h range", n)
	if s := webEval[string](t, b, `location.search`); !strings.Contains(s, "from=-6h") || !strings.Contains(s, "to=now") {
		t.Errorf("after the 6h preset the address is %q", s)
	}
	c = checkWebGroupCharts(t, b, srv, h, "the 6h preset", time.Minute)
	if span := c.to.Sub(c.from); span < 6*time.Hour || span > 6*time.Hour+2*time.Minute {
		t.Errorf("6h preset: the charts span %s", span)
	}
	if time.Since(c.to) > time.Minute {
		t.Errorf("6h preset: the charts end at %s, more than a minute ago", c.to)
	}
	b.screenshot(t, shots, "group-6h")

	// 7 days: whole-hour buckets, which the server reads from its hourly
	// rollups; they keep no time lag, so the page offers the raw samples.
	n = b.loaded(t)
	b.do(t, "click 7d", chromedp.Click(chromedp.CSS(`[data-testid=range-7d]`)))
	b.waitLoaded(t, "the 7d range", n)
	c = checkWebGroupCharts(t, b, srv, h, "the 7d preset", time.Hour)
	// The status band keeps finer steps than the charts' hour, so that the
	// 45-minute stall shows on it wherever the hours fall.
	su, err := url.Parse(webEval[string](t, b, `window.lagtrail.requests.status`))
	if err != nil {
		t.Fatal(err)
	}
	if st, err := time.ParseDuration(su.Query().Get("step")); err != nil || st > 15*time.Minute {
		t.Errorf("7d preset: the status request's step is %q, want at most 15m", su.Query().Get("step"))
	}
	if !slices.Contains(c.statuses, "STOP") {
		t.Errorf("7d preset: the status chart shows %v, without the stall's STOP", c.statuses)
	}
	// The range ends in the future, past the last poll; the header still
	// says how the group is now, recovered from the stall.
	if s := webEval[string](t, b, `document.querySelector('[data-testid=group-status]').textContent`); s != "OK now" {
		t.Errorf("7d preset: the header's status reads %q, want OK now", s)
	}
	var tier struct{ Tier string }
	webAPI(t, webEval[string](t, b, `window.lagtrail.requests.lag`), "", &tier)
	if tier.Tier != "rollup" {
		t.Errorf("7d preset: the lag request is answered from the %q tier, want rollup", tier.Tier)
	}
	// Hourly buckets: the stall's peak falls between two hours' last polls.
	// The chart's data holds each bucket's lag_max (checked equal to the
	// API's above), shaded over the line: the peak shows at its height.
	t.Logf("7d preset: largest partition lag at a bucket's last poll %g, largest bucket peak %g, largest peak above its last poll %g",
		c.maxPartitionLag, c.peakPartitionLag, c.hiddenPeak)
	if c.hiddenPeak < 10000 || c.peakPartitionLag <= c.maxPartitionLag {
		t.Errorf("7d preset: the lag chart's bucket peaks reach %g (%g above a bucket's last poll), its last-poll lines %g; want the stall's peak above what the last polls show",
			c.peakPartitionLag, c.hiddenPeak, c.maxPartitionLag)
	}
	b.screenshot(t, shots, "group-7d")
	n = b.loaded(t)
	b.do(t, "compute the time lag from raw samples", chromedp.Click(chromedp.CSS(`[data-testid=timelag-raw]`)))
	b.waitLoaded(t, "the raw time lag", n)
	if u := webEval[string](t, b, `window.lagtrail.requests.timeLag`); !strings.Contains(u, "tier=raw") {
		t.Errorf("7d preset: the raw time lag came from %s", u)
	}
	checkWebGroupCharts(t, b, srv, h, "the 7d preset with the raw time lag", time.Hour)

	// A custom range typed into the inputs.
	cf, ct := h.stall.Add(-time.Hour).Format(time.RFC3339), h.stall.Add(2*time.Hour).Format(time.RFC3339)
	n = b.loaded(t)
	b.do(t, "type a custom range",
		chromedp.SetValue(chromedp.CSS(`[data-testid=range-from]`), cf),
		chromedp.SetValue(chromedp.CSS(`[data-testid=range-to]`), ct),
		chromedp.Click(chromedp.CSS(`[data-testid=range-apply]`)))
	b.waitLoaded(t, "the custom range", n)
	if q := webQuery(t, b); q.Get("from") != cf || q.Get("to") != ct {
		t.Errorf("after Apply the address has from=%q to=%q, want %s and %s", q.Get("from"), q.Get("to"), cf, ct)
	}
	c = checkWebGroupCharts(t, b, srv, h, "the custom range", time.Minute)
	if c.from.Format(time.RFC3339) != cf || c.to.Format(time.RFC3339) != ct {
		t.Errorf("custom range [%s, %s): the charts show [%s, %s)", cf, ct, c.from, c.to)
	}

	// Drag across the lag chart from 15 minutes before the stall to 75
	// minutes after it: every chart shows that range.
	n = b.loaded(t)
	a, z := h.stall.Add(-15*time.Minute), h.stall.Add(75*time.Minute)
	pos := webEval[[]float64](t, b, fmt.Sprintf(`(() => {
		document.getElementById('chart-lag').scrollIntoView({block: 'center'});
		const u = window.lagtrail.charts.lag, r = u.over.getBoundingClientRect();
		return [r.left + u.valToPos(%d, 'x'), r.left + u.valToPos(%d, 'x'), r.top + r.height / 2];
	})()`, a.Unix(), z.Unix()))
	b.do(t, "drag across the lag chart", chromedp.DragAndDropXY(pos[0], pos[2], pos[1], pos[2], 12))
	b.waitLoaded(t, "the zoomed range", n)
	q := webQuery(t, b)
	zf, err1 := time.Parse(time.RFC3339, q.Get("from"))
	zt, err2 := time.Parse(time.RFC3339, q.Get("to"))
	if err1 != nil || err2 != nil {
		t.Fatalf("after the zoom the address has from=%q to=%q: want RFC3339 times", q.Get("from"), q.Get("to"))
	}
	// A pixel is about 15 seconds at this width: allow a minute.
	if d := zf.Sub(a); d.Abs() > time.Minute {
		t.Errorf("zoomed from %s, want about %s", zf, a)
	}
	if d := zt.Sub(z); d.Abs() > time.Minute {
		t.Errorf("zoomed to %s, want about %s", zt, z)
	}
	c = checkWebGroupCharts(t, b, srv, h, "the zoomed range", time.Minute)
	if c.from.After(zf) || c.to.Before(zt) || c.to.Sub(c.from) > zt.Sub(zf)+2*time.Minute {
		t.Errorf("zoomed to [%s, %s), the charts show [%s, %s)", zf, zt, c.from, c.to)
	}
	// The stall: payments-ledger's 8 partitions pile up lag, and its status
	// goes to STALL and STOP.
	if c.maxPartitionLag < 10000 {
		t.Errorf("zoomed onto the stall, the largest partition lag is %g; want the backlog of a 45-minute stall", c.maxPartitionLag)
	}
	if c.partitions != 8 {
		t.Errorf("payments-ledger has 8 partitions; the lag chart has %d series", c.partitions)
	}
	for _, s := range []string{"STALL", "STOP"} {
		if !slices.Contains(c.statuses, s) {
			t.Errorf("zoomed onto the stall, the status chart shows %v, without %s", c.statuses, s)
		}
	}
	b.screenshot(t, shots, "group-zoom")

	// Back returns to the custom range (one history entry per zoom),
	// Forward to the zoom, each refetched from the address.
	n = b.loaded(t)
	b.do(t, "back", chromedp.Evaluate[chromedp.Void](`history.back()`))
	b.waitLoaded(t, "Back", n)
	if q := webQuery(t, b); q.Get("from") != cf {
		t.Errorf("after Back the address has from=%q, want %s", q.Get("from"), cf)
	}
	if f := webEval[string](t, b, `window.lagtrail.state.from`); f != cf {
		t.Errorf("after Back the page shows from=%q, want %s", f, cf)
	}
	n = b.loaded(t)
	b.do(t, "forward", chromedp.Evaluate[chromedp.Void](`history.forward()`))
	b.waitLoaded(t, "Forward", n)
	if q := webQuery(t, b); q.Get("from") != zf.Format(time.RFC3339) {
		t.Errorf("after Forward the address has from=%q, want %s", q.Get("from"), zf.Format(time.RFC3339))
	}
	checkWebGroupCharts(t, b, srv, h, "the zoomed range after Forward", time.Minute)

	// A reload of the address restores the view.
	b.do(t, "reload", chromedp.Reload())
	b.waitLoaded(t, "the reload", 0)
	if f := webEval[string](t, b, `window.lagtrail.state.from`); f != zf.Format(time.RFC3339) {
		t.Errorf("after a reload the page shows from=%q, want %s", f, zf.Format(time.RFC3339))
	}
	checkWebGroupCharts(t, b, srv, h, "the zoomed range after a reload", time.Minute)
}

// webIncident opens the incident report of the zoomed range from the group
// view and checks it against the API and the scenario.
func webIncident(t *testing.T, b *webBrowser, srv *httptest.Server, h webHist, shots string) {
	if p := webEval[string](t, b, `location.pathname`); p != "/group" {
		t.Fatalf("the incident test starts on the group view; the page is %s", p)
	}
	b.do(t, "open the incident report",
		chromedp.Click(chromedp.CSS(`[data-testid=incident-link]`)),
		chromedp.WaitVisible(chromedp.CSS(`[data-testid=chart-incident-lag] canvas`)))
	b.waitLoaded(t, "the incident report", 0)
	reqURL := webEval[string](t, b, `window.lagtrail.requests.incident`)
	var rep struct {
		Incidents []struct {
			Start     time.Time  `json:"start"`
			Peak      time.Time  `json:"peak"`
			PeakLag   int64      `json:"peak_lag"`
			Recovered *time.Time `json:"recovered"`
			Cause     struct{ Kind string }
			Affected  []json.RawMessage
			Timeline  []json.RawMessage
		} `json:"incidents"`
		Series []struct {
			At  time.Time `json:"at"`
			Lag *float64  `json:"lag"`
		} `json:"series"`
	}
	webAPI(t, reqURL, "", &rep)
	if len(rep.Incidents) != 1 {
		t.Fatalf("the report of %s has %d incidents, want the stall's one", reqURL, len(rep.Incidents))
	}
	inc := rep.Incidents[0]
	if d := inc.Start.Sub(h.stall); d < -5*time.Minute || d > time.Minute {
		t.Errorf("the incident starts at %s; the stall began at %s", inc.Start, h.stall)
	}
	if inc.Cause.Kind != "consumption_dropped" {
		t.Errorf("the incident's cause is %q, want consumption_dropped", inc.Cause.Kind)
	}
	if inc.Recovered == nil {
		t.Errorf("the incident did not recover in the window")
	}

	// The page shows what the report says.
	type shown struct {
		Incidents, Affected, Timeline int
		Start, Cause                  string
		Marks                         []struct {
			At    float64
			Label string
		}
	}
	s := webEval[shown](t, b, `({
		incidents: document.querySelectorAll('[data-testid=incident]').length,
		affected: document.querySelectorAll('[data-testid=affected-row]').length,
		timeline: document.querySelectorAll('[data-testid=timeline-entry]').length,
		start: document.querySelector('[data-testid=incident-start]').textContent,
		cause: document.querySelector('[data-testid=incident-cause]').textContent,
		marks: window.lagtrail.marks})`)
	if s.Incidents != 1 || s.Affected != len(inc.Affected) || s.Timeline != len(inc.Timeline) {
		t.Errorf("the page shows %d incidents, %d affected partitions and %d timeline entries; the report has 1, %d and %d",
			s.Incidents, s.Affected, s.Timeline, len(inc.Affected), len(inc.Timeline))
	}
	if want := inc.Start.UTC().Format("2006-01-02 15:04:05"); !strings.Contains(s.Start, want) {
		t.Errorf("the page shows the start as %q, want %s", s.Start, want)
	}
	wantMarks := map[string]time.Time{"start": inc.Start, "peak": inc.Peak}
	if inc.Recovered != nil {
		wantMarks["recovered"] = *inc.Recovered
	}
	if len(s.Marks) != len(wantMarks) {
		t.Errorf("the chart has marks %v, want %v", s.Marks, wantMarks)
	}
	for _, m := range s.Marks {
		word, _, _ := strings.Cut(m.Label, " ")
		w, ok := wantMarks[word]
		if !ok || int64(m.At) != w.UnixMilli() {
			t.Errorf("the chart marks %q at %s; the report says %v", m.Label, time.UnixMilli(int64(m.At)).UTC(), w)
		}
	}

	// The lag chart drew the report's series, point by point.
	charts := webChartsOf(t, b)
	lag := charts["lag"]
	var xs []float64
	var ys []*float64
	for _, p := range rep.Series {
		xs = append(xs, webSeconds(p.At))
		ys = append(ys, p.Lag)
	}
	webCompare(t, "incident lag chart: x", lag.Data[0], webPtrs(xs))
	webCompare(t, "incident lag chart: group lag", lag.Data[1], ys)
	peak := 0.0
	for _, v := range lag.Data[1] {
		if v != nil {
			peak = math.Max(peak, *v)
		}
	}
	if peak != float64(inc.PeakLag) {
		t.Errorf("the lag chart peaks at %g; the report's peak lag is %d", peak, inc.PeakLag)
	}
	b.screenshot(t, shots, "incident")
}

// webToken checks the token form: with a token set, the pages ask for it,
// refuse a wrong one, and load with the right one.
func webToken(t *testing.T, b *webBrowser, h webHist, shots string) {
	const token = "web-test-token"
	srv := webServer(t, h.url, token)
	b.mu.Lock()
	// The browser logs each 401 the form answers.
	b.allowed = append(b.allowed, "401 (Unauthorized)")
	b.mu.Unlock()
	b.do(t, "open the fleet", chromedp.Navigate(srv.URL+"/"),
		chromedp.WaitVisible(chromedp.CSS(`[data-testid=token-dialog]`)))
	if n := b.loaded(t); n != 0 {
		t.Fatalf("without a token the fleet rendered (%d renders)", n)
	}
	b.screenshot(t, shots, "token")
	b.do(t, "enter a wrong token",
		chromedp.SendKeys(chromedp.CSS(`[data-testid=token-input]`), "wrong"),
		chromedp.Click(chromedp.CSS(`[data-testid=token-submit]`)))
	b.waitFor(t, "the form again", `(() => { const d = document.querySelector('[data-testid=token-dialog]');
		return d && d.open && d.textContent.includes('did not accept'); })()`)
	b.do(t, "enter the token",
		chromedp.SendKeys(chromedp.CSS(`[data-testid=token-input]`), token),
		chromedp.Click(chromedp.CSS(`[data-testid=token-submit]`)))
	b.waitLoaded(t, "the fleet with the token", 0)
	if n := webEval[int](t, b, `document.querySelectorAll('[data-testid=fleet-row]').length`); n != len(h.model.Groups()) {
		t.Errorf("with the token the fleet has %d rows, want %d", n, len(h.model.Groups()))
	}
	if tok := webEval[string](t, b, `sessionStorage.getItem('lagtrail.token')`); tok != token {
		t.Errorf("session storage keeps %q, want the token", tok)
	}
	// The token stays for the tab: the group view loads without the form.
	b.do(t, "open a group", chromedp.Navigate(srv.URL+"/group?group=payments-ledger&from=-1h"))
	b.waitLoaded(t, "the group view with the kept token", 0)
}

// webChart is what a uPlot chart drew: its series' labels and data.
type webChart struct {
	Labels []string     `json:"labels"`
	Data   [][]*float64 `json:"data"`
	// Bands are the series index pairs [upper, lower] of the shaded bands.
	Bands [][2]int `json:"bands"`
}

// webChartsOf reads every chart of the page.
func webChartsOf(t *testing.T, b *webBrowser) map[string]webChart {
	t.Helper()
	return webEval[map[string]webChart](t, b, `Object.fromEntries(Object.entries(window.lagtrail.charts).map(
		([k, u]) => [k, {labels: u.series.map(s => s.label ?? ''), data: u.data, bands: (u.bands || []).map(b => b.series)}]))`)
}

// webQuery returns the page's query parameters.
func webQuery(t *testing.T, b *webBrowser) url.Values {
	t.Helper()
	q, err := url.ParseQuery(strings.TrimPrefix(webEval[string](t, b, `location.search`), "?"))
	if err != nil {
		t.Fatal(err)
	}
	return q
}

// webAPI gets an API URL's JSON into v.
func webAPI(t *testing.T, u, token string, v any) {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), http.MethodGet, u, nil)
	if err != nil {
		t.Fatal(err)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET %s: %s: %s", u, resp.Status, body)
	}
	if err := json.Unmarshal(body, v); err != nil {
		t.Fatalf("GET %s: %v", u, err)
	}
}

// webGroupCharts sums up what checkWebGroupCharts found.
type webGroupCharts struct {
	from, to        time.Time
	partitions      int
	maxPartitionLag float64
	// peakPartitionLag is the largest bucket peak (lag_max) the lag chart
	// draws for a partition; hiddenPeak is the largest one that exceeds its
	// bucket's last poll by a fifth: a peak the line alone would hide.
	peakPartitionLag, hiddenPeak float64
	statuses                     []string
}

// webRow is a row of /api/v1/lag, /rates or /status.
type webRow struct {
	Time        time.Time `json:"time"`
	From        time.Time `json:"from"`
	To          time.Time `json:"to"`
	Topic       string    `json:"topic"`
	Partition   *int      `json:"partition"`
	Lag         *float64  `json:"lag"`
	LagMax      *float64  `json:"lag_max"`
	TimeLag     *float64  `json:"time_lag_seconds"`
	ConsumeRate *float64  `json:"consume_rate"`
	ProduceRate *float64  `json:"produce_rate"`
	Status      string    `json:"status"`
}

// checkWebGroupCharts fetches from Go the API URLs the group view requested,
// and checks that each chart drew exactly their values: the same bucket
// times and the same values, null where the API has none. It checks the
// requests' step and that the range is cut into whole buckets.
func checkWebGroupCharts(t *testing.T, b *webBrowser, srv *httptest.Server, h webHist, what string, wantStep time.Duration) webGroupCharts {
	t.Helper()
	reqs := webEval[map[string]string](t, b, `window.lagtrail.requests`)
	charts := webChartsOf(t, b)
	for _, k := range []string{"lag", "lagGroup", "rates", "status", "timeLag"} {
		if !strings.HasPrefix(reqs[k], srv.URL+"/api/v1/") {
			t.Fatalf("%s: the page's %s request is %q", what, k, reqs[k])
		}
	}
	for _, k := range []string{"lag", "rates", "timeLag", "status"} {
		if _, ok := charts[k]; !ok {
			t.Fatalf("%s: no %s chart; the page has %v", what, k, slices.Sorted(maps.Keys(charts)))
		}
	}
	u, _ := url.Parse(reqs["lag"])
	q := u.Query()
	step, err := time.ParseDuration(q.Get("step"))
	if err != nil || step != wantStep {
		t.Errorf("%s: the lag request's step is %q, want %s", what, q.Get("step"), wantStep)
	}
	from, err1 := time.Parse(time.RFC3339, q.Get("from"))
	to, err2 := time.Parse(time.RFC3339, q.Get("to"))
	if err1 != nil || err2 != nil {
		t.Fatalf("%s: the lag request's range is from=%q to=%q: want RFC3339 times", what, q.Get("from"), q.Get("to"))
	}
	if step > 0 && (from.UnixMilli()%step.Milliseconds() != 0 || to.UnixMilli()%step.Milliseconds() != 0) {
		t.Errorf("%s: the range [%s, %s) is not cut into whole %s buckets", what, from, to, step)
	}
	if q.Get("by") != "partition" || q.Get("group") != "payments-ledger" {
		t.Errorf("%s: the lag request is %s", what, reqs["lag"])
	}
	for _, k := range []string{"lagGroup", "rates", "status"} {
		o, _ := url.Parse(reqs[k])
		if o.Query().Get("from") != q.Get("from") || o.Query().Get("to") != q.Get("to") {
			t.Errorf("%s: the %s request's range differs from the lag request's: %s", what, k, reqs[k])
		}
	}

	get := func(u string) []webRow {
		var body struct {
			Rows []webRow `json:"rows"`
		}
		webAPI(t, u, "", &body)
		return body.Rows
	}
	lagRows, groupRows, rateRows, statusRows := get(reqs["lag"]), get(reqs["lagGroup"]), get(reqs["rates"]), get(reqs["status"])
	timeLagRows := groupRows
	if reqs["timeLag"] != reqs["lagGroup"] {
		timeLagRows = get(reqs["timeLag"])
	}
	if len(lagRows) == 0 || len(rateRows) == 0 || len(statusRows) == 0 {
		t.Fatalf("%s: the API has %d lag, %d rate and %d status rows", what, len(lagRows), len(rateRows), len(statusRows))
	}

	// Lag by partition: one series per topic/partition, then the total,
	// then the bucket peaks (lag_max) of each, shaded from its line up.
	res := webGroupCharts{from: from, to: to}
	lag := charts["lag"]
	times := webBucketTimes(lagRows)
	if n := len(times); n > 1000 || n < int(to.Sub(from)/step) {
		t.Errorf("%s: %d buckets over [%s, %s) at %s", what, n, from, to, step)
	}
	webCompare(t, what+": lag chart x", lag.Data[0], webPtrs(times))
	keys := map[string]bool{}
	for _, r := range lagRows {
		if r.Partition == nil {
			t.Fatalf("%s: a by=partition row has no partition", what)
		}
		keys[fmt.Sprintf("%s/%d", r.Topic, *r.Partition)] = true
	}
	labels := lag.Labels[1:]
	if len(labels) != 2*(len(keys)+1) || labels[len(keys)] != "total" || labels[len(labels)-1] != "total max" {
		t.Errorf("%s: the lag chart's series are %v; the API has partitions %v and the total, and a max of each", what, labels, slices.Sorted(maps.Keys(keys)))
	}
	lagOf := map[string]int{} // series index of each line, by label
	for i, label := range labels {
		if base, ok := strings.CutSuffix(label, " max"); ok {
			// A bucket peak series: the API's lag_max, shaded from its
			// line up to it.
			if !slices.Contains(lag.Bands, [2]int{i + 1, lagOf[base]}) || lagOf[base] == 0 {
				t.Errorf("%s: the lag chart has no band from %q up to %q; bands %v", what, base, label, lag.Bands)
			}
			var want []*float64
			if base == "total" {
				want = webColumn(groupRows, times, func(r webRow) *float64 { return r.LagMax }, nil)
			} else {
				want = webColumn(lagRows, times, func(r webRow) *float64 { return r.LagMax }, func(r webRow) bool {
					return fmt.Sprintf("%s/%d", r.Topic, *r.Partition) == base
				})
				last := lag.Data[lagOf[base]]
				for j, v := range want {
					if v == nil {
						continue
					}
					res.peakPartitionLag = math.Max(res.peakPartitionLag, *v)
					if last[j] != nil && *v > *last[j]*1.2 {
						res.hiddenPeak = math.Max(res.hiddenPeak, *v)
					}
				}
			}
			webCompare(t, what+": lag chart "+label, lag.Data[i+1], want)
			continue
		}
		lagOf[label] = i + 1
		if label == "total" {
			webCompare(t, what+": lag chart total", lag.Data[i+1], webColumn(groupRows, times, func(r webRow) *float64 { return r.Lag }, nil))
			continue
		}
		if !keys[label] {
			t.Errorf("%s: the lag chart has a series %q the API does not", what, label)
			continue
		}
		want := webColumn(lagRows, times, func(r webRow) *float64 { return r.Lag }, func(r webRow) bool {
			return fmt.Sprintf("%s/%d", r.Topic, *r.Partition) == label
		})
		webCompare(t, what+": lag chart "+label, lag.Data[i+1], want)
		res.partitions++
		for _, v := range want {
			if v != nil {
				res.maxPartitionLag = math.Max(res.maxPartitionLag, *v)
			}
		}
	}

	// Rates: consume and produce.
	rates := charts["rates"]
	rt := webBucketTimes(rateRows)
	webCompare(t, what+": rates chart x", rates.Data[0], webPtrs(rt))
	if !slices.Equal(rates.Labels[1:], []string{"consume", "produce"}) {
		t.Errorf("%s: the rates chart's series are %v", what, rates.Labels[1:])
	}
	webCompare(t, what+": consume rate", rates.Data[1], webColumn(rateRows, rt, func(r webRow) *float64 { return r.ConsumeRate }, nil))
	webCompare(t, what+": produce rate", rates.Data[2], webColumn(rateRows, rt, func(r webRow) *float64 { return r.ProduceRate }, nil))
	// Where there is history, the rates are known: buckets with no counted
	// interval are rare.
	known, inHistory := 0, 0
	for i, v := range rates.Data[1] {
		at := time.UnixMilli(int64(rt[i] * 1000))
		if at.Before(h.from) || !at.Before(h.to.Add(-wantStep)) {
			continue
		}
		inHistory++
		if v != nil {
			known++
		}
	}
	if inHistory == 0 || known < inHistory*9/10 {
		t.Errorf("%s: %d of the %d consume-rate points within the history are known", what, known, inHistory)
	}

	// Time lag.
	tl := charts["timeLag"]
	tt := webBucketTimes(timeLagRows)
	webCompare(t, what+": time lag chart x", tl.Data[0], webPtrs(tt))
	webCompare(t, what+": time lag", tl.Data[1], webColumn(timeLagRows, tt, func(r webRow) *float64 { return r.TimeLag }, nil))

	// Status: each interval's start and the last end; the status's index.
	st := charts["status"]
	var sx, sy []float64
	for _, r := range statusRows {
		sx = append(sx, webSeconds(r.From))
		i := slices.Index(webStatusOrder, r.Status)
		if i < 0 {
			t.Errorf("%s: unknown status %q", what, r.Status)
		}
		sy = append(sy, float64(i))
		if !slices.Contains(res.statuses, r.Status) {
			res.statuses = append(res.statuses, r.Status)
		}
	}
	sx = append(sx, webSeconds(statusRows[len(statusRows)-1].To))
	sy = append(sy, sy[len(sy)-1])
	webCompare(t, what+": status chart x", st.Data[0], webPtrs(sx))
	webCompare(t, what+": status chart", st.Data[1], webPtrs(sy))
	return res
}

// webSeconds is a time as the page plots it: milliseconds (the page drops
// finer digits) over 1000.
func webSeconds(t time.Time) float64 { return float64(t.UnixMilli()) / 1000 }

// webBucketTimes returns the rows' distinct times, sorted, as the page plots
// them.
func webBucketTimes(rows []webRow) []float64 {
	var ts []float64
	for _, r := range rows {
		ts = append(ts, webSeconds(r.Time))
	}
	slices.Sort(ts)
	return slices.Compact(ts)
}

// webColumn returns the value of the rows that keep selects at each time; nil
// where there is none.
func webColumn(rows []webRow, times []float64, value func(webRow) *float64, keep func(webRow) bool) []*float64 {
	out := make([]*float64, len(times))
	for _, r := range rows {
		if keep != nil && !keep(r) {
			continue
		}
		if i, ok := slices.BinarySearch(times, webSeconds(r.Time)); ok {
			out[i] = value(r)
		}
	}
	return out
}

// webPtrs turns values into a series without gaps.
func webPtrs(v []float64) []*float64 {
	out := make([]*float64, len(v))
	for i := range v {
		out[i] = &v[i]
	}
	return out
}

// webCompare fails the test where a chart's series differs from the
// API's, reporting the first few differences.
func webCompare(t *testing.T, what string, got, want []*float64) {
	t.Helper()
	if len(got) != len(want) {
		t.Errorf("%s: the chart has %d points, the API %d", what, len(got), len(want))
		return
	}
	bad := 0
	for i := range got {
		g, w := got[i], want[i]
		if (g == nil) == (w == nil) && (g == nil || *g == *w) {
			continue
		}
		if bad++; bad <= 3 {
			t.Errorf("%s: point %d: chart %s, API %s", what, i, webFmtPtr(g), webFmtPtr(w))
		}
	}
	if bad > 3 {
		t.Errorf("%s: %d points differ in all", what, bad)
	}
}

func webFmtPtr(v *float64) string {
	if v == nil {
		return "null"
	}
	return strconv.FormatFloat(*v, 'g', -1, 64)
}
