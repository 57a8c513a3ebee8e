// Package oscar is a client for the OSCAR REST API (v3.x to v4.1.x) that
// implements backends.Backend.
//
// One Client talks to one cluster as one user (an OIDC bearer token or the
// cluster's basic-auth account). Files go to the cluster's MinIO with
// minio-go, using the keys GET /system/config hands to that user; the keys
// stay in this process. Presigned URLs come from OSCAR's
// /system/buckets/{bucket}/presign when the server has it (v3.6.4+).
//
// Timeouts (see NewHTTPClient and Config): connecting and the TLS handshake
// take at most 5 s each, and every control-plane call has a 10 s budget, so a
// down or hung cluster fails within 10 s. Synchronous runs get 5 minutes
// (OSCAR's own write timeout is 300 s), job logs 30 s, service creation and
// deletion 60 s (400 s with image_prefetch, as oscar-cli does). Nothing is
// retried: POST /job and /run are not idempotent, and a GET that failed is
// better reported at once than slowly.
package oscar

import (
	"bytes"
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/fdlstudio/fdlstudio/backends"
	"github.com/fdlstudio/fdlstudio/backends/netguard"
	"github.com/minio/minio-go/v7"
)

// Timeouts used when Config leaves them zero.
const (
	DefaultDialTimeout    = 5 * time.Second
	DefaultRequestTimeout = 10 * time.Second
	DefaultRunTimeout     = 5 * time.Minute
	DefaultLogTimeout     = backends.LogTimeout
	DefaultMutateTimeout  = backends.MutateTimeout
	PrefetchTimeout       = 400 * time.Second
	// OverallTimeout caps any single HTTP exchange on the shared http.Client,
	// longer than every per-request budget above.
	OverallTimeout = 10 * time.Minute
)

// maxErrorBody is how much of an error response body is kept as the message.
const maxErrorBody = 4 << 10

// Config says which cluster to talk to and as whom.
type Config struct {
	// Name is the cluster's name in messages, e.g. "egi-prod".
	Name string
	// Endpoint is the OSCAR API base URL, e.g. "https://oscar.egi.eu". Check
	// user-supplied values with backends.ValidateEndpoint first.
	Endpoint string
	// Token is the user's OIDC access token. When set it wins over basic auth.
	Token string
	// Username and Password are the cluster's basic-auth credentials.
	Username, Password string
	// InsecureSkipVerify turns TLS certificate verification off for this
	// cluster (its API and its MinIO). Off by default.
	InsecureSkipVerify bool
	// HTTPClient is used for the API when set (share one per TLS mode and
	// guard); otherwise NewGuardedHTTPClient(InsecureSkipVerify, Guard) is
	// built. The cluster's MinIO is reached through a copy of its
	// transport, so it dials through the same guard.
	HTTPClient *http.Client
	// Guard, when set, checks every address the client connects to (see
	// package netguard): set it for user-supplied endpoints, leave it nil
	// for operator-configured clusters. Used only when HTTPClient is nil.
	Guard *netguard.Guard
	// RequestTimeout bounds each control-plane call (default 10 s).
	RequestTimeout time.Duration
	// RunTimeout bounds a synchronous invocation (default 5 min).
	RunTimeout time.Duration
}

// Client is an OSCAR API client bound to one cluster and one user. It is safe
// for concurrent use.
type Client struct {
	cfg  Config
	base *url.URL
	hc   *http.Client
	name string

	mu    sync.Mutex
	info  *Info         // cached /system/info
	store *minio.Client // built from /system/config on first use
}

var _ backends.Backend = (*Client)(nil)

// NewHTTPClient returns the http.Client the OSCAR client uses: 5 s to
// connect, 5 s for the TLS handshake, TLS verification on unless insecure,
// and an overall cap of OverallTimeout per exchange. It follows no redirects
// to other hosts with credentials (net/http drops Authorization on a host
// change).
func NewHTTPClient(insecure bool) *http.Client {
	return NewGuardedHTTPClient(insecure, nil)
}

// NewGuardedHTTPClient is NewHTTPClient for user-supplied endpoints: every
// connection goes through g (nil: none), no proxy is used (g would check
// the proxy, not the cluster) and no redirect is followed.
func NewGuardedHTTPClient(insecure bool, g *netguard.Guard) *http.Client {
	hc := &http.Client{Transport: newTransport(insecure, g), Timeout: OverallTimeout}
	if g != nil {
		hc.CheckRedirect = netguard.CheckRedirect
	}
	return hc
}

func newTransport(insecure bool, g *netguard.Guard) *http.Transport {
	dialer := &net.Dialer{Timeout: DefaultDialTimeout, KeepAlive: 30 * time.Second}
	dial, proxy := dialer.DialContext, http.ProxyFromEnvironment
	if g != nil {
		dial, proxy = g.DialContext, nil
	}
	return &http.Transport{
		Proxy:                 proxy,
		DialContext:           dial,
		TLSHandshakeTimeout:   DefaultDialTimeout,
		TLSClientConfig:       &tls.Config{InsecureSkipVerify: insecure, MinVersion: tls.VersionTLS12}, //nolint:gosec // per-cluster opt-in
		MaxIdleConnsPerHost:   8,
		IdleConnTimeout:       90 * time.Second,
		ExpectContinueTimeout: time.Second,
	}
}

// New returns a client for cfg. It does not contact the cluster.
func New(cfg Config) (*Client, error) {
	name := fmt.Sprintf("OSCAR cluster %q", cfg.Name)
	if cfg.Name == "" {
		name = "OSCAR cluster at " + cfg.Endpoint
	}
	u, err := url.Parse(strings.TrimRight(cfg.Endpoint, "/"))
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, &backends.Error{Kind: backends.KindInvalid, Backend: name, Op: "configure client",
			Message: fmt.Sprintf("endpoint %q is not an http(s) URL", cfg.Endpoint)}
	}
	if cfg.RequestTimeout <= 0 {
		cfg.RequestTimeout = DefaultRequestTimeout
	}
	if cfg.RunTimeout <= 0 {
		cfg.RunTimeout = DefaultRunTimeout
	}
	hc := cfg.HTTPClient
	if hc == nil {
		hc = NewGuardedHTTPClient(cfg.InsecureSkipVerify, cfg.Guard)
	}
	return &Client{cfg: cfg, base: u, hc: hc, name: name}, nil
}

// Name identifies the cluster in messages.
func (c *Client) Name() string { return c.name }

// request describes one API call.
type request struct {
	op          string            // for messages, e.g. `get service "x"`
	method      string            // HTTP method
	path        string            // already escaped path, e.g. "/system/services/x"
	query       url.Values        // optional
	body        io.Reader         // optional
	contentType string            // of body
	bearer      string            // overrides the client's auth (service token)
	timeout     time.Duration     // 0 = RequestTimeout
	header      map[string]string // extra headers
}

// do sends r and returns the response with a body the caller must close; a
// non-2xx status has already been turned into a *backends.Error. The
// returned cancel must be called after the body is consumed.
func (c *Client) do(ctx context.Context, r request) (*http.Response, context.CancelFunc, error) {
	timeout := r.timeout
	if timeout == 0 {
		timeout = c.cfg.RequestTimeout
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	u := *c.base
	u.Path = c.base.Path + r.path
	u.RawPath = c.base.EscapedPath() + r.path
	if len(r.query) > 0 {
		u.RawQuery = r.query.Encode()
	}
	req, err := http.NewRequestWithContext(ctx, r.method, u.String(), r.body)
	if err != nil {
		cancel()
		return nil, nil, c.err(r.op, backends.KindInvalid, "", err)
	}
	if r.contentType != "" {
		req.Header.Set("Content-Type", r.contentType)
	}
	for k, v := range r.header {
		req.Header.Set(k, v)
	}
	switch {
	case r.bearer != "":
		req.Header.Set("Authorization", "Bearer "+r.bearer)
	case c.cfg.Token != "":
		req.Header.Set("Authorization", "Bearer "+c.cfg.Token)
	case c.cfg.Username != "" || c.cfg.Password != "":
		req.SetBasicAuth(c.cfg.Username, c.cfg.Password)
	}
	resp, err := c.hc.Do(req)
	if err != nil {
		cancel()
		return nil, nil, c.connectErr(r.op, "", timeout, err)
	}
	if resp.StatusCode >= 200 && resp.StatusCode < 300 {
		return resp, cancel, nil
	}
	defer cancel()
	defer resp.Body.Close()
	return nil, nil, c.statusErr(r.op, resp)
}

// doJSON sends r (with in encoded as JSON when non-nil) and decodes a JSON
// answer into out when out is non-nil.
func (c *Client) doJSON(ctx context.Context, r request, in, out any) error {
	if in != nil {
		b, err := json.Marshal(in)
		if err != nil {
			return c.err(r.op, backends.KindInvalid, "", fmt.Errorf("encode request: %w", err))
		}
		r.body, r.contentType = bytes.NewReader(b), "application/json"
	}
	resp, cancel, err := c.do(ctx, r)
	if err != nil {
		return err
	}
	defer cancel()
	defer resp.Body.Close()
	if out == nil {
		_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, maxErrorBody))
		return nil
	}
	if err := json.NewDecoder(io.LimitReader(resp.Body, MaxJSONResponse)).Decode(out); err != nil {
		return c.err(r.op, backends.KindUnavailable, "", fmt.Errorf("decode %s response (at most %d MiB are read): %w", r.path, MaxJSONResponse>>20, err))
	}
	return nil
}

// Bounds on what is read from a cluster, so that a misbehaving (or
// hostile, user-registered) endpoint cannot fill the server's memory.
const (
	// MaxJSONResponse caps a JSON answer (a list of thousands of services
	// stays far below it).
	MaxJSONResponse = 32 << 20
	// MaxLogResponse caps a log read whole; longer logs are cut, with a
	// last line that says so.
	MaxLogResponse = 16 << 20
)

// connectErr is a failed exchange with the cluster (what is its API or
// its MinIO). The user reads one sentence for every network failure
// (refused, reset, timed out, TLS, a non-HTTP answer), so the pages
// cannot be used to tell closed ports from open ones or to learn the
// addresses behind a name; the cause stays in Err, for the log. A
// refusal of the dial guard or a redirect says so.
func (c *Client) connectErr(op, what string, timeout time.Duration, err error) error {
	var refused *netguard.RefusedError
	if errors.As(err, &refused) {
		msg := refused.Error()
		if what != "" {
			msg = what + ": " + msg
		}
		return c.err(op, backends.KindUnavailable, msg, err)
	}
	if what == "" {
		what = "the cluster"
	}
	switch {
	case errors.Is(err, netguard.ErrRedirect):
		return c.err(op, backends.KindUnavailable, what+" answered with a redirect, which this server does not follow; register the address it redirects to", err)
	case errors.Is(err, context.Canceled):
		return c.err(op, backends.KindUnavailable, "the request was cancelled", err)
	}
	msg := "could not connect to " + what
	if timeout > 0 {
		msg += fmt.Sprintf(", or got no answer within %s", timeout)
	}
	return c.err(op, backends.KindUnavailable, msg, err)
}

// err builds a *backends.Error for this cluster.
func (c *Client) err(op string, kind backends.Kind, msg string, cause error) error {
	return &backends.Error{Kind: kind, Op: op, Backend: c.name, Message: msg, Err: cause}
}

// statusErr maps a non-2xx answer to a kind, keeping OSCAR's plain-text
// message (an HTML error page from a proxy is replaced by the status text).
func (c *Client) statusErr(op string, resp *http.Response) error {
	body, _ := io.ReadAll(io.LimitReader(resp.Body, maxErrorBody))
	msg := strings.TrimSpace(string(body))
	if !utf8.ValidString(msg) || strings.HasPrefix(strings.ToLower(msg), "<!doctype") || strings.HasPrefix(strings.ToLower(msg), "<html") {
		msg = ""
	}
	if msg == "" {
		msg = fmt.Sprintf("HTTP %d %s", resp.StatusCode, http.StatusText(resp.StatusCode))
	}
	return c.err(op, KindForStatus(resp.StatusCode), msg, nil)
}

// KindForStatus maps an OSCAR HTTP status to an error kind.
func KindForStatus(status int) backends.Kind {
	switch {
	case status == http.StatusUnauthorized:
		return backends.KindUnauthorized
	case status == http.StatusForbidden:
		return backends.KindForbidden
	case status == http.StatusNotFound:
		return backends.KindNotFound
	case status == http.StatusConflict:
		return backends.KindConflict
	case status == http.StatusMethodNotAllowed || status == http.StatusNotImplemented:
		return backends.KindUnsupported
	case status >= 400 && status < 500:
		return backends.KindInvalid
	default:
		return backends.KindUnavailable
	}
}

// escape escapes one path segment.
func escape(s string) string { return url.PathEscape(s) }

// checkName rejects empty names before a request is built: an empty path
// segment would address a different route.
func (c *Client) checkName(op, what, v string) error {
	if v == "" {
		return c.err(op, backends.KindInvalid, what+" is empty", nil)
	}
	return nil
}

// requireBasic refuses, without a request, the admin routes OSCAR only opens
// to its basic-auth account (it answers bearer tokens 401 or 403).
func (c *Client) requireBasic(op string) error {
	if c.cfg.Token != "" || (c.cfg.Username == "" && c.cfg.Password == "") {
		return c.err(op, backends.KindUnauthorized, "this needs the cluster's basic-auth account; OIDC tokens are refused by OSCAR", nil)
	}
	return nil
}

// requireBearer refuses routes OSCAR only opens to OIDC tokens.
func (c *Client) requireBearer(op string) error {
	if c.cfg.Token == "" {
		return c.err(op, backends.KindUnauthorized, "this needs an OIDC token; basic credentials are refused by OSCAR", nil)
	}
	return nil
}
