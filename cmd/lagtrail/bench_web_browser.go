package main

import (
	"context"
	"fmt"
	"net/url"
	"os"
	"slices"
	"time"

	"github.com/chromedp/chromedp"
)

// benchPages loads the fleet page and the group page in headless Chromium,
// runs+1 times each in a fresh tab, and records the time from navigation
// to the page's render counter (window.lagtrail.loaded) moving. The first
// load is a warm-up.
func benchPages(ctx context.Context, f *webBenchFlags, base string, sel url.Values, rep *webBenchReport, progress func(string, ...any)) error {
	if f.browser == "off" {
		return nil
	}
	if _, err := os.Stat(f.chromium); err != nil {
		if f.browser == "on" {
			return usagef("--browser on: no Chromium at %s (Debian: apt-get install chromium)", f.chromium)
		}
		rep.BrowserNote = fmt.Sprintf("not measured: no Chromium at %s", f.chromium)
		return nil
	}
	dir, err := os.MkdirTemp("", "lagtrail-bench-chromium-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	opts := append(chromedp.DefaultExecAllocatorOptions[:], chromedp.ExecPath(f.chromium), chromedp.UserDataDir(dir),
		chromedp.NoSandbox, chromedp.DisableGPU, chromedp.Flag("disable-quic", true), chromedp.WindowSize(1400, 1000))
	actx, cancel := chromedp.NewExecAllocator(ctx, opts...)
	defer cancel()
	bctx, cancelB := chromedp.NewContext(actx)
	defer cancelB()
	if err := chromedp.Do(bctx); err != nil {
		return fmt.Errorf("start chromium: %w", err)
	}
	type page struct {
		name, path  string
		all, charts []float64
		rows        int
	}
	pages := []*page{
		{name: "browser: fleet page", path: "/"},
		{name: "browser: group page", path: "/group?" + sel.Encode()},
	}
	for _, p := range pages {
		for run := range f.runs + 1 {
			all, charts, rows, err := loadPage(bctx, base+p.path)
			if err != nil {
				return fmt.Errorf("%s: %w", p.name, err)
			}
			if run > 0 {
				p.all, p.charts = append(p.all, all), append(p.charts, charts)
			}
			p.rows = rows
		}
		progress("%s: everything drawn, median %.0f ms; the first charts or rows, %.0f ms", p.name, medianMs(p.all), medianMs(p.charts))
		rep.Browser = append(rep.Browser,
			webBenchRequest{Name: p.name + ", first charts or rows drawn", Path: p.path, MedianMs: medianMs(p.charts), MinMs: slices.Min(p.charts), MaxMs: slices.Max(p.charts)},
			webBenchRequest{Name: p.name + ", everything drawn", Path: p.path, MedianMs: medianMs(p.all), MinMs: slices.Min(p.all), MaxMs: slices.Max(p.all), Rows: p.rows})
	}
	rep.BrowserNote = "milliseconds from the start of navigation (the page's performance clock) in a fresh tab each run: to the first charts drawn (the group page draws its status band when its slower evaluation arrives) and to everything drawn; rows: fleet rows in the page, or chart points drawn"
	return nil
}

// loadPage opens u in a new tab and waits for its first full render. It
// returns the milliseconds from the start of navigation to that render and
// to the first charts (the same for pages that draw at once), and how many
// fleet rows or chart points the page drew.
func loadPage(bctx context.Context, u string) (all, charts float64, rows int, err error) {
	tctx, cancel := chromedp.NewContext(bctx)
	defer cancel()
	tctx, cancelT := context.WithTimeout(tctx, 2*time.Minute)
	defer cancelT()
	if _, err := chromedp.Run(tctx, chromedp.Navigate(u)); err != nil {
		return 0, 0, 0, err
	}
	type state struct {
		Loaded, Errors int
		Now, Charts    float64
	}
	for {
		st, err := chromedp.Run(tctx, chromedp.Evaluate[state](`(() => {
			const h = window.lagtrail || {};
			return {Loaded: h.loaded || 0, Errors: h.errors || 0, Now: performance.now(), Charts: (h.marks && h.marks.charts) || 0};
		})()`))
		if err != nil {
			return 0, 0, 0, err
		}
		if st.Errors > 0 {
			msg, _ := chromedp.Run(tctx, chromedp.Evaluate[string](`document.body.innerText.slice(0, 500)`))
			return 0, 0, 0, fmt.Errorf("the page reported an error: %s", msg)
		}
		if st.Loaded >= 1 {
			all, charts = st.Now, st.Charts
			if charts == 0 {
				charts = all
			}
			break
		}
		time.Sleep(5 * time.Millisecond)
	}
	rows, err = chromedp.Run(tctx, chromedp.Evaluate[int](`(() => {
		const h = window.lagtrail;
		const cs = Object.values(h.charts || {});
		if (cs.length) return cs.reduce((n, u) => n + (u && u.data ? u.data.slice(1).reduce((m, s) => m + s.filter(v => v !== null && v !== undefined).length, 0) : 0), 0);
		return document.querySelectorAll('[data-testid="fleet-row"]').length;
	})()`))
	return all, charts, rows, err
}
