package deploy

import (
	"slices"
	"strconv"

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
	var edits [][]string // paths below base to blank, per base
	var bases []string
	add := func(base string, segs ...string) {
		bases, edits = append(bases, base), append(edits, segs)
	}
	providers := func(base string, n *yaml.Node, prefix ...string) {
		eachPair(n, func(typ string, block *yaml.Node) {
			eachPair(block, func(id string, entry *yaml.Node) {
				known := backends.CredentialKeys(typ)
				for _, k := range known {
					if _, v := pair(entry, k); isSet(v) {
						add(base, append(append([]string{}, prefix...), typ, id, k)...)
					}
				}
				// Keys the schema does not know, named like credentials.
				eachPair(entry, func(k string, v *yaml.Node) {
					if !slices.Contains(known, k) && backends.CredentialNamed(k) && v.Kind == yaml.ScalarNode && isSet(v) {
						add(base, append(append([]string{}, prefix...), typ, id, k)...)
					}
				})
			})
		})
	}
	clusters := func(base string, n *yaml.Node, prefix ...string) {
		eachPair(n, func(id string, entry *yaml.Node) {
			known := backends.CredentialKeys("clusters")
			for _, k := range known {
				if _, v := pair(entry, k); isSet(v) {
					add(base, append(append([]string{}, prefix...), id, k)...)
				}
			}
			eachPair(entry, func(k string, v *yaml.Node) {
				if !slices.Contains(known, k) && backends.CredentialNamed(k) && v.Kind == yaml.ScalarNode && isSet(v) {
					add(base, append(append([]string{}, prefix...), id, k)...)
				}
			})
		})
	}
	providers("", doc.Node("storage_providers"), "storage_providers")
	clusters("", doc.Node("clusters"), "clusters")
	for _, e := range doc.Model().Oscar {
		svc := doc.Node(e.Path)
		if _, v := pair(svc, "token"); isSet(v) {
			add(e.Path, "token")
		}
		_, sp := pair(svc, "storage_providers")
		providers(e.Path, sp, "storage_providers")
		_, cl := pair(svc, "clusters")
		clusters(e.Path, cl, "clusters")
		_, env := pair(svc, "environment")
		_, secrets := pair(env, "secrets")
		eachPair(secrets, func(k string, v *yaml.Node) {
			if isSet(v) {
				add(e.Path, "environment", "secrets", k)
			}
		})
		_, fed := pair(svc, "federation")
		_, members := pair(fed, "members")
		if members = resolve(members); members != nil && members.Kind == yaml.SequenceNode {
			for j, m := range members.Content {
				_, headers := pair(m, "headers")
				eachPair(headers, func(k string, v *yaml.Node) {
					if isSet(v) {
						add(e.Path, "federation", "members", strconv.Itoa(j), "headers", k)
					}
				})
			}
		}
	}
	for i, segs := range edits {
		if doc, err = doc.SetPath(bases[i], segs, `""`); err != nil {
			return nil, err
		}
	}
	return doc, nil
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

// isSet reports whether v holds a value that is not blank.
func isSet(v *yaml.Node) bool {
	return v != nil && !(v.Kind == yaml.ScalarNode && (v.Value == "" || v.Tag == "!!null"))
}
