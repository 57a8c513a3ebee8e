package scar

import (
	"encoding/json"
	"fmt"

	"gopkg.in/yaml.v3"

	"github.com/fdlstudio/fdlstudio/backends"
	"github.com/fdlstudio/fdlstudio/fdl"
)

// ExtraKey is the key of backends.Service.Extra that carries an AWS
// function's whole functions.aws entry (lambda, iam, api_gateway, batch,
// cloudwatch), as JSON. A service with it is deployed from the entry, so
// nothing the OSCAR-shaped fields cannot hold (timeout, role, VPC, Batch)
// is lost on the way through the deploy engine; GetService returns it
// read back from the function's FDL variable, so a plan compares entry
// with entry field by field.
const ExtraKey = "aws"

// EntryJSON is e as the JSON object ExtraKey holds: its YAML fields,
// without the empty ones, keys sorted. Two entries that deploy the same
// function have the same EntryJSON.
func EntryJSON(e *fdl.AWSEntry) (json.RawMessage, error) {
	b, err := yaml.Marshal(e)
	if err != nil {
		return nil, err
	}
	var v any
	if err := yaml.Unmarshal(b, &v); err != nil {
		return nil, err
	}
	v, _ = prune(v)
	if v == nil {
		v = map[string]any{}
	}
	return json.Marshal(v)
}

// prune drops nulls, zeros, false, empty strings, lists and mappings;
// ok is false when nothing is left of v.
func prune(v any) (any, bool) {
	switch x := v.(type) {
	case nil:
		return nil, false
	case map[string]any:
		out := map[string]any{}
		for k, e := range x {
			if p, ok := prune(e); ok {
				out[k] = p
			}
		}
		return out, len(out) > 0
	case []any:
		var out []any
		for _, e := range x {
			if p, ok := prune(e); ok {
				out = append(out, p)
			}
		}
		return out, len(out) > 0
	case string:
		return x, x != ""
	case bool:
		return x, x
	case int:
		return x, x != 0
	case float64:
		return x, x != 0
	}
	return v, true
}

// ServiceOf is the service that carries e through the deploy engine: the
// name, image and memory as the services pages show them, and the whole
// entry under Extra[ExtraKey].
func ServiceOf(e *fdl.AWSEntry) (*backends.Service, error) {
	js, err := EntryJSON(e)
	if err != nil {
		return nil, err
	}
	s := &backends.Service{Extra: map[string]json.RawMessage{ExtraKey: js}}
	if l := e.Lambda; l != nil {
		s.Name = l.Name
		if l.Container != nil {
			s.Image = l.Container.Image
		}
		if l.Memory > 0 {
			s.Memory = fmt.Sprintf("%dMi", l.Memory)
		}
	}
	return s, nil
}

// EntryOf reads back the entry a service carries under Extra[ExtraKey];
// nil when it carries none.
func EntryOf(s *backends.Service) (*fdl.AWSEntry, error) {
	raw, ok := s.Extra[ExtraKey]
	if !ok {
		return nil, nil
	}
	var v any
	if err := json.Unmarshal(raw, &v); err != nil {
		return nil, fmt.Errorf("service %q: %s is not a functions.aws entry: %w", s.Name, ExtraKey, err)
	}
	b, err := yaml.Marshal(v)
	if err != nil {
		return nil, err
	}
	var e fdl.AWSEntry
	if err := yaml.Unmarshal(b, &e); err != nil {
		return nil, fmt.Errorf("service %q: %s is not a functions.aws entry: %w", s.Name, ExtraKey, err)
	}
	e.Path = "function " + fmt.Sprintf("%q", s.Name)
	return &e, nil
}

// IsFunction reports whether s carries an AWS function's entry.
func IsFunction(s *backends.Service) bool {
	_, ok := s.Extra[ExtraKey]
	return ok
}
