package store

import "time"

// APIToken is a personal API token: a program uses it to act for its
// user on the /api/ routes. The token itself is shown once when it is
// made; the store keeps only the hex SHA-256 of it.
type APIToken struct {
	ID     int64
	UserID int64
	// User is filled in when a token is read by its hash.
	User User
	// Name is the user's label for it, unique per user.
	Name string
	// Hash is the hex SHA-256 of the token.
	Hash string
	// Mode is how the user was logged in when they made it ("local",
	// "oidc", "oscar").
	Mode       string
	CreatedAt  time.Time
	ExpiresAt  time.Time
	LastUsedAt time.Time // zero until it is first used
}
