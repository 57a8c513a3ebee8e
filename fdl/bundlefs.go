package fdl

import (
	"io/fs"
	"testing/fstest"
)

// bundleFS exposes in-memory files as an fs.FS.
func bundleFS(files map[string][]byte) fs.FS {
	m := fstest.MapFS{}
	for p, b := range files {
		m[p] = &fstest.MapFile{Data: b, Mode: 0o644}
	}
	return m
}
