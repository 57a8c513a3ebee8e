// Package clusters reads cluster registrations, starting with oscar-cli's
// config file (~/.oscar-cli/config.yaml).
package clusters

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/fdlstudio/fdlstudio/backends"
	"gopkg.in/yaml.v3"
)

// AuthKind is how FDL Studio will authenticate to a cluster.
type AuthKind string

// Auth kinds, in oscar-cli's order of precedence.
const (
	AuthOIDCAgent    AuthKind = "oidc-agent"    // oidc_account_name: a token from the local oidc-agent
	AuthRefreshToken AuthKind = "refresh-token" // oidc_refresh_token: exchanged for access tokens
	AuthBasic        AuthKind = "basic"         // auth_user / auth_password
	AuthNone         AuthKind = "none"          // no credentials (the user logs in with their own token)
)

// Registration is one cluster found in a config file. Secret fields must be
// stored encrypted and never printed.
type Registration struct {
	Name               string // the oscar-cli cluster id
	Endpoint           string // validated and normalised http(s) URL
	Auth               AuthKind
	Username           string
	Password           string // secret
	OIDCAccountName    string
	RefreshToken       string // secret
	InsecureSkipVerify bool   // ssl_verify: false
	Default            bool   // the file's `default` cluster
	Line               int    // where the cluster starts in the file (YAML only; 0 for JSON)
}

// cliCluster is one entry under `oscar:` (pkg/cluster in oscar-cli).
type cliCluster struct {
	Endpoint         string `yaml:"endpoint" json:"endpoint"`
	AuthUser         string `yaml:"auth_user" json:"auth_user"`
	AuthPassword     string `yaml:"auth_password" json:"auth_password"`
	OIDCAccountName  string `yaml:"oidc_account_name" json:"oidc_account_name"`
	OIDCRefreshToken string `yaml:"oidc_refresh_token" json:"oidc_refresh_token"`
	SSLVerify        *bool  `yaml:"ssl_verify" json:"ssl_verify"`
}

// ReadOSCARCLIConfig reads an oscar-cli config file. See ParseOSCARCLIConfig.
func ReadOSCARCLIConfig(path string) ([]Registration, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read oscar-cli config: %w", err)
	}
	return ParseOSCARCLIConfig(data, path)
}

// ParseOSCARCLIConfig parses an oscar-cli config: YAML when name ends in
// .yaml or .yml, JSON otherwise (as oscar-cli decides). Clusters come back in
// file order. Endpoints are checked with backends.ValidateEndpoint
// (allowedHosts may be nil). A missing ssl_verify means verification ON
// (oscar-cli would read it as false; we choose the safe side).
func ParseOSCARCLIConfig(data []byte, name string, allowedHosts ...string) ([]Registration, error) {
	ext := strings.ToLower(filepath.Ext(name))
	isYAML := ext == ".yaml" || ext == ".yml"
	if !isYAML && !json.Valid(data) {
		var js any
		err := json.Unmarshal(data, &js)
		return nil, fmt.Errorf("%s: not valid JSON (files not ending in .yaml/.yml are read as JSON, as oscar-cli does): %v", name, err)
	}
	// JSON is YAML, and the YAML node tree keeps key order and lines.
	var doc yaml.Node
	if err := yaml.Unmarshal(data, &doc); err != nil {
		return nil, fmt.Errorf("%s: %v", name, err)
	}
	if len(doc.Content) == 0 {
		return nil, fmt.Errorf("%s: the file is empty", name)
	}
	root := doc.Content[0]
	if root.Kind != yaml.MappingNode {
		return nil, fmt.Errorf("%s: line %d: the top level must be a mapping with an `oscar` key", name, root.Line)
	}
	var clustersNode *yaml.Node
	def := ""
	for i := 0; i+1 < len(root.Content); i += 2 {
		k, v := root.Content[i], root.Content[i+1]
		switch k.Value {
		case "oscar":
			clustersNode = v
		case "default":
			if v.Kind != yaml.ScalarNode {
				return nil, fmt.Errorf("%s: line %d: `default` must be a cluster id", name, v.Line)
			}
			def = v.Value
		}
	}
	if clustersNode == nil || (clustersNode.Kind == yaml.ScalarNode && clustersNode.Tag == "!!null") {
		return nil, fmt.Errorf("%s: no `oscar` section: no clusters to import", name)
	}
	if clustersNode.Kind != yaml.MappingNode {
		return nil, fmt.Errorf("%s: line %d: `oscar` must map cluster ids to clusters", name, clustersNode.Line)
	}
	line := func(n *yaml.Node) int {
		if isYAML {
			return n.Line
		}
		return 0
	}
	where := func(n *yaml.Node) string {
		if isYAML {
			return fmt.Sprintf("%s: line %d", name, n.Line)
		}
		return name
	}
	var out []Registration
	seen := map[string]bool{}
	for i := 0; i+1 < len(clustersNode.Content); i += 2 {
		k, v := clustersNode.Content[i], clustersNode.Content[i+1]
		id := k.Value
		if id == "" {
			return nil, fmt.Errorf("%s: empty cluster id", where(k))
		}
		if seen[id] {
			return nil, fmt.Errorf("%s: cluster %q appears twice", where(k), id)
		}
		seen[id] = true
		var c cliCluster
		if err := v.Decode(&c); err != nil {
			return nil, fmt.Errorf("%s: cluster %q: %v", where(v), id, err)
		}
		u, err := backends.ValidateEndpoint(c.Endpoint, allowedHosts)
		if err != nil {
			return nil, fmt.Errorf("%s: cluster %q: %s", where(v), id, backends.MessageOf(err))
		}
		r := Registration{
			Name: id, Endpoint: u.String(), Username: c.AuthUser, Password: c.AuthPassword,
			OIDCAccountName: c.OIDCAccountName, RefreshToken: c.OIDCRefreshToken,
			InsecureSkipVerify: c.SSLVerify != nil && !*c.SSLVerify, Default: id == def, Line: line(k),
		}
		switch {
		case c.OIDCAccountName != "":
			r.Auth = AuthOIDCAgent
		case c.OIDCRefreshToken != "":
			r.Auth = AuthRefreshToken
		case c.AuthUser != "" || c.AuthPassword != "":
			r.Auth = AuthBasic
		default:
			r.Auth = AuthNone
		}
		out = append(out, r)
	}
	if def != "" && !seen[def] {
		return nil, fmt.Errorf("%s: `default` names cluster %q, which is not under `oscar`", name, def)
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("%s: the `oscar` section lists no clusters", name)
	}
	return out, nil
}
