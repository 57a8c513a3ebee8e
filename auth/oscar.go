package auth

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/fdlstudio/fdlstudio/backends"
	"github.com/fdlstudio/fdlstudio/backends/netguard"
	"github.com/fdlstudio/fdlstudio/backends/oscar"
)

// oscarLoginTimeout bounds the GET /system/info that checks the
// credentials.
const oscarLoginTimeout = 10 * time.Second

// LoginOSCAR logs a user in with an OSCAR cluster's basic-auth account, as
// the OSCAR dashboard does: the endpoint is checked (http(s) only, on the
// operator's host list when there is one), then GET /system/info with the
// credentials must succeed before the session starts. The password is
// kept sealed in the session. It returns the local path to go to next;
// failures are *LoginError with a message for the user.
func (m *Manager) LoginOSCAR(c echo.Context, endpoint, username, password, next string) (string, error) {
	if !m.cfg.OSCARLogin {
		return "", echo.ErrNotFound
	}
	u, err := backends.ValidateEndpoint(endpoint, m.cfg.OSCARHosts)
	if err != nil {
		msg := "The OSCAR endpoint is not valid."
		var be *backends.Error
		if errors.As(err, &be) && be.Message != "" {
			msg = "OSCAR endpoint: " + be.Message + "."
		}
		return "", &LoginError{Message: msg, Err: err}
	}
	username = strings.TrimSpace(username)
	if username == "" || password == "" {
		return "", &LoginError{Message: "Enter the username and password of the OSCAR cluster."}
	}
	ep := u.String()
	client, err := oscar.New(oscar.Config{Endpoint: ep, Username: username, Password: password, RequestTimeout: oscarLoginTimeout, Guard: m.cfg.OSCARGuard})
	if err != nil {
		return "", &LoginError{Message: "The OSCAR endpoint is not valid.", Err: err}
	}
	ctx, cancel := context.WithTimeout(c.Request().Context(), oscarLoginTimeout)
	defer cancel()
	if _, err := client.SystemInfo(ctx); err != nil {
		switch {
		case errors.Is(err, backends.ErrUnauthorized), errors.Is(err, backends.ErrForbidden):
			return "", &LoginError{Message: fmt.Sprintf("OSCAR at %s did not accept this username and password.", ep), Err: err}
		case errors.Is(err, netguard.ErrRefused):
			return "", &LoginError{Message: "OSCAR endpoint: " + backends.MessageOf(err) + ".", Err: err}
		case errors.Is(err, backends.ErrNotFound):
			return "", &LoginError{Message: fmt.Sprintf("%s does not look like an OSCAR cluster (no /system/info).", ep), Err: err}
		default:
			return "", &LoginError{Message: fmt.Sprintf("Could not reach OSCAR at %s within %s. Check the endpoint.", ep, oscarLoginTimeout), Err: err}
		}
	}
	// "oscar:" keeps these identities apart from OIDC ones (issuer URLs).
	user, err := m.store.UpsertUser(c.Request().Context(), "oscar:"+ep, username, username, "")
	if err != nil {
		return "", err
	}
	sec := secrets{OSCAREndpoint: ep, OSCARUsername: username, OSCARPassword: password}
	if err := m.startSession(c, user, ModeOSCAR, nil, sec); err != nil {
		return "", err
	}
	return SafeRedirect(next), nil
}
