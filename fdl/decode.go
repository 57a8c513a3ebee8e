package fdl

import (
	"fmt"
	"reflect"
	"sort"
	"strconv"
	"strings"

	"gopkg.in/yaml.v3"
)

// decoder fills the typed view from the node tree. Unlike yaml.Node.Decode
// it never stops at the first problem: every type mismatch and unknown key
// becomes a diagnostic at its own position, and the rest is still decoded.
type decoder struct {
	file   string
	model  *Model
	diags  []Diagnostic
	fields map[reflect.Type]map[string]fieldInfo
}

type fieldInfo struct {
	index []int
	warn  bool // type problems below this field are warnings
}

var unmarshalerType = reflect.TypeFor[yaml.Unmarshaler]()

func (dc *decoder) add(n *yaml.Node, path string, sev Severity, format string, args ...any) {
	dc.diags = append(dc.diags, Diagnostic{File: dc.file, Line: n.Line, Col: n.Column, Path: path, Severity: sev, Message: fmt.Sprintf(format, args...)})
}

// buildModel decodes the whole document.
func buildModel(doc *Document) (*Model, []Diagnostic) {
	m := &Model{nodes: map[string]*yaml.Node{}, keys: map[string]*yaml.Node{}}
	dc := &decoder{file: doc.name, model: m, fields: map[reflect.Type]map[string]fieldInfo{}}
	root := resolve(doc.root)
	for i := 0; i+1 < len(root.Content); i += 2 {
		k, v := root.Content[i], root.Content[i+1]
		m.keys[k.Value] = k
		m.nodes[k.Value] = v
		switch k.Value {
		case "functions":
			dc.functions(v)
		case "storage_providers":
			dc.decode(v, reflect.ValueOf(&m.StorageProviders).Elem(), "storage_providers", false)
		case "clusters":
			dc.decode(v, reflect.ValueOf(&m.Clusters).Elem(), "clusters", false)
		default:
			dc.unknownKey(k, k.Value, []string{"functions", "storage_providers", "clusters"})
		}
	}
	return m, dc.diags
}

func (dc *decoder) functions(fns *yaml.Node) {
	fns = resolve(fns)
	if fns.Kind != yaml.MappingNode {
		return // checkShape already accepted a null here
	}
	for i := 0; i+1 < len(fns.Content); i += 2 {
		k, v := fns.Content[i], resolve(fns.Content[i+1])
		path := "functions." + k.Value
		dc.model.keys[path] = k
		dc.model.nodes[path] = v
		switch k.Value {
		case "oscar":
			dc.oscarList(v, path)
		case "aws":
			if v.Tag == "!!null" {
				continue
			}
			var list []*AWSEntry
			dc.decode(v, reflect.ValueOf(&list).Elem(), path, false)
			for j, e := range list {
				if e == nil {
					e = &AWSEntry{}
					list[j] = e
				}
				e.Path = fmt.Sprintf("%s[%d]", path, j)
			}
			dc.model.AWS = list
		default:
			dc.unknownKey(k, path, []string{"oscar", "aws"})
		}
	}
}

func (dc *decoder) oscarList(v *yaml.Node, path string) {
	if v.Tag == "!!null" {
		return
	}
	if v.Kind != yaml.SequenceNode {
		dc.add(v, path, Error, "functions.oscar must be a list of `- <cluster-id>: {service}` items, found a %s", kindName(v))
		return
	}
	for j, item := range v.Content {
		dc.model.oscarItems = append(dc.model.oscarItems, oscarItem{entry: len(dc.model.Oscar), diag: len(dc.diags)})
		dc.oscarItem(item, path, j)
	}
	dc.model.oscarItems = append(dc.model.oscarItems, oscarItem{entry: len(dc.model.Oscar), diag: len(dc.diags)})
}

// oscarItem decodes item j of the functions.oscar list at path.
func (dc *decoder) oscarItem(item *yaml.Node, path string, j int) {
	item = resolve(item)
	ipath := fmt.Sprintf("%s[%d]", path, j)
	if item.Kind != yaml.MappingNode || len(item.Content) != 2 {
		dc.add(item, ipath, Error, "each functions.oscar item must be a mapping with exactly one key, the cluster id (`- my_cluster: {name: ..., image: ...}`)")
		return
	}
	k, sv := item.Content[0], resolve(item.Content[1])
	spath := ipath + "." + k.Value
	e := &OscarEntry{Cluster: k.Value, Path: spath}
	dc.model.keys[spath] = k
	if sv.Kind != yaml.MappingNode {
		dc.model.nodes[spath] = sv
		dc.add(sv, spath, Error, "the service under cluster %q must be a mapping of service fields, found a %s", k.Value, kindName(sv))
	} else {
		dc.decode(sv, reflect.ValueOf(&e.Service).Elem(), spath, false)
	}
	dc.model.Oscar = append(dc.model.Oscar, e)
}

// decode fills v from n, recording node positions under path.
func (dc *decoder) decode(n *yaml.Node, v reflect.Value, path string, warn bool) {
	n = resolve(n)
	if n == nil {
		return
	}
	dc.model.nodes[path] = n
	sev := Error
	if warn {
		sev = Warning
	}
	if n.Kind == yaml.ScalarNode && n.Tag == "!!null" {
		return // an empty value is the zero value
	}
	if v.Kind() != reflect.Pointer && reflect.PointerTo(v.Type()).Implements(unmarshalerType) {
		if err := n.Decode(v.Addr().Interface()); err != nil {
			dc.add(n, path, sev, "%s", strings.TrimPrefix(err.Error(), "yaml: "))
		}
		return
	}
	switch v.Kind() {
	case reflect.Pointer:
		if v.IsNil() {
			v.Set(reflect.New(v.Type().Elem()))
		}
		dc.decode(n, v.Elem(), path, warn)
	case reflect.Struct:
		if n.Kind != yaml.MappingNode {
			dc.add(n, path, sev, "expected a mapping of fields, found a %s", kindName(n))
			return
		}
		fields := dc.fieldsOf(v.Type())
		seen := map[string]bool{}
		for i := 0; i+1 < len(n.Content); i += 2 {
			k, val := n.Content[i], n.Content[i+1]
			kpath := path + "." + k.Value
			if seen[k.Value] {
				dc.add(k, kpath, Error, "key %q appears twice in this mapping", k.Value)
				continue
			}
			seen[k.Value] = true
			dc.model.keys[kpath] = k
			f, ok := fields[k.Value]
			if !ok {
				names := make([]string, 0, len(fields))
				for name := range fields {
					names = append(names, name)
				}
				dc.model.nodes[kpath] = resolve(val)
				dc.unknownKey(k, kpath, names)
				continue
			}
			dc.decode(val, v.FieldByIndex(f.index), kpath, warn || f.warn)
		}
	case reflect.Slice:
		if n.Kind != yaml.SequenceNode {
			dc.add(n, path, sev, "expected a list, found a %s", kindName(n))
			return
		}
		s := reflect.MakeSlice(v.Type(), len(n.Content), len(n.Content))
		for i, item := range n.Content {
			dc.decode(item, s.Index(i), fmt.Sprintf("%s[%d]", path, i), warn)
		}
		v.Set(s)
	case reflect.Map:
		if n.Kind != yaml.MappingNode {
			dc.add(n, path, sev, "expected a mapping, found a %s", kindName(n))
			return
		}
		if v.IsNil() {
			v.Set(reflect.MakeMapWithSize(v.Type(), len(n.Content)/2))
		}
		for i := 0; i+1 < len(n.Content); i += 2 {
			k := n.Content[i]
			kpath := path + "." + k.Value
			dc.model.keys[kpath] = k
			if v.MapIndex(reflect.ValueOf(k.Value)).IsValid() {
				dc.add(k, kpath, Error, "key %q appears twice in this mapping", k.Value)
				continue
			}
			elem := reflect.New(v.Type().Elem()).Elem()
			dc.decode(n.Content[i+1], elem, kpath, warn)
			v.SetMapIndex(reflect.ValueOf(k.Value), elem)
		}
	case reflect.Interface:
		var x any
		if err := n.Decode(&x); err != nil {
			dc.add(n, path, sev, "%s", strings.TrimPrefix(err.Error(), "yaml: "))
			return
		}
		if x != nil {
			v.Set(reflect.ValueOf(x))
		}
	default:
		if n.Kind != yaml.ScalarNode {
			hint := ""
			if n.Kind == yaml.SequenceNode && n.Style&yaml.FlowStyle != 0 && v.Kind() == reflect.String {
				hint = " (if [...] is a placeholder, quote it: '[...]')"
			}
			dc.add(n, path, sev, "expected %s, found a %s%s", typeWord(v.Kind()), kindName(n), hint)
			return
		}
		if err := n.Decode(v.Addr().Interface()); err != nil {
			dc.add(n, path, sev, "expected %s, found %q", typeWord(v.Kind()), n.Value)
		}
	}
}

func typeWord(k reflect.Kind) string {
	switch k {
	case reflect.Bool:
		return "true or false"
	case reflect.Int, reflect.Int64, reflect.Int32:
		return "a whole number"
	case reflect.Float64, reflect.Float32:
		return "a number"
	}
	return "a text value"
}

// fieldsOf maps the yaml tag names of a struct to its fields.
func (dc *decoder) fieldsOf(t reflect.Type) map[string]fieldInfo {
	if f, ok := dc.fields[t]; ok {
		return f
	}
	f := map[string]fieldInfo{}
	for i := 0; i < t.NumField(); i++ {
		sf := t.Field(i)
		name, _, _ := strings.Cut(sf.Tag.Get("yaml"), ",")
		if name == "" || name == "-" {
			continue
		}
		f[name] = fieldInfo{index: sf.Index, warn: sf.Tag.Get("fdl") == "warn"}
	}
	dc.fields[t] = f
	return f
}

// unknownKey warns about a key the model does not know, with a suggestion.
func (dc *decoder) unknownKey(k *yaml.Node, path string, known []string) {
	msg := fmt.Sprintf("unknown key %q (kept as written, but OSCAR and SCAR ignore it)", k.Value)
	if s := suggest(k.Value, known); s != "" {
		msg += fmt.Sprintf("; did you mean %q?", s)
	}
	dc.add(k, path, Warning, "%s", msg)
}

// suggest returns the known name closest to s, or "" when none is close.
func suggest(s string, known []string) string {
	sort.Strings(known)
	norm := func(x string) string {
		return strings.Map(func(r rune) rune {
			if r >= 'A' && r <= 'Z' {
				return r + 'a' - 'A'
			}
			if r == '-' {
				return '_'
			}
			if r == '"' || r == '\'' || r == ' ' {
				return -1
			}
			return r
		}, x)
	}
	best, bestD := "", 1<<30
	for _, k := range known {
		if norm(k) == norm(s) {
			return k
		}
		d := levenshtein(norm(s), norm(k))
		if d < bestD {
			best, bestD = k, d
		}
	}
	limit := 2
	if len(s) <= 4 {
		limit = 1
	}
	if bestD <= limit {
		return best
	}
	return ""
}

func levenshtein(a, b string) int {
	if len(a) > 64 || len(b) > 64 {
		return 1 << 20 // not worth comparing; keeps hostile keys cheap
	}
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}

// pos returns the position of the value at path, or of the nearest
// recorded ancestor.
func (m *Model) pos(path string) (line, col int) {
	for p := path; p != ""; p = parentPath(p) {
		if n := m.nodes[p]; n != nil {
			return n.Line, n.Column
		}
	}
	return 1, 1
}

// keyPos returns the position of the key of path (falling back to pos).
func (m *Model) keyPos(path string) (line, col int) {
	if k := m.keys[path]; k != nil {
		return k.Line, k.Column
	}
	return m.pos(path)
}

// Has reports whether a value is written at path.
func (m *Model) Has(path string) bool { return m.nodes[path] != nil }

func parentPath(p string) string {
	i := strings.LastIndexAny(p, ".[")
	if i < 0 {
		return ""
	}
	return p[:i]
}

// itoa is strconv.Itoa, here to keep call sites short.
func itoa(i int) string { return strconv.Itoa(i) }
