package handlers

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/fdlstudio/fdlstudio/auth"
	"github.com/fdlstudio/fdlstudio/backends"
	"github.com/fdlstudio/fdlstudio/backends/memtest"
	"github.com/fdlstudio/fdlstudio/store"
	"github.com/fdlstudio/fdlstudio/store/sqlite"
)

// gatedCluster is an in-memory cluster whose service creations wait for
// the test to open the gate, so an apply can be caught running.
type gatedCluster struct {
	*memtest.Cluster
	gate   chan struct{}
	refuse string // a service name whose creation the cluster refuses
}

func (g gatedCluster) CreateService(ctx context.Context, s *backends.Service) error {
	select {
	case <-g.gate:
	case <-ctx.Done():
		return ctx.Err()
	}
	if s.Name == g.refuse {
		return &backends.Error{Kind: backends.KindInvalid, Backend: "cluster lab", Op: "create service", Message: "the image img is not allowed here"}
	}
	return g.Cluster.CreateService(ctx, s)
}

const deployTestFDL = `functions:
  oscar:
  - lab:
      name: first
      image: img
      script: |
        echo one
      input:
      - storage_provider: minio.default
        path: dt/in
      output:
      - storage_provider: minio.default
        path: dt/mid
  - lab:
      name: second
      image: img
      script: |
        echo two
      input:
      - storage_provider: minio.default
        path: dt/mid
`

type deployFixture struct {
	t    *testing.T
	e    *echo.Echo
	mem  *memtest.Cluster
	gate chan struct{}
	db   *sqlite.DB
	user int64 // the request's user id
	// refuse names a service the cluster refuses to create.
	refuse string
}

func newDeployFixture(t *testing.T) *deployFixture {
	t.Helper()
	mem := memtest.New("lab")
	gate := make(chan struct{})
	f := &deployFixture{t: t, mem: mem, gate: gate}
	reg := backends.NewRegistry()
	reg.Register("gated", func(context.Context, store.Cluster, backends.Acting) (backends.Backend, error) {
		return gatedCluster{Cluster: mem, gate: gate, refuse: f.refuse}, nil
	})
	key := make([]byte, 32)
	sealer, err := store.NewSealer(key)
	if err != nil {
		t.Fatal(err)
	}
	db, err := sqlite.Open(t.Context(), filepath.Join(t.TempDir(), "fdlstudio.db"), sqlite.WithSealer(sealer))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	f.db = db
	for _, sub := range []string{"alice", "bob"} {
		if _, err := db.UpsertUser(t.Context(), "local", sub, sub, ""); err != nil {
			t.Fatal(err)
		}
	}
	h := New(Deps{
		Log:            slog.New(slog.NewTextHandler(io.Discard, nil)),
		Clusters:       noClusters{},
		Backends:       reg,
		SharedClusters: []store.Cluster{{Name: "lab", Kind: "gated", Shared: true}},
		Workflows:      db.Workflows(),
		Deployments:    db.Deployments(sealer),
	})
	t.Cleanup(h.Close)
	e := echo.New()
	e.HTTPErrorHandler = func(err error, c echo.Context) {
		var ue *UserError
		status, _ := backends.HTTPStatus(err)
		if errors.As(err, &ue) {
			status = ue.Status
		}
		_ = c.String(status, Describe(err))
	}
	e.Use(func(next echo.HandlerFunc) echo.HandlerFunc {
		return func(c echo.Context) error {
			u := &auth.User{ID: f.user, Name: "Tester", Mode: auth.ModeLocal}
			c.SetRequest(c.Request().WithContext(auth.WithUser(c.Request().Context(), u)))
			return next(c)
		}
	})
	e.GET("/workflows/:id/deploy", h.ShowDeployPlan)
	e.POST("/workflows/:id/deploy", h.ConfirmDeploy)
	e.GET("/workflows/:id/deployments", h.ShowDeployments)
	e.GET("/workflows/:id/deployments/:dep", h.ShowDeployment)
	e.POST("/workflows/:id/deployments/:dep/rollback", h.RollbackDeployment)
	e.GET("/workflows/:id/deployments/drift", h.ShowDrift)
	e.POST("/workflows/:id/deployments/:dep/adopt", h.AdoptDrift)
	e.POST("/api/deploy/rollback", h.RollbackDeploy)
	f.e = e
	f.user = 1
	return f
}

func (f *deployFixture) do(method, target string, form url.Values) *httptest.ResponseRecorder {
	f.t.Helper()
	var body io.Reader
	if form != nil {
		body = strings.NewReader(form.Encode())
	}
	req := httptest.NewRequest(method, target, body)
	if form != nil {
		req.Header.Set(echo.HeaderContentType, echo.MIMEApplicationForm)
	}
	rec := httptest.NewRecorder()
	f.e.ServeHTTP(rec, req)
	return rec
}

var fingerprintRE = regexp.MustCompile(`name="fingerprint" value="([0-9a-f]+)"`)

// waitOutcome polls the deployment's page until it shows outcome.
func (f *deployFixture) waitOutcome(target, outcome string) string {
	f.t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		body := f.do(http.MethodGet, target, nil).Body.String()
		if strings.Contains(body, `data-outcome="`+outcome+`"`) {
			return body
		}
		if time.Now().After(deadline) {
			f.t.Fatalf("%s never showed outcome %q:\n%s", target, outcome, body)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestDeployPlanConfirmBusyAndRollback: the plan page lists the creates
// and needs a confirmation of the plan shown; a second confirmation
// while the apply runs gets the busy message naming the running
// deployment; the page shows the journal while it runs and the outcome
// after; rollback deletes what the apply created. Another user sees
// none of it.
func TestDeployPlanConfirmBusyAndRollback(t *testing.T) {
	f := newDeployFixture(t)
	ctx := t.Context()
	w, err := f.db.Workflows().Create(ctx, 1, "two stages", deployTestFDL, "", nil)
	if err != nil {
		t.Fatal(err)
	}
	base := "/workflows/" + itoa(w.ID)

	rec := f.do(http.MethodGet, base+"/deploy", nil)
	if rec.Code != http.StatusOK {
		t.Fatalf("plan page: %d %s", rec.Code, rec.Body)
	}
	body := rec.Body.String()
	for _, want := range []string{`data-kind="create" data-name="first"`, `data-kind="create" data-name="second"`, `creates bucket &#34;dt&#34; on lab`, `data-testid="confirm-deploy"`} {
		if !strings.Contains(body, want) {
			t.Errorf("plan page lacks %s", want)
		}
	}
	m := fingerprintRE.FindStringSubmatch(body)
	if m == nil {
		t.Fatalf("no fingerprint on the plan page:\n%s", body)
	}
	form := url.Values{"version": {"1"}, "fingerprint": {m[1]}, "fdl_cluster": {"lab"}, "cluster": {"lab"}}

	// A confirmation of another plan than this one applies nothing.
	stale := url.Values{"version": {"1"}, "fingerprint": {"00"}, "fdl_cluster": {"lab"}, "cluster": {"lab"}}
	if rec := f.do(http.MethodPost, base+"/deploy", stale); rec.Code != http.StatusConflict || !strings.Contains(rec.Body.String(), "the plan changed since you looked at it") {
		t.Errorf("stale confirmation: %d, want 409 with the reason", rec.Code)
	}

	rec = f.do(http.MethodPost, base+"/deploy", form)
	if rec.Code != http.StatusSeeOther {
		t.Fatalf("confirm: %d %s", rec.Code, rec.Body)
	}
	dep := rec.Header().Get("Location")
	if !strings.HasPrefix(dep, base+"/deployments/") {
		t.Fatalf("confirm went to %q", dep)
	}
	// Running: the page shows the journal and follows it live.
	running := f.do(http.MethodGet, dep, nil).Body.String()
	if !strings.Contains(running, `data-outcome="running"`) || !strings.Contains(running, `data-live="`+dep+`/live"`) {
		t.Errorf("the page of a running apply does not show it running and live:\n%s", running)
	}
	// Busy: a second confirmation is refused with the running deployment.
	rec = f.do(http.MethodPost, base+"/deploy", form)
	if rec.Code != http.StatusConflict || !strings.Contains(rec.Body.String(), "another apply or rollback of this workflow is running") ||
		!strings.Contains(rec.Body.String(), "deployment "+strings.TrimPrefix(dep, base+"/deployments/")) {
		t.Errorf("second confirmation while running: %d\n%s", rec.Code, rec.Body)
	}
	close(f.gate)
	done := f.waitOutcome(dep, "applied")
	if strings.Count(done, `data-state="done"`) != 2 || !strings.Contains(done, `data-testid="rollback"`) || strings.Contains(done, "data-live=") {
		t.Errorf("the applied deployment's page:\n%s", done)
	}
	if svcs, _ := f.mem.ListServices(ctx); len(svcs) != 2 {
		t.Errorf("%d services on the cluster after the apply, want 2", len(svcs))
	}

	// The mapping is remembered; planning again has nothing to do.
	if body := f.do(http.MethodGet, base+"/deploy", nil).Body.String(); !strings.Contains(body, `data-testid="nothing-to-do"`) {
		t.Errorf("a second plan does not say there is nothing to do")
	}

	// Another user has no such workflow nor deployment.
	f.user = 2
	if rec := f.do(http.MethodGet, dep, nil); rec.Code != http.StatusNotFound {
		t.Errorf("another user's GET of the deployment: %d", rec.Code)
	}
	if rec := f.do(http.MethodPost, dep+"/rollback", url.Values{}); rec.Code != http.StatusNotFound {
		t.Errorf("another user's rollback: %d", rec.Code)
	}
	depID := strings.TrimPrefix(dep, base+"/deployments/")
	// The API answers 404 in JSON before any stream, for another user's
	// deployment as for one that does not exist.
	for _, id := range []string{depID, "999999"} {
		rec := f.do(http.MethodPost, "/api/deploy/rollback?deployment="+id, nil)
		var got APIError
		if rec.Code != http.StatusNotFound || json.Unmarshal(rec.Body.Bytes(), &got) != nil ||
			got.Status != http.StatusNotFound || !strings.Contains(got.Error, "You have no deployment "+id) {
			t.Errorf("API rollback of deployment %s by another user: %d %s", id, rec.Code, rec.Body)
		}
	}
	if svcs, _ := f.mem.ListServices(ctx); len(svcs) != 2 {
		t.Errorf("another user's API rollback changed the cluster: %d services", len(svcs))
	}
	f.user = 1

	if rec := f.do(http.MethodPost, dep+"/rollback", url.Values{}); rec.Code != http.StatusSeeOther {
		t.Fatalf("rollback: %d %s", rec.Code, rec.Body)
	}
	f.waitOutcome(dep, "rolled-back")
	if svcs, _ := f.mem.ListServices(ctx); len(svcs) != 0 {
		t.Errorf("%d services on the cluster after the rollback, want 0", len(svcs))
	}
	if rec := f.do(http.MethodPost, dep+"/rollback", url.Values{}); rec.Code != http.StatusConflict {
		t.Errorf("a second rollback: %d, want 409", rec.Code)
	}
	hist := f.do(http.MethodGet, base+"/deployments", nil).Body.String()
	if !strings.Contains(hist, "This workflow is not deployed anywhere.") || strings.Count(hist, `data-testid="deployment"`) != 1 {
		t.Errorf("history after the rollback:\n%s", hist)
	}
}

// TestDeployPlanAsksForUnknownCluster: an FDL cluster id no registered
// cluster has gets a select with nothing chosen, and no apply button;
// confirming anyway applies nothing.
func TestDeployPlanAsksForUnknownCluster(t *testing.T) {
	f := newDeployFixture(t)
	w, err := f.db.Workflows().Create(t.Context(), 1, "elsewhere", strings.ReplaceAll(deployTestFDL, "- lab:", "- egi-cloud:"), "", nil)
	if err != nil {
		t.Fatal(err)
	}
	base := "/workflows/" + itoa(w.ID)
	body := f.do(http.MethodGet, base+"/deploy", nil).Body.String()
	if !strings.Contains(body, `data-fdl-cluster="egi-cloud"`) || !strings.Contains(body, "No registered cluster is called egi-cloud") ||
		strings.Contains(body, `data-testid="confirm-deploy"`) {
		t.Errorf("plan with an unknown cluster id:\n%s", body)
	}
	rec := f.do(http.MethodPost, base+"/deploy", url.Values{"version": {"1"}, "fdl_cluster": {"egi-cloud"}, "cluster": {""}})
	if rec.Code != http.StatusUnprocessableEntity || !strings.Contains(rec.Body.String(), "Nothing was applied") {
		t.Errorf("confirming an unmapped plan: %d", rec.Code)
	}
	// Mapped by the page, the plan creates both on that cluster.
	body = f.do(http.MethodGet, base+"/deploy?fdl_cluster=egi-cloud&cluster=lab", nil).Body.String()
	if strings.Count(body, `data-kind="create"`) != 2 || !strings.Contains(body, `data-testid="confirm-deploy"`) {
		t.Errorf("plan mapped to lab:\n%s", body)
	}
	if svcs, _ := f.mem.ListServices(t.Context()); len(svcs) != 0 {
		t.Errorf("planning created %d services", len(svcs))
	}
}

func itoa(n int64) string { return strconv.FormatInt(n, 10) }

// TestDeployDriftAdoptAndReapply: a service changed on the cluster shows
// as drift with the field's diff; adopting it saves the cluster's
// version as a new workflow version (only that line changes) that is
// recorded as deployed, and the drift is gone.
func TestDeployDriftAdoptAndReapply(t *testing.T) {
	f := newDeployFixture(t)
	close(f.gate)
	ctx := t.Context()
	w, err := f.db.Workflows().Create(ctx, 1, "two stages", deployTestFDL, "", nil)
	if err != nil {
		t.Fatal(err)
	}
	base := "/workflows/" + itoa(w.ID)
	plan := f.do(http.MethodGet, base+"/deploy", nil).Body.String()
	m := fingerprintRE.FindStringSubmatch(plan)
	if m == nil {
		t.Fatalf("no fingerprint:\n%s", plan)
	}
	rec := f.do(http.MethodPost, base+"/deploy", url.Values{"version": {"1"}, "fingerprint": {m[1]}, "fdl_cluster": {"lab"}, "cluster": {"lab"}})
	if rec.Code != http.StatusSeeOther {
		t.Fatalf("confirm: %d %s", rec.Code, rec.Body)
	}
	dep := rec.Header().Get("Location")
	f.waitOutcome(dep, "applied")

	drift := f.do(http.MethodGet, base+"/deployments/drift", nil).Body.String()
	if strings.Count(drift, `data-state="in-sync"`) != 2 || strings.Contains(drift, `data-testid="adopt"`) {
		t.Errorf("drift right after the apply:\n%s", drift)
	}
	s, err := f.mem.GetService(ctx, "second")
	if err != nil {
		t.Fatal(err)
	}
	s.Memory = "1Gi"
	if err := f.mem.UpdateService(ctx, s); err != nil {
		t.Fatal(err)
	}
	drift = f.do(http.MethodGet, base+"/deployments/drift", nil).Body.String()
	if !strings.Contains(drift, `data-name="second" data-state="changed"`) || !strings.Contains(drift, `data-field="memory"`) ||
		!strings.Contains(drift, "1Gi") || !strings.Contains(drift, `data-testid="reapply"`) {
		t.Errorf("drift after a change on the cluster:\n%s", drift)
	}

	rec = f.do(http.MethodPost, dep+"/adopt", url.Values{"cluster": {"lab"}, "name": {"second"}})
	if rec.Code != http.StatusSeeOther || !strings.Contains(rec.Header().Get("Location"), "/deployments?notice=") {
		t.Fatalf("adopt: %d to %q\n%s", rec.Code, rec.Header().Get("Location"), rec.Body)
	}
	// The deployments page shows the notice the redirect sealed, and none
	// a link chose.
	if body := f.do(http.MethodGet, rec.Header().Get("Location"), nil).Body.String(); !strings.Contains(body, `data-testid="deployments-notice">Adopted second from lab as version 2`) {
		t.Errorf("the adopt's notice is not shown:\n%s", body)
	}
	if body := f.do(http.MethodGet, base+"/deployments?notice=Your+token+expired%2C+paste+it+at+evil.example", nil).Body.String(); strings.Contains(body, "evil.example") || strings.Contains(body, "deployments-notice") {
		t.Errorf("a notice from the link is shown:\n%s", body)
	}
	got, err := f.db.Workflows().Get(ctx, 1, w.ID)
	if err != nil {
		t.Fatal(err)
	}
	if got.Version != 2 {
		t.Fatalf("adopting saved version %d, want 2", got.Version)
	}
	if !strings.Contains(got.YAML, "memory: 1Gi") {
		t.Errorf("version 2 is:\n%s", got.YAML)
	}
	if diff := lineDiff(deployTestFDL, got.YAML); countChanged(diff) != 1 {
		t.Errorf("adopting changed %d lines, want 1 added: %v", countChanged(diff), diff)
	}
	drift = f.do(http.MethodGet, base+"/deployments/drift", nil).Body.String()
	if strings.Count(drift, `data-state="in-sync"`) != 2 || !strings.Contains(drift, "version 2") {
		t.Errorf("drift after adopting:\n%s", drift)
	}
	hist := f.do(http.MethodGet, base+"/deployments", nil).Body.String()
	if strings.Count(hist, `data-testid="deployment"`) != 2 {
		t.Errorf("history after adopting lists %d deployments, want 2", strings.Count(hist, `data-testid="deployment"`))
	}

	// Removing the workflow from the clusters: two deletes, the bucket
	// they wipe named, then nothing left.
	plan = f.do(http.MethodGet, base+"/deploy?remove=1", nil).Body.String()
	if strings.Count(plan, `data-kind="delete"`) != 2 || !strings.Contains(plan, `data-kind="wipe"`) || !strings.Contains(plan, `name="remove" value="1"`) {
		t.Errorf("removal plan:\n%s", plan)
	}
	m = fingerprintRE.FindStringSubmatch(plan)
	if m == nil {
		t.Fatal("no fingerprint on the removal plan")
	}
	rec = f.do(http.MethodPost, base+"/deploy", url.Values{"version": {"2"}, "fingerprint": {m[1]}, "remove": {"1"}})
	if rec.Code != http.StatusSeeOther {
		t.Fatalf("confirming the removal: %d %s", rec.Code, regexp.MustCompile(`data-testid="deploy-notice">[^<]*`).FindString(rec.Body.String()))
	}
	f.waitOutcome(rec.Header().Get("Location"), "applied")
	if svcs, _ := f.mem.ListServices(ctx); len(svcs) != 0 {
		t.Errorf("%d services left after the removal", len(svcs))
	}
	if hist := f.do(http.MethodGet, base+"/deployments", nil).Body.String(); !strings.Contains(hist, "This workflow is not deployed anywhere.") {
		t.Errorf("after the removal the workflow is still placed somewhere")
	}
}

func countChanged(diff []diffLine) int {
	n := 0
	for _, d := range diff {
		if d.Op != " " {
			n++
		}
	}
	return n
}

// TestDeployFailureShowsTheBackendsMessage: a create the cluster refuses
// fails alone, with the cluster's message on the page; the other
// function is applied, and rollback removes it.
func TestDeployFailureShowsTheBackendsMessage(t *testing.T) {
	f := newDeployFixture(t)
	f.refuse = "second"
	close(f.gate)
	ctx := t.Context()
	w, err := f.db.Workflows().Create(ctx, 1, "two stages", deployTestFDL, "", nil)
	if err != nil {
		t.Fatal(err)
	}
	base := "/workflows/" + itoa(w.ID)
	m := fingerprintRE.FindStringSubmatch(f.do(http.MethodGet, base+"/deploy", nil).Body.String())
	if m == nil {
		t.Fatal("no fingerprint on the plan")
	}
	rec := f.do(http.MethodPost, base+"/deploy", url.Values{"version": {"1"}, "fingerprint": {m[1]}, "fdl_cluster": {"lab"}, "cluster": {"lab"}})
	if rec.Code != http.StatusSeeOther {
		t.Fatalf("confirm: %d", rec.Code)
	}
	dep := rec.Header().Get("Location")
	page := f.waitOutcome(dep, "failed")
	if !strings.Contains(page, `data-name="first" data-state="done"`) || !strings.Contains(page, `data-name="second" data-state="failed"`) ||
		!strings.Contains(page, "the image img is not allowed here") || !strings.Contains(page, `data-testid="rollback"`) {
		t.Errorf("the failed deployment's page:\n%s", page)
	}
	if rec := f.do(http.MethodPost, dep+"/rollback", url.Values{}); rec.Code != http.StatusSeeOther {
		t.Fatalf("rollback: %d %s", rec.Code, rec.Body)
	}
	f.waitOutcome(dep, "rolled-back")
	if svcs, _ := f.mem.ListServices(ctx); len(svcs) != 0 {
		t.Errorf("%d services left after rolling back the failed apply", len(svcs))
	}
}

// TestDeploymentCutShortByARestart: a deployment the journal still has
// running, with nothing running it in this server (it stopped during the
// apply), shows what was done and says to deploy again; it is not
// followed live.
func TestDeploymentCutShortByARestart(t *testing.T) {
	f := newDeployFixture(t)
	ctx := t.Context()
	w, err := f.db.Workflows().Create(ctx, 1, "two stages", deployTestFDL, "", nil)
	if err != nil {
		t.Fatal(err)
	}
	d, err := f.db.Deployments(nil).Begin(ctx, store.Deployment{OwnerID: 1, User: "Tester", Workflow: workflowKey(w.ID), Version: 1, Clusters: []string{"lab"},
		Functions: []store.DeployedFunction{
			{Cluster: "lab", FDLCluster: "lab", Name: "first", Action: "create", State: store.FunctionPlanned},
			{Cluster: "lab", FDLCluster: "lab", Name: "second", Action: "create", State: store.FunctionPlanned},
		}})
	if err != nil {
		t.Fatal(err)
	}
	if err := f.db.Deployments(nil).Mark(ctx, d.ID, "lab", "first", store.FunctionDone, "", nil); err != nil {
		t.Fatal(err)
	}
	page := f.do(http.MethodGet, "/workflows/"+itoa(w.ID)+"/deployments/"+itoa(d.ID), nil).Body.String()
	for _, want := range []string{`data-testid="deploy-cut"`, `data-name="first" data-state="done"`, `data-name="second" data-state="planned"`, "1 of 2 changes finished"} {
		if !strings.Contains(page, want) {
			t.Errorf("the page of a cut apply lacks %s", want)
		}
	}
	if strings.Contains(page, "data-live=") {
		t.Error("the page of a cut apply waits for live updates that will not come")
	}
}
