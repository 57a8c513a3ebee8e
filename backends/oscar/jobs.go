package oscar

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"sort"
	"time"

	"github.com/fdlstudio/fdlstudio/backends"
)

// Run implements backends.Invoker: POST /run/{service}, proxied by OSCAR to
// the service's Knative deployment. /run takes the service's own token or an
// OIDC token; with basic credentials the service token is read first. The
// returned body must be closed; it is bounded by Config.RunTimeout.
func (c *Client) Run(ctx context.Context, service string, input io.Reader) (io.ReadCloser, error) {
	op := fmt.Sprintf("run service %q", service)
	if err := c.checkName(op, "service name", service); err != nil {
		return nil, err
	}
	info, err := c.SystemInfo(ctx)
	if err != nil {
		return nil, err
	}
	if info.ServerlessBackend.Name == "" {
		return nil, c.err(op, backends.KindUnsupported, "this cluster has no serverless backend, so services can only run asynchronously", nil)
	}
	bearer, err := c.invokeToken(ctx, service)
	if err != nil {
		return nil, err
	}
	resp, cancel, err := c.do(ctx, request{op: op, method: http.MethodPost, path: "/run/" + escape(service),
		body: input, contentType: "application/octet-stream", bearer: bearer, timeout: c.cfg.RunTimeout})
	if err != nil {
		return nil, err
	}
	return &cancelBody{ReadCloser: resp.Body, cancel: cancel}, nil
}

// jobNameHeader is how the local cluster names the job a POST /job
// started (an addition to the OSCAR API, whose /job answers 201 with an
// empty body).
const jobNameHeader = "X-Fdlstudio-Job-Name"

// SubmitJob implements backends.Invoker: POST /job/{service}. It is never
// retried. OSCAR answers 201 with an empty body, so unless the server
// names the job (the local cluster does), the newest job created since
// the submission is looked for and the reference marked as a guess.
func (c *Client) SubmitJob(ctx context.Context, service string, event io.Reader) (backends.JobRef, error) {
	op := fmt.Sprintf("submit job to service %q", service)
	if err := c.checkName(op, "service name", service); err != nil {
		return backends.JobRef{}, err
	}
	bearer, err := c.invokeToken(ctx, service)
	if err != nil {
		return backends.JobRef{}, err
	}
	submitted := time.Now().Add(-2 * time.Second) // tolerate clock skew
	resp, cancel, err := c.do(ctx, request{op: op, method: http.MethodPost, path: "/job/" + escape(service),
		body: event, contentType: "application/json", bearer: bearer})
	if err != nil {
		return backends.JobRef{}, err
	}
	name := resp.Header.Get(jobNameHeader)
	resp.Body.Close()
	cancel()
	if name != "" {
		return backends.JobRef{Name: name}, nil
	}
	return backends.JobRef{Name: c.newestJobSince(ctx, service, submitted), Guess: true}, nil
}

// newestJobSince polls briefly (about 1.5 s) for the newest job of service
// created after t; "" if none shows up.
func (c *Client) newestJobSince(ctx context.Context, service string, t time.Time) string {
	for range 5 {
		if list, err := c.ListJobs(ctx, service, ""); err == nil {
			var best backends.Job
			for _, j := range list.Jobs {
				if j.CreationTime.After(t) && j.CreationTime.After(best.CreationTime) {
					best = j
				}
			}
			if best.Name != "" {
				return best.Name
			}
		}
		select {
		case <-ctx.Done():
			return ""
		case <-time.After(300 * time.Millisecond):
		}
	}
	return ""
}

// invokeToken returns the bearer for /job and /run: the user's OIDC token,
// or (basic auth) the service's own token.
func (c *Client) invokeToken(ctx context.Context, service string) (string, error) {
	if c.cfg.Token != "" {
		return c.cfg.Token, nil
	}
	svc, err := c.GetService(ctx, service)
	if err != nil {
		return "", err
	}
	if svc.Token == "" {
		return "", c.err(fmt.Sprintf("invoke service %q", service), backends.KindForbidden, "the service has no token and no OIDC token is configured", nil)
	}
	return svc.Token, nil
}

// jobInfo is types.JobInfo.
type jobInfo struct {
	Status       string `json:"status"`
	CreationTime string `json:"creation_time"`
	StartTime    string `json:"start_time"`
	FinishTime   string `json:"finish_time"`
}

// ListJobs implements backends.Jobs (GET /system/logs/{service}). Servers
// from v3.6.4 answer {jobs, next_page, remaining_jobs}; older ones a bare
// map of job name to info, with no paging. Jobs are returned newest first.
func (c *Client) ListJobs(ctx context.Context, service, pageToken string) (*backends.JobList, error) {
	op := fmt.Sprintf("list jobs of service %q", service)
	if err := c.checkName(op, "service name", service); err != nil {
		return nil, err
	}
	v, err := c.serverVersion(ctx)
	if err != nil {
		return nil, err
	}
	q := url.Values{}
	if pageToken != "" {
		if !v.AtLeast(v3_6_4) {
			return nil, c.err(op, backends.KindUnsupported, fmt.Sprintf("job paging needs OSCAR v3.6.4 or newer (cluster runs %s)", v), nil)
		}
		q.Set("page", pageToken)
	}
	var raw json.RawMessage
	if err := c.doJSON(ctx, request{op: op, method: http.MethodGet, path: "/system/logs/" + escape(service), query: q}, nil, &raw); err != nil {
		return nil, err
	}
	list, err := decodeJobList(raw, v)
	if err != nil {
		return nil, c.err(op, backends.KindUnavailable, "", err)
	}
	return list, nil
}

// decodeJobList accepts both job-list shapes.
func decodeJobList(raw []byte, v Version) (*backends.JobList, error) {
	var wrapped struct {
		Jobs          map[string]jobInfo `json:"jobs"`
		NextPage      string             `json:"next_page"`
		RemainingJobs int                `json:"remaining_jobs"`
	}
	var jobs map[string]jobInfo
	out := &backends.JobList{}
	if v.AtLeast(v3_6_4) {
		if err := json.Unmarshal(raw, &wrapped); err != nil {
			return nil, fmt.Errorf("decode job list: %w", err)
		}
		jobs, out.NextPage, out.Remaining = wrapped.Jobs, wrapped.NextPage, wrapped.RemainingJobs
	} else if err := json.Unmarshal(raw, &jobs); err != nil {
		return nil, fmt.Errorf("decode job list (pre-v3.6.4 map): %w", err)
	}
	for name, ji := range jobs {
		out.Jobs = append(out.Jobs, backends.Job{
			Name:         name,
			Status:       backends.JobStatus(ji.Status),
			CreationTime: parseTime(ji.CreationTime),
			StartTime:    parseTime(ji.StartTime),
			FinishTime:   parseTime(ji.FinishTime),
		})
	}
	sort.Slice(out.Jobs, func(i, j int) bool {
		a, b := out.Jobs[i], out.Jobs[j]
		if !a.CreationTime.Equal(b.CreationTime) {
			return a.CreationTime.After(b.CreationTime)
		}
		return a.Name < b.Name
	})
	return out, nil
}

func parseTime(s string) time.Time {
	t, err := time.Parse(time.RFC3339, s)
	if err != nil {
		return time.Time{}
	}
	return t
}

// JobLog implements backends.Jobs (GET /system/logs/{service}/{job},
// text/plain, returned whole: OSCAR cannot follow a log).
func (c *Client) JobLog(ctx context.Context, service, job string, timestamps bool) (string, error) {
	op := fmt.Sprintf("read log of job %q of service %q", job, service)
	if err := c.checkName(op, "service name", service); err != nil {
		return "", err
	}
	if err := c.checkName(op, "job name", job); err != nil {
		return "", err
	}
	q := url.Values{}
	boolQuery(q, "timestamps", timestamps)
	return c.readText(ctx, request{op: op, method: http.MethodGet, path: "/system/logs/" + escape(service) + "/" + escape(job), query: q, timeout: DefaultLogTimeout})
}

// JobLogFrom implements backends.Jobs. OSCAR returns whole logs, so the
// whole log is read and sliced at offset.
func (c *Client) JobLogFrom(ctx context.Context, service, job string, offset int64) (string, int64, error) {
	if offset < 0 {
		return "", 0, c.err(fmt.Sprintf("read log of job %q of service %q", job, service), backends.KindInvalid,
			fmt.Sprintf("log offset %d is negative", offset), nil)
	}
	text, err := c.JobLog(ctx, service, job, false)
	if err != nil {
		return "", 0, err
	}
	rest, next := backends.LogFrom(text, offset)
	return rest, next, nil
}

// DeleteJob implements backends.Jobs.
func (c *Client) DeleteJob(ctx context.Context, service, job string) error {
	op := fmt.Sprintf("delete job %q of service %q", job, service)
	if err := c.checkName(op, "service name", service); err != nil {
		return err
	}
	if err := c.checkName(op, "job name", job); err != nil {
		return err
	}
	return c.doJSON(ctx, request{op: op, method: http.MethodDelete, path: "/system/logs/" + escape(service) + "/" + escape(job)}, nil, nil)
}

// DeleteJobs implements backends.Jobs (DELETE /system/logs/{service};
// ?all=true also kills running jobs).
func (c *Client) DeleteJobs(ctx context.Context, service string, all bool) error {
	op := fmt.Sprintf("delete jobs of service %q", service)
	if err := c.checkName(op, "service name", service); err != nil {
		return err
	}
	q := url.Values{}
	boolQuery(q, "all", all)
	return c.doJSON(ctx, request{op: op, method: http.MethodDelete, path: "/system/logs/" + escape(service), query: q, timeout: DefaultMutateTimeout}, nil, nil)
}

// cancelBody releases the request context when the body is closed.
type cancelBody struct {
	io.ReadCloser
	cancel context.CancelFunc
}

func (b *cancelBody) Close() error {
	err := b.ReadCloser.Close()
	b.cancel()
	return err
}
