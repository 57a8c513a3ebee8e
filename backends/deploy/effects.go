package deploy

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/fdlstudio/fdlstudio/backends"
	"github.com/fdlstudio/fdlstudio/backends/scar"
	"github.com/fdlstudio/fdlstudio/fdl"
)

// bucketLister is what a cluster offers that tells existing buckets from
// new ones (OSCAR clients have it).
type bucketLister interface {
	ListBuckets(ctx context.Context) ([]backends.Bucket, error)
}

// ownBuckets returns the buckets of the cluster's own storage
// (minio.default) a service's inputs and outputs use, as OSCAR creates
// them with the service and deletes them with it. With inputsOnly, the
// folders (bucket/folder) of its inputs instead.
func ownBuckets(s *backends.Service, folders bool) []string {
	c := Comparable(s)
	var out []string
	ios := append(slices.Clone(c.Input), c.Output...)
	if folders {
		ios = c.Input
	}
	for _, io := range ios {
		if io.StorageProvider != "minio.default" || io.Path == "" {
			continue
		}
		v := io.Path
		if !folders {
			v, _, _ = strings.Cut(io.Path, "/")
		} else if !strings.Contains(v, "/") {
			continue
		}
		if !slices.Contains(out, v) {
			out = append(out, v)
		}
	}
	slices.Sort(out)
	return out
}

// usesBucket reports whether s reads, writes or mounts bucket of the
// cluster's own storage.
func usesBucket(s *backends.Service, bucket string) bool {
	if slices.Contains(ownBuckets(s, false), bucket) {
		return true
	}
	if m := s.Mount; m != nil {
		typ, id := fdl.ParseProvider(m.StorageProvider)
		b, _, _ := strings.Cut(strings.Trim(m.Path, " /"), "/")
		return (typ == "" || typ == "minio") && id == "default" && b == bucket
	}
	return false
}

// effects lists the plan's side effects: storage created, buckets wiped
// by deletions (and who else uses them), visibility changes and loops.
func (e *Engine) effects(ctx context.Context, cs *clusterSet, doc *fdl.Document, p *Plan) error {
	existing := map[string]map[string]bool{} // cluster -> bucket -> exists (nil: unknown)
	listed := map[string]bool{}
	for _, a := range p.Actions {
		if (a.Kind != ActionCreate && a.Kind != ActionUpdate) || listed[a.Cluster] {
			continue
		}
		listed[a.Cluster] = true
		err := cs.do(ctx, a.Cluster, func(s backends.Services) error {
			bl, ok := s.(bucketLister)
			if !ok {
				return nil
			}
			bs, err := bl.ListBuckets(ctx)
			if err != nil {
				return nil // unknown: every bucket is listed as created if absent
			}
			m := map[string]bool{}
			for _, b := range bs {
				m[b.Name] = true
			}
			existing[a.Cluster] = m
			return nil
		})
		if err != nil {
			return err
		}
	}
	// A bucket two services of one cluster share is created once, and said once.
	said := map[string]bool{}
	for _, a := range p.Actions {
		if a.Kind != ActionCreate && a.Kind != ActionUpdate {
			continue
		}
		if scar.IsFunction(a.Service) {
			p.Effects = append(p.Effects, awsEffects(&a, existing[a.Cluster], said)...)
			continue
		}
		var had []string
		if a.Deployed != nil {
			had = append(ownBuckets(a.Deployed, false), ownBuckets(a.Deployed, true)...)
		}
		for _, b := range ownBuckets(a.Service, false) {
			if slices.Contains(had, b) || existing[a.Cluster][b] || said[a.Cluster+"\x00"+b] {
				continue
			}
			said[a.Cluster+"\x00"+b] = true
			msg := fmt.Sprintf("creates bucket %q on %s", b, a.Cluster)
			if existing[a.Cluster] == nil {
				msg = fmt.Sprintf("creates bucket %q on %s if it does not exist", b, a.Cluster)
			}
			p.Effects = append(p.Effects, Effect{Kind: EffectStorage, Cluster: a.Cluster, Function: a.Name, Bucket: b, Message: msg})
		}
		for _, f := range ownBuckets(a.Service, true) {
			if !slices.Contains(had, f) {
				b, _, _ := strings.Cut(f, "/")
				p.Effects = append(p.Effects, Effect{Kind: EffectStorage, Cluster: a.Cluster, Function: a.Name, Bucket: b,
					Message: fmt.Sprintf("creates folder %q on %s", f, a.Cluster)})
			}
		}
		to := Comparable(a.Service).Visibility
		switch {
		case a.Deployed == nil && to != "private":
			p.Effects = append(p.Effects, Effect{Kind: EffectVisibility, Cluster: a.Cluster, Function: a.Name,
				Message: fmt.Sprintf("%s on %s is created %s", a.Name, a.Cluster, to)})
		case a.Deployed != nil:
			if from := Comparable(a.Deployed).Visibility; from != to {
				p.Effects = append(p.Effects, Effect{Kind: EffectVisibility, Cluster: a.Cluster, Function: a.Name,
					Message: fmt.Sprintf("%s on %s becomes %s (was %s)", a.Name, a.Cluster, to, from)})
			}
		}
	}
	if err := e.wipes(ctx, cs, p); err != nil {
		return err
	}
	p.Effects = append(p.Effects, loops(doc)...)
	return nil
}

// wipes lists, for each deletion, the buckets OSCAR deletes with the
// service, and the other services (of the cluster, or the workflow) that
// use them.
func (e *Engine) wipes(ctx context.Context, cs *clusterSet, p *Plan) error {
	others := map[string][]backends.Service{}
	for _, a := range p.Actions {
		if a.Kind != ActionDelete {
			continue
		}
		if a.Deployed != nil && scar.IsFunction(a.Deployed) {
			if ef := awsDeleteEffect(&a); ef != nil {
				p.Effects = append(p.Effects, *ef)
			}
			continue
		}
		if _, ok := others[a.Cluster]; !ok {
			err := cs.do(ctx, a.Cluster, func(s backends.Services) error {
				l, err := s.ListServices(ctx)
				others[a.Cluster] = l
				return err
			})
			if err != nil && !errors.Is(err, backends.ErrUnsupported) {
				return fmt.Errorf("list services on cluster %q: %w", a.Cluster, err)
			}
		}
		deleted := func(name string) bool {
			return slices.ContainsFunc(p.Actions, func(o Action) bool {
				return o.Kind == ActionDelete && o.Cluster == a.Cluster && o.Name == name
			})
		}
		for _, b := range ownBuckets(a.Deployed, false) {
			if a.Deployed.Mount != nil && usesBucket(&backends.Service{Mount: a.Deployed.Mount}, b) {
				continue // OSCAR keeps a bucket the service also mounts
			}
			var users []string
			add := func(name string) {
				if k := a.Cluster + "/" + name; !slices.Contains(users, k) {
					users = append(users, k)
				}
			}
			for _, o := range others[a.Cluster] {
				if !deleted(o.Name) && usesBucket(&o, b) {
					add(o.Name)
				}
			}
			for _, o := range p.Actions {
				if o.Service != nil && o.Cluster == a.Cluster && o.Kind != ActionDelete && usesBucket(o.Service, b) {
					add(o.Name)
				}
			}
			slices.Sort(users)
			msg := fmt.Sprintf("deleting %s on %s deletes bucket %q with all its objects", a.Name, a.Cluster, b)
			if len(users) > 0 {
				msg += "; it is used by " + strings.Join(users, ", ")
			}
			p.Effects = append(p.Effects, Effect{Kind: EffectWipe, Cluster: a.Cluster, Function: a.Name, Bucket: b, UsedBy: users, Message: msg})
		}
	}
	return nil
}

// loops reports outputs that trigger their own service (the graph's
// warnings) and chains of services that lead back to their start.
func loops(doc *fdl.Document) []Effect {
	g := doc.Graph()
	var out []Effect
	for _, w := range g.Warnings {
		out = append(out, Effect{Kind: EffectLoop, Message: w.Message})
	}
	name := map[string]string{}
	for _, n := range g.Nodes {
		if n.Kind == fdl.KindService || n.Kind == fdl.KindFunction {
			name[n.ID] = n.Name
		}
	}
	// next: function -> functions its outputs trigger (exact or by prefix).
	next := map[string][]string{}
	readers := map[string][]string{}
	for _, ed := range g.Edges {
		if ed.Role == "input" {
			readers[ed.From] = append(readers[ed.From], ed.To)
		}
	}
	for _, mt := range g.MayTrigger {
		readers[mt.From] = append(readers[mt.From], mt.To)
	}
	for _, ed := range g.Edges {
		if ed.Role == "output" {
			for _, r := range readers[ed.To] {
				if r != ed.From && !slices.Contains(next[ed.From], r) {
					next[ed.From] = append(next[ed.From], r)
				}
			}
		}
	}
	// Each cycle once, found from its smallest id.
	ids := make([]string, 0, len(name))
	for id := range name {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	seen := map[string]bool{}
	for _, start := range ids {
		var path []string
		budget := 10000 // steps per start: a pathological graph is cut short, not hung on
		var walk func(id string) bool
		walk = func(id string) bool {
			if budget--; budget < 0 {
				return false
			}
			path = append(path, id)
			for _, n := range next[id] {
				if n == start {
					return true
				}
				if n > start && !slices.Contains(path, n) && walk(n) {
					return true
				}
			}
			path = path[:len(path)-1]
			return false
		}
		if walk(start) {
			names := make([]string, 0, len(path)+1)
			for _, id := range path {
				names = append(names, name[id])
			}
			key := strings.Join(names, ">")
			if !seen[key] {
				seen[key] = true
				names = append(names, name[start])
				out = append(out, Effect{Kind: EffectLoop, Function: name[start],
					Message: "the outputs of " + strings.Join(names, " → ") + " close a loop: every result triggers the chain again"})
			}
		}
	}
	return out
}
