package e2e

import (
	"context"
	"log/slog"
	"net/http"
	"slices"
	"testing"
	"time"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/chromedp"
	"github.com/labstack/echo/v4"

	"github.com/fdlstudio/fdlstudio/app"
	"github.com/fdlstudio/fdlstudio/web"
)

// barePage is the yardstick: the smallest HTML page, served by the same
// server through the same middleware (security headers, gzip, logging).
const barePage = `<!DOCTYPE html><html lang="en"><head><meta charset="utf-8"><title>Bare</title></head><body><main><h1>Bare page</h1><p>Nothing else.</p></main></body></html>`

// fcpPages are the pages whose first contentful paint is measured.
var fcpPages = []struct{ name, path string }{
	{"home", "/"},
	{"services", "/services"},
	{"service", "/services/local/wc-count"},
	{"new-service", "/services/new?cluster=local"},
	{"jobs", "/jobs"},
	{"files", "/files/local"},
	{"clusters", "/clusters"},
	{"cluster", "/clusters/local"},
	{"error", "/no-such-page"},
	// The sample's deploy makes it workflow 1.
	{"workflows", "/workflows"},
	{"composer", "/workflows/1"},
	{"runs", "/workflows/1/runs"},
	{"deploy", "/workflows/1/deploy"},
	{"deployments", "/workflows/1/deployments"},
	{"tokens", "/tokens"},
}

// firstContentfulPaint loads url in the tab and returns its first
// contentful paint (Performance API paint entry, from navigation start).
func firstContentfulPaint(ctx context.Context, url string) (time.Duration, error) {
	if err := chromedp.Do(ctx, chromedp.Navigate(url)); err != nil {
		return 0, err
	}
	ms, err := chromedp.Run(ctx, chromedp.Poll[float64](
		`(performance.getEntriesByName("first-contentful-paint")[0] || {startTime: 0}).startTime`,
		chromedp.WithPollingTimeout(10*time.Second)))
	if err != nil {
		return 0, err
	}
	return time.Duration(ms * float64(time.Millisecond)), nil
}

func median(ds []time.Duration) time.Duration {
	s := slices.Clone(ds)
	slices.Sort(s)
	return s[len(s)/2]
}

// BenchmarkFirstContentfulPaint measures, in headless Chromium, the first
// contentful paint of each page against a bare HTML page from the same
// server, loaded alternately (side by side) so that machine load hits
// both alike. It reports the medians and their ratio (target: ratio ≤ 2),
// "cold" with the browser cache disabled (a first visit) and "warm" with
// it (every later page).
func BenchmarkFirstContentfulPaint(b *testing.B) {
	cfg := web.Defaults()
	cfg.Addr = "127.0.0.1:0"
	cfg.DataDir = b.TempDir()
	cfg.LocalCluster = "on"
	ctx, cancel := context.WithCancel(context.Background())
	srv, err := app.Open(ctx, cfg, slog.New(slog.DiscardHandler), app.WithWeb(web.WithRoute(http.MethodGet, "/e2e/bare", func(c echo.Context) error {
		return c.HTML(http.StatusOK, barePage)
	})))
	if err != nil {
		cancel()
		b.Fatalf("starting FDL Studio: %v", err)
	}
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ctx) }()
	b.Cleanup(func() { cancel(); <-done })
	appURL := srv.URL()

	tab, cancelTab := chromedp.NewContext(browserCtx)
	defer cancelTab()
	tab, cancelTime := context.WithTimeout(tab, 20*time.Minute)
	defer cancelTime()
	// In local single-user mode the browser opens the printed start URL
	// first (every page answers 401 without it).
	if u := srv.OpenURL(); u != "" {
		if err := chromedp.Do(tab, chromedp.Navigate(u)); err != nil {
			b.Fatalf("opening the start URL: %v", err)
		}
	}
	// The sample workflow gives the service pages their content.
	if err := chromedp.Do(tab, chromedp.Navigate(appURL+"/"),
		chromedp.Click(chromedp.CSS(`[data-testid="deploy-sample"] button`)),
		chromedp.WaitVisible(chromedp.CSS(`[data-testid="services-table"]`))); err != nil {
		b.Fatalf("deploying the sample: %v", err)
	}

	const pairs = 9 // per iteration; the medians are over all of them
	for _, mode := range []string{"cold", "warm"} {
		err := chromedp.Do(tab, chromedp.Action[chromedp.Void](func(ctx context.Context, tg *chromedp.Target) (chromedp.Void, error) {
			_, err := cdp.Call(ctx, tg, network.SetCacheDisabled, network.SetCacheDisabledParams{CacheDisabled: mode == "cold"})
			return chromedp.Void{}, err
		}))
		if err != nil {
			b.Fatal(err)
		}
		for _, p := range fcpPages {
			b.Run(mode+"/"+p.name, func(b *testing.B) {
				// One load of each first, so that "warm" is warm.
				if _, err := firstContentfulPaint(tab, appURL+p.path); err != nil {
					b.Fatalf("%s: %v", p.path, err)
				}
				var page, bare []time.Duration
				for i := 0; i < b.N; i++ {
					for range pairs {
						d, err := firstContentfulPaint(tab, appURL+"/e2e/bare")
						if err != nil {
							b.Fatalf("bare page: %v", err)
						}
						bare = append(bare, d)
						d, err = firstContentfulPaint(tab, appURL+p.path)
						if err != nil {
							b.Fatalf("%s: %v", p.path, err)
						}
						page = append(page, d)
					}
				}
				mp, mb := median(page), median(bare)
				b.ReportMetric(float64(mp.Microseconds())/1000, "fcp-ms")
				b.ReportMetric(float64(mb.Microseconds())/1000, "bare-fcp-ms")
				b.ReportMetric(float64(mp)/float64(mb), "fcp-ratio")
				b.ReportMetric(0, "ns/op")
			})
		}
	}
}
