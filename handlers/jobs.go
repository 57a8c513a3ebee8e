package handlers

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"io"
	"net/http"
	"slices"
	"strings"
	"sync"
	"unicode/utf8"

	"github.com/labstack/echo/v4"

	"github.com/fdlstudio/fdlstudio/backends"
	"github.com/fdlstudio/fdlstudio/backends/watch"
	"github.com/fdlstudio/fdlstudio/store"
	"github.com/fdlstudio/fdlstudio/templates"
)

// jobRows turns backend jobs into table rows, newest first, at most max
// (0: all).
func jobRows(jobs []backends.Job, max int) []templates.JobRow {
	sorted := slices.Clone(jobs)
	slices.SortStableFunc(sorted, func(a, b backends.Job) int { return b.CreationTime.Compare(a.CreationTime) })
	if max > 0 && len(sorted) > max {
		sorted = sorted[:max]
	}
	rows := make([]templates.JobRow, len(sorted))
	for i, j := range sorted {
		rows[i] = templates.JobRow{
			Name: j.Name, Status: string(j.Status),
			Created: j.CreationTime, Started: j.StartTime, Finished: j.FinishTime,
		}
	}
	return rows
}

// ShowJobs handles "GET /services/:cluster/:name/jobs": one page of the
// service's jobs (the backend's continuation token is ?page=), optionally
// only those in one status.
func (h *Handler) ShowJobs(c echo.Context) error {
	cl, b, err := h.serviceBackend(c)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(c.Request().Context(), clusterTimeout)
	defer cancel()
	name := c.Param("name")
	p := templates.JobsProps{
		Chrome:  h.Chrome(c, "Jobs of "+name, "/services"),
		Cluster: cl.Name, Service: name,
		Status: c.QueryParam("status"), Page: c.QueryParam("page"),
		Notice: h.notice(c),
	}
	list, err := b.ListJobs(ctx, name, p.Page)
	if err != nil {
		return err
	}
	p.NextPage, p.Remaining = list.NextPage, list.Remaining
	for _, j := range withInputs(jobRows(list.Jobs, 0), h.knownInputs(cl.Name, name)()) {
		if p.Status == "" || j.Status == p.Status {
			p.Jobs = append(p.Jobs, j)
		}
	}
	return Render(c, http.StatusOK, templates.JobsPage(p))
}

// DeleteJobs handles "POST /services/:cluster/:name/jobs/delete": the
// finished jobs (scope=finished) or every job, running ones killed
// (scope=all).
func (h *Handler) DeleteJobs(c echo.Context) error {
	cl, b, err := h.serviceBackend(c)
	if err != nil {
		return err
	}
	name := c.Param("name")
	all := c.FormValue("scope") == "all"
	ctx, cancel := context.WithTimeout(c.Request().Context(), backends.MutateTimeout)
	defer cancel()
	if err := b.DeleteJobs(ctx, name, all); err != nil {
		return err
	}
	what := "Finished jobs deleted."
	if all {
		what = "All jobs deleted."
	}
	return h.redirectNotice(c, jobsURL(cl.Name, name), what)
}

// DeleteJob handles "POST /services/:cluster/:name/jobs/:job/delete".
func (h *Handler) DeleteJob(c echo.Context) error {
	cl, b, err := h.serviceBackend(c)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(c.Request().Context(), backends.MutateTimeout)
	defer cancel()
	h.archiveBeforeDelete(ctx, c, cl, b)
	if err := b.DeleteJob(ctx, c.Param("name"), c.Param("job")); err != nil {
		return err
	}
	return h.redirectNotice(c, jobsURL(cl.Name, c.Param("name")), "Job "+c.Param("job")+" deleted.")
}

// archiveBeforeDelete keeps the log of a job about to be deleted (the
// cluster deletes it with the job). A log that cannot be read does not
// stop the deletion; it is logged.
func (h *Handler) archiveBeforeDelete(ctx context.Context, c echo.Context, cl store.Cluster, b backends.Backend) {
	u, err := currentUser(c)
	if h.jobLogs == nil || err != nil {
		return
	}
	service, job := c.Param("name"), c.Param("job")
	j := backends.Job{Name: job}
	if list, err := b.ListJobs(ctx, service, ""); err == nil {
		for _, lj := range list.Jobs {
			if lj.Name == job {
				j = lj
			}
		}
	}
	if err := archiveJobLog(ctx, h.jobLogs, u.ID, cl.Name, service, j, b); err != nil && !errors.Is(err, backends.ErrNotFound) {
		h.log.Warn("archiving a job's log before deleting it", "cluster", cl.Name, "service", service, "job", job, "err", err)
	}
}

// archivedLog is the archived log of the request's job when the cluster
// no longer has it (err is the cluster's NotFound), else err.
func (h *Handler) archivedLog(c echo.Context, cl store.Cluster, err error) (store.JobLog, error) {
	if h.jobLogs == nil || !errors.Is(err, backends.ErrNotFound) {
		return store.JobLog{}, err
	}
	u, uerr := currentUser(c)
	if uerr != nil {
		return store.JobLog{}, err
	}
	l, aerr := h.jobLogs.JobLog(c.Request().Context(), u.ID, cl.Name, c.Param("name"), c.Param("job"))
	if aerr != nil {
		return store.JobLog{}, err // the cluster's NotFound says it best
	}
	return l, nil
}

func jobsURL(cluster, service string) string {
	return "/services/" + urlPathEscape(cluster) + "/" + urlPathEscape(service) + "/jobs"
}

// ShowJobLog handles "GET /services/:cluster/:name/jobs/:job": the whole
// log with line numbers; ?q= keeps the lines that contain it.
func (h *Handler) ShowJobLog(c echo.Context) error {
	cl, b, err := h.serviceBackend(c)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(c.Request().Context(), backends.LogTimeout)
	defer cancel()
	service, job := c.Param("name"), c.Param("job")
	p := templates.JobLogProps{
		Chrome:  h.Chrome(c, job, "/services"),
		Cluster: cl.Name, Service: service, Job: job,
		Query: c.QueryParam("q"),
	}
	text, err := b.JobLog(ctx, service, job, false)
	if err != nil {
		// Gone from the cluster: the log archived when it ended.
		arch, err := h.archivedLog(c, cl, err)
		if err != nil {
			return err
		}
		text, p.Archived = arch.Log, true
		p.Status = &templates.JobRow{Name: job, Status: arch.Status, Created: arch.Created, Started: arch.Started, Finished: arch.Finished}
	}
	if bucket, key, ok := backends.JobInput(text); ok {
		// Job tables show it from now on.
		h.inputs.put(inputKey(watch.Func{Cluster: cl.Name, Service: service}, job), watch.Object{Bucket: bucket, Key: key})
	}
	p.Lines, p.Total = logLines(text, p.Query)
	if p.Query == "" && len(p.Lines) > templates.MaxLogLines {
		p.Omitted = len(p.Lines) - templates.MaxLogLines
		p.Lines = p.Lines[p.Omitted:]
	}
	// The job's status, for the header.
	if list, err := b.ListJobs(ctx, service, ""); err == nil && !p.Archived {
		for _, j := range list.Jobs {
			if j.Name == job {
				row := jobRows([]backends.Job{j}, 0)[0]
				p.Status = &row
			}
		}
	}
	return Render(c, http.StatusOK, templates.JobLogPage(p))
}

// logLines numbers the lines of a log, keeping only those that contain
// query (case-insensitive) when it is not empty.
func logLines(text, query string) (lines []templates.LogLine, total int) {
	q := strings.ToLower(query)
	sc := bufio.NewScanner(strings.NewReader(text))
	sc.Buffer(make([]byte, 64*1024), 4<<20)
	for sc.Scan() {
		total++
		if q == "" || strings.Contains(strings.ToLower(sc.Text()), q) {
			lines = append(lines, templates.LogLine{N: total, Text: sc.Text()})
		}
	}
	return lines, total
}

// DownloadJobLog handles "GET /services/:cluster/:name/jobs/:job/log".
func (h *Handler) DownloadJobLog(c echo.Context) error {
	cl, b, err := h.serviceBackend(c)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(c.Request().Context(), backends.LogTimeout)
	defer cancel()
	text, err := b.JobLog(ctx, c.Param("name"), c.Param("job"), true)
	if err != nil {
		arch, err := h.archivedLog(c, cl, err)
		if err != nil {
			return err
		}
		text = arch.Log
	}
	c.Response().Header().Set(echo.HeaderContentDisposition, attachmentHeader(c.Param("job")+".log"))
	return c.Blob(http.StatusOK, "text/plain; charset=utf-8", []byte(text))
}

// ShowInvoke handles "GET /services/:cluster/:name/invoke".
func (h *Handler) ShowInvoke(c echo.Context) error {
	cl, _, err := h.serviceBackend(c)
	if err != nil {
		return err
	}
	return Render(c, http.StatusOK, templates.InvokePage(templates.InvokeProps{
		Chrome: h.Chrome(c, "Invoke "+c.Param("name"), "/services"), Cluster: cl.Name, Service: c.Param("name"),
	}))
}

// maxShownResponse is the largest synchronous response shown in the page;
// larger or binary responses are downloaded.
const maxShownResponse = 256 << 10

// invokeRequest resolves an invocation's cluster and client and opens its
// payload; the caller closes the payload.
func (h *Handler) invokeRequest(c echo.Context) (store.Cluster, backends.Backend, io.ReadCloser, error) {
	cl, b, err := h.serviceBackend(c)
	if err != nil {
		return cl, nil, nil, err
	}
	payload, err := invokePayload(c)
	return cl, b, payload, err
}

// invokePayload returns the request's payload: the uploaded file when
// there is one, else the text field.
func invokePayload(c echo.Context) (io.ReadCloser, error) {
	if fh, err := c.FormFile("file"); err == nil && fh.Size > 0 {
		return fh.Open()
	}
	return io.NopCloser(strings.NewReader(c.FormValue("payload"))), nil
}

// RunService handles "POST /services/:cluster/:name/run": a synchronous
// invocation on one input file, on backends that run files
// (backends.FileRunner does the wire encoding). A short text answer is
// shown in the page; anything else (binary, a zip, a large answer)
// streams back as a download.
func (h *Handler) RunService(c echo.Context) error {
	cl, b, payload, err := h.invokeRequest(c)
	if err != nil {
		return err
	}
	defer payload.Close()
	name := c.Param("name")
	runner, ok := b.(backends.FileRunner)
	if !ok {
		return backends.Unsupported(b.Name(), "run service "+name, "running a service synchronously on a file")
	}
	out, err := runner.RunFile(c.Request().Context(), name, payload)
	if err != nil {
		return err
	}
	defer out.Close()
	head := make([]byte, 512)
	n, err := io.ReadFull(out, head)
	if err != nil && err != io.ErrUnexpectedEOF && err != io.EOF {
		return err
	}
	head = head[:n]
	kind := http.DetectContentType(head)
	if strings.HasPrefix(kind, "text/") && utf8.Valid(head) {
		rest, err := io.ReadAll(io.LimitReader(out, maxShownResponse))
		if err != nil {
			return err
		}
		body := append(head, rest...)
		if len(body) < maxShownResponse+n {
			return Render(c, http.StatusOK, templates.InvokePage(templates.InvokeProps{
				Chrome: h.Chrome(c, "Invoke "+name, "/services"), Cluster: cl.Name, Service: name,
				Result: string(body), HasResult: true,
			}))
		}
		head = body
	}
	ext := ".bin"
	switch {
	case strings.HasPrefix(kind, "application/zip"):
		ext = ".zip"
	case strings.HasPrefix(kind, "text/"):
		ext = ".txt"
	}
	c.Response().Header().Set(echo.HeaderContentDisposition, attachmentHeader(name+"-response"+ext))
	return c.Stream(http.StatusOK, kind, io.MultiReader(bytes.NewReader(head), out))
}

// SubmitJob handles "POST /services/:cluster/:name/jobs": an asynchronous
// invocation; the user lands on the new job's log.
func (h *Handler) SubmitJob(c echo.Context) error {
	cl, b, payload, err := h.invokeRequest(c)
	if err != nil {
		return err
	}
	defer payload.Close()
	name := c.Param("name")
	return h.submitAndOpen(c, cl.Name, b, name, payload)
}

// submitAndOpen submits a job and opens it.
func (h *Handler) submitAndOpen(c echo.Context, cluster string, b backends.Invoker, service string, body io.Reader) error {
	ctx, cancel := context.WithTimeout(c.Request().Context(), backends.MutateTimeout)
	defer cancel()
	ref, err := b.SubmitJob(ctx, service, body)
	if err != nil {
		return err
	}
	return h.openJob(c, cluster, service, ref)
}

// openJob sends the user to the job a submission started: its log when
// the backend named it (exactly or as its best guess), else the jobs list.
func (h *Handler) openJob(c echo.Context, cluster, service string, ref backends.JobRef) error {
	if ref.Name != "" {
		return c.Redirect(http.StatusSeeOther, jobsURL(cluster, service)+"/"+urlPathEscape(ref.Name))
	}
	return h.redirectNotice(c, jobsURL(cluster, service), "Job submitted.")
}

// maxRecentJobs is how many jobs the Jobs page shows.
const maxRecentJobs = 100

// ShowRecentJobs handles "GET /jobs": the newest jobs of every service on
// every cluster of the user, optionally only those in one status. Each
// service's first page of jobs is read side by side (at most 8 at once),
// within the cluster time bound; services that fail are named.
func (h *Handler) ShowRecentJobs(c echo.Context) error {
	u, err := currentUser(c)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(c.Request().Context(), clusterTimeout)
	defer cancel()
	all, err := h.listAllServices(ctx, u)
	if err != nil {
		return err
	}
	p := templates.RecentJobsProps{Chrome: h.Chrome(c, "Jobs", "/jobs"), Status: c.QueryParam("status")}
	var (
		mu  sync.Mutex
		wg  sync.WaitGroup
		sem = make(chan struct{}, 8)
	)
	fail := func(err error) {
		mu.Lock()
		p.Failures = append(p.Failures, h.describe(err))
		mu.Unlock()
	}
	for _, cs := range all {
		if cs.err != nil {
			fail(cs.err)
			continue
		}
		b, err := h.backendFor(ctx, cs.cluster)
		if err != nil {
			fail(err)
			continue
		}
		for _, s := range cs.services {
			wg.Add(1)
			go func() {
				defer wg.Done()
				sem <- struct{}{}
				defer func() { <-sem }()
				list, err := b.ListJobs(ctx, s.Name, "")
				if err != nil {
					fail(err)
					return
				}
				rows := h.serviceJobs(cs.cluster.Name, s.Name, list.Jobs)
				mu.Lock()
				defer mu.Unlock()
				p.Jobs = append(p.Jobs, rows...)
			}()
		}
	}
	wg.Wait()
	p.Jobs = recentJobs(p.Jobs, p.Status)
	slices.Sort(p.Failures)
	return Render(c, http.StatusOK, templates.RecentJobsPage(p))
}

// serviceJobs are the rows of one service's jobs on the Jobs page.
func (h *Handler) serviceJobs(cluster, service string, jobs []backends.Job) []templates.ServiceJob {
	rows := withInputs(jobRows(jobs, 0), h.knownInputs(cluster, service)())
	out := make([]templates.ServiceJob, len(rows))
	for i, j := range rows {
		out[i] = templates.ServiceJob{Cluster: cluster, Service: service, JobRow: j}
	}
	return out
}

// recentJobs keeps the jobs in status ("" for any), newest first, at most
// maxRecentJobs.
func recentJobs(jobs []templates.ServiceJob, status string) []templates.ServiceJob {
	jobs = slices.DeleteFunc(jobs, func(j templates.ServiceJob) bool { return status != "" && j.Status != status })
	slices.SortStableFunc(jobs, func(a, b templates.ServiceJob) int {
		if c := b.Created.Compare(a.Created); c != 0 {
			return c
		}
		return strings.Compare(a.Name, b.Name)
	})
	if len(jobs) > maxRecentJobs {
		jobs = jobs[:maxRecentJobs]
	}
	return jobs
}

// maxLiveServices bounds the services the Jobs page follows live.
const maxLiveServices = 100

// LiveRecentJobs handles "GET /jobs/live": the WebSocket of the Jobs
// page (?status= as the page's filter). It follows the job list of every
// service of the user's clusters and sends the table again when it
// changes.
func (h *Handler) LiveRecentJobs(c echo.Context) error {
	u, err := h.liveRequest(c)
	if err != nil {
		return err
	}
	ctx := c.Request().Context()
	lctx, cancel := context.WithTimeout(ctx, clusterTimeout)
	all, err := h.listAllServices(lctx, u)
	cancel()
	if err != nil {
		return err
	}
	f, err := h.newMultiFeed(ctx, u)
	if err != nil {
		return err
	}
	defer f.close()
	var funcs []watch.Func
	for _, cs := range all {
		for _, s := range cs.services {
			if cs.err == nil && len(funcs) < maxLiveServices {
				funcs = append(funcs, watch.Func{Cluster: cs.cluster.Name, Service: s.Name})
			}
		}
	}
	for _, fn := range funcs {
		if err := f.subscribe(watch.JobRef{Func: fn}); err != nil {
			return err
		}
	}
	status := c.QueryParam("status")
	f.render = func(ctx context.Context, f *multiFeed) ([]liveFragment, error) {
		var rows []templates.ServiceJob
		for _, fn := range funcs {
			rows = append(rows, h.serviceJobs(fn.Cluster, fn.Service, f.list(fn))...)
		}
		return []liveFragment{{"recent-jobs", templates.RecentJobsTable(recentJobs(rows, status))}}, nil
	}
	conn, closeConn, ok := h.upgradeLive(c)
	if !ok {
		return nil
	}
	defer closeConn()
	h.runLive(ctx, conn, f)
	return nil
}
