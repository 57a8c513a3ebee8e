package deploy

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"

	"gopkg.in/yaml.v3"

	"github.com/fdlstudio/fdlstudio/backends"
	"github.com/fdlstudio/fdlstudio/fdl"
)

// Function is one functions.oscar entry mapped to a service.
type Function struct {
	// Cluster is the entry's cluster id as the FDL writes it.
	Cluster string
	// Path is the YAML path of the service mapping in the (migrated)
	// document.
	Path string
	// Service is what is sent to the cluster.
	Service *backends.Service
}

// Services maps every functions.oscar entry of doc to a service, in file
// (deployment) order:
//
//   - legacy keys (environment.Variables, expose.port, replicas, ...) are
//     migrated to the v4.1 shape first;
//   - the service keeps every key it has, those the typed FDL view does not
//     name too (backends.Service keeps unknown keys);
//   - the top-level storage_providers and clusters are merged into the
//     service, as oscar-cli apply copies them into every service; an entry
//     the service declares itself, by type and id, wins;
//   - a script given as a path is read from scripts (the folder of the FDL
//     file, or its bundle). With scripts nil the script stays as written.
//
// The document is not validated here: callers decide which diagnostics
// block them.
func Services(doc *fdl.Document, scripts fs.FS) ([]Function, error) {
	doc, _, err := doc.Migrate("v4.1")
	if err != nil {
		return nil, err
	}
	top, err := topLevel(doc)
	if err != nil {
		return nil, err
	}
	var out []Function
	for _, e := range doc.Model().Oscar {
		n := doc.Node(e.Path)
		if n == nil || n.Kind != yaml.MappingNode {
			return nil, fmt.Errorf("%s: the service under cluster %q is not a mapping", e.Path, e.Cluster)
		}
		svc, err := nodeService(n)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", e.Path, err)
		}
		merge(svc, top)
		if scripts != nil && svc.Script != "" && !fdl.IsInlineScript(svc.Script) {
			b, err := fdl.ScriptContent(scripts, fdl.Script{YAMLPath: e.Path + ".script", Value: svc.Script})
			if err != nil {
				return nil, err
			}
			svc.Script = string(b)
		}
		out = append(out, Function{Cluster: e.Cluster, Path: e.Path, Service: svc})
	}
	return out, nil
}

// topLevel reads the document's storage_providers and clusters blocks.
func topLevel(doc *fdl.Document) (*backends.Service, error) {
	top := &backends.Service{}
	if n := doc.Node("storage_providers"); n != nil {
		if err := decodeVia(n, &top.StorageProviders); err != nil {
			return nil, fmt.Errorf("storage_providers: %w", err)
		}
	}
	if n := doc.Node("clusters"); n != nil {
		if err := decodeVia(n, &top.Clusters); err != nil {
			return nil, fmt.Errorf("clusters: %w", err)
		}
	}
	return top, nil
}

// merge adds to s the providers and clusters of top it does not declare
// itself.
func merge(s, top *backends.Service) {
	if top.StorageProviders != nil {
		if s.StorageProviders == nil {
			s.StorageProviders = &backends.StorageProviders{}
		}
		sp, tp := s.StorageProviders, top.StorageProviders
		mergeMap(&sp.MinIO, tp.MinIO)
		mergeMap(&sp.S3, tp.S3)
		mergeMap(&sp.Onedata, tp.Onedata)
		mergeMap(&sp.WebDav, tp.WebDav)
		mergeMap(&sp.Rucio, tp.Rucio)
	}
	mergeMap(&s.Clusters, top.Clusters)
}

func mergeMap[V any](dst *map[string]V, src map[string]V) {
	for k, v := range src {
		if *dst == nil {
			*dst = map[string]V{}
		}
		if _, ok := (*dst)[k]; !ok {
			(*dst)[k] = v
		}
	}
}

// stringFields are the service fields that are strings in the OSCAR API
// but may be written as numbers in YAML (cpu: 1).
var stringFields = []string{"cpu", "memory", "total_cpu", "total_memory", "ephemeral_storage_request", "name", "image", "script", "vo", "log_level", "interlink_node_name"}

// nodeService decodes a service mapping through JSON, so backends.Service
// (and its keeping of unknown keys) reads it exactly as it reads a
// cluster's answer.
func nodeService(n *yaml.Node) (*backends.Service, error) {
	var v any
	if err := n.Decode(&v); err != nil {
		return nil, err
	}
	m, ok := jsonable(v).(map[string]any)
	if !ok {
		return nil, errors.New("the service is not a mapping")
	}
	for _, k := range stringFields {
		if x, ok := m[k]; ok && x != nil {
			switch x.(type) {
			case string, map[string]any, []any:
			default:
				m[k] = fmt.Sprint(x)
			}
		}
	}
	js, err := json.Marshal(m)
	if err != nil {
		return nil, err
	}
	var s backends.Service
	if err := json.Unmarshal(js, &s); err != nil {
		return nil, jsonError(err)
	}
	return &s, nil
}

// decodeVia decodes a YAML node into v through JSON (v has JSON tags).
func decodeVia(n *yaml.Node, v any) error {
	var x any
	if err := n.Decode(&x); err != nil {
		return err
	}
	js, err := json.Marshal(jsonable(x))
	if err != nil {
		return err
	}
	return jsonError(json.Unmarshal(js, v))
}

func jsonError(err error) error {
	var te *json.UnmarshalTypeError
	if errors.As(err, &te) {
		return fmt.Errorf("`%s` holds a %s where a %s is expected", te.Field, te.Value, te.Type)
	}
	return err
}

// jsonable turns what yaml.v3 decodes into values encoding/json accepts
// (maps with non-string keys get their keys printed).
func jsonable(v any) any {
	switch x := v.(type) {
	case map[string]any:
		for k, e := range x {
			x[k] = jsonable(e)
		}
		return x
	case map[any]any:
		m := make(map[string]any, len(x))
		for k, e := range x {
			m[fmt.Sprint(k)] = jsonable(e)
		}
		return m
	case []any:
		for i, e := range x {
			x[i] = jsonable(e)
		}
		return x
	}
	return v
}
