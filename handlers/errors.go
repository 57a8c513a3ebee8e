package handlers

import (
	"errors"
	"fmt"
	"net/url"
	"strings"

	"github.com/fdlstudio/fdlstudio/backends"
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
		if name, ok := strings.CutPrefix(be.Backend, "oscar "); ok {
			b.WriteString("OSCAR cluster " + name)
		} else if be.Backend != "" {
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
	return "An unexpected error occurred; the details are in the server log."
}

func urlQueryEscape(s string) string { return url.QueryEscape(s) }

func urlPathEscape(s string) string { return url.PathEscape(s) }
