package handlers

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"strings"

	"github.com/fdlstudio/fdlstudio/auth"
	"github.com/fdlstudio/fdlstudio/backends"
	"github.com/fdlstudio/fdlstudio/store"
)

// UserError is a failure whose message is written for the user; the
// wrapped error (if any) goes to the log only.
type UserError struct {
	Status  int
	Message string
	Err     error
}

func (e *UserError) Error() string {
	if e.Err != nil {
		return e.Message + ": " + e.Err.Error()
	}
	return e.Message
}

// Unwrap returns the underlying cause.
func (e *UserError) Unwrap() error { return e.Err }

// PublicMessage is what the error page shows.
func (e *UserError) PublicMessage() string { return e.Message }

// HTTPStatus is the response status.
func (e *UserError) HTTPStatus() int { return e.Status }

func userError(status int, msg string, err error) error {
	return &UserError{Status: status, Message: msg, Err: err}
}

func notFound(msg string, err error) error { return userError(404, msg, err) }

// statusOf is the HTTP status for a failure a handler reports with its
// own message: the status of its kind in the one table
// (backends.HTTPStatus).
func statusOf(err error) int {
	status, _ := backends.HTTPStatus(err)
	return status
}

// kindText says in words what a backend error kind means.
var kindText = map[backends.Kind]string{
	backends.KindNotFound:     "not found",
	backends.KindInvalid:      "rejected the request",
	backends.KindUnauthorized: "refused the credentials (check the user name and password, or log in again)",
	backends.KindForbidden:    "does not allow this for your account",
	backends.KindConflict:     "reports a conflict",
	backends.KindUnavailable:  "is unreachable or failing",
	backends.KindUnsupported:  "does not support this (at its version)",
}

// Describe turns an error into a sentence for the user: for a backend
// error, which cluster, what it was doing and what went wrong (the
// cluster's own message, or the network cause); for an error with a
// public message, that message; for anything else a generic sentence,
// since its text may hold internals.
func Describe(err error) string {
	var be *backends.Error
	if errors.As(err, &be) {
		var b strings.Builder
		if be.Backend != "" {
			b.WriteString(be.Backend)
		} else {
			b.WriteString("The cluster")
		}
		b.WriteString(" " + kindText[be.Kind])
		if be.Op != "" {
			fmt.Fprintf(&b, " (%s)", be.Op)
		}
		if be.Message != "" {
			b.WriteString(": " + be.Message)
		} else if be.Err != nil {
			b.WriteString(": " + be.Err.Error())
		}
		return b.String()
	}
	var pm interface{ PublicMessage() string }
	if errors.As(err, &pm) {
		return pm.PublicMessage()
	}
	return genericError
}

const genericError = "An unexpected error occurred; the details are in the server log."

// describe is Describe for a part of a page: when the error has no text
// fit for the user, its detail is logged under an error ID that the
// sentence quotes, so "the details are in the server log" is true.
func (h *Handler) describe(err error) string {
	msg := Describe(err)
	if msg != genericError {
		return msg
	}
	id := make([]byte, 6)
	rand.Read(id)
	ref := hex.EncodeToString(id)
	if h.log != nil {
		h.log.Error("part of a page failed", slog.String("error_id", ref), slog.String("error", err.Error()))
	}
	return "An unexpected error occurred; the details are in the server log (error ID " + ref + ")."
}

// checkLogin makes sure the user's login token can still be had before a
// page calls several clusters with it: when it cannot be refreshed the
// error (auth.ErrLoginRequired) is returned, so the user is sent to log in
// instead of seeing one failure per cluster.
func (h *Handler) checkLogin(ctx context.Context, clusters []store.Cluster) error {
	if h.accessToken == nil {
		return nil
	}
	for _, c := range clusters {
		if c.AuthKind == store.AuthToken {
			if _, err := h.accessToken(ctx); errors.Is(err, auth.ErrLoginRequired) {
				return err
			}
			return nil
		}
	}
	return nil
}

func urlQueryEscape(s string) string { return url.QueryEscape(s) }

func urlPathEscape(s string) string { return url.PathEscape(s) }
