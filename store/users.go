package store

import "time"

// User is a stored user record.
type User struct {
	ID        int64
	Issuer    string
	Subject   string
	Name      string
	Email     string
	CreatedAt time.Time
	// Entitlements are the group entitlements (EGI URNs) an OpenID
	// Connect user had at their last login or token refresh, read at
	// EntitlementsAt (zero: never recorded).
	Entitlements   []string
	EntitlementsAt time.Time
}
