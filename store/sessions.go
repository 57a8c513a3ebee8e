package store

import "time"

// Session is a stored login session. The browser holds only a random
// session ID in a cookie; the store keys the row by the SHA-256 of that
// ID, so a copy of the database does not hand out live cookies.
type Session struct {
	// IDHash is the hex SHA-256 of the cookie's session ID.
	IDHash string
	// PublicID names the session in pages and URLs (e.g. "end this
	// session"); it is not a credential.
	PublicID string
	UserID   int64
	// User is filled in when a session is read.
	User User
	// Mode is how the user logged in: "oidc" or "oscar".
	Mode string
	// VOs are the virtual organisations the user had at login.
	VOs []string
	// CSRFToken is the token every state-changing request of this
	// session must carry.
	CSRFToken string
	// Secrets is a value sealed with Sealer (tokens, an OSCAR password);
	// only the auth package opens it.
	Secrets string
	// TokenExpiry is when the access token in Secrets expires (zero when
	// there is none), kept in the clear so refreshes can be planned.
	TokenExpiry time.Time
	CreatedAt   time.Time
	LastSeenAt  time.Time
	// ExpiresAt is the absolute end of the session, whatever the activity.
	ExpiresAt time.Time
}
