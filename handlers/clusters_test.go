package handlers

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"github.com/labstack/echo/v4"

	"github.com/fdlstudio/fdlstudio/auth"
	"github.com/fdlstudio/fdlstudio/store"
)

// memClusters is an in-memory clusterRepo for handler tests.
type memClusters map[int64][]store.Cluster

func (m memClusters) List(_ context.Context, owner int64) ([]store.Cluster, error) {
	return m[owner], nil
}
func (m memClusters) Get(_ context.Context, owner int64, name string) (store.Cluster, error) {
	for _, c := range m[owner] {
		if c.Name == name {
			return c, nil
		}
	}
	return store.Cluster{}, store.ErrNotFound
}
func (m memClusters) Create(_ context.Context, c store.Cluster) (store.Cluster, error) {
	m[c.OwnerID] = append(m[c.OwnerID], c)
	return c, nil
}
func (m memClusters) Update(context.Context, string, store.Cluster) error { return nil }
func (m memClusters) Delete(context.Context, int64, string) error         { return nil }

func TestAdminOnlyClusterIsHiddenFromOthers(t *testing.T) {
	ctx := context.Background()
	repo := memClusters{2: {{OwnerID: 2, Name: "mine", Endpoint: "https://x"}}}
	admin := &auth.User{ID: 1, Email: "root@example.org", Mode: auth.ModeOIDC}
	user := &auth.User{ID: 2, Email: "alice@example.org", Mode: auth.ModeOIDC}
	h := New(Deps{
		Clusters: repo,
		SharedClusters: []store.Cluster{
			{Name: "local", Shared: true, AdminOnly: true},
			{Name: "egi", Shared: true},
		},
		IsAdmin: func(u *auth.User) bool { return u.Email == "root@example.org" },
	})

	names := func(u *auth.User) []string {
		list, err := h.userClusters(ctx, u)
		if err != nil {
			t.Fatal(err)
		}
		var out []string
		for _, c := range list {
			out = append(out, c.Name)
		}
		return out
	}
	if got := names(admin); len(got) != 2 || got[0] != "local" || got[1] != "egi" {
		t.Errorf("admin sees %v", got)
	}
	if got := names(user); len(got) != 2 || got[0] != "egi" || got[1] != "mine" {
		t.Errorf("user sees %v", got)
	}
	if _, err := h.findCluster(ctx, user, "local"); err == nil {
		t.Error("a non-admin reached the admin-only local cluster")
	} else if !errors.Is(err, store.ErrNotFound) {
		t.Errorf("error = %v, want not found", err)
	}
	if _, err := h.findCluster(ctx, admin, "local"); err != nil {
		t.Errorf("admin: %v", err)
	}
	// Another user's cluster is as absent as a missing one.
	if _, err := h.findCluster(ctx, admin, "mine"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("admin reaching alice's cluster: %v", err)
	}
}

func TestClusterEndpointMustBeAnAllowedHost(t *testing.T) {
	repo := memClusters{}
	h := New(Deps{Clusters: repo, AllowedHosts: []string{"*.example.org"}})
	e := echo.New()
	post := func(endpoint string) *httptest.ResponseRecorder {
		form := url.Values{"name": {"c1"}, "endpoint": {endpoint}, "auth_kind": {"basic"}, "username": {"u"}, "password": {"p"}}
		req := httptest.NewRequest(http.MethodPost, "/clusters", strings.NewReader(form.Encode()))
		req.Header.Set(echo.HeaderContentType, echo.MIMEApplicationForm)
		req = req.WithContext(auth.WithUser(req.Context(), &auth.User{ID: 7, Mode: auth.ModeLocal}))
		rec := httptest.NewRecorder()
		if err := h.CreateCluster(e.NewContext(req, rec)); err != nil {
			t.Fatalf("CreateCluster(%s): %v", endpoint, err)
		}
		return rec
	}
	for _, bad := range []string{"http://169.254.169.254", "http://10.0.0.5:8500", "https://example.org.evil.net"} {
		rec := post(bad)
		if rec.Code != http.StatusUnprocessableEntity || !strings.Contains(rec.Body.String(), "endpoint-error") {
			t.Errorf("endpoint %s: status %d", bad, rec.Code)
		}
	}
	if len(repo[7]) != 0 {
		t.Fatalf("a refused endpoint was stored: %+v", repo[7])
	}
	if rec := post("https://oscar.example.org"); rec.Code != http.StatusSeeOther || len(repo[7]) != 1 {
		t.Fatalf("allowed endpoint: status %d, stored %d", rec.Code, len(repo[7]))
	}
}

// TestStoredPasswordStaysWithItsEndpoint: editing a cluster without
// retyping the password keeps it only while the endpoint is the same.
func TestStoredPasswordStaysWithItsEndpoint(t *testing.T) {
	repo := memClusters{7: {{OwnerID: 7, Name: "c1", Endpoint: "https://oscar.example.org", AuthKind: "basic", Username: "u", Password: "stored"}}}
	h := New(Deps{Clusters: repo})
	e := echo.New()
	post := func(endpoint string) *httptest.ResponseRecorder {
		form := url.Values{"name": {"c1"}, "endpoint": {endpoint}, "auth_kind": {"basic"}, "username": {"u"}}
		req := httptest.NewRequest(http.MethodPost, "/clusters/c1", strings.NewReader(form.Encode()))
		req.Header.Set(echo.HeaderContentType, echo.MIMEApplicationForm)
		req = req.WithContext(auth.WithUser(req.Context(), &auth.User{ID: 7, Mode: auth.ModeLocal}))
		rec := httptest.NewRecorder()
		ctx := e.NewContext(req, rec)
		ctx.SetParamNames("name")
		ctx.SetParamValues("c1")
		if err := h.UpdateCluster(ctx); err != nil {
			t.Fatal(err)
		}
		return rec
	}
	if rec := post("https://elsewhere.example.net"); rec.Code != http.StatusUnprocessableEntity || !strings.Contains(rec.Body.String(), "give the password again") {
		t.Errorf("new endpoint without password: %d", rec.Code)
	}
	if rec := post("https://oscar.example.org"); rec.Code != http.StatusSeeOther {
		t.Errorf("same endpoint without password: %d", rec.Code)
	}
}

func TestOSCARLoginClusterIsListedFirst(t *testing.T) {
	ctx := context.Background()
	repo := memClusters{7: {{OwnerID: 7, Name: "mine"}}}
	h := New(Deps{Clusters: repo, SessionCluster: func(context.Context) (store.Cluster, bool) {
		return store.Cluster{Name: "oscar.example.org", Endpoint: "https://oscar.example.org", AuthKind: store.AuthBasic, Shared: true}, true
	}})
	u := &auth.User{ID: 7, Mode: auth.ModeOSCAR}
	list, err := h.userClusters(ctx, u)
	if err != nil || len(list) != 2 || list[0].Name != "oscar.example.org" || list[1].Name != "mine" {
		t.Fatalf("clusters = %+v, %v", list, err)
	}
	if c, err := h.findCluster(ctx, u, "oscar.example.org"); err != nil || c.Endpoint != "https://oscar.example.org" {
		t.Fatalf("findCluster = %+v, %v", c, err)
	}
}

// TestAWSAccountForm: an AWS account is registered with a region and an
// access key when the operator enabled that way; its secret is never
// written back into the edit page.
func TestAWSAccountForm(t *testing.T) {
	e := echo.New()
	user := &auth.User{ID: 7, Mode: auth.ModeLocal}
	post := func(h *Handler, form url.Values) *httptest.ResponseRecorder {
		req := httptest.NewRequest(http.MethodPost, "/clusters", strings.NewReader(form.Encode()))
		req.Header.Set(echo.HeaderContentType, echo.MIMEApplicationForm)
		req = req.WithContext(auth.WithUser(req.Context(), user))
		rec := httptest.NewRecorder()
		if err := h.CreateCluster(e.NewContext(req, rec)); err != nil {
			t.Fatal(err)
		}
		return rec
	}
	form := url.Values{"kind": {"aws"}, "name": {"lab"}, "endpoint": {"eu-west-1"}, "auth_kind": {"keys"}, "username": {"AKIAEXAMPLE"}, "password": {"TOPSECRETKEY"}}

	off := memClusters{}
	if rec := post(New(Deps{Clusters: off}), form); rec.Code != http.StatusUnprocessableEntity || !strings.Contains(rec.Body.String(), "not enabled") || len(off[7]) != 0 {
		t.Errorf("AWS disabled: status %d, stored %v", rec.Code, off[7])
	}

	repo := memClusters{}
	h := New(Deps{Clusters: repo, AWSWays: []string{"user"}})
	bad := url.Values{"kind": {"aws"}, "name": {"lab"}, "endpoint": {"https://oscar.example.org"}, "auth_kind": {"default-chain"}}
	if rec := post(h, bad); rec.Code != http.StatusUnprocessableEntity || !strings.Contains(rec.Body.String(), "AWS region") || !strings.Contains(rec.Body.String(), "ways this server allows") {
		t.Errorf("bad region and a way not enabled: status %d", rec.Code)
	}
	if rec := post(h, form); rec.Code != http.StatusSeeOther {
		t.Fatalf("valid AWS account: status %d\n%s", rec.Code, rec.Body)
	}
	got := repo[7]
	if len(got) != 1 || got[0].Kind != store.KindAWS || got[0].Endpoint != "eu-west-1" || got[0].Username != "AKIAEXAMPLE" || got[0].Password != "TOPSECRETKEY" {
		t.Fatalf("stored %+v", got)
	}

	req := httptest.NewRequest(http.MethodGet, "/clusters/lab/edit", nil)
	req = req.WithContext(auth.WithUser(req.Context(), user))
	rec := httptest.NewRecorder()
	ctx := e.NewContext(req, rec)
	ctx.SetParamNames("name")
	ctx.SetParamValues("lab")
	if err := h.ShowEditCluster(ctx); err != nil {
		t.Fatal(err)
	}
	page := rec.Body.String()
	if !strings.Contains(page, `data-testid="aws-account-form"`) || !strings.Contains(page, "A secret key is stored") {
		t.Errorf("edit page is not the AWS form with a stored secret")
	}
	if strings.Contains(page, "TOPSECRETKEY") {
		t.Error("the edit page contains the secret access key")
	}
}
