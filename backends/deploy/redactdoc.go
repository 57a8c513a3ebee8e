package deploy

import (
	"slices"
	"strconv"
	"strings"

	"gopkg.in/yaml.v3"

	"github.com/fdlstudio/fdlstudio/backends"
	"github.com/fdlstudio/fdlstudio/fdl"
)

// RedactDocument blanks, in place, every credential value written in
// doc: those of the top-level storage_providers and clusters and, in each
// functions.oscar service, those backends.Redact blanks (provider and
// cluster credentials, secret values, federation member headers, the
// token). Only those values change: comments and everything else stay.
// doc is migrated to v4.1 first and is not changed itself.
func RedactDocument(doc *fdl.Document) (*fdl.Document, error) {
	doc, _, err := doc.Migrate("v4.1")
	if err != nil {
		return nil, err
	}
	return BlankCredentials(doc)
}

// BlankCredentials is RedactDocument without the migration: the text
// stays in the version it was written in.
func BlankCredentials(doc *fdl.Document) (*fdl.Document, error) {
	var err error
	for _, c := range DocumentCredentials(doc) {
		if c.Value == "" {
			continue
		}
		if doc, err = doc.SetPath(c.Base, c.Segs, `""`); err != nil {
			return nil, err
		}
	}
	return doc, nil
}

// DocCredential is one credential field written in an FDL document.
type DocCredential struct {
	// Base and Segs are where it is, as fdl.Document.SetPath takes them.
	Base string
	Segs []string
	// Value is the value written ("" when blank).
	Value string
	// Quote is how the value is written: "" (plain), "'" or "\"" (or
	// "|" for a block), for writing it back as it was.
	Quote string
	// For is what the credential is valid for: the endpoint, host and
	// user written beside it. A held credential may only be written back
	// for the same For.
	For string
}

// Key names the field: the same for the same place in any text.
func (c DocCredential) Key() string { return c.Base + "\x00" + strings.Join(c.Segs, "\x00") }

// forKeys are the fields of a provider, cluster or federation member that
// say what its credentials are for.
var forKeys = []string{"endpoint", "hostname", "login", "oneprovider_host", "host", "auth_host", "token_endpoint", "account", "auth_user"}

// DocumentCredentials lists every credential field written in doc (set or
// blank), where RedactDocument looks for them, in document order. doc is
// read as it is (not migrated).
func DocumentCredentials(doc *fdl.Document) []DocCredential {
	var out []DocCredential
	forOf := func(entry *yaml.Node) string {
		var parts []string
		for _, k := range forKeys {
			if _, v := pair(entry, k); v != nil && v.Kind == yaml.ScalarNode {
				parts = append(parts, k+"="+v.Value)
			}
		}
		return strings.Join(parts, "\x00")
	}
	add := func(base string, entry, v *yaml.Node, segs ...string) {
		if v == nil || v.Kind != yaml.ScalarNode {
			return
		}
		val := v.Value
		if v.Tag == "!!null" {
			val = ""
		}
		q := ""
		switch {
		case v.Style&yaml.SingleQuotedStyle != 0:
			q = "'"
		case v.Style&yaml.DoubleQuotedStyle != 0:
			q = `"`
		case v.Style&(yaml.LiteralStyle|yaml.FoldedStyle) != 0:
			q = "|"
		}
		out = append(out, DocCredential{Base: base, Segs: segs, Value: val, Quote: q, For: forOf(entry)})
	}
	path := func(prefix []string, more ...string) []string {
		return append(append([]string{}, prefix...), more...)
	}
	entries := func(base string, n *yaml.Node, kind string, prefix []string) {
		eachPair(n, func(id string, entry *yaml.Node) {
			known := backends.CredentialKeys(kind)
			eachPair(entry, func(k string, v *yaml.Node) {
				if slices.Contains(known, k) || backends.CredentialNamed(k) {
					add(base, entry, v, path(prefix, id, k)...)
				}
			})
		})
	}
	providers := func(base string, n *yaml.Node, prefix ...string) {
		eachPair(n, func(typ string, block *yaml.Node) {
			entries(base, block, typ, path(prefix, typ))
		})
	}
	providers("", doc.Node("storage_providers"), "storage_providers")
	entries("", doc.Node("clusters"), "clusters", []string{"clusters"})
	for _, e := range doc.Model().Oscar {
		svc := doc.Node(e.Path)
		if _, v := pair(svc, "token"); v != nil {
			add(e.Path, nil, v, "token")
		}
		_, sp := pair(svc, "storage_providers")
		providers(e.Path, sp, "storage_providers")
		_, cl := pair(svc, "clusters")
		entries(e.Path, cl, "clusters", []string{"clusters"})
		_, env := pair(svc, "environment")
		_, secrets := pair(env, "secrets")
		eachPair(secrets, func(k string, v *yaml.Node) {
			add(e.Path, nil, v, "environment", "secrets", k)
		})
		_, fed := pair(svc, "federation")
		_, members := pair(fed, "members")
		if members = resolve(members); members != nil && members.Kind == yaml.SequenceNode {
			for j, m := range members.Content {
				_, headers := pair(m, "headers")
				eachPair(headers, func(k string, v *yaml.Node) {
					add(e.Path, m, v, "federation", "members", strconv.Itoa(j), "headers", k)
				})
			}
		}
	}
	return out
}

func resolve(n *yaml.Node) *yaml.Node {
	for i := 0; n != nil && n.Kind == yaml.AliasNode && i < 100; i++ {
		n = n.Alias
	}
	return n
}

// pair finds key in mapping n, through aliases.
func pair(n *yaml.Node, key string) (k, v *yaml.Node) {
	n = resolve(n)
	if n == nil || n.Kind != yaml.MappingNode {
		return nil, nil
	}
	for i := 0; i+1 < len(n.Content); i += 2 {
		if n.Content[i].Value == key {
			return n.Content[i], resolve(n.Content[i+1])
		}
	}
	return nil, nil
}

// eachPair calls f for each entry of mapping n, through aliases.
func eachPair(n *yaml.Node, f func(key string, v *yaml.Node)) {
	n = resolve(n)
	if n == nil || n.Kind != yaml.MappingNode {
		return
	}
	for i := 0; i+1 < len(n.Content); i += 2 {
		f(n.Content[i].Value, resolve(n.Content[i+1]))
	}
}
