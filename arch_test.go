// Package fdlstudio_test holds the architecture test: which package of
// FDL Studio may import which.
package fdlstudio_test

import (
	"go/parser"
	"go/token"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

const module = "github.com/fdlstudio/fdlstudio"

// importRule forbids files of packages under from (the package itself
// and those below it, tests included) to import packages under any of to.
type importRule struct {
	from  string
	to    []string
	exact bool // to names exactly these packages, not those below them (test fakes such as oscartest stay allowed)
	why   string
}

// rules is the architecture. Paths are relative to the module.
var rules = []importRule{
	{from: "handlers", to: []string{"backends/oscar", "backends/local"}, exact: true,
		why: "handlers reach clusters through backends.Registry and the backends interfaces"},
	{from: "templates", to: []string{"backends/oscar", "backends/local"}, exact: true,
		why: "templates render view structs that handlers build"},
	{from: "fdl", to: []string{""},
		why: "fdl is the FDL language alone, usable without the rest of FDL Studio"},
	{from: "backends", to: []string{"web", "handlers", "templates"},
		why: "backends know nothing of the HTTP layer"},
	{from: "store", to: []string{"backends"},
		why: "store keeps records; backends build on them, not the other way"},
}

// under reports whether pkg (module-relative) is p or below it ("" is
// the whole module).
func under(pkg, p string) bool {
	return p == "" || pkg == p || strings.HasPrefix(pkg, p+"/")
}

// goImport is one import of one file.
type goImport struct {
	pkg, file, path string // importing package, file, imported package (module-relative)
	test            bool
}

// violations lists the imports the rules forbid.
func violations(imports []goImport) []string {
	var out []string
	for _, im := range imports {
		for _, r := range rules {
			if !under(im.pkg, r.from) || under(im.path, r.from) {
				continue
			}
			for _, to := range r.to {
				hit := im.path == to
				if !r.exact {
					hit = under(im.path, to)
				}
				if hit {
					out = append(out, im.file+" imports "+im.path+": "+r.why)
				}
			}
		}
	}
	return out
}

// moduleImports parses the import lines of every Go file of the module
// (tests included) and returns the imports of the module's own packages.
func moduleImports(t *testing.T) []goImport {
	t.Helper()
	var out []goImport
	fset := token.NewFileSet()
	err := filepath.WalkDir(".", func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			if name := d.Name(); path != "." && (strings.HasPrefix(name, ".") || name == "testdata" || name == "bin" || name == "node_modules") {
				return filepath.SkipDir
			}
			return nil
		}
		if !strings.HasSuffix(path, ".go") {
			return nil
		}
		f, err := parser.ParseFile(fset, path, nil, parser.ImportsOnly)
		if err != nil {
			return err
		}
		pkg := filepath.ToSlash(filepath.Dir(path))
		if pkg == "." {
			pkg = ""
		}
		for _, spec := range f.Imports {
			p, _ := strconv.Unquote(spec.Path.Value)
			if p != module && !strings.HasPrefix(p, module+"/") {
				continue
			}
			out = append(out, goImport{pkg: pkg, file: filepath.ToSlash(path),
				path: strings.TrimPrefix(strings.TrimPrefix(p, module), "/"), test: strings.HasSuffix(path, "_test.go")})
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func TestArchitecture(t *testing.T) {
	if _, err := os.Stat("go.mod"); err != nil {
		t.Fatal("run from the module root:", err)
	}
	imports := moduleImports(t)
	if len(imports) < 50 {
		t.Fatalf("found only %d imports of the module's own packages: the walk is broken", len(imports))
	}
	for _, v := range violations(imports) {
		t.Error(v)
	}
}

// TestArchitectureRulesBite: each forbidden import the issue names is
// caught, and the allowed ones are not.
func TestArchitectureRulesBite(t *testing.T) {
	bad := []goImport{
		{pkg: "handlers", file: "handlers/x.go", path: "backends/oscar"},
		{pkg: "handlers", file: "handlers/x_test.go", path: "backends/local", test: true},
		{pkg: "templates", file: "templates/x_templ.go", path: "backends/oscar"},
		{pkg: "fdl", file: "fdl/x.go", path: "store"},
		{pkg: "fdl/sub", file: "fdl/sub/x.go", path: "backends"},
		{pkg: "backends/oscar", file: "backends/oscar/x.go", path: "web"},
		{pkg: "backends", file: "backends/x.go", path: "handlers"},
		{pkg: "backends/local", file: "backends/local/x.go", path: "templates"},
		{pkg: "store/sqlite", file: "store/sqlite/x.go", path: "backends"},
		{pkg: "store", file: "store/x.go", path: "backends/oscar"},
	}
	for _, im := range bad {
		if v := violations([]goImport{im}); len(v) != 1 {
			t.Errorf("%s importing %s: %d violations, want 1", im.file, im.path, len(v))
		}
	}
	good := []goImport{
		{pkg: "handlers", file: "handlers/x.go", path: "backends"},
		{pkg: "handlers", file: "handlers/x_test.go", path: "backends/oscar/oscartest", test: true},
		{pkg: "fdl", file: "fdl/x.go", path: "fdl/internal"},
		{pkg: "web", file: "web/x.go", path: "backends/oscar"},
		{pkg: "backends/oscar", file: "backends/oscar/x.go", path: "store"},
		{pkg: "backends/oscar/oscartest", file: "backends/oscar/oscartest/x.go", path: "backends/oscar"},
	}
	for _, im := range good {
		if v := violations([]goImport{im}); len(v) != 0 {
			t.Errorf("%s importing %s is allowed, got %v", im.file, im.path, v)
		}
	}
}
