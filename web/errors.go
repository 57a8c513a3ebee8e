package web

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"log/slog"
	"net/http"
	"strings"

	"github.com/labstack/echo/v4"

	"github.com/fdlstudio/fdlstudio/auth"
	"github.com/fdlstudio/fdlstudio/backends"
	"github.com/fdlstudio/fdlstudio/handlers"
	"github.com/fdlstudio/fdlstudio/templates"
)

// statusText is what the user reads for a status when the error carries
// no message of its own that is safe to show.
var statusText = map[int]struct{ title, message string }{
	http.StatusBadRequest:            {"Bad request", "The request could not be understood. Check what you entered and try again."},
	http.StatusUnauthorized:          {"Please log in", "You need to log in to see this page."},
	http.StatusForbidden:             {"Not allowed", "You are not allowed to do this."},
	http.StatusNotFound:              {"Page not found", "There is nothing at this address. It may have been moved or deleted."},
	http.StatusMethodNotAllowed:      {"Method not allowed", "This address does not accept that kind of request."},
	http.StatusUnprocessableEntity:   {"Not accepted", "What you sent was understood but not accepted. Check the highlighted fields."},
	http.StatusNotImplemented:        {"Not supported", "The cluster does not support this."},
	http.StatusConflict:              {"Conflict", "This clashes with something that already exists or was changed meanwhile."},
	http.StatusMisdirectedRequest:    {"Wrong address", "This server does not answer to that host name."},
	http.StatusRequestEntityTooLarge: {"Too large", "What you sent is larger than this server accepts."},
	http.StatusTooManyRequests:       {"Too many requests", "Slow down a little and try again in a moment."},
	http.StatusInternalServerError:   {"Something went wrong", "Something went wrong on our side. The details are in the server log."},
	http.StatusBadGateway:            {"Backend error", "A cluster or service this page depends on answered with an error."},
	http.StatusServiceUnavailable:    {"Unavailable", "A service this page depends on is unavailable right now. Try again shortly."},
	http.StatusGatewayTimeout:        {"Timed out", "A cluster or service this page depends on took too long to answer."},
}

// publicMessager is implemented by errors whose message is written for
// users (a validation message, a backend's own explanation). Any other
// error's text stays in the log.
type publicMessager interface {
	PublicMessage() string
}

// classify finds the status of err and the message the user may see.
func classify(err error) (status int, message string) {
	status = http.StatusInternalServerError
	var he *echo.HTTPError
	var hs interface{ HTTPStatus() int }
	if errors.As(err, &he) {
		status = he.Code
	} else if errors.As(err, &hs) {
		status = hs.HTTPStatus()
	} else {
		status, _ = backends.HTTPStatus(err)
	}
	var pm publicMessager
	if errors.As(err, &pm) {
		message = pm.PublicMessage()
	} else if errors.As(err, new(*backends.Error)) {
		message = handlers.Describe(err)
	}
	return status, message
}

func newErrorID() string {
	b := make([]byte, 6)
	rand.Read(b)
	return hex.EncodeToString(b)
}

// handleError is Echo's HTTPErrorHandler: every error a handler or
// middleware returns ends here. It picks the status through backends.HTTPStatus,
// logs the detail under a fresh error ID (5xx at error level, the rest at
// info), and answers with a friendly page carrying the same ID, or JSON
// for clients that ask for it. It never writes to a response that has
// already been committed. A middleware near the top of the chain calls
// it, and Echo calls it for errors raised before routing.
func (s *Server) handleError(err error, c echo.Context) {
	req := c.Request()
	if c.Response().Committed {
		// Too late to answer: the client already has a status and part
		// of a body. Record why the response is incomplete.
		s.log.Warn("error after the response was committed",
			slog.String("request_id", c.Response().Header().Get(echo.HeaderXRequestID)),
			slog.String("uri", auth.RedactURI(req.RequestURI)), slog.String("error", err.Error()))
		return
	}
	status, public := classify(err)
	id := newErrorID()

	attrs := []any{
		slog.String("error_id", id),
		slog.String("request_id", c.Response().Header().Get(echo.HeaderXRequestID)),
		slog.Int("status", status),
		slog.String("method", req.Method),
		slog.String("uri", auth.RedactURI(req.RequestURI)),
		slog.String("error", err.Error()),
	}
	if status >= 500 {
		s.log.Error("request failed", attrs...)
	} else {
		s.log.Info("request refused", attrs...)
	}

	text, ok := statusText[status]
	if !ok {
		text = statusText[http.StatusInternalServerError]
		if status < 500 {
			text = statusText[http.StatusBadRequest]
		}
	}
	if auth.LocalLocked(req.Context()) {
		text.title = "Open the start link"
	}
	message := text.message
	if public != "" {
		message = public
	}

	if req.Method == http.MethodHead {
		c.NoContent(status)
		return
	}
	if wantsJSON(req) {
		c.JSON(status, map[string]any{"error": message, "status": status, "error_id": id})
		return
	}
	page := templates.ErrorPage(templates.ErrorProps{
		Chrome:  s.handlers.Chrome(c, text.title, ""),
		Status:  status,
		Title:   text.title,
		Message: message,
		ErrorID: id,
	})
	if rerr := handlers.Render(c, status, page); rerr != nil {
		s.log.Error("rendering the error page failed", slog.String("error_id", id), slog.String("error", rerr.Error()))
		if !c.Response().Committed {
			c.HTMLBlob(status, []byte(fallbackErrorPage(id)))
		}
	}
}

// wantsJSON reports whether the client reads JSON: it asked for it, or
// it is a program on the /api/ routes.
func wantsJSON(r *http.Request) bool {
	if auth.IsAPIPath(r.URL.Path) {
		return true
	}
	accept := r.Header.Get(echo.HeaderAccept)
	return strings.Contains(accept, echo.MIMEApplicationJSON) && !strings.Contains(accept, echo.MIMETextHTML)
}

// fallbackErrorPage is served when the error page itself cannot render.
func fallbackErrorPage(id string) string {
	return `<!DOCTYPE html><html lang="en"><head><meta charset="utf-8"><title>Error · FDL Studio</title></head>` +
		`<body><h1>Something went wrong</h1><p>Error ID: <code>` + id + `</code></p></body></html>`
}
