package handlers

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"regexp"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/fdlstudio/fdlstudio/auth"
	"github.com/fdlstudio/fdlstudio/backends"
	"github.com/fdlstudio/fdlstudio/store"
	"github.com/fdlstudio/fdlstudio/templates"
)

// clusterRepo keeps the clusters each user registered (store/sqlite).
type clusterRepo interface {
	List(ctx context.Context, ownerID int64) ([]store.Cluster, error)
	Get(ctx context.Context, ownerID int64, name string) (store.Cluster, error)
	Create(ctx context.Context, c store.Cluster) (store.Cluster, error)
	Update(ctx context.Context, oldName string, c store.Cluster) error
	Delete(ctx context.Context, ownerID int64, name string) error
}

// clusterTimeout bounds every call the cluster pages make, so a cluster
// that is down or slow is reported within it and never holds a page.
const clusterTimeout = 10 * time.Second

var clusterNameRE = regexp.MustCompile(`^[A-Za-z0-9]([A-Za-z0-9._-]{0,61}[A-Za-z0-9])?$`)

// currentUser returns the user behind the request. Routes that reach the
// handlers always have one (local mode or a session); a missing user is
// therefore a 401, never a panic.
func currentUser(c echo.Context) (*auth.User, error) {
	u, ok := auth.UserFrom(c.Request().Context())
	if !ok {
		return nil, echo.ErrUnauthorized
	}
	return u, nil
}

// sharedFor returns the shared clusters u may use: all of them for an
// administrator, the others without the admin-only ones.
func (h *Handler) sharedFor(u *auth.User) []store.Cluster {
	admin := h.isAdmin != nil && h.isAdmin(u)
	out := make([]store.Cluster, 0, len(h.shared))
	for _, c := range h.shared {
		if !c.AdminOnly || admin {
			out = append(out, c)
		}
	}
	return out
}

// userClusters returns the shared clusters u may use followed by u's
// own, by name.
func (h *Handler) userClusters(ctx context.Context, u *auth.User) ([]store.Cluster, error) {
	own, err := h.clusters.List(ctx, u.ID)
	if err != nil {
		return nil, err
	}
	out := h.sharedFor(u)
	if h.session != nil {
		if sc, ok := h.session(ctx); ok {
			out = append([]store.Cluster{sc}, out...)
		}
	}
	return append(out, own...), nil
}

// findCluster returns the cluster called name that u may use. An
// admin-only cluster is, for anyone else, a cluster they do not have.
func (h *Handler) findCluster(ctx context.Context, u *auth.User, name string) (store.Cluster, error) {
	if h.session != nil {
		if sc, ok := h.session(ctx); ok && sc.Name == name {
			return sc, nil
		}
	}
	for _, c := range h.sharedFor(u) {
		if c.Name == name {
			return c, nil
		}
	}
	c, err := h.clusters.Get(ctx, u.ID, name)
	if errors.Is(err, store.ErrNotFound) {
		return c, notFound(fmt.Sprintf("You have no cluster called %q.", name), err)
	}
	return c, err
}

// backendFor returns the backend of cluster c acting as the request's
// user: their token for token-login clusters, the stored credentials for
// basic ones.
func (h *Handler) backendFor(ctx context.Context, c store.Cluster) (backends.Backend, error) {
	if c.AuthKind == store.AuthToken && h.accessToken == nil {
		return nil, userError(http.StatusUnauthorized,
			fmt.Sprintf("Cluster %q uses your login token, but you are not logged in with OpenID Connect.", c.Name), nil)
	}
	if h.backends == nil {
		return nil, errors.New("handlers: no backend registry (Deps.Backends)")
	}
	return h.backends.Backend(ctx, c, backends.Acting{AccessToken: h.accessToken})
}

// ShowClusters handles "GET /clusters".
func (h *Handler) ShowClusters(c echo.Context) error {
	u, err := currentUser(c)
	if err != nil {
		return err
	}
	list, err := h.userClusters(c.Request().Context(), u)
	if err != nil {
		return err
	}
	return Render(c, http.StatusOK, templates.ClustersPage(templates.ClustersProps{
		Chrome:   h.Chrome(c, "Clusters", "/clusters"),
		Clusters: clusterRows(list),
		Notice:   h.notice(c),
	}))
}

func clusterRows(list []store.Cluster) []templates.ClusterRow {
	rows := make([]templates.ClusterRow, len(list))
	for i, c := range list {
		rows[i] = templates.ClusterRow{Name: c.Name, Endpoint: c.Endpoint, Auth: authLabel(c), Shared: c.Shared}
	}
	return rows
}

// authLabel says how a cluster is reached; an AWS access key id is never
// shown (an operator's account is everyone's, and nobody needs the id).
func authLabel(c store.Cluster) string {
	switch c.AuthKind {
	case store.AuthToken:
		return "your login token"
	case store.AuthAWSKeys:
		return "your access key"
	case store.AuthAWSOperator:
		return "the operator's access key"
	case store.AuthAWSDefaultChain:
		return "the server's AWS credentials"
	}
	return "user " + c.Username
}

// ShowClusterHealth handles "GET /clusters/:name/health": a fragment with
// the cluster's reachability and version, loaded by the list page.
func (h *Handler) ShowClusterHealth(c echo.Context) error {
	u, err := currentUser(c)
	if err != nil {
		return err
	}
	cl, err := h.findCluster(c.Request().Context(), u, c.Param("name"))
	if err != nil {
		return err
	}
	if err := h.checkLogin(c.Request().Context(), []store.Cluster{cl}); err != nil {
		return err
	}
	return Render(c, http.StatusOK, templates.ClusterHealth(h.probe(c.Request().Context(), cl)))
}

// probe asks a cluster for its version within clusterTimeout.
func (h *Handler) probe(ctx context.Context, cl store.Cluster) templates.ClusterHealthProps {
	ctx, cancel := context.WithTimeout(ctx, clusterTimeout)
	defer cancel()
	start := time.Now()
	b, err := h.backendFor(ctx, cl)
	if err != nil {
		return templates.ClusterHealthProps{Error: h.describe(err)}
	}
	info, err := b.Info(ctx)
	if err != nil {
		return templates.ClusterHealthProps{Error: h.describe(err)}
	}
	version := "OSCAR " + info.Version
	if cl.Kind == store.KindAWS {
		version = info.Version // what the AWS account says it is
	}
	return templates.ClusterHealthProps{OK: true, Version: version, Latency: time.Since(start).Round(time.Millisecond).String()}
}

// ShowCluster handles "GET /clusters/:name": what the cluster says about
// itself, its nodes and its configuration (keys left out). The three
// calls run side by side; each section reports its own failure.
func (h *Handler) ShowCluster(c echo.Context) error {
	u, err := currentUser(c)
	if err != nil {
		return err
	}
	ctx := c.Request().Context()
	cl, err := h.findCluster(ctx, u, c.Param("name"))
	if err != nil {
		return err
	}
	if err := h.checkLogin(ctx, []store.Cluster{cl}); err != nil {
		return err
	}
	p := templates.ClusterProps{
		Chrome:  h.Chrome(c, cl.Name, "/clusters"),
		Cluster: clusterRows([]store.Cluster{cl})[0],
	}
	b, err := h.backendFor(ctx, cl)
	if err != nil {
		p.InfoError = h.describe(err)
		return Render(c, http.StatusOK, templates.ClusterPage(p))
	}
	ctx, cancel := context.WithTimeout(ctx, clusterTimeout)
	defer cancel()
	details, ok := b.(backends.ClusterDetails)
	if !ok {
		unsupported := h.describe(backends.Unsupported(b.Name(), "read cluster status and configuration", "cluster status and configuration"))
		p.StatusError, p.ConfigError = unsupported, unsupported
	}
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		info, err := b.Info(ctx)
		if err != nil {
			p.InfoError = h.describe(err)
			return
		}
		p.Info = &templates.ClusterInfoView{
			Version: info.Version, GitCommit: info.GitCommit, Architecture: info.Architecture,
			KubernetesVersion: info.KubernetesVersion,
			Serverless:        strings.TrimSpace(info.ServerlessBackend + " " + info.ServerlessVersion),
		}
	}()
	if ok {
		wg.Add(2)
		go func() {
			defer wg.Done()
			st, err := details.ClusterStatus(ctx)
			if err != nil {
				p.StatusError = h.describe(err)
				return
			}
			p.Status = clusterStatusView(st)
		}()
		go func() {
			defer wg.Done()
			cfg, err := details.ClusterConfig(ctx)
			if err != nil {
				p.ConfigError = h.describe(err)
				return
			}
			p.Config = &templates.ClusterConfigView{
				Name: cfg.Name, Namespace: cfg.Namespace, ServicesNamespace: cfg.ServicesNamespace,
				GPUAvailable: cfg.GPUAvailable, VolumesEnabled: cfg.VolumesEnabled,
				StorageEndpoint: cfg.StorageEndpoint, OIDCGroups: cfg.OIDCGroups,
			}
		}()
	}
	wg.Wait()
	return Render(c, http.StatusOK, templates.ClusterPage(p))
}

// clusterStatusView is what the cluster page shows of a cluster's status.
func clusterStatusView(st *backends.ClusterStatus) *templates.ClusterStatusView {
	v := &templates.ClusterStatusView{
		Nodes: st.NodesCount, FreeCores: st.FreeCores, FreeMemoryBytes: st.FreeMemoryBytes,
		GPUs: st.GPUs, Jobs: st.JobsCount, Buckets: st.BucketsCount,
	}
	for _, n := range st.Nodes {
		v.NodeRows = append(v.NodeRows, templates.NodeRow{
			Name: n.Name, Status: n.Status, GPUs: n.GPUs,
			UsageCores: n.UsageCores, CapacityCores: n.CapacityCores,
			UsageMemoryBytes: n.UsageMemoryBytes, CapacityMemoryBytes: n.CapacityMemoryBytes,
		})
	}
	return v
}

// ShowNewCluster handles "GET /clusters/new" (?kind=aws: an AWS account,
// when the operator enabled them).
func (h *Handler) ShowNewCluster(c echo.Context) error {
	form := templates.ClusterForm{AuthKind: store.AuthBasic}
	title := "Add a cluster"
	if c.QueryParam("kind") == store.KindAWS && len(h.awsWays) > 0 {
		form = templates.ClusterForm{Kind: store.KindAWS, AuthKind: awsAuthKinds(h.awsWays)[0]}
		title = "Add an AWS account"
	}
	return Render(c, http.StatusOK, templates.ClusterFormPage(templates.ClusterFormProps{
		Chrome:    h.Chrome(c, title, "/clusters"),
		Form:      form,
		TokenAuth: h.accessToken != nil,
		AWSAuth:   awsAuthKinds(h.awsWays),
	}))
}

// awsAuthKinds are the auth kinds of the enabled AWS ways, in the order
// the form offers them.
func awsAuthKinds(ways []string) []string {
	var out []string
	if slices.Contains(ways, "user") {
		out = append(out, store.AuthAWSKeys)
	}
	if slices.Contains(ways, "default-chain") {
		out = append(out, store.AuthAWSDefaultChain)
	}
	return out
}

// ShowEditCluster handles "GET /clusters/:name/edit".
func (h *Handler) ShowEditCluster(c echo.Context) error {
	u, err := currentUser(c)
	if err != nil {
		return err
	}
	cl, err := h.ownCluster(c, u)
	if err != nil {
		return err
	}
	return Render(c, http.StatusOK, templates.ClusterFormPage(templates.ClusterFormProps{
		Chrome:    h.Chrome(c, "Edit "+cl.Name, "/clusters"),
		Editing:   cl.Name,
		TokenAuth: h.accessToken != nil,
		Form: templates.ClusterForm{
			Kind: cl.Kind, Name: cl.Name, Endpoint: cl.Endpoint, AuthKind: cl.AuthKind,
			Username: formUsername(cl), Insecure: cl.InsecureTLS, HasPassword: cl.Password != "",
		},
		AWSAuth: awsAuthKinds(h.awsWays),
	}))
}

// formUsername is the user name the edit form shows: an AWS access key id
// is not sent back to the browser (left empty, the stored one is kept).
func formUsername(c store.Cluster) string {
	if c.Kind == store.KindAWS {
		return ""
	}
	return c.Username
}

// ownCluster finds the request's cluster among the user's own; shared
// clusters cannot be changed from the UI.
func (h *Handler) ownCluster(c echo.Context, u *auth.User) (store.Cluster, error) {
	name := c.Param("name")
	for _, s := range h.shared {
		if s.Name == name {
			return s, userError(http.StatusForbidden, fmt.Sprintf("Cluster %q is configured by the operator for everyone; it cannot be changed here.", name), nil)
		}
	}
	cl, err := h.clusters.Get(c.Request().Context(), u.ID, name)
	if errors.Is(err, store.ErrNotFound) {
		return cl, notFound(fmt.Sprintf("You have no cluster called %q.", name), err)
	}
	return cl, err
}

// readClusterForm reads and checks the form; the map holds a message per
// field that is wrong.
func (h *Handler) readClusterForm(c echo.Context) (clusterForm, map[string]string) {
	f := clusterForm{ClusterForm: templates.ClusterForm{
		Kind:     c.FormValue("kind"),
		Name:     strings.TrimSpace(c.FormValue("name")),
		Endpoint: strings.TrimSpace(c.FormValue("endpoint")),
		AuthKind: c.FormValue("auth_kind"),
		Username: strings.TrimSpace(c.FormValue("username")),
		Insecure: c.FormValue("insecure_tls") == "on",
	}, Password: c.FormValue("password")}
	errs := map[string]string{}
	switch {
	case f.Name == "":
		errs["name"] = "Give the cluster a name."
	case !clusterNameRE.MatchString(f.Name):
		errs["name"] = "Use 1 to 63 letters, digits, dots, dashes or underscores, starting and ending with a letter or digit."
	}
	for _, s := range h.shared {
		if s.Name == f.Name {
			errs["name"] = fmt.Sprintf("%q is the name of a cluster the operator configured; pick another.", f.Name)
		}
	}
	if f.Kind == store.KindAWS {
		h.checkAWSForm(&f, errs)
		return f, errs
	}
	f.Kind = ""
	if u, err := backends.ValidateEndpoint(f.Endpoint, h.allowedHosts); err != nil {
		var be *backends.Error
		if errors.As(err, &be) && be.Message != "" {
			errs["endpoint"] = strings.ToUpper(be.Message[:1]) + be.Message[1:] + "."
		} else {
			errs["endpoint"] = h.describe(err)
		}
	} else {
		f.Endpoint = u.String()
	}
	switch f.AuthKind {
	case store.AuthBasic:
		if f.Username == "" {
			errs["username"] = "Give the user name the cluster knows you by."
		}
	case store.AuthToken:
		if h.accessToken == nil {
			errs["auth_kind"] = "Token login needs an OpenID Connect session; use a user name and password."
		}
	default:
		errs["auth_kind"] = "Choose how to log in to the cluster."
	}
	return f, errs
}

// checkAWSForm checks the fields of an AWS account: a region, an
// enabled way, and for keys the access key id.
func (h *Handler) checkAWSForm(f *clusterForm, errs map[string]string) {
	f.Insecure = false
	if !backends.ValidAWSRegion(f.Endpoint) {
		errs["endpoint"] = "Give the AWS region, e.g. eu-west-1."
	}
	switch {
	case len(h.awsWays) == 0:
		errs["auth_kind"] = "AWS accounts are not enabled on this server."
	case !slices.Contains(awsAuthKinds(h.awsWays), f.AuthKind):
		errs["auth_kind"] = "Choose one of the ways this server allows to use an AWS account."
	case f.AuthKind == store.AuthAWSKeys && f.Username == "":
		errs["username"] = "Give the access key ID."
	case f.AuthKind == store.AuthAWSDefaultChain:
		f.Username, f.Password = "", ""
	}
}

// clusterForm is the add/edit form as posted: what the page shows again,
// and the password, which never goes back to the browser.
type clusterForm struct {
	templates.ClusterForm
	Password string
}

func (f clusterForm) toStore(ownerID int64) store.Cluster {
	return store.Cluster{
		OwnerID: ownerID, Kind: f.Kind, Name: f.Name, Endpoint: f.Endpoint, AuthKind: f.AuthKind,
		Username: f.Username, Password: f.Password, InsecureTLS: f.Insecure,
	}
}

// CreateCluster handles "POST /clusters".
func (h *Handler) CreateCluster(c echo.Context) error {
	u, err := currentUser(c)
	if err != nil {
		return err
	}
	f, errs := h.readClusterForm(c)
	if f.AuthKind == store.AuthBasic && f.Password == "" {
		errs["password"] = "Give the password for this user."
	}
	if f.AuthKind == store.AuthAWSKeys && f.Password == "" {
		errs["password"] = "Give the secret access key."
	}
	props := templates.ClusterFormProps{Chrome: h.Chrome(c, "Add a cluster", "/clusters"), Form: f.ClusterForm, Errors: errs, TokenAuth: h.accessToken != nil, AWSAuth: awsAuthKinds(h.awsWays)}
	return saveClusterForm(c, props, func() error {
		_, err := h.clusters.Create(c.Request().Context(), f.toStore(u.ID))
		return err
	})
}

// saveClusterForm ends the add and edit handlers: the form again (422)
// when a field is wrong or the name is taken, else save and go to the
// cluster's page. The password is never sent back to the browser.
func saveClusterForm(c echo.Context, props templates.ClusterFormProps, save func() error) error {
	if len(props.Errors) == 0 {
		err := save()
		if err == nil {
			return c.Redirect(http.StatusSeeOther, "/clusters/"+props.Form.Name)
		}
		if !errors.Is(err, store.ErrConflict) {
			return err
		}
		props.Errors = map[string]string{"name": fmt.Sprintf("You already have a cluster called %q.", props.Form.Name)}
	}
	return Render(c, http.StatusUnprocessableEntity, templates.ClusterFormPage(props))
}

// UpdateCluster handles "POST /clusters/:name".
func (h *Handler) UpdateCluster(c echo.Context) error {
	u, err := currentUser(c)
	if err != nil {
		return err
	}
	old, err := h.ownCluster(c, u)
	if err != nil {
		return err
	}
	f, errs := h.readClusterForm(c)
	if (f.Kind == store.KindAWS) != (old.Kind == store.KindAWS) {
		errs["name"] = "A registration cannot change between an OSCAR cluster and an AWS account; add a new one."
	}
	if f.AuthKind == store.AuthAWSKeys && old.AuthKind == store.AuthAWSKeys && f.Username == "" {
		// The key id is not shown in the form: left empty, it is kept.
		f.Username = old.Username
		delete(errs, "username")
	}
	switch {
	case f.AuthKind == store.AuthAWSKeys && f.Password == "" && (old.Password == "" || old.AuthKind != store.AuthAWSKeys):
		errs["password"] = "Give the secret access key."
	case f.AuthKind != store.AuthBasic || f.Password != "":
	case old.Password == "":
		errs["password"] = "Give the password for this user."
	case f.Endpoint != old.Endpoint || f.Insecure && !old.InsecureTLS:
		// The stored password only goes where it went before.
		errs["password"] = "The endpoint or its TLS check changed: give the password again."
	}
	props := templates.ClusterFormProps{Chrome: h.Chrome(c, "Edit "+old.Name, "/clusters"), Editing: old.Name, Form: f.ClusterForm, Errors: errs, TokenAuth: h.accessToken != nil, AWSAuth: awsAuthKinds(h.awsWays)}
	props.Form.HasPassword = old.Password != ""
	if f.Kind == store.KindAWS {
		props.Form.Username = "" // the stored key id never goes back to the browser
	}
	return saveClusterForm(c, props, func() error {
		return h.clusters.Update(c.Request().Context(), old.Name, f.toStore(u.ID))
	})
}

// DeleteCluster handles "POST /clusters/:name/delete". It forgets the
// registration; nothing on the cluster is touched.
func (h *Handler) DeleteCluster(c echo.Context) error {
	u, err := currentUser(c)
	if err != nil {
		return err
	}
	cl, err := h.ownCluster(c, u)
	if err != nil {
		return err
	}
	if err := h.clusters.Delete(c.Request().Context(), u.ID, cl.Name); err != nil {
		return err
	}
	return h.redirectNotice(c, "/clusters", fmt.Sprintf("Cluster %q removed.", cl.Name))
}

// TestCluster handles "POST /clusters/test": it checks the form's
// endpoint and credentials with GET /system/info and answers with a
// result fragment (htmx) or the form page with the result (no JS).
func (h *Handler) TestCluster(c echo.Context) error {
	u, err := currentUser(c)
	if err != nil {
		return err
	}
	f, errs := h.readClusterForm(c)
	delete(errs, "name") // the name is not needed to test
	result := templates.ClusterHealthProps{}
	if len(errs) > 0 {
		for _, field := range []string{"endpoint", "auth_kind", "username"} {
			if msg, ok := errs[field]; ok {
				result.Error = msg
				break
			}
		}
	} else {
		cl := f.toStore(u.ID)
		if editing := c.FormValue("editing"); editing != "" && cl.Password == "" {
			// The stored password is only sent where it went before.
			if old, err := h.clusters.Get(c.Request().Context(), u.ID, editing); err == nil &&
				old.Endpoint == cl.Endpoint && (old.InsecureTLS || !cl.InsecureTLS) {
				cl.Password = old.Password
				if old.Kind == store.KindAWS && cl.Username == "" {
					cl.Username = old.Username // the form does not show the key id
				}
			}
		}
		result = h.probe(c.Request().Context(), cl)
	}
	if c.Request().Header.Get("HX-Request") == "true" {
		return Render(c, http.StatusOK, templates.ClusterHealth(result))
	}
	return Render(c, http.StatusOK, templates.ClusterFormPage(templates.ClusterFormProps{
		Chrome: h.Chrome(c, "Add a cluster", "/clusters"), Form: f.ClusterForm, Editing: c.FormValue("editing"),
		TokenAuth: h.accessToken != nil, TestResult: &result,
	}))
}
