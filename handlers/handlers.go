// Package handlers holds the HTTP handlers of FDL Studio, one file per
// resource. Handlers are methods on Handler, which carries their
// dependencies; each dependency is a small interface declared here, where
// it is consumed. Handlers return errors; web's error handler turns them
// into pages.
package handlers

import (
	"cmp"
	"context"
	"crypto/rand"
	"log/slog"
	"time"

	"github.com/fdlstudio/fdlstudio/auth"
	"github.com/fdlstudio/fdlstudio/backends"
	"github.com/fdlstudio/fdlstudio/backends/deploy"
	"github.com/fdlstudio/fdlstudio/backends/watch"
	"github.com/fdlstudio/fdlstudio/store"
	"github.com/fdlstudio/fdlstudio/templates"
)

// Deps are what the handlers need from the rest of the program. Adding a
// field here is how a handler gets a new dependency.
type Deps struct {
	Log *slog.Logger
	// Served reports whether a GET route exists for a path; the
	// navigation links only to sections this build serves.
	Served func(path string) bool
	// Clusters keeps each user's cluster registrations.
	Clusters clusterRepo
	// Backends turns a cluster registration into the backend of its kind
	// (OSCAR, the local cluster, ...). Handlers reach clusters only
	// through it.
	Backends backendRegistry
	// SharedClusters are configured by the operator for everyone (the
	// embedded local cluster among them).
	SharedClusters []store.Cluster
	// AllowedHosts, when not empty, limits the cluster endpoints users
	// may register (see backends.ValidateEndpoint).
	AllowedHosts []string
	// AccessToken returns the request's user's OIDC access token,
	// refreshed when needed; nil when no OIDC login is configured.
	AccessToken func(ctx context.Context) (string, error)
	// IsAdmin reports whether a user is an administrator (who may use
	// admin-only shared clusters).
	IsAdmin func(u *auth.User) bool
	// SessionCluster is the cluster the request's user logged in to with
	// the OSCAR basic login (ok false otherwise); it is listed first.
	SessionCluster func(ctx context.Context) (store.Cluster, bool)
	// Limits bound concurrent uploads and zips (zero: the defaults).
	Limits Limits
	// Sealer encrypts what the server hands the browser to keep for it
	// (the service form's hidden state, which may hold credentials the
	// user pasted), so no credential reaches a page in clear. nil: a key
	// made for this process (forms then do not survive a restart).
	Sealer *store.Sealer
	// Workflows keeps each user's workflows with their versions.
	Workflows workflowRepo
	// SessionTokens returns, during a request, an access-token source of
	// the request's session for work that acts for the user after the
	// request (the live hub); nil when no OIDC login is configured.
	SessionTokens func(ctx context.Context) (func(context.Context) (string, error), error)
	// Live is the hub that polls clusters for the live pages; nil turns
	// live updates off.
	Live *watch.Hub
	// PublicURL is the site's public URL, which WebSocket handshakes'
	// Origin must match ("" means the request's own host).
	PublicURL string
	// OpenSockets counts the open live WebSockets (may be nil).
	OpenSockets Gauge
	// LiveMaxAge is how long a live WebSocket stays open before the
	// server closes it for the page to reconnect and be authenticated
	// again (0: 10 minutes).
	LiveMaxAge time.Duration
	// JobLogs archives the logs of ended jobs, read when the cluster no
	// longer has them (nil: no archive).
	JobLogs JobLogArchive
	// AWSWays are the enabled ways to use AWS accounts (--aws-accounts:
	// "user", "default-chain"); empty: the clusters page offers none.
	AWSWays []string
	// APITokens makes, lists and revokes the request's user's personal
	// API tokens (auth.Manager); nil: no API tokens page.
	APITokens apiTokens
	// Deployments keeps deployment records, apply journals and each
	// workflow's cluster mapping, for the deploy engine.
	Deployments deployRecords
	// Traces is the causality a cluster records of its jobs (the local
	// cluster), to follow runs exactly (nil: runs are followed by object
	// key everywhere).
	Traces JobTracer
}

// Handler serves the pages and fragments of FDL Studio.
type Handler struct {
	log          *slog.Logger
	nav          []templates.NavItem
	clusters     clusterRepo
	shared       []store.Cluster
	allowedHosts []string
	accessToken  func(ctx context.Context) (string, error)
	isAdmin      func(u *auth.User) bool
	session      func(ctx context.Context) (store.Cluster, bool)
	backends     backendRegistry
	workflows    workflowRepo
	transfers    *transferLimits
	sealer       *store.Sealer
	live         *watch.Hub
	tokens       func(ctx context.Context) (func(context.Context) (string, error), error)
	publicURL    string
	sockets      Gauge
	jobLogs      JobLogArchive
	liveMaxAge   time.Duration
	awsWays      []string
	apiTokens    apiTokens
	// deploy is the handlers' deploy engine (api_deploy.go).
	deploy        *deploy.Engine
	deployRecords deployRecords
	traces        JobTracer
	inputs        inputCache
	// deploys are the applies and rollbacks the workflow pages follow
	// (deploy.go).
	deploys *deployRunner
}

// backendRegistry builds the backend of a cluster registration, acting
// for the user as told (backends.Registry).
type backendRegistry interface {
	Backend(ctx context.Context, c store.Cluster, act backends.Acting) (backends.Backend, error)
}

// Sections are the entries of the main navigation, in order.
var Sections = []templates.NavItem{
	{Label: "Workflows", Href: "/workflows"},
	{Label: "Services", Href: "/services"},
	{Label: "Jobs", Href: "/jobs"},
	{Label: "Files", Href: "/files"},
	{Label: "Clusters", Href: "/clusters"},
}

// New builds a Handler from its dependencies.
func New(d Deps) *Handler {
	nav := make([]templates.NavItem, len(Sections))
	for i, s := range Sections {
		s.Available = d.Served != nil && d.Served(s.Href)
		nav[i] = s
	}
	sealer := d.Sealer
	if sealer == nil {
		sealer = processSealer()
	}
	h := &Handler{
		log: d.Log, nav: nav,
		clusters: d.Clusters, shared: d.SharedClusters, allowedHosts: d.AllowedHosts, accessToken: d.AccessToken, isAdmin: d.IsAdmin, session: d.SessionCluster,
		backends: d.Backends, transfers: newTransferLimits(d.Limits), sealer: sealer, workflows: d.Workflows,
		live: d.Live, tokens: d.SessionTokens, publicURL: d.PublicURL, sockets: d.OpenSockets,
		jobLogs: d.JobLogs, awsWays: d.AWSWays, apiTokens: d.APITokens, liveMaxAge: cmp.Or(d.LiveMaxAge, 10*time.Minute),
		deployRecords: d.Deployments, traces: d.Traces,
	}
	var journal deploy.Journal
	if d.Deployments != nil {
		h.deploys = newDeployRunner(d.Deployments)
		journal = h.deploys.journal
	}
	h.deploy = h.newDeployEngine(journal)
	if h.deploys != nil {
		h.deploys.engine = h.deploy
	}
	return h
}

// Close stops what the handlers run in the background: the applies and
// rollbacks under way are cancelled (their journals say where they
// stopped) and waited for.
func (h *Handler) Close() {
	if h.deploys != nil {
		h.deploys.Close()
	}
}

// processSealer seals with a random key that lives as long as the process.
func processSealer() *store.Sealer {
	key := make([]byte, 32)
	if _, err := rand.Read(key); err != nil {
		panic("handlers: no randomness for a sealing key: " + err.Error()) // crypto/rand never fails on Linux
	}
	s, err := store.NewSealer(key)
	if err != nil {
		panic("handlers: " + err.Error()) // a 32-byte key is always valid
	}
	return s
}
