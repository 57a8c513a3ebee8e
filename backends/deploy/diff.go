package deploy

import (
	"encoding/json"
	"fmt"
	"maps"
	"reflect"
	"slices"
	"strings"

	"github.com/fdlstudio/fdlstudio/backends"
	"github.com/fdlstudio/fdlstudio/backends/scar"
	"github.com/fdlstudio/fdlstudio/fdl"
)

// Comparable is s as a cluster keeps it, written the way FDL shows a
// service (Clean: no credentials, nothing the cluster generates), with
// what OSCAR and the local cluster fill in or normalise made explicit, so
// a definition and the cluster's copy of it compare equal field by field:
//
//   - memory 256Mi, cpu 0.2, log_level INFO (upper-cased), visibility
//     private when left out;
//   - input and output paths trimmed of spaces and slashes, a MinIO or S3
//     path without a folder prefixed with the service's name as bucket, an
//     empty or bare "minio" provider written minio.default;
//   - isolation_level SERVICE, and in expose: min_scale 1, max_scale 10,
//     cpu_threshold 80, auth_type basic, health_path "/", probe_mode
//     legacy (the defaults of OSCAR's API, which it fills in);
//   - empty environment, synchronous, clusters and providers left out.
//
// An AWS function (scar.IsFunction) compares as its name and its whole
// functions.aws entry.
//
// s is not changed.
func Comparable(s *backends.Service) *backends.Service {
	if scar.IsFunction(s) {
		return awsComparable(s)
	}
	c := Clean(s)
	if c.Memory == "" {
		c.Memory = "256Mi"
	}
	if c.CPU == "" {
		c.CPU = "0.2"
	}
	if c.LogLevel = strings.ToUpper(strings.TrimSpace(c.LogLevel)); c.LogLevel == "" {
		c.LogLevel = "INFO"
	}
	if c.Visibility == "" {
		c.Visibility = "private"
	}
	if c.IsolationLevel = strings.ToUpper(c.IsolationLevel); c.IsolationLevel == "" {
		c.IsolationLevel = "SERVICE"
	}
	if c.Expose != nil {
		x := *c.Expose
		setDefault(&x.MinScale, 1)
		setDefault(&x.MaxScale, 10)
		setDefault(&x.CPUThreshold, 80)
		setDefault(&x.AuthType, "basic")
		setDefault(&x.HealthPath, "/")
		setDefault(&x.ProbeMode, "legacy")
		c.Expose = &x
	}
	c.Input = normalIO(c.Input, c.Name)
	c.Output = normalIO(c.Output, c.Name)
	if c.Environment != nil && len(c.Environment.Variables) == 0 && len(c.Environment.Secrets) == 0 {
		c.Environment = nil
	}
	if c.Synchronous != nil && *c.Synchronous == (backends.Synchronous{}) {
		c.Synchronous = nil
	}
	if len(c.Clusters) == 0 {
		c.Clusters = nil
	}
	if len(c.Extra) == 0 {
		c.Extra = nil
	}
	return c
}

func setDefault[T comparable](v *T, d T) {
	var zero T
	if *v == zero {
		*v = d
	}
}

func normalIO(ios []backends.StorageIOConfig, service string) []backends.StorageIOConfig {
	if len(ios) == 0 {
		return nil
	}
	out := slices.Clone(ios)
	for i := range out {
		typ, id := fdl.ParseProvider(out[i].StorageProvider)
		if typ == "" {
			typ = "minio"
		}
		typ = strings.ToLower(typ)
		out[i].StorageProvider = typ + "." + id
		out[i].Path = fdl.NormalizePath(typ, out[i].Path, service)
	}
	return out
}

// Diff lists, field by field, what deploying want changes in have (the
// cluster's copy), comparing both as Comparable. A credential counts as
// changed only where the cluster returns its value and it differs; its
// values are never shown. Nil when nothing differs.
func Diff(want, have *backends.Service) []Change { return diffSent(want, have, nil) }

// diffSent is Diff that also compares each credential the cluster does
// not return (secrets come back blank) with the value last sent, when
// sent (path -> value, from the journal) has it.
func diffSent(want, have *backends.Service, sent map[string]string) []Change {
	a, errA := jsonValue(Comparable(have))
	b, errB := jsonValue(Comparable(want))
	if errA != nil || errB != nil {
		return []Change{{Field: "(service)", From: "(unreadable)", To: "(unreadable)"}}
	}
	var out []Change
	diffValues("", a, b, &out)
	haveCreds := credentials(have)
	for path, v := range credentials(want) {
		old := haveCreds[path]
		if old == "" {
			old = sent[path]
		}
		if v != "" && old != "" && old != v {
			out = append(out, Change{Field: path, From: "(hidden)", To: "(hidden, changed)"})
		}
	}
	slices.SortFunc(out, func(x, y Change) int { return strings.Compare(x.Field, y.Field) })
	return out
}

func credentials(s *backends.Service) map[string]string {
	m := map[string]string{}
	c, err := cloneService(s)
	if err != nil {
		return m
	}
	c.Federation = nil // member headers: compared as shown
	backends.EachCredential(c, func(cr backends.Credential) {
		if !strings.HasPrefix(cr.Path, "storage_providers.minio.default.") {
			m[cr.Path] = *cr.Value
		}
	})
	return m
}

// cloneService is a deep copy of s.
func cloneService(s *backends.Service) (*backends.Service, error) {
	b, err := json.Marshal(s)
	if err != nil {
		return nil, err
	}
	var c backends.Service
	if err := json.Unmarshal(b, &c); err != nil {
		return nil, err
	}
	return &c, nil
}

// diffValues appends the changes from a to b below path: mappings
// field by field, anything else (lists included) whole.
func diffValues(path string, a, b any, out *[]Change) {
	if reflect.DeepEqual(a, b) {
		return
	}
	am, aok := a.(map[string]any)
	bm, bok := b.(map[string]any)
	if aok && bok {
		keys := slices.Sorted(maps.Keys(am))
		for k := range bm {
			if _, ok := am[k]; !ok {
				keys = append(keys, k)
			}
		}
		for _, k := range keys {
			p := k
			if path != "" {
				p = path + "." + k
			}
			av, inA := am[k]
			bv, inB := bm[k]
			switch {
			case !inB:
				*out = append(*out, Change{Field: p, From: show(av)})
			case !inA:
				*out = append(*out, Change{Field: p, To: show(bv)})
			default:
				diffValues(p, av, bv, out)
			}
		}
		return
	}
	*out = append(*out, Change{Field: path, From: show(a), To: show(b)})
}

// show writes a value for a person: a string as its text, anything else
// as compact JSON.
func show(v any) string {
	if s, ok := v.(string); ok {
		return s
	}
	b, err := json.Marshal(v)
	if err != nil {
		return fmt.Sprint(v)
	}
	return string(b)
}
