package handlers

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/fdlstudio/fdlstudio/auth"
	"github.com/fdlstudio/fdlstudio/store"
	"github.com/fdlstudio/fdlstudio/store/sqlite"
)

// composerServer is the composer's routes over a real SQLite store, with
// every request made by one local user.
type composerServer struct {
	e     *echo.Echo
	db    *sqlite.DB
	owner int64
}

// workflowSealer seals the workflow texts of the test stores.
var workflowSealer, _ = store.NewSealer(bytes.Repeat([]byte{5}, store.KeySize))

func newComposerServer(tb testing.TB) *composerServer {
	tb.Helper()
	db, err := sqlite.Open(context.Background(), filepath.Join(tb.TempDir(), "fdlstudio.db"), sqlite.WithSealer(workflowSealer))
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { db.Close() })
	user, err := db.UpsertUser(context.Background(), "local", "local", "Tester", "")
	if err != nil {
		tb.Fatal(err)
	}
	h := New(Deps{Log: slog.New(slog.NewTextHandler(io.Discard, nil)), Clusters: noClusters{}, Workflows: db.Workflows()})
	e := echo.New()
	e.Use(func(next echo.HandlerFunc) echo.HandlerFunc {
		return func(c echo.Context) error {
			u := &auth.User{ID: user.ID, Name: "Tester", Mode: auth.ModeLocal}
			c.SetRequest(c.Request().WithContext(auth.WithUser(c.Request().Context(), u)))
			return next(c)
		}
	})
	e.POST("/workflows/:id/edit", h.EditWorkflow)
	e.POST("/workflows/:id/save", h.SaveWorkflow)
	e.GET("/workflows/:id", h.ShowComposer)
	e.GET("/workflows/:id/versions/:v", h.ShowWorkflowVersion)
	return &composerServer{e: e, db: db, owner: user.ID}
}

func (s *composerServer) create(tb testing.TB, text string) store.Workflow {
	tb.Helper()
	w, err := s.db.Workflows().Create(context.Background(), s.owner, "big", text, "", nil)
	if err != nil {
		tb.Fatal(err)
	}
	return w
}

// post sends body as JSON and returns the status and the answer.
func (s *composerServer) post(tb testing.TB, path string, body any) (int, []byte) {
	tb.Helper()
	b, err := json.Marshal(body)
	if err != nil {
		tb.Fatal(err)
	}
	req := httptest.NewRequest(http.MethodPost, path, bytes.NewReader(b))
	req.Header.Set("Content-Type", "application/json")
	rec := httptest.NewRecorder()
	s.e.ServeHTTP(rec, req)
	return rec.Code, rec.Body.Bytes()
}

// BenchmarkCanvasEditRequest is the server time of one canvas edit on a
// 200-function workflow measured as the browser sees it: the JSON request
// (text, positions, operation) in, the edit applied through fdl, the
// draft autosaved in SQLite, and the new text, graph, cards, positions and
// diagnostics out as JSON. Every edit sets the memory of a function in
// turn, on the text the previous answer returned, as the composer does.
// It reports the p50 and p99.
func BenchmarkCanvasEditRequest(b *testing.B) {
	s := newComposerServer(b)
	w := s.create(b, bigWorkflow(200))
	url := fmt.Sprintf("/workflows/%d/edit", w.ID)
	code, body := s.post(b, url, editRequest{YAML: w.YAML, Base: w.Version, Op: editOp{Kind: "none"}})
	if code != http.StatusOK {
		b.Fatalf("first edit: %d %s", code, body)
	}
	var st state
	if err := json.Unmarshal(body, &st); err != nil {
		b.Fatal(err)
	}
	times := make([]time.Duration, 0, b.N)
	var cpu time.Duration
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; b.Loop(); i++ {
		v := fmt.Sprintf("%dMi", 256+i%100)
		req := editRequest{YAML: st.YAML, Base: w.Version, Positions: st.Positions, Op: editOp{Kind: "set", Node: fmt.Sprintf("oscar/c/f%d", i%200), Field: "memory", Value: &v}}
		b.StopTimer()
		payload, _ := json.Marshal(req)
		b.StartTimer()
		cpu0 := processCPU()
		start := time.Now()
		hr := httptest.NewRequest(http.MethodPost, url, bytes.NewReader(payload))
		hr.Header.Set("Content-Type", "application/json")
		rec := httptest.NewRecorder()
		s.e.ServeHTTP(rec, hr)
		times = append(times, time.Since(start))
		cpu += processCPU() - cpu0
		b.StopTimer()
		if rec.Code != http.StatusOK {
			b.Fatalf("edit %d: %d %s", i, rec.Code, rec.Body)
		}
		// Only what the next edit sends back and the counts: decoding every
		// card would make garbage that the server's GC then pays for.
		var ans struct {
			YAML      string    `json:"yaml"`
			Positions positions `json:"positions"`
		}
		if err := json.Unmarshal(rec.Body.Bytes(), &ans); err != nil {
			b.Fatal(err)
		}
		st.YAML, st.Positions = ans.YAML, ans.Positions
		if n, e := bytes.Count(rec.Body.Bytes(), []byte(`"html":`)), bytes.Count(rec.Body.Bytes(), []byte(`"role":`)); n != 401 || e != 400 {
			b.Fatalf("edit %d: %d nodes, %d edges", i, n, e)
		}
		b.StartTimer()
	}
	b.StopTimer()
	slices.Sort(times)
	b.ReportMetric(float64(times[len(times)/2].Microseconds())/1000, "p50-ms")
	b.ReportMetric(float64(times[len(times)*99/100].Microseconds())/1000, "p99-ms")
	// On a shared machine the wall times above include waiting for a core;
	// the CPU the process used while serving is the work itself.
	b.ReportMetric(float64(cpu.Microseconds())/1000/float64(len(times)), "cpu-ms/op")
}

// processCPU is the user and system CPU time the process has used.
func processCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// countingRepo counts the versions read with their text.
type countingRepo struct {
	*sqlite.Workflows
	texts int
}

func (r *countingRepo) Version(ctx context.Context, ownerID, id int64, version int) (store.WorkflowVersion, error) {
	r.texts++
	return r.Workflows.Version(ctx, ownerID, id, version)
}

// TestVersionPagesReadOnlyWhatTheyShow: the composer lists versions
// without reading any version's text, and a version page reads the two
// versions it compares, however many there are. Saves keep their message.
func TestVersionPagesReadOnlyWhatTheyShow(t *testing.T) {
	s := newComposerServer(t)
	w := s.create(t, commented)
	text := commented
	for i := 1; i <= 5; i++ {
		text = strings.Replace(commented, "# the end", fmt.Sprintf("# step %d", i), 1)
		code, body := s.post(t, fmt.Sprintf("/workflows/%d/save", w.ID), saveRequest{YAML: text, Base: i, Message: fmt.Sprintf("  step %d ", i)})
		if code != http.StatusOK {
			t.Fatalf("save %d: %d %s", i, code, body)
		}
	}
	vs, err := s.db.Workflows().VersionList(context.Background(), s.owner, w.ID)
	if err != nil || len(vs) != 6 || vs[0].Message != "step 5" || vs[0].Author != "Tester" || vs[0].Size != len(text) {
		t.Fatalf("VersionList = %+v, %v", vs, err)
	}
	code, body := s.post(t, fmt.Sprintf("/workflows/%d/save", w.ID), saveRequest{YAML: text, Base: 6, Message: strings.Repeat("x", maxVersionMessage+1)})
	if code != http.StatusUnprocessableEntity || !strings.Contains(string(body), "version message") {
		t.Errorf("an overlong message: %d %s", code, body)
	}

	repo := &countingRepo{Workflows: s.db.Workflows()}
	h := New(Deps{Log: slog.New(slog.NewTextHandler(io.Discard, nil)), Clusters: noClusters{}, Workflows: repo})
	get := func(path string, handler echo.HandlerFunc, route string) (int, string) {
		e := echo.New()
		e.HTTPErrorHandler = func(err error, c echo.Context) {
			status := http.StatusInternalServerError
			if ue := (*UserError)(nil); errors.As(err, &ue) {
				status = ue.Status
			}
			_ = c.String(status, Describe(err))
		}
		e.Use(func(next echo.HandlerFunc) echo.HandlerFunc {
			return func(c echo.Context) error {
				c.SetRequest(c.Request().WithContext(auth.WithUser(c.Request().Context(), &auth.User{ID: s.owner, Name: "Tester", Mode: auth.ModeLocal})))
				return next(c)
			}
		})
		e.GET(route, handler)
		rec := httptest.NewRecorder()
		e.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, path, nil))
		return rec.Code, rec.Body.String()
	}
	code, page := get(fmt.Sprintf("/workflows/%d", w.ID), h.ShowComposer, "/workflows/:id")
	if code != http.StatusOK || repo.texts != 0 {
		t.Fatalf("composer: %d, %d version texts read", code, repo.texts)
	}
	for v := 1; v <= 6; v++ {
		if !strings.Contains(page, fmt.Sprintf("/workflows/%d/versions/%d", w.ID, v)) {
			t.Errorf("the composer does not list version %d", v)
		}
	}
	code, page = get(fmt.Sprintf("/workflows/%d/versions/4", w.ID), h.ShowWorkflowVersion, "/workflows/:id/versions/:v")
	if code != http.StatusOK || repo.texts != 2 {
		t.Fatalf("version page: %d, %d version texts read", code, repo.texts)
	}
	if !strings.Contains(page, "# step 2") || !strings.Contains(page, "# step 3") || strings.Contains(page, "# step 4") {
		t.Errorf("the version page does not show the difference between versions 3 and 4")
	}
	if code, _ = get(fmt.Sprintf("/workflows/%d/versions/9", w.ID), h.ShowWorkflowVersion, "/workflows/:id/versions/:v"); code != http.StatusNotFound {
		t.Errorf("a missing version: %d", code)
	}
}

// BenchmarkImportAndOpen200 is the server's share of importing and drawing
// a 200-function workflow: the pasted form posted to /workflows (parse,
// graph, layout, store) and the composer page it redirects to (parse,
// validate, graph, cards, page render). The browser's share (drawing the
// canvas) is measured by e2e's BenchmarkComposerImportAndDraw200.
func BenchmarkImportAndOpen200(b *testing.B) {
	s := newComposerServer(b)
	h := New(Deps{Log: slog.New(slog.NewTextHandler(io.Discard, nil)), Clusters: noClusters{}, Workflows: s.db.Workflows()})
	s.e.POST("/workflows", h.CreateWorkflow)
	text := bigWorkflow(200)
	var imports, opens []time.Duration
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		// A new text each time, as no import repeats the one before.
		form := url.Values{"source": {"paste"}, "name": {"big"}, "paste": {fmt.Sprintf("# import %d\n%s", i, text)}}.Encode()
		start := time.Now()
		req := httptest.NewRequest(http.MethodPost, "/workflows", strings.NewReader(form))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		rec := httptest.NewRecorder()
		s.e.ServeHTTP(rec, req)
		mid := time.Now()
		if rec.Code != http.StatusSeeOther {
			b.Fatalf("import: %d %s", rec.Code, rec.Body)
		}
		rec2 := httptest.NewRecorder()
		s.e.ServeHTTP(rec2, httptest.NewRequest(http.MethodGet, rec.Header().Get("Location"), nil))
		end := time.Now()
		if rec2.Code != http.StatusOK || !strings.Contains(rec2.Body.String(), "f199") {
			b.Fatalf("open: %d", rec2.Code)
		}
		imports, opens = append(imports, mid.Sub(start)), append(opens, end.Sub(mid))
	}
	slices.Sort(imports)
	slices.Sort(opens)
	ms := func(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }
	b.ReportMetric(ms(imports[len(imports)/2]), "import-p50-ms")
	b.ReportMetric(ms(opens[len(opens)/2]), "open-p50-ms")
	b.ReportMetric(ms(imports[len(imports)*99/100]+opens[len(opens)*99/100]), "p99-sum-ms")
}

// TestRefusedImportKeepsTheTypedName: a refused import shows the form
// again with the name as the user typed it (empty), not the default
// given to an unnamed workflow, which a second import would then take.
func TestRefusedImportKeepsTheTypedName(t *testing.T) {
	s := newComposerServer(t)
	h := New(Deps{Log: slog.New(slog.NewTextHandler(io.Discard, nil)), Clusters: noClusters{}, Workflows: s.db.Workflows()})
	s.e.POST("/workflows", h.CreateWorkflow)
	post := func(form url.Values) *httptest.ResponseRecorder {
		req := httptest.NewRequest(http.MethodPost, "/workflows", strings.NewReader(form.Encode()))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		rec := httptest.NewRecorder()
		s.e.ServeHTTP(rec, req)
		return rec
	}
	rec := post(url.Values{"source": {"paste"}, "paste": {"apiVersion: v1\nkind: Pod\n"}})
	if rec.Code != http.StatusUnprocessableEntity || !strings.Contains(rec.Body.String(), "not an FDL") {
		t.Fatalf("a Kubernetes manifest: %d", rec.Code)
	}
	if strings.Contains(rec.Body.String(), "Untitled workflow") {
		t.Error("the refused form comes back with the default name filled in")
	}
	if rec = post(url.Values{"source": {"paste"}, "paste": {commented}}); rec.Code != http.StatusSeeOther {
		t.Fatalf("import: %d", rec.Code)
	}
	ws, err := s.db.Workflows().List(context.Background(), s.owner)
	if err != nil || len(ws) != 1 || ws[0].Name != "Untitled workflow" {
		t.Fatalf("workflows = %+v, %v", ws, err)
	}
}
