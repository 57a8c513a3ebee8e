package auth

import (
	"net/url"
	"strings"
)

// secretParams are query parameters that carry credentials: the
// authorization code and state of the login callback, the start token of
// local single-user mode, and tokens some providers put in URLs.
var secretParams = map[string]bool{
	"code": true, "state": true, "session_state": true, LocalTokenParam: true,
	"id_token": true, "access_token": true, "refresh_token": true,
}

// RedactURI is a request URI as logs may show it: the values of
// secretParams are replaced by [redacted]; the path and other parameters
// stay, in their order, so the line is still useful. A parameter whose
// value is itself a URI with a query (next=/?token=…) is redacted the
// same way.
func RedactURI(uri string) string {
	path, query, ok := strings.Cut(uri, "?")
	if !ok {
		return uri
	}
	parts := strings.Split(query, "&")
	for i, p := range parts {
		k, v, _ := strings.Cut(p, "=")
		name, err := url.QueryUnescape(k)
		if err != nil || secretParams[strings.ToLower(name)] {
			parts[i] = k + "=[redacted]"
			continue
		}
		if inner, err := url.QueryUnescape(v); err != nil {
			parts[i] = k + "=[redacted]"
		} else if strings.Contains(inner, "?") {
			if red := RedactURI(inner); red != inner {
				parts[i] = k + "=" + url.QueryEscape(red)
			}
		}
	}
	return path + "?" + strings.Join(parts, "&")
}
