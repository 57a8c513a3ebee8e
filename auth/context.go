// Package auth knows who is behind a request: OpenID Connect login (EGI
// Check-in or any other issuer), OSCAR basic login, or the single local
// user; it keeps their sessions on the server and protects state-changing
// requests against CSRF.
package auth

import "context"

// Login modes a User can come from.
const (
	ModeLocal = "local" // single-user mode on a loopback address
	ModeOIDC  = "oidc"  // OpenID Connect (EGI Check-in, Keycloak, ...)
	ModeOSCAR = "oscar" // OSCAR basic credentials
)

// User is the person behind a request.
type User struct {
	// ID is the store's key for the user; every resource a user owns
	// (clusters, workflows, sessions) refers to it.
	ID      int64
	Issuer  string
	Subject string
	Name    string
	// Email is the address the provider said is verified at the latest
	// login (email_verified); "" when it did not say so.
	Email string
	// VOs are the virtual organisations from the user's entitlements.
	VOs  []string
	Mode string
}

type userKey struct{}

// WithUser returns a context that carries u.
func WithUser(ctx context.Context, u *User) context.Context {
	return context.WithValue(ctx, userKey{}, u)
}

// UserFrom returns the user the request is for, if any.
func UserFrom(ctx context.Context) (*User, bool) {
	u, ok := ctx.Value(userKey{}).(*User)
	return u, ok && u != nil
}
