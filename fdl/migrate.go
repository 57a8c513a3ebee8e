package fdl

import (
	"fmt"
	"strings"

	"gopkg.in/yaml.v3"
)

// Change describes one rewrite made by Migrate.
type Change struct {
	Path    string `json:"path"`
	Line    int    `json:"line"` // in the document as it was just before this change
	Message string `json:"message"`
}

func (c Change) String() string { return fmt.Sprintf("line %d: %s [%s]", c.Line, c.Message, c.Path) }

// Migrate rewrites the legacy forms of OSCAR services to the OSCAR v4.1 form
// (target must be "v4.1") and says what it changed:
//   - environment.Variables → environment.variables (merged when both exist);
//   - service-level replicas, delegation, rescheduler_threshold →
//     federation.members, federation.delegation,
//     federation.rescheduler_threshold;
//   - scalar expose.api_port / expose.nodePort → one-item lists;
//   - expose.port → expose.api_port.
//
// Lambda `environment.Variables` is the AWS spelling and is left alone. The
// returned document is d itself when nothing needed changing.
func (d *Document) Migrate(target string) (*Document, []Change, error) {
	if target != "v4.1" {
		return nil, nil, fmt.Errorf("migrate: unknown target %q (supported: v4.1)", target)
	}
	var changes []Change
	cur := d
	for i := range d.model.Oscar {
		var err error
		cur, changes, err = migrateService(cur, i, changes)
		if err != nil {
			return nil, changes, err
		}
	}
	return cur, changes, nil
}

// migrateService applies every rewrite to service i, reparsing between steps
// so that each splice sees fresh positions.
func migrateService(d *Document, i int, changes []Change) (*Document, []Change, error) {
	p := func(doc *Document) string { return doc.model.Oscar[i].Path }
	note := func(doc *Document, path, format string, args ...any) {
		line, _ := doc.model.keyPos(path)
		changes = append(changes, Change{Path: path, Line: line, Message: fmt.Sprintf(format, args...)})
	}
	var err error

	// environment.Variables → variables.
	if env := p(d) + ".environment"; d.model.Has(env + ".Variables") {
		if !d.model.Has(env + ".variables") {
			note(d, env+".Variables", "renamed environment.Variables to environment.variables")
			if d, err = d.renameKey(d.model.keys[env+".Variables"], "variables"); err != nil {
				return nil, changes, err
			}
		} else {
			legacy := resolve(d.model.nodes[env+".Variables"])
			moved := 0
			for j := 0; legacy != nil && j+1 < len(legacy.Content); j += 2 {
				k := legacy.Content[j].Value
				if d.model.Has(env + ".variables." + k) {
					continue // the v3.6+ spelling wins, as on a current server
				}
				text, err := inlineYAML(legacy.Content[j+1])
				if err != nil {
					return nil, changes, err
				}
				if d, err = d.SetPath(env, []string{"variables", k}, text); err != nil {
					return nil, changes, err
				}
				moved++
			}
			note(d, env+".Variables", "merged %d entries of environment.Variables into environment.variables and removed Variables", moved)
			if d, err = d.RemovePath(env, []string{"Variables"}); err != nil {
				return nil, changes, err
			}
		}
	}

	// Scalar ports → lists; port → api_port.
	exp := p(d) + ".expose"
	for _, key := range []string{"api_port", "nodePort"} {
		if n := d.model.nodes[exp+"."+key]; n != nil && n.Kind == yaml.ScalarNode && n.Tag != "!!null" {
			note(d, exp+"."+key, "expose.%s %s became the list [%s] (OSCAR v4.1)", key, n.Value, n.Value)
			if d, err = d.SetPath(exp, []string{key}, "["+n.Value+"]"); err != nil {
				return nil, changes, err
			}
		}
	}
	if n := d.model.nodes[exp+".port"]; n != nil {
		if d.model.Has(exp + ".api_port") {
			note(d, exp+".port", "removed expose.port %s: expose.api_port is already set", n.Value)
		} else {
			note(d, exp+".port", "expose.port %s became expose.api_port [%s]", n.Value, n.Value)
			if d, err = d.SetPath(exp, []string{"api_port"}, "["+n.Value+"]"); err != nil {
				return nil, changes, err
			}
		}
		if d, err = d.RemovePath(exp, []string{"port"}); err != nil {
			return nil, changes, err
		}
	}

	// Top-level replicas/delegation/rescheduler_threshold → federation.
	for _, mv := range []struct{ from, to string }{{"replicas", "members"}, {"delegation", "delegation"}, {"rescheduler_threshold", "rescheduler_threshold"}} {
		path := p(d) + "." + mv.from
		n := d.model.nodes[path]
		if n == nil {
			continue
		}
		if d.model.Has(p(d) + ".federation." + mv.to) {
			note(d, path, "removed %s: federation.%s is already set", mv.from, mv.to)
		} else {
			text, err := inlineYAML(n)
			if err != nil {
				return nil, changes, err
			}
			note(d, path, "moved %s to federation.%s (comments inside it are not carried over)", mv.from, mv.to)
			if d, err = d.SetPath(p(d), []string{"federation", mv.to}, text); err != nil {
				return nil, changes, err
			}
		}
		if d, err = d.RemovePath(p(d), []string{mv.from}); err != nil {
			return nil, changes, err
		}
		if mv.from == "replicas" && !d.model.Has(p(d)+".environment.secrets.refresh_token") {
			note(d, p(d)+".federation", "note: a federated service needs environment.secrets.refresh_token at deploy time")
		}
	}
	return d, changes, nil
}

// inlineYAML renders a node as YAML text suitable for SetPath.
func inlineYAML(n *yaml.Node) (string, error) {
	n = resolve(n)
	if n.Kind == yaml.ScalarNode {
		s, err := render(n)
		return strings.TrimSuffix(s, "\n"), err
	}
	c := *n
	c.HeadComment, c.LineComment, c.FootComment = "", "", ""
	return render(&c)
}
