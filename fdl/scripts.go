package fdl

import (
	"archive/zip"
	"bytes"
	"fmt"
	"io"
	"io/fs"
	"path"
	"sort"
	"strings"
)

// Script is a script reference of the document: an OSCAR service `script`
// or a Lambda `init_script`.
type Script struct {
	YAMLPath string // where the reference is written
	Value    string // as written: a path, or the script itself
	Inline   bool   // Value is the script content, not a path
}

// IsInlineScript reports whether a script value is the script itself rather
// than a path: it spans several lines or starts with "#!".
func IsInlineScript(s string) bool {
	return strings.Contains(s, "\n") || strings.HasPrefix(s, "#!")
}

// scriptPath turns a script value into a slash path inside the FDL folder;
// ok is false for absolute paths and paths that leave the folder.
func scriptPath(s string) (string, bool) {
	s = strings.TrimSpace(s)
	if s == "" || strings.HasPrefix(s, "/") {
		return "", false
	}
	p := path.Clean(s)
	if p == ".." || strings.HasPrefix(p, "../") || !fs.ValidPath(p) {
		return "", false
	}
	return p, true
}

// Scripts lists the script references in document order.
func (d *Document) Scripts() []Script {
	var out []Script
	for _, e := range d.model.Oscar {
		if e.Service.Script != "" {
			out = append(out, Script{YAMLPath: e.Path + ".script", Value: e.Service.Script, Inline: IsInlineScript(e.Service.Script)})
		}
	}
	for _, e := range d.model.AWS {
		if e.Lambda != nil && e.Lambda.InitScript != "" {
			out = append(out, Script{YAMLPath: e.Path + ".lambda.init_script", Value: e.Lambda.InitScript, Inline: IsInlineScript(e.Lambda.InitScript)})
		}
	}
	return out
}

// ScriptContent returns the content to send on deploy for s: the inline
// text, or the file read from dir (the folder of the FDL file).
func ScriptContent(dir fs.FS, s Script) ([]byte, error) {
	if s.Inline {
		return []byte(s.Value), nil
	}
	p, ok := scriptPath(s.Value)
	if !ok {
		return nil, fmt.Errorf("script %q (at %s): path is absolute or leaves the folder of the FDL file", s.Value, s.YAMLPath)
	}
	if dir == nil {
		return nil, fmt.Errorf("script %q (at %s): no folder to read it from", s.Value, s.YAMLPath)
	}
	b, err := fs.ReadFile(dir, p)
	if err != nil {
		return nil, fmt.Errorf("script %q (at %s): %w", s.Value, s.YAMLPath, err)
	}
	return b, nil
}

// Bundle is a workflow: one FDL file and the script files it references.
type Bundle struct {
	Name    string            // file name of the FDL inside the bundle
	FDL     []byte            // the FDL text
	Scripts map[string][]byte // slash path relative to the FDL → content
}

// Limits on bundle archives read from users.
const (
	maxBundleEntries = 256
	maxBundleBytes   = 32 << 20
)

// FS returns the bundle as a read-only file system (for ValidateOptions and
// ScriptContent).
func (b *Bundle) FS() fs.FS { return bundleFS(b.Scripts) }

// NewBundle collects the FDL of doc and every script file it references
// from dir. Missing files are reported in the error; inline scripts need no
// file.
func NewBundle(doc *Document, dir fs.FS) (*Bundle, error) {
	b := &Bundle{Name: path.Base(doc.Name()), FDL: doc.Bytes(), Scripts: map[string][]byte{}}
	if b.Name == "." || b.Name == "/" || b.Name == "" {
		b.Name = "workflow.yaml"
	}
	var missing []string
	for _, s := range doc.Scripts() {
		if s.Inline {
			continue
		}
		content, err := ScriptContent(dir, s)
		if err != nil {
			missing = append(missing, err.Error())
			continue
		}
		p, _ := scriptPath(s.Value)
		b.Scripts[p] = content
	}
	if len(missing) > 0 {
		return b, fmt.Errorf("bundle is incomplete: %s", strings.Join(missing, "; "))
	}
	return b, nil
}

// WriteZip writes the bundle as a zip archive: the FDL at the root and the
// scripts at their relative paths. Entry order is stable.
func (b *Bundle) WriteZip(w io.Writer) error {
	zw := zip.NewWriter(w)
	add := func(name string, data []byte) error {
		f, err := zw.Create(name)
		if err != nil {
			return fmt.Errorf("bundle: adding %s: %w", name, err)
		}
		_, err = f.Write(data)
		return err
	}
	if err := add(b.Name, b.FDL); err != nil {
		return err
	}
	for _, p := range sortedKeys(b.Scripts) {
		if err := add(p, b.Scripts[p]); err != nil {
			return err
		}
	}
	return zw.Close()
}

// ReadBundle reads a zip archive written by WriteZip (or by hand): exactly
// one .yaml/.yml file with a `functions:` key is the FDL, every other file is
// kept as a script. Archives with unsafe paths, too many entries or too much
// data are refused.
func ReadBundle(data []byte) (*Bundle, error) {
	if len(data) > maxBundleBytes {
		return nil, fmt.Errorf("bundle: archive is %d bytes, larger than the %d byte limit", len(data), maxBundleBytes)
	}
	zr, err := zip.NewReader(bytes.NewReader(data), int64(len(data)))
	if err != nil {
		return nil, fmt.Errorf("bundle: not a zip archive: %w", err)
	}
	if len(zr.File) > maxBundleEntries {
		return nil, fmt.Errorf("bundle: %d entries, more than the %d allowed", len(zr.File), maxBundleEntries)
	}
	files := map[string][]byte{}
	total := 0
	for _, f := range zr.File {
		if f.FileInfo().IsDir() {
			continue
		}
		name := f.Name
		if !fs.ValidPath(name) || strings.Contains(name, `\`) {
			return nil, fmt.Errorf("bundle: entry %q has an unsafe path", name)
		}
		rc, err := f.Open()
		if err != nil {
			return nil, fmt.Errorf("bundle: entry %q: %w", name, err)
		}
		content, err := io.ReadAll(io.LimitReader(rc, int64(maxBundleBytes-total)+1))
		rc.Close()
		if err != nil {
			return nil, fmt.Errorf("bundle: entry %q: %w", name, err)
		}
		total += len(content)
		if total > maxBundleBytes {
			return nil, fmt.Errorf("bundle: uncompressed content exceeds %d bytes", maxBundleBytes)
		}
		files[name] = content
	}
	var candidates []string
	for name, content := range files {
		ext := path.Ext(name)
		if (ext == ".yaml" || ext == ".yml") && bytes.Contains(content, []byte("functions:")) {
			candidates = append(candidates, name)
		}
	}
	sort.Strings(candidates)
	switch len(candidates) {
	case 0:
		return nil, fmt.Errorf("bundle: no FDL file (a .yaml file with `functions:`) in the archive")
	case 1:
	default:
		return nil, fmt.Errorf("bundle: several FDL files in the archive (%s); a bundle holds one workflow", strings.Join(candidates, ", "))
	}
	name := candidates[0]
	b := &Bundle{Name: path.Base(name), FDL: files[name], Scripts: map[string][]byte{}}
	dir := path.Dir(name)
	for p, content := range files {
		if p == name {
			continue
		}
		rel := p
		if dir != "." {
			if !strings.HasPrefix(p, dir+"/") {
				continue // outside the FDL's folder: not reachable by a relative path
			}
			rel = strings.TrimPrefix(p, dir+"/")
		}
		b.Scripts[rel] = content
	}
	return b, nil
}
