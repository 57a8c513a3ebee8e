package auth

import (
	"net/http"
	"net/url"
	"strings"
)

// CheckOrigin reports whether a WebSocket handshake comes from a page of
// this site: its Origin header must name the same scheme, host and port
// as publicURL (or, when publicURL is empty, as the request's own Host
// over the request's scheme). A missing Origin is refused: browsers always
// send it on WebSocket handshakes, so its absence means a non-browser
// client, which must not ride on a browser's session cookie.
func CheckOrigin(r *http.Request, publicURL string) bool {
	origin := r.Header.Get("Origin")
	if origin == "" || origin == "null" {
		return false
	}
	o, err := url.Parse(origin)
	if err != nil || o.Host == "" || o.User != nil || (o.Path != "" && o.Path != "/") {
		return false
	}
	var want *url.URL
	if publicURL != "" {
		if want, err = url.Parse(publicURL); err != nil || want.Host == "" {
			return false
		}
	} else {
		scheme := "http"
		if r.TLS != nil {
			scheme = "https"
		}
		want = &url.URL{Scheme: scheme, Host: r.Host}
	}
	return strings.EqualFold(o.Scheme, want.Scheme) && hostPort(o) == hostPort(want)
}

// hostPort is "host:port" in lower case with the scheme's default port
// made explicit.
func hostPort(u *url.URL) string {
	port := u.Port()
	if port == "" {
		switch strings.ToLower(u.Scheme) {
		case "https", "wss":
			port = "443"
		default:
			port = "80"
		}
	}
	return strings.ToLower(strings.TrimSuffix(u.Hostname(), ".")) + ":" + port
}
