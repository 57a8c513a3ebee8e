package handlers

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"

	"github.com/labstack/echo/v4"

	"github.com/fdlstudio/fdlstudio/auth"
	"github.com/fdlstudio/fdlstudio/backends"
	"github.com/fdlstudio/fdlstudio/backends/deploy"
	"github.com/fdlstudio/fdlstudio/store"
	"github.com/fdlstudio/fdlstudio/templates"
)

// clusterServices is what one cluster answered to "list services".
type clusterServices struct {
	cluster  store.Cluster
	services []backends.Service
	err      error
}

// listAllServices asks every cluster of the user for its services, side
// by side, each bounded by clusterTimeout. A cluster that fails is
// reported with its error; the others still answer.
func (h *Handler) listAllServices(ctx context.Context, u *auth.User) ([]clusterServices, error) {
	clusters, err := h.userClusters(ctx, u)
	if err != nil {
		return nil, err
	}
	if err := h.checkLogin(ctx, clusters); err != nil {
		return nil, err
	}
	out := make([]clusterServices, len(clusters))
	var wg sync.WaitGroup
	for i, cl := range clusters {
		wg.Add(1)
		go func() {
			defer wg.Done()
			out[i].cluster = cl
			ctx, cancel := context.WithTimeout(ctx, clusterTimeout)
			defer cancel()
			b, err := h.backendFor(ctx, cl)
			if err == nil {
				out[i].services, err = b.ListServices(ctx)
			}
			out[i].err = err
		}()
	}
	wg.Wait()
	return out, nil
}

// ShowServices handles "GET /services": every service of every cluster,
// filtered by cluster and text, sorted by a column.
func (h *Handler) ShowServices(c echo.Context) error {
	u, err := currentUser(c)
	if err != nil {
		return err
	}
	all, err := h.listAllServices(c.Request().Context(), u)
	if err != nil {
		return err
	}
	p := templates.ServicesProps{
		Chrome:  h.Chrome(c, "Services", "/services"),
		Cluster: c.QueryParam("cluster"),
		Query:   strings.TrimSpace(c.QueryParam("q")),
		Sort:    c.QueryParam("sort"),
		Desc:    c.QueryParam("dir") == "desc",
		Notice:  h.notice(c),
	}
	for _, cs := range all {
		p.Clusters = append(p.Clusters, cs.cluster.Name)
		if p.Cluster != "" && cs.cluster.Name != p.Cluster {
			continue
		}
		if cs.err != nil {
			p.Failures = append(p.Failures, h.describe(cs.err))
			continue
		}
		for _, s := range cs.services {
			row := serviceRow(cs.cluster.Name, &s)
			if p.Query == "" || row.Matches(p.Query) {
				p.Services = append(p.Services, row)
			}
		}
	}
	sortServices(p.Services, p.Sort, p.Desc)
	return Render(c, http.StatusOK, templates.ServicesPage(p))
}

func serviceRow(cluster string, s *backends.Service) templates.ServiceRow {
	r := templates.ServiceRow{
		Cluster: cluster, Name: s.Name, Image: s.Image, CPU: s.CPU, Memory: s.Memory,
		Visibility: s.Visibility, Owner: s.Owner,
	}
	for _, in := range s.Input {
		r.Inputs = append(r.Inputs, in.StorageProvider+":"+in.Path)
	}
	for _, out := range s.Output {
		r.Outputs = append(r.Outputs, out.StorageProvider+":"+out.Path)
	}
	return r
}

// sortServices orders rows by a column name (name by default), then by
// cluster and name so the order is stable.
func sortServices(rows []templates.ServiceRow, by string, desc bool) {
	key := func(r templates.ServiceRow) string {
		switch by {
		case "cluster":
			return r.Cluster
		case "image":
			return r.Image
		case "cpu":
			return r.CPU
		case "memory":
			return r.Memory
		case "visibility":
			return r.Visibility
		case "owner":
			return r.Owner
		}
		return r.Name
	}
	slices.SortStableFunc(rows, func(a, b templates.ServiceRow) int {
		var c int
		if by == "cpu" || by == "memory" {
			c = cmp.Compare(quantity(key(a)), quantity(key(b)))
		} else {
			c = cmp.Compare(strings.ToLower(key(a)), strings.ToLower(key(b)))
		}
		if desc {
			c = -c
		}
		if c != 0 {
			return c
		}
		return cmp.Or(cmp.Compare(a.Cluster, b.Cluster), cmp.Compare(a.Name, b.Name))
	})
}

// quantity reads a Kubernetes quantity ("512Mi", "1.5", "500m", "2G")
// for sorting; anything unreadable sorts first.
func quantity(s string) float64 {
	units := []struct {
		suffix string
		factor float64
	}{{"Ki", 1 << 10}, {"Mi", 1 << 20}, {"Gi", 1 << 30}, {"Ti", 1 << 40}, {"k", 1e3}, {"M", 1e6}, {"G", 1e9}, {"T", 1e12}, {"m", 1e-3}}
	factor := 1.0
	for _, u := range units {
		if num, ok := strings.CutSuffix(s, u.suffix); ok {
			s, factor = num, u.factor
			break
		}
	}
	v, err := strconv.ParseFloat(strings.TrimSpace(s), 64)
	if err != nil {
		return -1
	}
	return v * factor
}

// serviceBackend resolves the request's :cluster to the user's cluster
// and its backend.
func (h *Handler) serviceBackend(c echo.Context) (store.Cluster, backends.Backend, error) {
	u, err := currentUser(c)
	if err != nil {
		return store.Cluster{}, nil, err
	}
	cl, err := h.findCluster(c.Request().Context(), u, c.Param("cluster"))
	if err != nil {
		return cl, nil, err
	}
	b, err := h.backendFor(c.Request().Context(), cl)
	return cl, b, err
}

// requestService reads the request's service (:cluster, :name) from its
// cluster, within clusterTimeout.
func (h *Handler) requestService(c echo.Context) (store.Cluster, backends.Backend, *backends.Service, error) {
	cl, b, err := h.serviceBackend(c)
	if err != nil {
		return cl, nil, nil, err
	}
	ctx, cancel := context.WithTimeout(c.Request().Context(), clusterTimeout)
	defer cancel()
	svc, err := b.GetService(ctx, c.Param("name"))
	return cl, b, svc, err
}

// ShowLastJob handles "GET /services/:cluster/:name/last-job": a badge
// with the status of the service's newest job, loaded per list row.
func (h *Handler) ShowLastJob(c echo.Context) error {
	_, b, err := h.serviceBackend(c)
	if errors.Is(err, auth.ErrLoginRequired) {
		return err
	}
	if err != nil {
		return Render(c, http.StatusOK, templates.JobBadge("", h.describe(err)))
	}
	ctx, cancel := context.WithTimeout(c.Request().Context(), clusterTimeout)
	defer cancel()
	list, err := b.ListJobs(ctx, c.Param("name"), "")
	if err != nil {
		return Render(c, http.StatusOK, templates.JobBadge("", h.describe(err)))
	}
	if len(list.Jobs) == 0 {
		return Render(c, http.StatusOK, templates.JobBadge("", ""))
	}
	newest := slices.MaxFunc(list.Jobs, func(a, b backends.Job) int { return a.CreationTime.Compare(b.CreationTime) })
	return Render(c, http.StatusOK, templates.JobBadge(string(newest.Status), ""))
}

// ShowService handles "GET /services/:cluster/:name".
func (h *Handler) ShowService(c echo.Context) error {
	cl, b, svc, err := h.requestService(c)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(c.Request().Context(), clusterTimeout)
	defer cancel()
	def, err := deploy.FDL(cl.Name, svc)
	if err != nil {
		return err
	}
	p := templates.ServiceProps{
		Chrome:     h.Chrome(c, svc.Name, "/services"),
		Cluster:    cl.Name,
		Local:      cl.Name == localClusterName,
		Service:    serviceRow(cl.Name, svc),
		Definition: string(def),
		HasToken:   svc.Token != "",
		Exposed:    svc.Expose != nil,
		Buckets:    serviceBuckets(svc),
	}
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		jobs, err := b.ListJobs(ctx, svc.Name, "")
		if err != nil {
			p.JobsError = h.describe(err)
			return
		}
		p.Jobs = jobRows(jobs.Jobs, 10)
	}()
	if p.Exposed {
		wg.Add(1)
		go func() {
			defer wg.Done()
			st, err := b.DeploymentStatus(ctx, svc.Name)
			if err != nil {
				p.DeploymentError = h.describe(err)
				return
			}
			d := &templates.DeploymentView{State: st.State, Reason: st.Reason, ActiveInstances: st.ActiveInstances}
			if logs, err := b.DeploymentLogs(ctx, svc.Name, 100, true); err == nil {
				for _, e := range logs.Entries {
					d.LogLines = append(d.LogLines, e.Timestamp+" "+e.Message)
				}
			}
			p.Deployment = d
		}()
	}
	wg.Wait()
	return Render(c, http.StatusOK, templates.ServicePage(p))
}

// localClusterName mirrors web.LocalClusterName; the local cluster's
// services run scripts on this machine, and the page says so.
const localClusterName = "local"

// serviceBuckets lists the MinIO buckets a service reads and writes (the
// ones OSCAR creates, and deletes with the service).
func serviceBuckets(s *backends.Service) []templates.BucketRef {
	var out []templates.BucketRef
	seen := map[string]bool{}
	add := func(role string, io []backends.StorageIOConfig) {
		for _, x := range io {
			prov := x.StorageProvider
			if prov != "" && prov != "minio" && prov != "minio.default" {
				continue
			}
			bucket, prefix, _ := strings.Cut(strings.Trim(x.Path, "/ "), "/")
			if bucket == "" || seen[role+bucket+prefix] {
				continue
			}
			seen[role+bucket+prefix] = true
			out = append(out, templates.BucketRef{Role: role, Bucket: bucket, Prefix: prefix})
		}
	}
	add("input", s.Input)
	add("output", s.Output)
	return out
}

// DownloadServiceFDL handles "GET /services/:cluster/:name/fdl".
func (h *Handler) DownloadServiceFDL(c echo.Context) error {
	cl, _, svc, err := h.requestService(c)
	if err != nil {
		return err
	}
	def, err := deploy.FDL(cl.Name, svc)
	if err != nil {
		return err
	}
	c.Response().Header().Set(echo.HeaderContentDisposition, attachmentHeader(svc.Name+".yaml"))
	return c.Blob(http.StatusOK, "application/yaml; charset=utf-8", def)
}

// ShowServiceToken handles "GET /services/:cluster/:name/token": the
// service's invocation token, fetched only when the user asks to see it.
func (h *Handler) ShowServiceToken(c echo.Context) error {
	_, _, svc, err := h.requestService(c)
	if err != nil {
		return err
	}
	c.Response().Header().Set(echo.HeaderCacheControl, "no-store")
	return Render(c, http.StatusOK, templates.ServiceToken(c.Param("cluster"), svc.Name, svc.Token))
}

// ShowDeleteService handles "GET /services/:cluster/:name/delete": what
// deleting the service takes with it, and the confirmation form.
func (h *Handler) ShowDeleteService(c echo.Context) error {
	p, err := h.deleteProps(c)
	if err != nil {
		return err
	}
	return Render(c, http.StatusOK, templates.DeleteServicePage(p))
}

func (h *Handler) deleteProps(c echo.Context) (templates.DeleteServiceProps, error) {
	cl, b, svc, err := h.requestService(c)
	if err != nil {
		return templates.DeleteServiceProps{}, err
	}
	ctx, cancel := context.WithTimeout(c.Request().Context(), clusterTimeout)
	defer cancel()
	p := templates.DeleteServiceProps{
		Chrome:  h.Chrome(c, "Delete "+svc.Name, "/services"),
		Cluster: cl.Name,
		Name:    svc.Name,
		Buckets: serviceBuckets(svc),
	}
	others, err := b.ListServices(ctx)
	if err != nil {
		p.UsersError = h.describe(err)
		return p, nil
	}
	mine := map[string]bool{}
	for _, br := range p.Buckets {
		mine[br.Bucket] = true
	}
	for _, o := range others {
		if o.Name == svc.Name {
			continue
		}
		for _, br := range serviceBuckets(&o) {
			if mine[br.Bucket] {
				p.SharedWith = append(p.SharedWith, templates.BucketUser{Service: o.Name, Bucket: br.Bucket, Role: br.Role})
			}
		}
	}
	return p, nil
}

// DeleteService handles "POST /services/:cluster/:name/delete". The user
// must type the service's name: OSCAR deletes its buckets with it.
func (h *Handler) DeleteService(c echo.Context) error {
	name := c.Param("name")
	if strings.TrimSpace(c.FormValue("confirm")) != name {
		p, err := h.deleteProps(c)
		if err != nil {
			return err
		}
		p.ConfirmError = fmt.Sprintf("Type %s exactly to confirm.", name)
		return Render(c, http.StatusUnprocessableEntity, templates.DeleteServicePage(p))
	}
	cl, b, err := h.serviceBackend(c)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(c.Request().Context(), backends.MutateTimeout)
	defer cancel()
	if err := b.DeleteService(ctx, name); err != nil {
		return err
	}
	return h.redirectNotice(c, "/services", fmt.Sprintf("Service %s deleted from %s.", name, cl.Name))
}

// attachmentHeader is a Content-Disposition value with a file name that is safe
// in the header whatever the name holds.
func attachmentHeader(name string) string {
	safe := strings.Map(func(r rune) rune {
		if r < 0x20 || r == 0x7f || r == '"' || r == '\\' || r == '/' {
			return '_'
		}
		return r
	}, name)
	ascii := strings.Map(func(r rune) rune {
		if r > 0x7e {
			return '_'
		}
		return r
	}, safe)
	return fmt.Sprintf(`attachment; filename="%s"; filename*=UTF-8''%s`, ascii, urlPathEscape(safe))
}
