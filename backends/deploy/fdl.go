package deploy

import (
	"bytes"
	"encoding/json"
	"fmt"
	"maps"
	"strings"

	"gopkg.in/yaml.v3"

	"github.com/fdlstudio/fdlstudio/backends"
	"github.com/fdlstudio/fdlstudio/backends/scar"
)

// Comments FDL writes beside what it leaves blank.
const (
	blankCredentialNote = "never shown; left empty, the value already set is kept"
	blankSecretsNote    = "values are never shown"
)

// Clean is s as an FDL writes it: redacted (backends.Redact), without what
// the cluster generates (token, owner, bucket list, namespace, status,
// cluster_id) and without minio.default, which OSCAR injects into every
// service (its own MinIO). s is not changed.
func Clean(s *backends.Service) *backends.Service {
	c := backends.Redact(s)
	c.Token, c.Owner, c.BucketList, c.Namespace, c.ClusterID = "", "", nil, "", ""
	c.Deployment, c.VolumeStatus = nil, nil
	c.StorageProviders = WithoutDefaultMinIO(c.StorageProviders)
	return c
}

// FDL writes s as an FDL document holding it alone under functions.oscar,
// keyed by cluster ("cluster" when empty). The service is Clean first:
// every credential is written blank, with a comment saying so, and
// credential fields a provider or cluster entry leaves out are written
// blank too, so the reader sees where they go.
//
// An AWS function (scar.IsFunction) is written as its functions.aws entry.
func FDL(cluster string, s *backends.Service) ([]byte, error) {
	if scar.IsFunction(s) {
		return awsFDL(s)
	}
	body, err := serviceNode(Clean(s))
	if err != nil {
		return nil, fmt.Errorf("service %q: %w", s.Name, err)
	}
	if key, _ := lookup(body, "environment", "secrets"); key != nil {
		key.LineComment = blankSecretsNote
	}
	showBlankCredentials(body)
	if cluster == "" {
		cluster = "cluster"
	}
	doc := &yaml.Node{Kind: yaml.MappingNode, Content: []*yaml.Node{
		str("functions"), {Kind: yaml.MappingNode, Content: []*yaml.Node{
			str("oscar"), {Kind: yaml.SequenceNode, Content: []*yaml.Node{
				{Kind: yaml.MappingNode, Content: []*yaml.Node{str(cluster), body}},
			}},
		}},
	}}
	out, err := encode(doc)
	if err != nil {
		return nil, fmt.Errorf("service %q: %w", s.Name, err)
	}
	return out, nil
}

// serviceNode is s as a YAML mapping in block style, keys in the order
// of the OSCAR API.
func serviceNode(s *backends.Service) (*yaml.Node, error) {
	js, err := json.Marshal(s)
	if err != nil {
		return nil, err
	}
	return valueNode(js)
}

// valueNode reads JSON text as a YAML node (JSON is YAML: the key order
// is kept) and gives it block style.
func valueNode(js []byte) (*yaml.Node, error) {
	var n yaml.Node
	if err := yaml.Unmarshal(js, &n); err != nil {
		return nil, err
	}
	if len(n.Content) == 0 {
		return nil, fmt.Errorf("empty value")
	}
	blockStyle(n.Content[0])
	return n.Content[0], nil
}

func encode(n *yaml.Node) ([]byte, error) {
	var buf bytes.Buffer
	enc := yaml.NewEncoder(&buf)
	enc.SetIndent(2)
	if err := enc.Encode(n); err != nil {
		return nil, err
	}
	if err := enc.Close(); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

func str(v string) *yaml.Node { return &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!str", Value: v} }

// blockStyle turns JSON's flow style into block style: literal blocks for
// multi-line strings (scripts), short lists of scalars in flow style.
func blockStyle(n *yaml.Node) {
	n.Style = 0
	switch n.Kind {
	case yaml.ScalarNode:
		if strings.Contains(n.Value, "\n") {
			n.Style = yaml.LiteralStyle
		}
	case yaml.SequenceNode:
		flat := len(n.Content) <= 8
		for _, c := range n.Content {
			flat = flat && c.Kind == yaml.ScalarNode && !strings.Contains(c.Value, "\n")
		}
		if flat && len(n.Content) > 0 {
			n.Style = yaml.FlowStyle
		}
	}
	for _, c := range n.Content {
		blockStyle(c)
	}
}

// showBlankCredentials writes every credential field of the providers
// and clusters of a service mapping as "" with a comment, so the reader
// sees where they go without seeing them.
func showBlankCredentials(body *yaml.Node) {
	var blocks []*yaml.Node
	var types []string
	if _, sp := lookup(body, "storage_providers"); sp != nil && sp.Kind == yaml.MappingNode {
		for i := 0; i+1 < len(sp.Content); i += 2 {
			blocks, types = append(blocks, sp.Content[i+1]), append(types, sp.Content[i].Value)
		}
	}
	if _, cl := lookup(body, "clusters"); cl != nil {
		blocks, types = append(blocks, cl), append(types, "clusters")
	}
	for b, block := range blocks {
		if block.Kind != yaml.MappingNode {
			continue
		}
		for i := 0; i+1 < len(block.Content); i += 2 {
			entry := block.Content[i+1]
			if entry.Kind != yaml.MappingNode {
				continue
			}
			for _, k := range backends.CredentialKeys(types[b]) {
				if key, _ := lookup(entry, k); key != nil {
					continue
				}
				v := str("")
				v.Style = yaml.DoubleQuotedStyle
				kn := str(k)
				kn.LineComment = blankCredentialNote
				entry.Content = append(entry.Content, kn, v)
			}
		}
	}
}

// lookup follows keys through nested mappings of a tree built here (no
// aliases). key is the key node, val its value.
func lookup(n *yaml.Node, keys ...string) (key, val *yaml.Node) {
	val = n
	for _, k := range keys {
		if val == nil || val.Kind != yaml.MappingNode {
			return nil, nil
		}
		var found bool
		for i := 0; i+1 < len(val.Content); i += 2 {
			if val.Content[i].Value == k {
				key, val, found = val.Content[i], val.Content[i+1], true
				break
			}
		}
		if !found {
			return nil, nil
		}
	}
	return key, val
}

// WithoutDefaultMinIO is sp without minio.default, which OSCAR injects
// into every service (its own MinIO) and users do not write; nil when
// nothing is left. sp is not changed.
func WithoutDefaultMinIO(sp *backends.StorageProviders) *backends.StorageProviders {
	if sp == nil {
		return nil
	}
	c := *sp
	if _, ok := c.MinIO["default"]; ok {
		c.MinIO = maps.Clone(c.MinIO)
		delete(c.MinIO, "default")
		if len(c.MinIO) == 0 {
			c.MinIO = nil
		}
	}
	if c.MinIO == nil && c.S3 == nil && c.Onedata == nil && c.WebDav == nil && c.Rucio == nil {
		return nil
	}
	return &c
}
