package auth

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/labstack/echo/v4"
)

// LocalTokenParam is the query parameter of the start URL that carries
// the token of local single-user mode.
const LocalTokenParam = "token"

// localCookieAge is how long a browser stays unlocked; the cookie also
// stops working as soon as the start token changes.
const localCookieAge = 30 * 24 * time.Hour

// localOpenPaths are answered in local single-user mode without the start
// token: content-hashed assets and the liveness probe, which say nothing
// about the user.
var localOpenPaths = []string{"/static/", "/healthz"}

// LocalURL is the URL to open in local single-user mode: base (the
// server's http://127.0.0.1:PORT) with the start token. It is printed
// once at start for the person who started the server, and never logged
// otherwise.
func LocalURL(base, token string) string {
	return strings.TrimRight(base, "/") + "/?" + LocalTokenParam + "=" + url.QueryEscape(token)
}

// localCookieValue is what the browser keeps once it has shown the start
// token: an HMAC of the token under the server key, so the cookie is not
// the token itself and dies with it.
func localCookieValue(key []byte, token string) string {
	mac := hmac.New(sha256.New, key)
	mac.Write([]byte("fdlstudio local cookie v1\x00"))
	mac.Write([]byte(token))
	return base64.RawURLEncoding.EncodeToString(mac.Sum(nil))
}

// localCookieName carries the port of the address the browser used:
// cookies do not tell ports apart, and two FDL Studios on one machine
// must not overwrite each other's.
func localCookieName(host string) string {
	port := "80"
	if _, p, err := net.SplitHostPort(host); err == nil && p != "" && strings.Trim(p, "0123456789") == "" {
		port = p
	}
	return "fdlstudio_local_" + port
}

// unlockLocal exchanges a start token in the query of a GET for the
// cookie and sends the browser to the same URL without the token, so it
// stays out of the history, bookmarks of later pages and Referer headers.
// A wrong token is 401. handled is false when the request carries no
// token.
func (m *Manager) unlockLocal(c echo.Context) (handled bool, err error) {
	req := c.Request()
	if req.Method != http.MethodGet && req.Method != http.MethodHead {
		return false, nil
	}
	q := req.URL.Query()
	got, ok := q[LocalTokenParam]
	if !ok {
		return false, nil
	}
	if len(got) != 1 || subtle.ConstantTimeCompare([]byte(got[0]), []byte(m.cfg.LocalToken)) != 1 {
		m.log.Warn("local mode: a request with a wrong start token was refused", slog.String("remote_ip", c.RealIP()))
		return true, m.localLocked(c)
	}
	c.SetCookie(&http.Cookie{
		Name: localCookieName(req.Host), Value: m.localCookie, Path: "/", MaxAge: int(localCookieAge / time.Second),
		HttpOnly: true, SameSite: http.SameSiteStrictMode, Secure: m.secureCookies(),
	})
	q.Del(LocalTokenParam)
	back := req.URL.Path
	if len(q) > 0 {
		back += "?" + q.Encode()
	}
	return true, c.Redirect(http.StatusSeeOther, SafeRedirect(back))
}

// localUnlocked reports whether the request carries the cookie of the
// start token.
func (m *Manager) localUnlocked(c echo.Context) bool {
	ck, err := c.Cookie(localCookieName(c.Request().Host))
	return err == nil && subtle.ConstantTimeCompare([]byte(ck.Value), []byte(m.localCookie)) == 1
}

func localOpen(path string) bool {
	for _, p := range localOpenPaths {
		if strings.HasPrefix(path, p) || path == strings.TrimSuffix(p, "/") {
			return true
		}
	}
	return false
}

type localLockedKey struct{}

// LocalLocked reports whether the request was refused because it came
// without the start token of local single-user mode: its error page must
// not offer a login, which this mode does not have, but say what to do.
func LocalLocked(ctx context.Context) bool {
	locked, _ := ctx.Value(localLockedKey{}).(bool)
	return locked
}

// localLocked is the answer to a request without the start token; it
// marks the request LocalLocked for the error page.
func (m *Manager) localLocked(c echo.Context) error {
	req := c.Request()
	c.SetRequest(req.WithContext(context.WithValue(req.Context(), localLockedKey{}, true)))
	return httpError(http.StatusUnauthorized,
		"This FDL Studio runs in single-user mode and only answers the person who started it, so there is no login. "+
			"Open the URL it printed when it started, in the terminal where you ran it: "+
			"“FDL Studio is running: open http://127.0.0.1:…/?token=…”. "+
			"The token is also in the file local-token in its data directory. This browser is then remembered.", nil)
}
