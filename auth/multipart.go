package auth

import (
	"bufio"
	"bytes"
	"io"
	"mime"
	"mime/multipart"
	"net/http"

	"github.com/labstack/echo/v4"
)

// MultipartCSRF lets the no-JavaScript upload form (multipart, so it
// cannot send a header) prove its CSRF token without the body being
// parsed whole: when an upload request has no X-CSRF-Token header and
// its first multipart field is csrf_token, the field is peeked from the
// first bytes of the body and copied into the header for CSRF to
// check. The body is left unread for the handler. An upload with neither
// is refused at once, before anything reads its body. It must run before
// CSRF. isUpload says which requests are uploads (handlers.IsFileUpload).
func MultipartCSRF(isUpload func(echo.Context) bool) echo.MiddlewareFunc {
	return func(next echo.HandlerFunc) echo.HandlerFunc {
		return func(c echo.Context) error {
			req := c.Request()
			if req.Method != http.MethodPost || !isUpload(c) || req.Header.Get("X-CSRF-Token") != "" {
				return next(c)
			}
			mt, params, err := mime.ParseMediaType(req.Header.Get(echo.HeaderContentType))
			if err != nil || mt != "multipart/form-data" || params["boundary"] == "" {
				return next(c)
			}
			br := bufio.NewReaderSize(req.Body, 4096)
			head, _ := br.Peek(4096) // fewer bytes at the end of a small body
			mr := multipart.NewReader(bytes.NewReader(head), params["boundary"])
			if p, err := mr.NextPart(); err == nil && p.FormName() == "csrf_token" {
				if v, err := io.ReadAll(io.LimitReader(p, 256)); err == nil {
					req.Header.Set("X-CSRF-Token", string(v))
				}
			}
			if req.Header.Get("X-CSRF-Token") == "" {
				// Refuse now: the CSRF check would otherwise parse (and
				// spool to disk) the whole body only to refuse it.
				return echo.NewHTTPError(http.StatusForbidden, "the upload carries no CSRF token (the form's first field must be csrf_token)")
			}
			req.Body = readCloser{br, req.Body}
			return next(c)
		}
	}
}

type readCloser struct {
	io.Reader
	io.Closer
}
