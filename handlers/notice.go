package handlers

import (
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/fdlstudio/fdlstudio/auth"
)

// A notice is the one-line message a page shows after a redirect ("Bucket
// "x" created."). It travels in the redirect's ?notice= parameter sealed
// with the server's key, bound to the user and short-lived, so that a
// link someone else wrote (or a notice minted for another user) shows
// nothing: pages never display text a URL chose.
//
// redirectNotice is the one way to send one, notice the one way to read it.

// noticeTTL is how long a sealed notice is shown: long enough for the
// redirect to be followed, or the page reloaded soon after.
const noticeTTL = 10 * time.Minute

// noticeAD binds a sealed notice to its purpose and to the user.
func noticeAD(userID int64) string { return "notice/v1/user/" + strconv.FormatInt(userID, 10) }

func noticeUser(c echo.Context) int64 {
	if u, ok := auth.UserFrom(c.Request().Context()); ok && u != nil {
		return u.ID
	}
	return 0
}

// redirectNotice answers 303 to target (a local path, with or without a
// query) carrying msg for the page there to show.
func (h *Handler) redirectNotice(c echo.Context, target, msg string) error {
	return c.Redirect(http.StatusSeeOther, h.withNotice(c, target, msg))
}

// withNotice returns target with msg sealed in its notice parameter. If
// sealing fails (it cannot with a valid key), the target goes without it.
func (h *Handler) withNotice(c echo.Context, target, msg string) string {
	exp := time.Now().Add(noticeTTL).Unix()
	sealed, err := h.sealer.Seal([]byte(strconv.FormatInt(exp, 10)+"\n"+msg), noticeAD(noticeUser(c)))
	if err != nil {
		if h.log != nil {
			h.log.Warn("sealing a notice", "error", err.Error())
		}
		return target
	}
	sep := "?"
	if strings.Contains(target, "?") {
		sep = "&"
	}
	return target + sep + "notice=" + urlQueryEscape(sealed)
}

// notice returns the message of the request's notice parameter when this
// server sealed it for this user less than noticeTTL ago; anything else
// (text typed into a link, an expired or another user's notice) is "".
func (h *Handler) notice(c echo.Context) string {
	raw := c.QueryParam("notice")
	if raw == "" {
		return ""
	}
	data, err := h.sealer.Open(raw, noticeAD(noticeUser(c)))
	if err != nil {
		return ""
	}
	expStr, msg, ok := strings.Cut(string(data), "\n")
	exp, err := strconv.ParseInt(expStr, 10, 64)
	if !ok || err != nil || time.Now().Unix() > exp {
		return ""
	}
	return msg
}
