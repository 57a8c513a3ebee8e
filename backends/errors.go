package backends

import (
	"context"
	"errors"
	"net/http"
	"strings"

	"github.com/fdlstudio/fdlstudio/store"
)

// Kind classifies a backend failure so that callers (the UI, the CLI) can say
// exactly what happened without parsing messages.
type Kind string

// The kinds of failure a backend reports. Every error a Backend returns is an
// *Error with one of these kinds.
const (
	// KindNotFound: the service, job, bucket or object does not exist (or the
	// caller may not see it).
	KindNotFound Kind = "not found"
	// KindInvalid: the backend rejected the request; Message holds its text.
	KindInvalid Kind = "invalid"
	// KindUnauthorized: no or bad credentials (HTTP 401).
	KindUnauthorized Kind = "unauthorized"
	// KindForbidden: credentials are fine but not allowed to do this (403).
	KindForbidden Kind = "forbidden"
	// KindConflict: the thing already exists or is in a conflicting state.
	KindConflict Kind = "conflict"
	// KindUnavailable: the backend could not be reached, timed out or failed
	// internally (5xx); Err holds the cause.
	KindUnavailable Kind = "unavailable"
	// KindUnsupported: the backend (or this version of it) lacks the feature.
	KindUnsupported Kind = "unsupported"
)

// Error is the one error type every Backend returns.
//
// Compare kinds with errors.Is against the sentinels (errors.Is(err,
// backends.ErrNotFound)) or read the kind with KindOf.
type Error struct {
	Kind    Kind   // what class of failure
	Op      string // what we were doing, e.g. `get service "cowsay"`
	Backend string // which backend/cluster, e.g. `OSCAR cluster "egi-prod"`
	Message string // the backend's own text (e.g. OSCAR's plain-text error), if any
	Err     error  // underlying cause (network error, decode error), if any
}

// Sentinels for errors.Is. They only carry a Kind; any *Error with the same
// kind matches them.
var (
	ErrNotFound     = &Error{Kind: KindNotFound}
	ErrInvalid      = &Error{Kind: KindInvalid}
	ErrUnauthorized = &Error{Kind: KindUnauthorized}
	ErrForbidden    = &Error{Kind: KindForbidden}
	ErrConflict     = &Error{Kind: KindConflict}
	ErrUnavailable  = &Error{Kind: KindUnavailable}
	ErrUnsupported  = &Error{Kind: KindUnsupported}
)

// Error renders "backend: op: kind: message: cause", skipping empty parts.
func (e *Error) Error() string {
	parts := make([]string, 0, 5)
	for _, p := range []string{e.Backend, e.Op, string(e.Kind), e.Message} {
		if p != "" {
			parts = append(parts, p)
		}
	}
	if e.Err != nil {
		parts = append(parts, e.Err.Error())
	}
	return strings.Join(parts, ": ")
}

// Unwrap returns the underlying cause.
func (e *Error) Unwrap() error { return e.Err }

// Is reports whether target is a sentinel (an *Error with only a Kind) of the
// same kind, or the very same error.
func (e *Error) Is(target error) bool {
	t, ok := target.(*Error)
	if !ok {
		return false
	}
	if t == e {
		return true
	}
	return t.Op == "" && t.Backend == "" && t.Message == "" && t.Err == nil && t.Kind == e.Kind
}

// KindOf returns the Kind of the first *Error in err's chain, or "" when err
// is nil or not a backend error.
func KindOf(err error) Kind {
	var e *Error
	if errors.As(err, &e) {
		return e.Kind
	}
	return ""
}

// MessageOf returns the backend's own message of the first *Error in err's
// chain (e.g. OSCAR's "service must be part of one of the following VO: ..."),
// or "".
func MessageOf(err error) string {
	var e *Error
	if errors.As(err, &e) {
		return e.Message
	}
	return ""
}

// statuses is the one table from error kind to HTTP status, for every
// page and API answer. The first entry that matches (errors.Is) wins, so
// a backend failure caused by a deadline is a timeout. An error that
// matches none is a 500.
var statuses = []struct {
	kind   error
	status int
}{
	{store.ErrNotFound, http.StatusNotFound},
	{store.ErrConflict, http.StatusConflict},
	{store.ErrLocked, http.StatusServiceUnavailable},
	{context.DeadlineExceeded, http.StatusGatewayTimeout},
	{context.Canceled, 499}, // the client went away
	{ErrNotFound, http.StatusNotFound},
	{ErrInvalid, http.StatusUnprocessableEntity},
	// The cluster refused the credentials FDL Studio holds: the user's
	// own login is fine, so this is the gateway's failure, not a 401.
	{ErrUnauthorized, http.StatusBadGateway},
	{ErrForbidden, http.StatusForbidden},
	{ErrConflict, http.StatusConflict},
	{ErrUnavailable, http.StatusBadGateway},
	{ErrUnsupported, http.StatusNotImplemented},
}

// HTTPStatus is the HTTP status for err by its kind (see statuses), and
// whether a kind matched; an error of no known kind is a 500.
func HTTPStatus(err error) (int, bool) {
	for _, k := range statuses {
		if errors.Is(err, k.kind) {
			return k.status, true
		}
	}
	return http.StatusInternalServerError, false
}
