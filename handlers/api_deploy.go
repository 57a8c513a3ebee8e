package handlers

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strconv"
	"strings"

	"github.com/labstack/echo/v4"

	"github.com/fdlstudio/fdlstudio/auth"
	"github.com/fdlstudio/fdlstudio/backends"
	"github.com/fdlstudio/fdlstudio/backends/deploy"
	"github.com/fdlstudio/fdlstudio/fdl"
	"github.com/fdlstudio/fdlstudio/store"
)

// The deploy API is what `fdlstudio deploy --server` talks to. It runs
// the one deploy engine (backends/deploy) over the clusters of the API
// token's user, as the composer and the data-dir mode of the command do.
//
//	POST /api/deploy/plan      body: a bundle (zip)   → 200 APIPlan
//	POST /api/deploy/apply     body: the same bundle  → 200 NDJSON of APILine
//	POST /api/deploy/rollback?deployment=N            → 200 NDJSON of APILine
//
// Plan and apply take ?workflow=NAME (how the records name the workflow),
// ?cluster=ID=NAME (repeatable) and ?delete=true; apply takes
// ?expect=FINGERPRINT, the fingerprint of the plan the user confirmed,
// and refuses (409) when the plan has changed since. Bad input is 422
// with the message and, for an invalid FDL, its diagnostics.

// deployRecords keeps deployments, their journals and the cluster
// mapping of each workflow (store/sqlite's Deployments).
type deployRecords interface {
	deploy.Journal
	deploy.ClusterMaps
}

// APIPlan is the answer of POST /api/deploy/plan.
type APIPlan struct {
	Plan *deploy.Plan `json:"plan"`
	// Fingerprint names this plan for ?expect= of the apply.
	Fingerprint string `json:"fingerprint"`
}

// APILine is one line of the NDJSON stream of an apply or a rollback:
// the plan first (apply), then an event per function as it happens, then
// the result, or Nothing when there was nothing to do, or Error.
type APILine struct {
	Plan        *deploy.Plan   `json:"plan,omitempty"`
	Fingerprint string         `json:"fingerprint,omitempty"`
	Event       *deploy.Event  `json:"event,omitempty"`
	Result      *deploy.Result `json:"result,omitempty"`
	Nothing     bool           `json:"nothing,omitempty"`
	Warning     string         `json:"warning,omitempty"`
	Error       string         `json:"error,omitempty"`
}

// APIError is the body of a failed API request.
type APIError struct {
	Error       string   `json:"error"`
	Status      int      `json:"status"`
	Diagnostics []string `json:"diagnostics,omitempty"`
}

// maxAPIBundle bounds an uploaded bundle (fdl.ReadBundle refuses larger
// ones too).
const maxAPIBundle = 32 << 20

// newDeployEngine is the handlers' one deploy engine: it resolves a
// cluster name for the user the request is for, among the clusters that
// user may use.
func (h *Handler) newDeployEngine(j deploy.Journal) *deploy.Engine {
	return &deploy.Engine{Journal: j, Resolve: h.deployResolve}
}

// deployResolve returns the services of cluster name for the request's
// user. A cluster reached with the user's OpenID Connect login cannot be
// used with an API token, which carries no login token.
func (h *Handler) deployResolve(ctx context.Context, name string) (backends.Services, error) {
	// An apply started from a workflow page goes on after its request and
	// brings its own resolver (deploy.go, withResolver).
	if f, ok := ctx.Value(resolverKey{}).(deploy.ClusterResolver); ok {
		return f(ctx, name)
	}
	u, ok := auth.UserFrom(ctx)
	if !ok {
		return nil, echo.ErrUnauthorized
	}
	c, err := h.findCluster(ctx, u, name)
	if err != nil {
		return nil, err
	}
	if _, bearer := auth.APITokenFrom(ctx); bearer && c.AuthKind == store.AuthToken {
		return nil, fmt.Errorf("cluster %q is reached with your OpenID Connect login, which an API token does not carry: deploy to it from the workflow page", name)
	}
	return h.backendFor(ctx, c)
}

// apiRequest is a plan or apply request, read and checked.
type apiRequest struct {
	req deploy.Request
}

// readDeployRequest reads the bundle and the query of a plan or apply
// request, validates the workflow and merges the remembered cluster
// mapping with the one asked for. A problem with the input is answered
// here (422), and answered is true.
func (h *Handler) readDeployRequest(c echo.Context) (r apiRequest, answered bool, err error) {
	u, err := currentUser(c)
	if err != nil {
		return r, false, err
	}
	bad := func(msg string, diags []string) (apiRequest, bool, error) {
		return r, true, c.JSON(http.StatusUnprocessableEntity, APIError{Error: msg, Status: http.StatusUnprocessableEntity, Diagnostics: diags})
	}
	workflow := strings.TrimSpace(c.QueryParam("workflow"))
	if workflow == "" || len(workflow) > 1024 {
		return bad("Name the workflow (?workflow=NAME, at most 1024 bytes): the records of its deployments are kept under it.", nil)
	}
	flags, err := deploy.ParseClusterFlags(c.QueryParams()["cluster"])
	if err != nil {
		return bad(err.Error(), nil)
	}
	del, _ := strconv.ParseBool(c.QueryParam("delete"))
	data, err := io.ReadAll(io.LimitReader(c.Request().Body, maxAPIBundle+1))
	if err != nil {
		return r, false, err
	}
	if len(data) == 0 {
		return bad("Send the workflow as a bundle (a zip with the FDL file and its scripts) in the request body.", nil)
	}
	b, err := fdl.ReadBundle(data)
	if err != nil {
		return bad(err.Error(), nil)
	}
	doc, err := fdl.Parse(b.Name, b.FDL)
	if err != nil {
		return bad(err.Error(), nil)
	}
	scripts := b.FS()
	if ds := doc.Validate(fdl.ValidateOptions{Scripts: scripts, RequireScripts: true}); ds.HasErrors() {
		var lines []string
		for _, d := range ds {
			if d.Severity == fdl.Error {
				lines = append(lines, d.String())
			}
		}
		return bad(b.Name+" is not a deployable workflow", lines)
	}
	ctx := c.Request().Context()
	mapping := map[string]string{}
	if h.deployRecords != nil {
		remembered, err := h.deployRecords.ClusterMap(ctx, u.ID, workflow)
		if err != nil {
			return r, false, fmt.Errorf("read the cluster mapping of %s: %w", workflow, err)
		}
		for k, v := range remembered {
			mapping[k] = v
		}
	}
	for k, v := range flags {
		mapping[k] = v
	}
	r.req = deploy.Request{OwnerID: u.ID, User: apiActor(c, u), Workflow: workflow,
		Doc: doc, Scripts: scripts, Clusters: mapping, Delete: del}
	return r, false, nil
}

// apiActor is who the deployment records say deployed: the user, and
// the token they used.
func apiActor(c echo.Context, u *auth.User) string {
	who := u.Email
	if who == "" {
		who = u.Name
	}
	if who == "" {
		who = u.Subject
	}
	if t, ok := auth.APITokenFrom(c.Request().Context()); ok {
		who += " (API token " + strconv.Quote(t.Name) + ")"
	}
	return who
}

// plan runs the engine's plan; bad input is answered here (422).
func (h *Handler) apiPlan(c echo.Context, r apiRequest) (*deploy.Plan, bool, error) {
	p, err := h.deploy.Plan(c.Request().Context(), r.req)
	var ie *deploy.InputError
	if errors.As(err, &ie) {
		return nil, true, c.JSON(http.StatusUnprocessableEntity, APIError{Error: err.Error(), Status: http.StatusUnprocessableEntity})
	}
	if err != nil {
		return nil, true, c.JSON(http.StatusBadGateway, APIError{Error: h.describePlanError(err), Status: http.StatusBadGateway})
	}
	return p, false, nil
}

// describePlanError says why a plan failed: a cluster's own message, or
// a handler's public one; anything else is logged under an ID.
func (h *Handler) describePlanError(err error) string {
	msg := Describe(err)
	if msg == genericError {
		// The engine's own errors name the workflow or the cluster and
		// carry no secret.
		return err.Error()
	}
	return msg
}

// PlanDeploy handles "POST /api/deploy/plan": the plan of a workflow
// against the token user's clusters. Nothing changes.
func (h *Handler) PlanDeploy(c echo.Context) error {
	r, answered, err := h.readDeployRequest(c)
	if answered || err != nil {
		return err
	}
	p, answered, err := h.apiPlan(c, r)
	if answered || err != nil {
		return err
	}
	return c.JSON(http.StatusOK, APIPlan{Plan: p, Fingerprint: Fingerprint(p)})
}

// ApplyDeploy handles "POST /api/deploy/apply": plans the workflow again,
// checks that the plan is the one the user confirmed (?expect=), applies
// it and streams the plan, each function's progress and the result as
// NDJSON. The apply goes on if the client goes away; applying again
// converges.
func (h *Handler) ApplyDeploy(c echo.Context) error {
	r, answered, err := h.readDeployRequest(c)
	if answered || err != nil {
		return err
	}
	p, answered, err := h.apiPlan(c, r)
	if answered || err != nil {
		return err
	}
	fp := Fingerprint(p)
	if want := c.QueryParam("expect"); want != "" && want != fp {
		return c.JSON(http.StatusConflict, APIError{Status: http.StatusConflict,
			Error: "The plan has changed since it was shown (a cluster or an earlier deployment changed meanwhile); nothing was applied. Plan again."})
	}
	if len(p.NeedsCluster) > 0 {
		return c.JSON(http.StatusUnprocessableEntity, APIError{Status: http.StatusUnprocessableEntity,
			Error: "no registered cluster is given for " + strings.Join(p.NeedsCluster, ", ")})
	}
	send := ndjson(c)
	send(APILine{Plan: p, Fingerprint: fp})
	if !p.Changes() {
		send(APILine{Nothing: true})
		return nil
	}
	// The apply finishes even when the client disconnects; the journal
	// records it either way.
	ctx := context.WithoutCancel(c.Request().Context())
	res, err := h.deploy.Apply(ctx, p, func(ev deploy.Event) { send(APILine{Event: &ev}) })
	if err != nil && res == nil {
		send(APILine{Error: h.describePlanError(err)})
		return nil
	}
	var line APILine
	if err != nil {
		line.Warning = err.Error()
	}
	if res.Outcome == store.DeploymentApplied && h.deployRecords != nil {
		used := map[string]string{}
		for _, a := range p.Actions {
			if a.FDLCluster != "" && a.Cluster != "" && slices.Contains([]deploy.ActionKind{deploy.ActionCreate, deploy.ActionUpdate, deploy.ActionUnchanged}, a.Kind) {
				used[a.FDLCluster] = a.Cluster
			}
		}
		if err := h.deployRecords.SetClusterMap(ctx, r.req.OwnerID, r.req.Workflow, used); err != nil {
			line.Warning = "the cluster mapping was not remembered: " + err.Error()
		}
	}
	line.Result = res
	send(line)
	return nil
}

// RollbackDeploy handles "POST /api/deploy/rollback?deployment=N": puts
// back the functions deployment N changed, streaming the progress.
func (h *Handler) RollbackDeploy(c echo.Context) error {
	u, err := currentUser(c)
	if err != nil {
		return err
	}
	id, err := strconv.ParseInt(c.QueryParam("deployment"), 10, 64)
	if err != nil {
		return c.JSON(http.StatusUnprocessableEntity, APIError{Status: http.StatusUnprocessableEntity, Error: "Give the deployment to roll back: ?deployment=N."})
	}
	// Answered before the stream starts, so that a wrong number is a 404
	// (the same whether it does not exist or is another user's).
	if h.deployRecords != nil {
		if _, err := h.deployRecords.Get(c.Request().Context(), u.ID, id); errors.Is(err, store.ErrNotFound) {
			return c.JSON(http.StatusNotFound, APIError{Status: http.StatusNotFound,
				Error: fmt.Sprintf("You have no deployment %d: it does not exist, or it is another user's. The workflow's deployments page lists yours.", id)})
		} else if err != nil {
			return err
		}
	}
	send := ndjson(c)
	res, err := h.deploy.Rollback(context.WithoutCancel(c.Request().Context()), u.ID, id, func(ev deploy.Event) { send(APILine{Event: &ev}) })
	if err != nil && res == nil {
		send(APILine{Error: h.describePlanError(err)})
		return nil
	}
	line := APILine{Result: res}
	if err != nil {
		line.Warning = err.Error()
	}
	send(line)
	return nil
}

// ndjson starts a 200 NDJSON answer and returns how to send a line; each
// line is flushed at once.
func ndjson(c echo.Context) func(APILine) {
	w := c.Response()
	w.Header().Set(echo.HeaderContentType, "application/x-ndjson")
	w.Header().Set(echo.HeaderCacheControl, "no-store")
	w.Header().Set("X-Accel-Buffering", "no")
	w.WriteHeader(http.StatusOK)
	enc := json.NewEncoder(w)
	return func(l APILine) {
		if err := enc.Encode(l); err == nil {
			w.Flush()
		}
	}
}

// Fingerprint names a plan by what it would do: the actions with their
// changes, the side effects and the unmapped clusters, in a fixed order.
// Two plans with the same fingerprint apply the same changes.
func Fingerprint(p *deploy.Plan) string {
	type action struct {
		Kind, Cluster, Name string
		Changes             []deploy.Change
	}
	var v struct {
		Workflow     string
		Actions      []action
		Effects      []string
		NeedsCluster []string
	}
	v.Workflow = p.Workflow
	for _, a := range p.Actions {
		ch := slices.Clone(a.Changes)
		slices.SortFunc(ch, func(x, y deploy.Change) int { return strings.Compare(x.Field, y.Field) })
		v.Actions = append(v.Actions, action{string(a.Kind), a.Cluster, a.Name, ch})
	}
	for _, e := range p.Effects {
		v.Effects = append(v.Effects, e.Kind+"\x00"+e.Message)
	}
	slices.Sort(v.Effects)
	v.NeedsCluster = slices.Sorted(slices.Values(p.NeedsCluster))
	b, _ := json.Marshal(v)
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:16])
}
