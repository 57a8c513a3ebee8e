package deploy

import (
	"bytes"
	"encoding/json"
	"fmt"
	"reflect"
	"slices"
	"strconv"

	"github.com/fdlstudio/fdlstudio/backends"
	"github.com/fdlstudio/fdlstudio/fdl"
)

// Edit changes the service of functions.oscar entry i of doc into to,
// field by field, through fdl's edit operations: only the lines of the
// fields that differ change; comments, key order and everything else stay.
// The entry is compared as FDL shows a service (Clean, on both sides), so
// credentials and generated fields are never written, and top-level
// storage_providers and clusters the entry inherits count as its own; a
// field set to OSCAR's default equals the field left out. doc
// is migrated to v4.1 first; the edited document is returned, doc is
// unchanged. An edit fdl cannot make in place (a flow-style mapping, an
// anchor) is an error: the caller writes the document anew instead.
func Edit(doc *fdl.Document, i int, to *backends.Service) (*fdl.Document, error) {
	doc, _, err := doc.Migrate("v4.1")
	if err != nil {
		return nil, err
	}
	fns, err := Services(doc, nil)
	if err != nil {
		return nil, err
	}
	if i < 0 || i >= len(fns) {
		return nil, fmt.Errorf("the document has no functions.oscar item %d", i)
	}
	a, err := jsonValue(withoutDefaults(Clean(fns[i].Service)))
	if err != nil {
		return nil, err
	}
	b, err := jsonValue(withoutDefaults(Clean(to)))
	if err != nil {
		return nil, err
	}
	// Blocks the service takes from the top of the file (Services merges
	// them in) are not its own to edit: the cluster's version carries
	// them merged, blanked or cut to what its services use.
	if am, ok := a.(map[string]any); ok {
		if bm, ok := b.(map[string]any); ok {
			for _, k := range []string{"clusters", "storage_providers"} {
				if !doc.Has(fns[i].Path + "." + k) {
					delete(am, k)
					delete(bm, k)
				}
			}
		}
	}
	e := editor{doc: doc, base: fns[i].Path}
	if err := e.diff(nil, a, b); err != nil {
		return nil, err
	}
	return e.doc, nil
}

// withoutDefaults unsets in s (a copy made by Clean) the fields that hold
// the value OSCAR takes when they are left out, so that writing a default
// out, or leaving it out, is no change to edit.
func withoutDefaults(s *backends.Service) *backends.Service {
	if s.Visibility == "private" {
		s.Visibility = ""
	}
	return s
}

type editor struct {
	doc  *fdl.Document
	base string
}

// diff edits the value at segs from a to b.
func (e *editor) diff(segs []string, a, b any) error {
	if reflect.DeepEqual(a, b) {
		return nil
	}
	am, aok := a.(map[string]any)
	bm, bok := b.(map[string]any)
	if aok && bok && (len(segs) == 0 || len(am) > 0 && len(bm) > 0) {
		keys := make([]string, 0, len(am)+len(bm))
		for k := range am {
			keys = append(keys, k)
		}
		for k := range bm {
			if _, ok := am[k]; !ok {
				keys = append(keys, k)
			}
		}
		slices.Sort(keys)
		for _, k := range keys {
			av, inA := am[k]
			bv, inB := bm[k]
			var err error
			switch {
			case !inB:
				e.doc, err = e.doc.RemovePath(e.base, append(slices.Clone(segs), k))
				if err != nil {
					return err
				}
			case !inA:
				err = e.set(append(slices.Clone(segs), k), bv)
			default:
				err = e.diff(append(slices.Clone(segs), k), av, bv)
			}
			if err != nil {
				return err
			}
		}
		return nil
	}
	al, aok := a.([]any)
	bl, bok := b.([]any)
	if aok && bok && len(al) == len(bl) && allMaps(al) && allMaps(bl) {
		for j := range al {
			if err := e.diff(append(slices.Clone(segs), strconv.Itoa(j)), al[j], bl[j]); err != nil {
				return err
			}
		}
		return nil
	}
	if len(segs) == 0 {
		return fmt.Errorf("the service is not a mapping")
	}
	return e.set(segs, b)
}

// set writes v at segs.
func (e *editor) set(segs []string, v any) error {
	js, err := json.Marshal(v)
	if err != nil {
		return err
	}
	n, err := valueNode(js)
	if err != nil {
		return err
	}
	text, err := encode(n)
	if err != nil {
		return err
	}
	// The text keeps its final line break: a block scalar without one
	// would lose the one its value ends with.
	e.doc, err = e.doc.SetPath(e.base, segs, string(text))
	return err
}

func allMaps(l []any) bool {
	for _, x := range l {
		if _, ok := x.(map[string]any); !ok {
			return false
		}
	}
	return true
}

// jsonValue is s as encoding/json decodes it, numbers kept as written.
func jsonValue(s *backends.Service) (any, error) {
	js, err := json.Marshal(s)
	if err != nil {
		return nil, err
	}
	dec := json.NewDecoder(bytes.NewReader(js))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return nil, err
	}
	return v, nil
}
