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
}
