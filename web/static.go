package web

import "github.com/fdlstudio/fdlstudio/static"

func lookupAsset(name string) (*static.Asset, bool) { return static.Lookup(name) }
