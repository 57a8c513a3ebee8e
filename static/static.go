// Package static holds the CSS, JavaScript islands and vendored front-end
// libraries of FDL Studio, embedded into the binary.
//
// Every file is served under a content-hashed URL
// (/static/css/app.3f2a9c1b7d.css) with a one-year immutable cache, so a
// new release never meets a stale asset. Templates ask for URLs through
// URL and never hard-code a path.
package static

import (
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"fmt"
	"io/fs"
	"mime"
	"path"
	"strings"
	"sync"
)

//go:embed css js img vendor
var files embed.FS

// Prefix is the URL path under which assets are served.
const Prefix = "/static/"

// Asset is one embedded file with its content hash.
type Asset struct {
	Name        string // path inside the embedded tree, e.g. "css/app.css"
	HashedName  string // e.g. "css/app.3f2a9c1b7d.css"
	ContentType string
	ETag        string
	Data        []byte
}

// catalogue is computed once from the embedded files, which never change
// while the process runs; it is therefore as constant as the files are.
type catalogue struct {
	byName   map[string]*Asset
	byHashed map[string]*Asset
}

var load = sync.OnceValue(func() *catalogue {
	c := &catalogue{byName: map[string]*Asset{}, byHashed: map[string]*Asset{}}
	err := fs.WalkDir(files, ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		data, err := files.ReadFile(p)
		if err != nil {
			return err
		}
		sum := sha256.Sum256(data)
		hash := hex.EncodeToString(sum[:])[:12]
		ext := path.Ext(p)
		a := &Asset{
			Name:        p,
			HashedName:  strings.TrimSuffix(p, ext) + "." + hash + ext,
			ContentType: contentType(ext),
			ETag:        `"` + hash + `"`,
			Data:        data,
		}
		c.byName[a.Name] = a
		c.byHashed[a.HashedName] = a
		return nil
	})
	if err != nil {
		// The tree is embedded at build time; failing to walk it is a
		// broken build, not a runtime condition.
		panic(fmt.Sprintf("static: reading embedded assets: %v", err))
	}
	return c
})

func contentType(ext string) string {
	switch ext {
	case ".js":
		return "text/javascript; charset=utf-8"
	case ".css":
		return "text/css; charset=utf-8"
	case ".svg":
		return "image/svg+xml"
	}
	if t := mime.TypeByExtension(ext); t != "" {
		return t
	}
	return "application/octet-stream"
}

// URL returns the content-hashed URL of the embedded asset name
// ("css/app.css"). It panics when the asset does not exist, because a
// template that names a missing asset is a programming error that every
// page test catches.
func URL(name string) string {
	a, ok := load().byName[name]
	if !ok {
		panic(fmt.Sprintf("static: no asset %q", name))
	}
	return Prefix + a.HashedName
}

// Lookup finds an asset by its hashed name (the URL path after Prefix).
func Lookup(hashedName string) (*Asset, bool) {
	a, ok := load().byHashed[hashedName]
	return a, ok
}

// Assets lists every embedded asset, for page-weight reports.
func Assets() []*Asset {
	c := load()
	out := make([]*Asset, 0, len(c.byName))
	for _, a := range c.byName {
		out = append(out, a)
	}
	return out
}
