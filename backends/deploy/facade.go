package deploy

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/fdlstudio/fdlstudio/fdl"
	"github.com/fdlstudio/fdlstudio/store"
)

// Exit codes of Deploy, which `fdlstudio deploy` exits with.
const (
	ExitOK       = 0 // nothing to do, planned only, or applied
	ExitFailed   = 1 // a function failed, a cluster could not be read, or the apply was cut
	ExitBadInput = 2 // the file, a flag or the cluster mapping is wrong
)

// ClusterMaps remembers, per workflow, which registered cluster each FDL
// cluster id goes to (store/sqlite's Deployments implements it).
type ClusterMaps interface {
	ClusterMap(ctx context.Context, ownerID int64, workflow string) (map[string]string, error)
	SetClusterMap(ctx context.Context, ownerID int64, workflow string, m map[string]string) error
}

// DeployOptions are the command line's `fdlstudio deploy FILE|BUNDLE
// --cluster ID=NAME … [--plan] [--yes] [--delete]`.
type DeployOptions struct {
	// Path is an FDL file (its scripts are read from its folder) or a
	// bundle (.zip).
	Path string
	// Workflow identifies the workflow in the records; default: the
	// absolute path of Path.
	Workflow string
	Version  int64
	// Clusters are the --cluster values, "ID=NAME": FDL cluster id to
	// registered cluster. They win over the mapping Maps remembers.
	Clusters []string
	// Plan prints the plan and changes nothing; Yes applies without
	// asking; Delete removes what the workflow created.
	Plan, Yes, Delete bool
	OwnerID           int64
	User              string
	// Maps, when set, supplies the remembered mapping and remembers the
	// one used by a successful apply.
	Maps ClusterMaps
	// In answers the questions (apply? roll back?); nil means no one can
	// answer, and an apply then needs Yes.
	In io.Reader
	// Out receives the plan, the progress and the messages.
	Out io.Writer
}

// Load reads an FDL file, or a bundle (a .zip archive), and returns the
// document and where its scripts are read from. Errors say which file
// and why.
func Load(path string) (*fdl.Document, fs.FS, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, nil, err
	}
	if strings.EqualFold(filepath.Ext(path), ".zip") {
		b, err := fdl.ReadBundle(data)
		if err != nil {
			return nil, nil, fmt.Errorf("%s: %w", path, err)
		}
		doc, err := fdl.Parse(b.Name, b.FDL)
		if err != nil {
			return nil, nil, fmt.Errorf("%s: %w", path, err)
		}
		return doc, b.FS(), nil
	}
	doc, err := fdl.Parse(filepath.Base(path), data)
	if err != nil {
		return nil, nil, err
	}
	return doc, os.DirFS(filepath.Dir(path)), nil
}

// ParseClusterFlags reads --cluster values "ID=NAME" into a mapping.
func ParseClusterFlags(values []string) (map[string]string, error) {
	m := map[string]string{}
	for _, v := range values {
		id, name, ok := strings.Cut(v, "=")
		id, name = strings.TrimSpace(id), strings.TrimSpace(name)
		if !ok || id == "" || name == "" {
			return nil, fmt.Errorf("--cluster %q: write it as FDL-CLUSTER-ID=REGISTERED-NAME, e.g. --cluster oscar-cluster=egi", v)
		}
		if old, dup := m[id]; dup && old != name {
			return nil, fmt.Errorf("--cluster: FDL cluster %q is given twice (%q and %q)", id, old, name)
		}
		m[id] = name
	}
	return m, nil
}

// Deploy is `fdlstudio deploy`: it loads and validates the workflow,
// plans it against the mapped clusters, prints the plan and, unless Plan
// is set, asks (or with Yes does not ask) and applies it, printing each
// function's progress. When a function fails it offers the rollback. It
// returns the exit code.
func (e *Engine) Deploy(ctx context.Context, o DeployOptions) int {
	out := o.Out
	if out == nil {
		out = io.Discard
	}
	fail := func(code int, format string, args ...any) int {
		fmt.Fprintf(out, "error: "+format+"\n", args...)
		return code
	}
	doc, scripts, err := Load(o.Path)
	if err != nil {
		return fail(ExitBadInput, "%v", err)
	}
	if ds := doc.Validate(fdl.ValidateOptions{Scripts: scripts, RequireScripts: true}); ds.HasErrors() {
		for _, d := range ds {
			if d.Severity == fdl.Error {
				fmt.Fprintln(out, d.String())
			}
		}
		return fail(ExitBadInput, "%s is not a deployable workflow", o.Path)
	}
	flags, err := ParseClusterFlags(o.Clusters)
	if err != nil {
		return fail(ExitBadInput, "%v", err)
	}
	workflow := o.Workflow
	if workflow == "" {
		if workflow, err = filepath.Abs(o.Path); err != nil {
			return fail(ExitBadInput, "%v", err)
		}
	}
	mapping := map[string]string{}
	if o.Maps != nil {
		remembered, err := o.Maps.ClusterMap(ctx, o.OwnerID, workflow)
		if err != nil {
			return fail(ExitFailed, "read the cluster mapping of %s: %v", workflow, err)
		}
		for k, v := range remembered {
			mapping[k] = v
		}
	}
	for k, v := range flags {
		mapping[k] = v
	}
	p, err := e.Plan(ctx, Request{OwnerID: o.OwnerID, User: o.User, Workflow: workflow, Version: o.Version,
		Doc: doc, Scripts: scripts, Clusters: mapping, Delete: o.Delete})
	var ie *InputError
	switch {
	case errors.As(err, &ie):
		return fail(ExitBadInput, "%v", err)
	case err != nil:
		return fail(ExitFailed, "%v", err)
	}
	if err := RenderPlan(out, p); err != nil {
		return ExitFailed
	}
	if len(p.NeedsCluster) > 0 {
		return fail(ExitBadInput, "no registered cluster is given for %s", strings.Join(p.NeedsCluster, ", "))
	}
	if o.Plan {
		return ExitOK
	}
	if !p.Changes() {
		fmt.Fprintln(out, "Nothing to do.")
		return ExitOK
	}
	answers := bufio.NewReader(strings.NewReader(""))
	if o.In != nil {
		answers = bufio.NewReader(o.In)
	}
	if !o.Yes {
		if o.In == nil {
			return fail(ExitBadInput, "nothing was applied: confirm on a terminal, or pass --yes")
		}
		if !Ask(out, answers, "Apply this plan?") {
			fmt.Fprintln(out, "Nothing was applied.")
			return ExitOK
		}
	}
	res, err := e.Apply(ctx, p, func(ev Event) { RenderEvent(out, ev) })
	if err != nil && res == nil {
		if errors.As(err, &ie) {
			return fail(ExitBadInput, "%v", err)
		}
		return fail(ExitFailed, "%v", err)
	}
	if err != nil {
		fmt.Fprintf(out, "warning: %v\n", err)
	}
	if res.Outcome == store.DeploymentApplied && o.Maps != nil {
		used := map[string]string{}
		for _, a := range p.Actions {
			if a.FDLCluster != "" && a.Cluster != "" && slices.Contains([]ActionKind{ActionCreate, ActionUpdate, ActionUnchanged}, a.Kind) {
				used[a.FDLCluster] = a.Cluster
			}
		}
		if err := o.Maps.SetClusterMap(ctx, o.OwnerID, workflow, used); err != nil {
			fmt.Fprintf(out, "warning: the cluster mapping was not remembered: %v\n", err)
		}
	}
	switch res.Outcome {
	case store.DeploymentApplied:
		fmt.Fprintf(out, "Applied (deployment %d).\n", res.Deployment)
		return ExitOK
	case store.DeploymentInterrupted:
		fmt.Fprintf(out, "Interrupted (deployment %d): deploy again to converge.\n", res.Deployment)
		return ExitFailed
	}
	for _, f := range res.Functions {
		if f.State == store.FunctionFailed {
			fmt.Fprintf(out, "failed: %s on %s: %s\n", f.Name, f.Cluster, f.Message)
		}
	}
	if res.Deployment != 0 && o.In != nil && !o.Yes && Ask(out, answers, "Roll back the functions this apply changed?") {
		rb, err := e.Rollback(ctx, o.OwnerID, res.Deployment, func(ev Event) { RenderEvent(out, ev) })
		if err != nil {
			fmt.Fprintf(out, "error: rollback: %v\n", err)
		} else if rb.Outcome == store.DeploymentRolledBack {
			fmt.Fprintln(out, "Rolled back.")
		}
	}
	return ExitFailed
}

// Ask prints question and reads a yes/no answer (no by default); the
// data-dir and the --server modes of fdlstudio deploy both ask with it.
func Ask(out io.Writer, in *bufio.Reader, question string) bool {
	fmt.Fprintf(out, "%s [y/N] ", question)
	line, _ := in.ReadString('\n')
	switch strings.ToLower(strings.TrimSpace(line)) {
	case "y", "yes":
		return true
	}
	return false
}
