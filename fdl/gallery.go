package fdl

import (
	"embed"
	"io/fs"
)

// Examples holds the reference FDL examples this package is tested
// against (from the OSCAR and SCAR repositories), offered by the composer
// as starting points.
//
//go:embed testdata/examples/*.yaml
var examplesFS embed.FS

// Examples is examplesFS rooted at the examples folder.
var Examples = mustSub(examplesFS, "testdata/examples")

func mustSub(f embed.FS, dir string) fs.FS {
	s, err := fs.Sub(f, dir)
	if err != nil {
		panic(err) // the directory is embedded above
	}
	return s
}
