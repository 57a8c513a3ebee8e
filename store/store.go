// Package store persists what FDL Studio must remember: users, sessions
// and cluster registrations, with their secrets encrypted at rest (Sealer,
// AES-256-GCM bound to each record by its associated data).
//
// Callers depend on the small interfaces declared where they are consumed;
// this package names the errors every implementation returns and the
// encryption that protects secrets. The default implementation is SQLite
// (store/sqlite); a PostgreSQL one can follow without touching callers.
package store

import "errors"

// Errors every implementation returns, so callers can branch on them with
// errors.Is whatever the database underneath.
var (
	// ErrNotFound: the record asked for does not exist (or belongs to
	// someone else, which callers must not be able to tell apart).
	ErrNotFound = errors.New("not found")
	// ErrConflict: the record would clash with an existing one (a
	// duplicate name, a stale version).
	ErrConflict = errors.New("conflict")
	// ErrLocked: another process holds the data directory.
	ErrLocked = errors.New("data directory is in use by another process")
)
