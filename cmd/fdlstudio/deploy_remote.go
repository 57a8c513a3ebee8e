package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/fdlstudio/fdlstudio/backends/deploy"
	"github.com/fdlstudio/fdlstudio/fdl"
	"github.com/fdlstudio/fdlstudio/handlers"
	"github.com/fdlstudio/fdlstudio/store"
)

// remoteOptions are `fdlstudio deploy FILE|BUNDLE --server URL …`: the
// same deploy as on a data directory, run by a server for the user of
// an API token.
type remoteOptions struct {
	Server, Token string
	Path          string
	Workflow      string
	Clusters      []string
	Plan, Yes     bool
	Delete        bool
	// In answers the questions; nil: no one can (an apply needs Yes).
	In  io.Reader
	Out io.Writer
	// Client is the HTTP client (nil: remoteClient()).
	Client *http.Client
}

// Time limits of the conversation with the server: reaching it, and its
// answer to a plan (which asks every cluster, each within its own 10 s).
// An apply streams as long as it runs; the server bounds each backend
// call.
const (
	remoteConnectTimeout = 10 * time.Second
	remotePlanTimeout    = 3 * time.Minute
)

func remoteClient() *http.Client {
	d := &net.Dialer{Timeout: remoteConnectTimeout}
	return &http.Client{
		Transport: &http.Transport{
			Proxy: http.ProxyFromEnvironment, DialContext: d.DialContext,
			TLSHandshakeTimeout: remoteConnectTimeout, ResponseHeaderTimeout: remotePlanTimeout,
		},
		// A redirect would carry the token elsewhere; the server never
		// sends one to the API.
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
}

// checkServerURL accepts http(s)://host[:port][/prefix] without
// credentials, query or fragment.
func checkServerURL(s string) (string, error) {
	u, err := url.Parse(s)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return "", fmt.Errorf("--server %q: give the server's address, e.g. https://fdlstudio.example.org", s)
	}
	if u.User != nil || u.RawQuery != "" || u.Fragment != "" {
		return "", fmt.Errorf("--server %q: give only the address, without a user, query or fragment (the token goes in FDLSTUDIO_TOKEN or --token-file)", s)
	}
	return strings.TrimRight(u.String(), "/"), nil
}

// readTokenFile reads an API token from a file only its owner can read.
func readTokenFile(path string) (string, error) {
	fi, err := os.Stat(path)
	if err != nil {
		return "", fmt.Errorf("--token-file: %w", err)
	}
	if fi.Mode().Perm()&0o077 != 0 {
		return "", fmt.Errorf("--token-file %s can be read by other users (mode %04o): run chmod 600 %s", path, fi.Mode().Perm(), path)
	}
	data, err := os.ReadFile(path)
	if err != nil {
		return "", fmt.Errorf("--token-file: %w", err)
	}
	tok := strings.TrimSpace(string(data))
	if tok == "" || strings.ContainsAny(tok, " \t\r\n") {
		return "", fmt.Errorf("--token-file %s does not hold one token", path)
	}
	return tok, nil
}

// remoteDeploy is Engine.Deploy (backends/deploy/facade.go) run by a
// server: the same plan text (deploy.RenderPlan), the same progress lines
// (deploy.RenderEvent), questions, messages and exit codes. The server
// plans and applies with its one engine; this only uploads the workflow
// and shows what comes back.
func remoteDeploy(ctx context.Context, o remoteOptions) int {
	out := o.Out
	if out == nil {
		out = io.Discard
	}
	fail := func(code int, format string, args ...any) int {
		fmt.Fprintf(out, "error: "+format+"\n", args...)
		return code
	}
	server, err := checkServerURL(o.Server)
	if err != nil {
		return fail(deploy.ExitBadInput, "%v", err)
	}
	if _, err := deploy.ParseClusterFlags(o.Clusters); err != nil {
		return fail(deploy.ExitBadInput, "%v", err)
	}
	// The workflow goes up as a bundle: the FDL and the scripts it names.
	doc, scripts, err := deploy.Load(o.Path)
	if err != nil {
		return fail(deploy.ExitBadInput, "%v", err)
	}
	b, err := fdl.NewBundle(doc, scripts)
	if err != nil {
		return fail(deploy.ExitBadInput, "%s: %v", o.Path, err)
	}
	var zip bytes.Buffer
	if err := b.WriteZip(&zip); err != nil {
		return fail(deploy.ExitBadInput, "%v", err)
	}
	workflow := o.Workflow
	if workflow == "" {
		if workflow, err = filepath.Abs(o.Path); err != nil {
			return fail(deploy.ExitBadInput, "%v", err)
		}
	}
	q := url.Values{"workflow": {workflow}, "cluster": o.Clusters}
	if o.Delete {
		q.Set("delete", "true")
	}
	c := &remote{server: server, token: o.Token, client: o.Client, out: out}
	if c.client == nil {
		c.client = remoteClient()
	}

	var ap handlers.APIPlan
	pctx, cancel := context.WithTimeout(ctx, remotePlanTimeout)
	code, err := c.call(pctx, "/api/deploy/plan", q, zip.Bytes(), &ap)
	cancel()
	if err != nil {
		return fail(code, "%v", err)
	}
	if ap.Plan == nil {
		return fail(deploy.ExitFailed, "the server at %s answered the plan without one", server)
	}
	if err := deploy.RenderPlan(out, ap.Plan); err != nil {
		return deploy.ExitFailed
	}
	if len(ap.Plan.NeedsCluster) > 0 {
		return fail(deploy.ExitBadInput, "no registered cluster is given for %s", strings.Join(ap.Plan.NeedsCluster, ", "))
	}
	if o.Plan {
		return deploy.ExitOK
	}
	if !ap.Plan.Changes() {
		fmt.Fprintln(out, "Nothing to do.")
		return deploy.ExitOK
	}
	answers := bufio.NewReader(strings.NewReader(""))
	if o.In != nil {
		answers = bufio.NewReader(o.In)
	}
	if !o.Yes {
		if o.In == nil {
			return fail(deploy.ExitBadInput, "nothing was applied: confirm on a terminal, or pass --yes")
		}
		if !deploy.Ask(out, answers, "Apply this plan?") {
			fmt.Fprintln(out, "Nothing was applied.")
			return deploy.ExitOK
		}
	}
	// The apply is of the plan shown: the server refuses if it changed.
	q.Set("expect", ap.Fingerprint)
	res, code, err := c.stream(ctx, "/api/deploy/apply", q, zip.Bytes())
	if err != nil {
		return fail(code, "%v", err)
	}
	if res == nil {
		fmt.Fprintln(out, "Nothing to do.")
		return deploy.ExitOK
	}
	switch res.Outcome {
	case store.DeploymentApplied:
		fmt.Fprintf(out, "Applied (deployment %d).\n", res.Deployment)
		return deploy.ExitOK
	case store.DeploymentInterrupted:
		fmt.Fprintf(out, "Interrupted (deployment %d): deploy again to converge.\n", res.Deployment)
		return deploy.ExitFailed
	}
	for _, f := range res.Functions {
		if f.State == store.FunctionFailed {
			fmt.Fprintf(out, "failed: %s on %s: %s\n", f.Name, f.Cluster, f.Message)
		}
	}
	if res.Deployment != 0 && o.In != nil && !o.Yes && deploy.Ask(out, answers, "Roll back the functions this apply changed?") {
		rb, _, err := c.stream(ctx, "/api/deploy/rollback", url.Values{"deployment": {fmt.Sprint(res.Deployment)}}, nil)
		if err != nil {
			fmt.Fprintf(out, "error: rollback: %v\n", err)
		} else if rb != nil && rb.Outcome == store.DeploymentRolledBack {
			fmt.Fprintln(out, "Rolled back.")
		}
	}
	return deploy.ExitFailed
}

// remote talks to the deploy API of one server with one token.
type remote struct {
	server, token string
	client        *http.Client
	out           io.Writer
}

// post sends body to path?q and returns the response when it is 200;
// any other answer becomes an error with the exit code it means.
func (r *remote) post(ctx context.Context, path string, q url.Values, body []byte) (*http.Response, int, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, r.server+path+"?"+q.Encode(), bytes.NewReader(body))
	if err != nil {
		return nil, deploy.ExitBadInput, err
	}
	req.Header.Set("Authorization", "Bearer "+r.token)
	req.Header.Set("Content-Type", "application/zip")
	req.Header.Set("Accept", "application/json, application/x-ndjson")
	resp, err := r.client.Do(req)
	if err != nil {
		// The cause without the request line (*url.Error repeats the
		// method and the whole URL).
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err
		}
		why := err.Error()
		var ne net.Error
		if errors.As(err, &ne) && ne.Timeout() || errors.Is(err, context.DeadlineExceeded) {
			why = "it did not answer in time (" + why + ")"
		}
		return nil, deploy.ExitFailed, fmt.Errorf("cannot reach the FDL Studio server at %s: %s", r.server, why)
	}
	if resp.StatusCode == http.StatusOK {
		return resp, deploy.ExitOK, nil
	}
	defer resp.Body.Close()
	var ae handlers.APIError
	data, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if json.Unmarshal(data, &ae) != nil || ae.Error == "" {
		ae.Error = fmt.Sprintf("the server at %s answered %s", r.server, resp.Status)
		if resp.StatusCode == http.StatusNotFound || resp.StatusCode/100 == 3 {
			ae.Error += " (is it FDL Studio, and is this its address?)"
		}
	}
	switch resp.StatusCode {
	case http.StatusUnauthorized:
		return nil, deploy.ExitBadInput, fmt.Errorf("the server at %s refused the API token: %s", r.server, ae.Error)
	case http.StatusUnprocessableEntity, http.StatusRequestEntityTooLarge, http.StatusBadRequest:
		for _, d := range ae.Diagnostics {
			fmt.Fprintln(r.out, d)
		}
		return nil, deploy.ExitBadInput, errors.New(ae.Error)
	}
	return nil, deploy.ExitFailed, errors.New(ae.Error)
}

// call posts and decodes a JSON answer into v.
func (r *remote) call(ctx context.Context, path string, q url.Values, body []byte, v any) (int, error) {
	resp, code, err := r.post(ctx, path, q, body)
	if err != nil {
		return code, err
	}
	defer resp.Body.Close()
	if err := json.NewDecoder(io.LimitReader(resp.Body, 64<<20)).Decode(v); err != nil {
		return deploy.ExitFailed, fmt.Errorf("reading the server's answer: %w", err)
	}
	return deploy.ExitOK, nil
}

// stream posts and reads an NDJSON stream of an apply or a rollback,
// printing each event as it arrives. It returns the result, or nil when
// there was nothing to do.
func (r *remote) stream(ctx context.Context, path string, q url.Values, body []byte) (*deploy.Result, int, error) {
	resp, code, err := r.post(ctx, path, q, body)
	if err != nil {
		return nil, code, err
	}
	defer resp.Body.Close()
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 64<<10), 64<<20)
	for sc.Scan() {
		var l handlers.APILine
		if err := json.Unmarshal(sc.Bytes(), &l); err != nil {
			return nil, deploy.ExitFailed, fmt.Errorf("reading the server's answer: %w", err)
		}
		switch {
		case l.Event != nil:
			deploy.RenderEvent(r.out, *l.Event)
		case l.Error != "":
			return nil, deploy.ExitFailed, errors.New(l.Error)
		case l.Nothing:
			return nil, deploy.ExitOK, nil
		case l.Result != nil:
			if l.Warning != "" {
				fmt.Fprintf(r.out, "warning: %s\n", l.Warning)
			}
			return l.Result, deploy.ExitOK, nil
		}
	}
	why := "the connection ended"
	if err := sc.Err(); err != nil {
		why = err.Error()
	}
	return nil, deploy.ExitFailed, fmt.Errorf("the answer of %s broke off before the end (%s); the server goes on with the apply: deploy again to see where it stands", r.server, why)
}
