package serviceform

import (
	"encoding/json"
	"errors"
	"fmt"

	"github.com/fdlstudio/fdlstudio/backends"
	"github.com/fdlstudio/fdlstudio/backends/deploy"
	"github.com/fdlstudio/fdlstudio/fdl"
	"github.com/fdlstudio/fdlstudio/templates"
)

// Refusal is why the YAML pane's content was not applied: a sentence for
// the user, shown as it is.
type Refusal string

func (r Refusal) Error() string { return string(r) }

func refused(msg string) error { return Refusal(msg) }

func refusedf(format string, args ...any) error { return Refusal(fmt.Sprintf(format, args...)) }

// Pane is the YAML pane for form f, with its diagnostics mapped to the
// form's fields. prev is the pane as the page last showed it (possibly
// edited since): when it holds one OSCAR service, it is edited field by
// field into the form's service (deploy.Edit), so the user's comments,
// key order and layout stay; otherwise, or when an edit cannot be made in
// place, the service is written anew (deploy.FDL). Either way no
// credential the form holds is written (only blanks).
func Pane(f templates.ServiceForm, editing bool, prev string) (text string, diags []templates.ServiceFormDiag, err error) {
	svc, _ := ToService(f, editing)
	y, ok := editPane(prev, f.Cluster, svc)
	if !ok {
		if y, err = deploy.FDL(f.Cluster, svc); err != nil {
			return "", nil, err
		}
	}
	doc, err := fdl.Parse(serviceYAMLName, y)
	var ds fdl.Diagnostics
	base := ""
	if err != nil {
		errors.As(err, &ds)
	} else {
		ds = doc.Validate(fdl.ValidateOptions{})
		if len(doc.Model().Oscar) == 1 {
			base = doc.Model().Oscar[0].Path
		}
	}
	return string(y), diagsForForm(ds, base, formRowIndex(f)), nil
}

// editPane edits prev into svc on cluster; ok is false when prev is not
// a document of one OSCAR service that can be edited in place.
func editPane(prev, cluster string, svc *backends.Service) ([]byte, bool) {
	if prev == "" {
		return nil, false
	}
	doc, err := fdl.Parse(serviceYAMLName, []byte(prev))
	if err != nil || len(doc.Model().Oscar) != 1 || len(doc.Model().AWS) != 0 {
		return nil, false
	}
	if cluster != "" && doc.Model().Oscar[0].Cluster != cluster {
		if doc, err = doc.RenameCluster(0, cluster); err != nil {
			return nil, false
		}
	}
	if doc, err = deploy.Edit(doc, 0, svc); err != nil {
		return nil, false
	}
	return doc.Bytes(), true
}

// ParseYAML reads an FDL document holding exactly one OSCAR service,
// through the one FDL-to-service mapping (deploy.Services: legacy
// spellings migrated, top-level storage_providers and clusters merged
// in). A document with errors is refused: err (a Refusal) says why and
// diags (when not nil) says where.
func ParseYAML(data []byte) (cluster string, svc *backends.Service, diags fdl.Diagnostics, err error) {
	_, cluster, svc, diags, err = parseYAML(data)
	return cluster, svc, diags, err
}

func parseYAML(data []byte) (doc *fdl.Document, cluster string, svc *backends.Service, diags fdl.Diagnostics, err error) {
	doc, err = fdl.Parse(serviceYAMLName, data)
	if err != nil {
		errors.As(err, &diags)
		return nil, "", nil, diags, refused("The YAML was not applied: it is not a readable FDL file (see below).")
	}
	if doc, _, err = doc.Migrate("v4.1"); err != nil {
		return nil, "", nil, nil, refusedf("The YAML was not applied: %v", err)
	}
	diags = doc.Validate(fdl.ValidateOptions{})
	m := doc.Model()
	if len(m.AWS) > 0 {
		return nil, "", nil, diags, refused("The YAML was not applied: this editor holds one OSCAR service; `functions.aws` belongs in a workflow.")
	}
	if len(m.Oscar) != 1 {
		return nil, "", nil, diags, refusedf("The YAML was not applied: it must hold exactly one service under `functions.oscar`, and holds %d.", len(m.Oscar))
	}
	if diags.HasErrors() {
		return nil, "", nil, diags, refused("The YAML was not applied: fix the errors below first.")
	}
	fns, err := deploy.Services(doc, nil)
	if err != nil {
		return nil, "", nil, diags, refusedf("The YAML was not applied: %v", err)
	}
	return doc, fns[0].Cluster, fns[0].Service, diags, nil
}

// ApplyYAML reads the YAML pane into a form, and returns the pane to show
// next: the user's text with every credential in it blanked in place
// (deploy.RedactDocument), or the service written anew when that cannot
// be done in place. Secrets written with
// an empty value (as the pane shows them) keep the value the form holds
// for the same name.
func ApplyYAML(cur templates.ServiceForm, data []byte, editing bool) (templates.ServiceForm, string, fdl.Diagnostics, error) {
	doc, cluster, svc, diags, err := parseYAML(data)
	if err != nil {
		return cur, "", diags, err
	}
	if editing {
		if cluster != cur.Cluster {
			return cur, "", diags, refusedf("The YAML was not applied: a service stays on its cluster; the YAML must keep the key %q.", cur.Cluster)
		}
		if svc.Name != cur.Name {
			return cur, "", diags, refusedf("The YAML was not applied: the name of a service cannot change (%q); create a new service instead.", cur.Name)
		}
	}
	// Credentials written blank (as the pane shows them) keep the ones
	// the form holds for the same provider or cluster.
	var held backends.Service
	if cur.Carry != "" && json.Unmarshal([]byte(cur.Carry), &held) == nil {
		keepCredentials(svc, &held)
	}
	f := FromService(cluster, svc)
	for i, s := range f.Secrets {
		if s.Value != "" {
			continue
		}
		for _, old := range cur.Secrets {
			if old.Key == s.Key {
				f.Secrets[i].Value, f.Secrets[i].Stored = old.Value, old.Stored
			}
		}
	}
	pane := ""
	if rd, err := deploy.RedactDocument(doc); err == nil {
		pane = string(rd.Bytes())
	}
	return f, pane, diags, nil
}
