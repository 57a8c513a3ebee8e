package e2e

import (
	"archive/zip"
	"bytes"
	"context"
	"encoding/base64"
	"fmt"
	"io"
	"log/slog"
	"mime/multipart"
	"net/http"
	"net/url"
	"os"
	"regexp"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/minio/minio-go/v7"
	"github.com/minio/minio-go/v7/pkg/credentials"

	"github.com/fdlstudio/fdlstudio/app"
	"github.com/fdlstudio/fdlstudio/web"
)

// pattern is the content of the binary test file: the same bytes are
// made in the page (for the drop) and here (to compare).
func pattern(n int) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte((i*31 + 7) % 251)
	}
	return b
}

const patternJS = `(n) => { const b = new Uint8Array(n); for (let i = 0; i < n; i++) b[i] = (i * 31 + 7) % 251; return b; }`

// fetchBase64 fetches url in the page (with its cookies) and returns the
// status, two headers and the body.
func fetchBase64(tab *Tab, u string) (status int, ctype, disp string, body []byte) {
	tab.t.Helper()
	type result struct {
		Status int    `json:"status"`
		Type   string `json:"type"`
		Disp   string `json:"disp"`
		Data   string `json:"data"`
	}
	r, err := chromedp.Run(tab.ctx, chromedp.Evaluate[result](`(async () => {
		const r = await fetch(`+strconv.Quote(u)+`);
		const blob = await r.blob();
		const data = await new Promise((ok) => { const fr = new FileReader(); fr.onload = () => ok(fr.result.split(",")[1] || ""); fr.readAsDataURL(blob); });
		return {status: r.status, type: r.headers.get("content-type") || "", disp: r.headers.get("content-disposition") || "", data};
	})()`, chromedp.EvalAwaitPromise))
	if err != nil {
		tab.t.Fatalf("fetching %s in the page: %v", u, err)
	}
	body, err = base64.StdEncoding.DecodeString(r.Data)
	if err != nil {
		tab.t.Fatalf("decoding %s: %v", u, err)
	}
	return r.Status, r.Type, r.Disp, body
}

// TestFilesBrowseUploadDownloadDelete walks the file pages against the
// local cluster's real S3 server: create a bucket and a folder, drop
// three files (progress bars complete), browse, download one, zip the
// folder, share a link, and delete the folder after confirming.
func TestFilesBrowseUploadDownloadDelete(t *testing.T) {
	app := startApp(t, func(c *web.Config) { c.LocalCluster = "on" })
	tab := newTab(t)

	tab.Visit(app.URL+"/files", "buckets-empty")
	if got := tab.Text(`[data-testid="cluster-picker"] [aria-current="page"]`); got != "local" {
		t.Fatalf("cluster picked = %q, want local", got)
	}

	// A bad bucket name is refused with the reason, next to the form.
	tab.Do(
		chromedp.SendKeys(chromedp.ID("bucket-name"), "Bad_Name"),
		chromedp.Click(chromedp.CSS(`[data-testid="create-bucket"] button[type=submit]`)),
		chromedp.WaitVisible(chromedp.CSS(`[data-testid="create-bucket-error"]`)),
	)
	if got := tab.Text(`[data-testid="create-bucket-error"]`); !strings.Contains(got, "lower-case") {
		t.Errorf("bad bucket name error = %q", got)
	}
	tab.Do(
		chromedp.SetValue(chromedp.ID("bucket-name"), "e2e-files"),
		chromedp.Click(chromedp.CSS(`[data-testid="create-bucket"] button[type=submit]`)),
		chromedp.WaitVisible(chromedp.CSS(`[data-testid="objects-empty"]`)),
	)
	tab.Screenshot("bucket-empty")
	if got := tab.Text(`[data-testid="files-notice"]`); !strings.Contains(got, "e2e-files") {
		t.Errorf("notice after create = %q", got)
	}

	// A folder name with ".." is refused with the reason.
	tab.Do(
		chromedp.SendKeys(chromedp.ID("folder-name"), "../up"),
		chromedp.Click(chromedp.CSS(`[data-testid="create-folder"] button[type=submit]`)),
		chromedp.WaitVisible(chromedp.CSS(`[data-testid="files-error"]`)),
	)
	if got := tab.Text(`[data-testid="files-error"]`); !strings.Contains(got, `".."`) {
		t.Errorf("bad folder error = %q", got)
	}
	tab.Do(
		chromedp.SetValue(chromedp.ID("folder-name"), "docs"),
		chromedp.Click(chromedp.CSS(`[data-testid="create-folder"] button[type=submit]`)),
		chromedp.WaitVisible(chromedp.CSS(`[data-testid="files-notice"]`)),
	)
	if got := tab.Text(`[data-testid="breadcrumbs"] [aria-current="page"]`); got != "docs" {
		t.Fatalf("after creating the folder the page is %q, want docs", got)
	}

	// Drop three files on the drop zone, as a user dragging them from
	// the desktop would.
	const binSize = 3 << 20
	Eval[bool](tab, `(() => {
		const make = `+patternJS+`;
		const dt = new DataTransfer();
		dt.items.add(new File(["hello from the drop\n"], "a.txt", {type: "text/plain"}));
		dt.items.add(new File([make(`+strconv.Itoa(binSize)+`)], "b.bin", {type: "application/octet-stream"}));
		dt.items.add(new File(["x,y\n1,2\n"], "c.csv", {type: "text/csv"}));
		const zone = document.querySelector('[data-testid="drop-zone"]');
		zone.dispatchEvent(new DragEvent("dragover", {dataTransfer: dt, bubbles: true, cancelable: true}));
		return zone.dispatchEvent(new DragEvent("drop", {dataTransfer: dt, bubbles: true, cancelable: true}));
	})()`)
	for deadline := time.Now().Add(20 * time.Second); ; time.Sleep(100 * time.Millisecond) {
		states := Eval[[]string](tab, `[...document.querySelectorAll('[data-testid="upload-list"] li')].map(li => li.dataset.state + ": " + li.textContent)`)
		done := 0
		for _, s := range states {
			if strings.HasPrefix(s, "done") {
				done++
			}
		}
		if done == 3 {
			break
		}
		if time.Now().After(deadline) {
			tab.Screenshot("uploads-stuck")
			t.Fatalf("uploads did not finish: %q", states)
		}
	}
	bars := Eval[[]float64](tab, `[...document.querySelectorAll('[data-testid="upload-list"] progress')].map(p => p.value)`)
	if len(bars) != 3 {
		t.Fatalf("%d progress bars, want 3", len(bars))
	}
	for i, v := range bars {
		if v != 100 {
			t.Errorf("progress bar %d at %v, want 100", i, v)
		}
	}
	// The listing refreshes by itself (htmx) once the uploads are done.
	tab.Do(chromedp.WaitVisible(chromedp.CSS(`tr[data-key="docs/c.csv"]`)))
	tab.Screenshot("uploaded")
	Eval[bool](tab, `(document.documentElement.setAttribute("data-theme", "dark"), true)`)
	time.Sleep(300 * time.Millisecond) // let the colour transitions finish
	tab.Screenshot("uploaded-dark")
	Eval[bool](tab, `(document.documentElement.removeAttribute("data-theme"), true)`)
	if got := tab.Text(`tr[data-key="docs/b.bin"] .files-num`); got != "3.0 MiB" {
		t.Errorf("size of b.bin = %q, want 3.0 MiB", got)
	}

	// Browse: from the bucket root into the folder.
	tab.Do(chromedp.Click(chromedp.CSS(`[data-testid="breadcrumbs"] a[href*="prefix=&"], [data-testid="breadcrumbs"] a[href$="prefix="]`)),
		chromedp.WaitVisible(chromedp.CSS(`tr[data-folder="docs/"]`)))
	tab.Screenshot("bucket-root")
	tab.Do(chromedp.Click(chromedp.CSS(`tr[data-folder="docs/"] a.files-folder`)),
		chromedp.WaitVisible(chromedp.CSS(`tr[data-key="docs/a.txt"]`)))
	tab.Screenshot("folder")
	// Page weight: the JS and CSS this page loads, as sent (gzip).
	weight := Eval[float64](tab, `performance.getEntriesByType("resource").filter(e => /\.(js|css)$/.test(new URL(e.name).pathname)).reduce((n, e) => n + e.encodedBodySize, 0)`)
	if weight <= 0 || weight > 60<<10 {
		t.Errorf("the folder page loads %.0f bytes of JS and CSS, want under 60 KiB", weight)
	}
	t.Logf("folder page: %.1f KiB of JS and CSS (gzip)", weight/1024)

	// Download one file: same bytes, its type, a safe file name.
	status, ctype, disp, body := fetchBase64(tab, "/files/local/e2e-files/download?key="+url.QueryEscape("docs/b.bin"))
	if status != 200 || !bytes.Equal(body, pattern(binSize)) {
		t.Errorf("download of b.bin: status %d, %d bytes, equal=%v", status, len(body), bytes.Equal(body, pattern(binSize)))
	}
	if ctype != "application/octet-stream" {
		t.Errorf("download of b.bin: Content-Type = %q", ctype)
	}
	if !strings.Contains(disp, `filename=b.bin`) || !strings.HasPrefix(disp, "attachment") {
		t.Errorf("Content-Disposition = %q", disp)
	}
	status, ctype, _, body = fetchBase64(tab, "/files/local/e2e-files/download?key="+url.QueryEscape("docs/c.csv"))
	if status != 200 || string(body) != "x,y\n1,2\n" || !strings.HasPrefix(ctype, "text/csv") {
		t.Errorf("download of c.csv: status %d, type %q, body %q", status, ctype, body)
	}

	// The folder as one zip.
	status, ctype, _, body = fetchBase64(tab, "/files/local/e2e-files/zip?prefix="+url.QueryEscape("docs/"))
	if status != 200 || ctype != "application/zip" {
		t.Fatalf("zip: status %d, type %q", status, ctype)
	}
	zr, err := zip.NewReader(bytes.NewReader(body), int64(len(body)))
	if err != nil {
		t.Fatalf("the zip does not open: %v", err)
	}
	entries := map[string][]byte{}
	for _, f := range zr.File {
		rc, err := f.Open()
		if err != nil {
			t.Fatal(err)
		}
		entries[f.Name], _ = io.ReadAll(rc)
		rc.Close()
	}
	if len(entries) != 3 || string(entries["a.txt"]) != "hello from the drop\n" || !bytes.Equal(entries["b.bin"], pattern(binSize)) || string(entries["c.csv"]) != "x,y\n1,2\n" {
		names := make([]string, 0, len(entries))
		for n := range entries {
			names = append(names, n)
		}
		t.Errorf("zip entries = %v", names)
	}

	// A share link for a day, which works without FDL Studio.
	tab.Do(
		chromedp.Click(chromedp.CSS(`tr[data-key="docs/a.txt"] summary[aria-label^="Share"]`)),
		chromedp.SetValue(chromedp.CSS(`tr[data-key="docs/a.txt"] select[name=expires]`), "24h"),
		chromedp.Click(chromedp.CSS(`tr[data-key="docs/a.txt"] .confirm-box button[type=submit]`)),
		chromedp.WaitVisible(chromedp.CSS(`tr[data-key="docs/a.txt"] [data-testid="share-result"]`)),
	)
	tab.Screenshot("share")
	link := Eval[string](tab, `document.querySelector('tr[data-key="docs/a.txt"] [data-share-url]').value`)
	if got := tab.Text(`tr[data-key="docs/a.txt"] [data-testid="share-result"]`); !strings.Contains(got, "1 day") {
		t.Errorf("share text = %q", got)
	}
	resp, err := http.Get(link)
	if err != nil {
		t.Fatalf("share link %q: %v", link, err)
	}
	shared, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || string(shared) != "hello from the drop\n" {
		t.Errorf("share link gave %d %q", resp.StatusCode, shared)
	}

	// Delete the folder: the confirmation says how much goes.
	tab.Visit(app.URL+"/files/local/e2e-files?prefix=", "before-delete")
	tab.Do(
		chromedp.Click(chromedp.CSS(`tr[data-folder="docs/"] input[type=checkbox]`)),
		chromedp.Click(chromedp.CSS(`[data-testid="delete-selected"]`)),
		chromedp.WaitVisible(chromedp.CSS(`[data-testid="delete-confirm"]`)),
	)
	tab.Screenshot("delete-confirm")
	if got := tab.Text(`[data-testid="delete-confirm"]`); !strings.Contains(got, "4 objects") || !strings.Contains(got, "docs/") {
		t.Errorf("confirmation = %q, want the folder and its 4 objects (3 files and the folder marker)", got)
	}
	tab.Do(
		chromedp.Click(chromedp.CSS(`[data-testid="confirm-delete"]`)),
		chromedp.WaitVisible(chromedp.CSS(`[data-testid="objects-empty"]`)),
	)
	tab.Screenshot("deleted")
	if got := tab.Text(`[data-testid="files-notice"]`); !strings.Contains(got, "Deleted 4 objects") {
		t.Errorf("notice after delete = %q", got)
	}
	tab.Visit(app.URL+"/files/local", "buckets")
	if got := tab.Text(`tr[data-bucket="e2e-files"]`); !strings.Contains(got, "private") {
		t.Errorf("bucket row = %q, want its visibility", got)
	}
	if p := tab.Problems("status of 422"); len(p) > 0 {
		t.Errorf("console errors or CSP violations:\n%s", strings.Join(p, "\n"))
	}
}

var csrfRE = regexp.MustCompile(`name="csrf_token" value="([^"]+)"`)

// TestFilesUploadWithoutJavaScript posts the plain multipart form (as a
// browser without JavaScript does, a folder pick naming files by their
// relative path), then downloads a file with a bad key and a missing one.
func TestFilesUploadWithoutJavaScript(t *testing.T) {
	app := startApp(t, func(c *web.Config) { c.LocalCluster = "on" })
	hc := unlockedClient(t, app.OpenURL, true)

	token := func(page string) string {
		resp, err := hc.Get(app.URL + page)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		m := csrfRE.FindSubmatch(b)
		if m == nil {
			t.Fatalf("no CSRF token on %s (status %d)", page, resp.StatusCode)
		}
		return string(m[1])
	}
	form := url.Values{"csrf_token": {token("/files/local")}, "name": {"nojs"}, "visibility": {"private"}}
	resp, err := hc.PostForm(app.URL+"/files/local", form)
	if err != nil || resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("create bucket: %v %v", resp.Status, err)
	}
	resp.Body.Close()

	tok := token("/files/local/nojs?prefix=")
	big := pattern(20 << 20) // larger than the 10 MiB body limit
	var body bytes.Buffer
	mw := multipart.NewWriter(&body)
	mw.WriteField("csrf_token", tok)
	for name, data := range map[string][]byte{"album/one.txt": []byte("one"), "album/sub/big.bin": big} {
		w, _ := mw.CreateFormFile("folder", name)
		w.Write(data)
	}
	mw.Close()
	req, _ := http.NewRequest(http.MethodPost, app.URL+"/files/local/nojs/upload?prefix=", &body)
	req.Header.Set("Content-Type", mw.FormDataContentType())
	resp, err = hc.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusSeeOther || !strings.Contains(resp.Header.Get("Location"), "&notice=") {
		t.Fatalf("multipart upload: %s, Location %q", resp.Status, resp.Header.Get("Location"))
	}
	// The notice travels sealed; the page it leads to shows it.
	resp, err = hc.Get(app.URL + resp.Header.Get("Location"))
	if err != nil {
		t.Fatal(err)
	}
	page, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if !strings.Contains(string(page), "Uploaded 2 files.") {
		t.Errorf("the page after the upload does not say %q", "Uploaded 2 files.")
	}
	resp, err = hc.Get(app.URL + "/files/local/nojs/download?key=" + url.QueryEscape("album/sub/big.bin"))
	if err != nil {
		t.Fatal(err)
	}
	got, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if !bytes.Equal(got, big) || resp.Header.Get("Content-Length") != strconv.Itoa(len(big)) {
		t.Errorf("downloaded %d bytes (Content-Length %q), want the %d uploaded", len(got), resp.Header.Get("Content-Length"), len(big))
	}

	// The same form without its token is refused before anything is stored.
	req, _ = http.NewRequest(http.MethodPost, app.URL+"/files/local/nojs/upload?prefix=", strings.NewReader("--x\r\nContent-Disposition: form-data; name=\"files\"; filename=\"evil.txt\"\r\n\r\nno\r\n--x--\r\n"))
	req.Header.Set("Content-Type", "multipart/form-data; boundary=x")
	resp, err = hc.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusForbidden {
		t.Errorf("upload without a CSRF token: %s, want 403", resp.Status)
	}

	// A cluster that is down is named, with the cause, where its
	// buckets would be; the rest of the page works.
	form = url.Values{"csrf_token": {token("/clusters/new")}, "name": {"gone"}, "endpoint": {"http://127.0.0.1:1"},
		"auth_kind": {"basic"}, "username": {"oscar"}, "password": {"x"}}
	resp, err = hc.PostForm(app.URL+"/clusters", form)
	if err != nil || resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("register a down cluster: %v %v", resp.Status, err)
	}
	resp.Body.Close()
	for _, page := range []string{"/files/gone", "/files/gone/data?prefix="} {
		resp, err = hc.Get(app.URL + page)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if !regexp.MustCompile(`data-testid="(buckets|objects)-error">[^<]*gone[^<]*unreachable`).Match(b) {
			t.Errorf("%s (status %d) does not say that cluster gone is unreachable", page, resp.StatusCode)
		}
		if !strings.Contains(string(b), `data-testid="breadcrumbs"`) && !strings.Contains(string(b), `data-testid="cluster-picker"`) {
			t.Errorf("%s lost its navigation when the cluster failed", page)
		}
	}

	for _, tt := range []struct {
		key    string
		status int
		says   string
	}{
		{"../etc/passwd", 400, "folder, which is not allowed"},
		{"album/none.txt", 404, "album/none.txt"},
	} {
		req, _ := http.NewRequest(http.MethodGet, app.URL+"/files/local/nojs/download?key="+url.QueryEscape(tt.key), nil)
		req.Header.Set("Accept", "application/json")
		resp, err := hc.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != tt.status || !strings.Contains(string(b), tt.says) {
			t.Errorf("download %q: %d %s, want %d saying %q", tt.key, resp.StatusCode, b, tt.status, tt.says)
		}
	}
}

// benchApp boots FDL Studio with the local cluster for a benchmark (the
// harness's startApp takes a *testing.T).
func benchApp(b *testing.B) (appURL, openURL, dataDir string) {
	cfg := web.Defaults()
	cfg.Addr = "127.0.0.1:0"
	cfg.DataDir = b.TempDir()
	cfg.LocalCluster = "on"
	ctx, cancel := context.WithCancel(context.Background())
	srv, err := app.Open(ctx, cfg, slog.New(slog.DiscardHandler))
	if err != nil {
		cancel()
		b.Fatalf("starting FDL Studio: %v", err)
	}
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ctx) }()
	b.Cleanup(func() { cancel(); <-done })
	return srv.URL(), srv.OpenURL(), cfg.DataDir
}

// patternReader yields n bytes of a repeating pattern without holding
// them.
type patternReader struct {
	left int64
	buf  []byte
}

func newPatternReader(n int64) *patternReader { return &patternReader{left: n, buf: pattern(1 << 20)} }

func (r *patternReader) Read(p []byte) (int, error) {
	if r.left <= 0 {
		return 0, io.EOF
	}
	if int64(len(p)) > r.left {
		p = p[:r.left]
	}
	n := copy(p, r.buf)
	r.left -= int64(n)
	return n, nil
}

// heapPeak samples the heap until stop is called and returns the growth
// of its peak over the level when it started.
func heapPeak() (stop func() uint64) {
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	base, peak := ms.HeapAlloc, ms.HeapAlloc
	quit := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		tick := time.NewTicker(20 * time.Millisecond)
		defer tick.Stop()
		for {
			select {
			case <-quit:
				return
			case <-tick.C:
				var ms runtime.MemStats
				runtime.ReadMemStats(&ms)
				peak = max(peak, ms.HeapAlloc)
			}
		}
	}()
	return func() uint64 {
		close(quit)
		wg.Wait()
		if peak < base {
			return 0
		}
		return peak - base
	}
}

// BenchmarkFilesTransfer uploads and downloads one large file (256 MiB,
// or FDLSTUDIO_BENCH_BYTES) through the dashboard's routes and with
// minio-go straight to the same versitygw, and reports each throughput,
// the dashboard/direct ratios and the peak heap growth of the process
// (server and client) during the dashboard transfers.
func BenchmarkFilesTransfer(b *testing.B) {
	size := int64(256 << 20)
	if v := os.Getenv("FDLSTUDIO_BENCH_BYTES"); v != "" {
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil || n <= 0 {
			b.Fatalf("FDLSTUDIO_BENCH_BYTES=%q: want a positive number of bytes", v)
		}
		size = n
	}
	appURL, openURL, dataDir := benchApp(b)
	sec, rt := localAccess(b, dataDir)
	s3u, err := url.Parse(rt.S3Endpoint)
	if err != nil || s3u.Host == "" {
		s3u = &url.URL{Host: rt.S3Endpoint}
	}
	mc, err := minio.New(s3u.Host, &minio.Options{Creds: credentials.NewStaticV4(sec.S3AccessKey, sec.S3SecretKey, ""), BucketLookup: minio.BucketLookupPath})
	if err != nil {
		b.Fatal(err)
	}
	ctx := context.Background()
	if err := mc.MakeBucket(ctx, "bench", minio.MakeBucketOptions{}); err != nil {
		b.Fatal(err)
	}
	hc := unlockedClient(b, openURL, false)
	resp, err := hc.Get(appURL + "/files/local/bench?prefix=")
	if err != nil {
		b.Fatal(err)
	}
	page, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	m := csrfRE.FindSubmatch(page)
	if m == nil {
		b.Fatalf("no CSRF token on the bucket page (status %d)", resp.StatusCode)
	}
	token := string(m[1])

	mbps := func(d time.Duration) float64 { return float64(size) / (1 << 20) / d.Seconds() }
	var dashUp, dashDown, directUp, directDown time.Duration
	var peak uint64
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		stop := heapPeak()
		start := time.Now()
		req, _ := http.NewRequest(http.MethodPost, appURL+"/files/local/bench/upload?prefix=&path=dash.bin", newPatternReader(size))
		req.ContentLength = size
		req.Header.Set("X-CSRF-Token", token)
		req.Header.Set("Content-Type", "application/octet-stream")
		resp, err := hc.Do(req)
		if err != nil {
			b.Fatal(err)
		}
		msg, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusCreated {
			b.Fatalf("dashboard upload: %s %s", resp.Status, msg)
		}
		dashUp += time.Since(start)

		start = time.Now()
		resp, err = hc.Get(appURL + "/files/local/bench/download?key=dash.bin")
		if err != nil {
			b.Fatal(err)
		}
		n, err := io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if err != nil || n != size {
			b.Fatalf("dashboard download: %d of %d bytes: %v", n, size, err)
		}
		dashDown += time.Since(start)
		peak = max(peak, stop())

		start = time.Now()
		if _, err := mc.PutObject(ctx, "bench", "direct.bin", newPatternReader(size), size, minio.PutObjectOptions{ContentType: "application/octet-stream"}); err != nil {
			b.Fatal(err)
		}
		directUp += time.Since(start)
		start = time.Now()
		obj, err := mc.GetObject(ctx, "bench", "direct.bin", minio.GetObjectOptions{})
		if err != nil {
			b.Fatal(err)
		}
		n, err = io.Copy(io.Discard, obj)
		obj.Close()
		if err != nil || n != size {
			b.Fatalf("direct download: %d of %d bytes: %v", n, size, err)
		}
		directDown += time.Since(start)
	}
	b.StopTimer()
	b.ReportMetric(mbps(dashUp/time.Duration(b.N)), "dash-up-MiB/s")
	b.ReportMetric(mbps(dashDown/time.Duration(b.N)), "dash-down-MiB/s")
	b.ReportMetric(mbps(directUp/time.Duration(b.N)), "direct-up-MiB/s")
	b.ReportMetric(mbps(directDown/time.Duration(b.N)), "direct-down-MiB/s")
	b.ReportMetric(directUp.Seconds()/dashUp.Seconds(), "up-ratio")
	b.ReportMetric(directDown.Seconds()/dashDown.Seconds(), "down-ratio")
	b.ReportMetric(float64(peak)/(1<<20), "peak-heap-MiB")
	b.Logf("%s file: dashboard up %.0f MiB/s, down %.0f MiB/s; direct up %.0f MiB/s, down %.0f MiB/s; peak heap growth %.1f MiB",
		fmt.Sprint(size), mbps(dashUp/time.Duration(b.N)), mbps(dashDown/time.Duration(b.N)), mbps(directUp/time.Duration(b.N)), mbps(directDown/time.Duration(b.N)), float64(peak)/(1<<20))
}
