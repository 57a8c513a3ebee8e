package auth

import (
	"net/url"
	"strings"
)

// SafeRedirect returns target when it is a path on this site, and "/"
// otherwise. It accepts "/..." only: no scheme, no host, no "//" or "/\"
// (which browsers treat as another host), no control characters or
// whitespace tricks, and no backslash anywhere (some browsers read it as
// a slash).
func SafeRedirect(target string) string {
	if !isLocalPath(target) {
		return "/"
	}
	return target
}

func isLocalPath(p string) bool {
	if p == "" || len(p) > 2048 || p[0] != '/' {
		return false
	}
	if len(p) > 1 && (p[1] == '/' || p[1] == '\\') {
		return false
	}
	for _, r := range p {
		if r < 0x21 || r == 0x7f || r == '\\' {
			return false
		}
	}
	u, err := url.Parse(p)
	if err != nil || u.Scheme != "" || u.Host != "" || u.User != nil {
		return false
	}
	// A percent-encoded slash or backslash at the start can be decoded
	// by a proxy on the way back.
	lower := strings.ToLower(p)
	return !strings.HasPrefix(lower, "/%2f") && !strings.HasPrefix(lower, "/%5c")
}
