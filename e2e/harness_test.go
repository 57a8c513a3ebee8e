// Package e2e drives the real FDL Studio program in headless Chromium.
//
// Each test boots the server in-process (app.Open + Serve on 127.0.0.1:0
// with a temporary data directory), opens a tab in the package's one
// Chromium, and saves a screenshot of every page it visits under
// e2e/artifacts/. The browser is Debian's /usr/bin/chromium (or
// $FDLSTUDIO_CHROMIUM); without it the tests fail with the install hint.
package e2e

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/cookiejar"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/cdp"
	cdplog "github.com/chromedp/cdproto/log"
	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"

	"github.com/fdlstudio/fdlstudio/app"
	"github.com/fdlstudio/fdlstudio/backends/local"
	"github.com/fdlstudio/fdlstudio/web"
)

// browserCtx is the package's Chromium; each test opens its own tab.
var browserCtx context.Context

func TestMain(m *testing.M) {
	os.Exit(runWithBrowser(m))
}

func chromiumPath() string {
	if p := os.Getenv("FDLSTUDIO_CHROMIUM"); p != "" {
		return p
	}
	for _, p := range []string{"/usr/bin/chromium", "/usr/bin/chromium-browser"} {
		if _, err := os.Stat(p); err == nil {
			return p
		}
	}
	if p, err := exec.LookPath("chromium"); err == nil {
		return p
	}
	return ""
}

func runWithBrowser(m *testing.M) int {
	path := chromiumPath()
	if path == "" {
		fmt.Fprintln(os.Stderr, "e2e: Chromium not found: install it (apt-get install chromium) or set FDLSTUDIO_CHROMIUM")
		return 1
	}
	userData, err := os.MkdirTemp("", "fdlstudio-chromium-")
	if err != nil {
		fmt.Fprintln(os.Stderr, "e2e:", err)
		return 1
	}
	defer os.RemoveAll(userData)

	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(path),
		chromedp.UserDataDir(userData),
		chromedp.Flag("headless", true),
		chromedp.Flag("no-sandbox", true),
		chromedp.Flag("disable-gpu", true),
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("no-first-run", true),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.WindowSize(1280, 800),
	)
	allocCtx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	defer cancelAlloc()
	ctx, cancel := chromedp.NewContext(allocCtx)
	defer cancel()
	// Start the browser now, so a broken install fails once, clearly.
	if err := chromedp.Do(ctx, chromedp.Navigate("about:blank")); err != nil {
		fmt.Fprintf(os.Stderr, "e2e: starting %s: %v\n", path, err)
		return 1
	}
	browserCtx = ctx
	return m.Run()
}

// App is a running FDL Studio for one test.
type App struct {
	URL     string
	DataDir string
	Logs    *syncBuffer
	// OpenURL is the URL "fdlstudio serve" prints at start in local
	// single-user mode (web.Server.OpenURL, with the start token); "" with
	// a login method. startApp has opened it in the browser, so tabs are
	// unlocked.
	OpenURL string
}

// unlockedClient is an HTTP client with cookies that has opened the
// printed start URL, as the user's browser does.
func unlockedClient(tb testing.TB, openURL string, noRedirects bool) *http.Client {
	tb.Helper()
	jar, _ := cookiejar.New(nil)
	hc := &http.Client{Jar: jar}
	if openURL != "" {
		resp, err := hc.Get(openURL)
		if err != nil {
			tb.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			tb.Fatalf("opening the printed URL: %s", resp.Status)
		}
	}
	if noRedirects {
		hc.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	}
	return hc
}

// syncBuffer is a log sink safe for the server's goroutines.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// startApp boots the real server on a loopback port with a fresh data
// directory; it is shut down when the test ends.
func startApp(t *testing.T, mutate func(*web.Config), opts ...web.Option) *App {
	t.Helper()
	return startAppWith(t, mutate, nil, opts...)
}

// startAppWith is startApp with options for app.Open too (e.g. app.WithAWS).
func startAppWith(t *testing.T, mutate func(*web.Config), appOpts []app.Option, opts ...web.Option) *App {
	t.Helper()
	cfg := web.Defaults()
	cfg.Addr = "127.0.0.1:0"
	cfg.DataDir = t.TempDir()
	cfg.ShutdownTimeout = 5 * time.Second
	cfg.LocalCluster = "off" // tests that need it turn it on
	if mutate != nil {
		mutate(&cfg)
	}
	logs := &syncBuffer{}
	log := slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	ctx, cancel := context.WithCancel(context.Background())
	srv, err := app.Open(ctx, cfg, log, append(appOpts, app.WithWeb(opts...))...)
	if err != nil {
		cancel()
		t.Fatalf("starting FDL Studio: %v", err)
	}
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("server shutdown: %v", err)
		}
		if t.Failed() {
			t.Logf("server log:\n%s", logs.String())
		}
	})
	app := &App{URL: srv.URL(), DataDir: cfg.DataDir, Logs: logs, OpenURL: srv.OpenURL()}
	if app.OpenURL != "" {
		// The user opens the printed URL; every tab of the browser then
		// has the cookie for this server's port.
		tab := newTab(t)
		tab.Do(chromedp.Navigate(app.OpenURL), chromedp.WaitVisible(chromedp.CSS("main")))
		if got := Eval[string](tab, `location.href`); got != app.URL+"/" {
			t.Fatalf("after opening the printed URL the browser is at %s, want %s/ (the token left out)", got, app.URL)
		}
	}
	return app
}

// Tab is one browser tab with the console errors and CSP violations it
// has seen.
type Tab struct {
	t   *testing.T
	ctx context.Context

	mu       sync.Mutex
	problems []string
}

// cspProbe runs in every document before its own scripts (DevTools
// injects it, so the page's CSP does not apply to it) and records CSP
// violations where the test can read them.
const cspProbe = `window.__cspViolations = [];
document.addEventListener("securitypolicyviolation", function (e) {
  window.__cspViolations.push(e.violatedDirective + " blocked " + (e.blockedURI || "inline"));
});`

// newTab opens a tab that records console errors, uncaught exceptions,
// browser log errors (CSP reports among them) and CSP violation events.
func newTab(t *testing.T) *Tab {
	t.Helper()
	return newTabWith(t)
}

// newTabWith opens a tab with context options, e.g.
// chromedp.WithNewBrowserContext() for a browser profile of its own (no
// cookies from the other tabs).
func newTabWith(t *testing.T, opts ...chromedp.ContextOption) *Tab {
	t.Helper()
	ctx, cancel := chromedp.NewContext(browserCtx, opts...)
	ctx, cancelTimeout := context.WithTimeout(ctx, 60*time.Second)
	t.Cleanup(func() { cancelTimeout(); cancel() })
	tab := &Tab{t: t, ctx: ctx}

	consoleEvents := chromedp.Events(ctx, runtime.ConsoleAPICalled)
	exceptions := chromedp.Events(ctx, runtime.ExceptionThrown)
	logEntries := chromedp.Events(ctx, cdplog.EntryAdded)
	err := chromedp.Do(ctx, chromedp.Action[chromedp.Void](func(ctx context.Context, tg *chromedp.Target) (chromedp.Void, error) {
		if _, err := cdp.Call(ctx, tg, cdplog.Enable, cdp.Empty{}); err != nil {
			return chromedp.Void{}, err
		}
		_, err := cdp.Call(ctx, tg, page.AddScriptToEvaluateOnNewDocument, page.AddScriptToEvaluateOnNewDocumentParams{Source: cspProbe})
		return chromedp.Void{}, err
	}))
	if err != nil {
		t.Fatalf("opening a tab: %v", err)
	}
	go func() {
		for ev, err := range consoleEvents {
			if err != nil {
				return
			}
			if ev.Type == runtime.ConsoleAPICalledTypeError || ev.Type == runtime.ConsoleAPICalledTypeAssert {
				var parts []string
				for _, a := range ev.Args {
					parts = append(parts, string(a.Value)+a.Description)
				}
				tab.record("console." + string(ev.Type) + ": " + strings.Join(parts, " "))
			}
		}
	}()
	go func() {
		for ev, err := range exceptions {
			if err != nil {
				return
			}
			tab.record("uncaught exception: " + ev.ExceptionDetails.Text)
		}
	}()
	go func() {
		for ev, err := range logEntries {
			if err != nil {
				return
			}
			if ev.Entry.Level == cdplog.EntryLevelError {
				tab.record("browser log (" + string(ev.Entry.Source) + "): " + ev.Entry.Text)
			}
		}
	}()
	return tab
}

func (tab *Tab) record(s string) {
	tab.mu.Lock()
	tab.problems = append(tab.problems, s)
	tab.mu.Unlock()
}

// Problems returns the console errors, exceptions and CSP violations the
// tab has seen, waiting briefly for late events to arrive. Entries that
// contain one of the expected strings (e.g. "status of 422" for a form
// that was refused on purpose) are left out.
func (tab *Tab) Problems(expected ...string) []string {
	tab.t.Helper()
	violations, err := chromedp.Run(tab.ctx, chromedp.Evaluate[[]string](`window.__cspViolations || []`))
	if err != nil {
		tab.t.Fatalf("reading CSP violations: %v", err)
	}
	time.Sleep(200 * time.Millisecond) // let in-flight DevTools events land
	tab.mu.Lock()
	defer tab.mu.Unlock()
	all := append([]string(nil), tab.problems...)
	for _, v := range violations {
		all = append(all, "CSP violation: "+v)
	}
	var out []string
next:
	for _, p := range all {
		for _, e := range expected {
			if strings.Contains(p, e) {
				continue next
			}
		}
		out = append(out, p)
	}
	return out
}

// Visit navigates to url, waits for the page's main element and saves a
// screenshot named after the test and the page.
func (tab *Tab) Visit(url, shot string) {
	tab.t.Helper()
	if err := chromedp.Do(tab.ctx, chromedp.Navigate(url), chromedp.WaitVisible(chromedp.CSS("main"))); err != nil {
		tab.t.Fatalf("visiting %s: %v", url, err)
	}
	tab.Screenshot(shot)
}

// Screenshot saves the visible page as e2e/artifacts/<Test>/<name>.png
// and returns the path.
func (tab *Tab) Screenshot(name string) string {
	tab.t.Helper()
	buf, err := chromedp.Run(tab.ctx, chromedp.FullScreenshot(100))
	if err != nil {
		tab.t.Fatalf("screenshot %s: %v", name, err)
	}
	dir := filepath.Join("artifacts", safeName(tab.t.Name()))
	if err := os.MkdirAll(dir, 0o755); err != nil {
		tab.t.Fatal(err)
	}
	path := filepath.Join(dir, safeName(name)+".png")
	if err := os.WriteFile(path, buf, 0o644); err != nil {
		tab.t.Fatal(err)
	}
	return path
}

// Text returns the text of the first element matching the CSS selector.
func (tab *Tab) Text(css string) string {
	tab.t.Helper()
	s, err := chromedp.Run(tab.ctx, chromedp.Text(chromedp.CSS(css)))
	if err != nil {
		tab.t.Fatalf("text of %s: %v", css, err)
	}
	return strings.TrimSpace(s)
}

// Eval evaluates a JavaScript expression in the page.
func Eval[T any](tab *Tab, expr string) T {
	tab.t.Helper()
	v, err := chromedp.Run(tab.ctx, chromedp.Evaluate[T](expr))
	if err != nil {
		tab.t.Fatalf("evaluating %s: %v", expr, err)
	}
	return v
}

var unsafeChars = regexp.MustCompile(`[^A-Za-z0-9._-]+`)

func safeName(s string) string { return unsafeChars.ReplaceAllString(s, "_") }

// Do runs browser steps and fails the test on the first error.
func (tab *Tab) Do(steps ...chromedp.Action[chromedp.Void]) {
	tab.t.Helper()
	if err := chromedp.Do(tab.ctx, steps...); err != nil {
		tab.Screenshot("failed-step")
		tab.t.Fatalf("browser: %v", err)
	}
}

// localAccess returns the credentials and addresses of the embedded local
// cluster of the app whose data directory is dataDir, as its files on
// disk hold them (what "fdlstudio local credentials" prints).
func localAccess(tb testing.TB, dataDir string) (local.Secrets, local.RuntimeInfo) {
	tb.Helper()
	dir := local.DataDirIn(dataDir)
	sec, err := local.ReadSecrets(dir)
	if err != nil {
		tb.Fatal(err)
	}
	rt, err := local.ReadRuntime(dir)
	if err != nil {
		tb.Fatal(err)
	}
	return sec, rt
}

// DocScreenshot saves the page as docs/<name>.png too when
// FDLSTUDIO_UPDATE_DOCS is set ("make screenshots"), for the README.
func (tab *Tab) DocScreenshot(name string) {
	tab.t.Helper()
	path := tab.Screenshot(name)
	if os.Getenv("FDLSTUDIO_UPDATE_DOCS") == "" {
		return
	}
	data, err := os.ReadFile(path)
	if err != nil {
		tab.t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join("..", "docs", name+".png"), data, 0o644); err != nil {
		tab.t.Fatal(err)
	}
}
