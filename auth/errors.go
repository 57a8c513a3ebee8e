package auth

import (
	"errors"
	"net/http"

	"github.com/labstack/echo/v4"
)

// ErrLoginRequired is returned by AccessToken (and turned into a trip to
// the login page by the session middleware) when the session has ended or
// its tokens can no longer be refreshed.
var ErrLoginRequired = errors.New("login required")

// publicError carries a message written for the user beside the internal
// cause, which only reaches the log. web's error handler shows
// PublicMessage.
type publicError struct {
	msg string
	err error
}

func (e *publicError) Error() string {
	if e.err == nil {
		return e.msg
	}
	return e.msg + ": " + e.err.Error()
}
func (e *publicError) Unwrap() error         { return e.err }
func (e *publicError) PublicMessage() string { return e.msg }

// httpError is an echo.HTTPError with a status and a message for the
// user; cause goes to the log only.
func httpError(status int, msg string, cause error) error {
	return &echo.HTTPError{Code: status, Message: http.StatusText(status), Internal: &publicError{msg: msg, err: cause}}
}

// LoginError is a failed login: Message is shown to the user as is,
// Err is logged.
type LoginError struct {
	Message string
	Err     error
}

func (e *LoginError) Error() string {
	if e.Err == nil {
		return "login failed: " + e.Message
	}
	return "login failed: " + e.Message + ": " + e.Err.Error()
}
func (e *LoginError) Unwrap() error { return e.Err }

// PublicMessage is what the user reads.
func (e *LoginError) PublicMessage() string { return e.Message }

// genericLoginFailure is what a user sees when the detail of a failed
// login would help an attacker more than them.
const genericLoginFailure = "Login failed, please try again."

func loginFailed(cause error) error { return &LoginError{Message: genericLoginFailure, Err: cause} }

// VOError is a login refused because the user belongs to none of the VOs
// the operator accepts.
type VOError struct {
	// Have are the user's VOs, Accepted the operator's list.
	Have, Accepted []string
}

func (e *VOError) Error() string {
	return "user is in none of the accepted VOs"
}
