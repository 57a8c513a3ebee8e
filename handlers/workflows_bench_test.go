package handlers

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"slices"
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

func newComposerServer(tb testing.TB) *composerServer {
	tb.Helper()
	db, err := sqlite.Open(context.Background(), filepath.Join(tb.TempDir(), "fdlstudio.db"))
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
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; b.Loop(); i++ {
		v := fmt.Sprintf("%dMi", 256+i%100)
		req := editRequest{YAML: st.YAML, Base: w.Version, Positions: st.Positions, Op: editOp{Kind: "set", Node: fmt.Sprintf("oscar/c/f%d", i%200), Field: "memory", Value: &v}}
		b.StopTimer()
		payload, _ := json.Marshal(req)
		b.StartTimer()
		start := time.Now()
		hr := httptest.NewRequest(http.MethodPost, url, bytes.NewReader(payload))
		hr.Header.Set("Content-Type", "application/json")
		rec := httptest.NewRecorder()
		s.e.ServeHTTP(rec, hr)
		times = append(times, time.Since(start))
		b.StopTimer()
		if rec.Code != http.StatusOK {
			b.Fatalf("edit %d: %d %s", i, rec.Code, rec.Body)
		}
		st = state{}
		if err := json.Unmarshal(rec.Body.Bytes(), &st); err != nil {
			b.Fatal(err)
		}
		if len(st.Nodes) != 401 || len(st.Edges) != 400 {
			b.Fatalf("edit %d: %d nodes, %d edges", i, len(st.Nodes), len(st.Edges))
		}
		b.StartTimer()
	}
	b.StopTimer()
	slices.Sort(times)
	b.ReportMetric(float64(times[len(times)/2].Microseconds())/1000, "p50-ms")
	b.ReportMetric(float64(times[len(times)*99/100].Microseconds())/1000, "p99-ms")
}
