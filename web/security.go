package web

import (
	"crypto/rand"
	"encoding/base64"
	"net"
	"net/http"
	"strings"

	"github.com/a-h/templ"
	"github.com/labstack/echo/v4"

	"github.com/fdlstudio/fdlstudio/templates"
)

// contentSecurityPolicy returns the CSP for one response. Scripts run only
// from this origin and only with the per-request nonce, never inline
// without it and never through eval; htmx is configured (in the layout)
// not to need either.
func contentSecurityPolicy(nonce string) string {
	return strings.Join([]string{
		"default-src 'self'",
		"script-src 'self' 'nonce-" + nonce + "'",
		"style-src 'self'",
		"img-src 'self' data:",
		"connect-src 'self'",
		"font-src 'self'",
		"object-src 'none'",
		"base-uri 'none'",
		"form-action 'self'",
		"frame-ancestors 'none'",
	}, "; ")
}

// securityHeaders sets the headers every response carries, and puts a
// fresh CSP nonce into the request context where templ stamps it on the
// <script> tags it renders, with the theme cookie the layout renders.
func securityHeaders(hsts bool) echo.MiddlewareFunc {
	return func(next echo.HandlerFunc) echo.HandlerFunc {
		return func(c echo.Context) error {
			b := make([]byte, 18)
			rand.Read(b)
			nonce := base64.RawURLEncoding.EncodeToString(b)

			h := c.Response().Header()
			h.Set("Content-Security-Policy", contentSecurityPolicy(nonce))
			h.Set("X-Content-Type-Options", "nosniff")
			h.Set("X-Frame-Options", "DENY")
			h.Set("Referrer-Policy", "same-origin")
			h.Set("Cross-Origin-Opener-Policy", "same-origin")
			h.Set("Permissions-Policy", "camera=(), microphone=(), geolocation=(), payment=()")
			if hsts {
				h.Set("Strict-Transport-Security", "max-age=31536000")
			}

			req := c.Request()
			ctx := templ.WithNonce(req.Context(), nonce)
			ctx = templates.WithTheme(ctx, req)
			c.SetRequest(req.WithContext(ctx))
			return next(c)
		}
	}
}

// localHostOnly refuses requests whose Host is not this machine's own
// name for the server. In local single-user mode whoever reaches the port
// is the user, so a web page that re-points its DNS name to 127.0.0.1
// (DNS rebinding) must not be able to talk to the server as its own
// origin: only localhost, 127.0.0.1 and [::1] (with any port) pass.
func localHostOnly(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		host := c.Request().Host
		if h, _, err := net.SplitHostPort(host); err == nil {
			host = h
		}
		host = strings.Trim(host, "[]")
		if strings.EqualFold(host, "localhost") || host == "127.0.0.1" || host == "::1" {
			return next(c)
		}
		return echo.NewHTTPError(http.StatusMisdirectedRequest,
			"this FDL Studio runs in local single-user mode and answers only to localhost, 127.0.0.1 and [::1]")
	}
}
