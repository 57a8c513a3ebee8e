package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/fdlstudio/fdlstudio/store"
)

// VOs are stored one per line: VO names never contain a newline (they
// are DNS-like names), and the column stays readable in the sqlite shell.
func joinVOs(vos []string) string { return strings.Join(vos, "\n") }

func splitVOs(s string) []string {
	if s == "" {
		return nil
	}
	return strings.Split(s, "\n")
}

func unixOrZero(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return t.Unix()
}

func timeOrZero(n int64) time.Time {
	if n == 0 {
		return time.Time{}
	}
	return time.Unix(n, 0)
}

// CreateSession stores a new session. A session whose IDHash or PublicID
// already exists is store.ErrConflict.
func (s *DB) CreateSession(ctx context.Context, ses store.Session) error {
	_, err := s.db.ExecContext(ctx, `INSERT INTO sessions
		(id_hash, public_id, user_id, mode, vos, csrf_token, secrets, token_expiry, created_at, last_seen_at, expires_at)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		ses.IDHash, ses.PublicID, ses.UserID, ses.Mode, joinVOs(ses.VOs), ses.CSRFToken, ses.Secrets,
		unixOrZero(ses.TokenExpiry), ses.CreatedAt.Unix(), ses.LastSeenAt.Unix(), ses.ExpiresAt.Unix())
	if err != nil {
		if strings.Contains(err.Error(), "UNIQUE constraint failed") {
			return fmt.Errorf("saving session for user %d: %w", ses.UserID, store.ErrConflict)
		}
		return fmt.Errorf("saving session for user %d: %w", ses.UserID, err)
	}
	return nil
}

// Session returns the session with the given ID hash and its user, or
// store.ErrNotFound. It does not check expiry: that is the caller's
// policy.
func (s *DB) Session(ctx context.Context, idHash string) (store.Session, error) {
	var ses store.Session
	var vos string
	var tokenExpiry, created, seen, expires, userCreated int64
	err := s.db.QueryRowContext(ctx, `SELECT s.id_hash, s.public_id, s.user_id, s.mode, s.vos, s.csrf_token, s.secrets,
			s.token_expiry, s.created_at, s.last_seen_at, s.expires_at,
			u.id, u.issuer, u.subject, u.name, u.email, u.created_at
		FROM sessions s JOIN users u ON u.id = s.user_id WHERE s.id_hash = ?`, idHash).
		Scan(&ses.IDHash, &ses.PublicID, &ses.UserID, &ses.Mode, &vos, &ses.CSRFToken, &ses.Secrets,
			&tokenExpiry, &created, &seen, &expires,
			&ses.User.ID, &ses.User.Issuer, &ses.User.Subject, &ses.User.Name, &ses.User.Email, &userCreated)
	if errors.Is(err, sql.ErrNoRows) {
		return store.Session{}, store.ErrNotFound
	}
	if err != nil {
		return store.Session{}, fmt.Errorf("reading session: %w", err)
	}
	ses.VOs = splitVOs(vos)
	ses.TokenExpiry = timeOrZero(tokenExpiry)
	ses.CreatedAt, ses.LastSeenAt, ses.ExpiresAt = time.Unix(created, 0), time.Unix(seen, 0), time.Unix(expires, 0)
	ses.User.CreatedAt = time.Unix(userCreated, 0)
	return ses, nil
}

// TouchSession records activity on a session (for the idle timeout).
func (s *DB) TouchSession(ctx context.Context, idHash string, at time.Time) error {
	return s.execOne(ctx, "UPDATE sessions SET last_seen_at = ? WHERE id_hash = ?", at.Unix(), idHash)
}

// UpdateSessionSecrets replaces a session's sealed secrets and the
// access-token expiry (after a token refresh).
func (s *DB) UpdateSessionSecrets(ctx context.Context, idHash, secrets string, tokenExpiry time.Time) error {
	return s.execOne(ctx, "UPDATE sessions SET secrets = ?, token_expiry = ? WHERE id_hash = ?",
		secrets, unixOrZero(tokenExpiry), idHash)
}

// DeleteSession removes a session; a missing one is store.ErrNotFound.
func (s *DB) DeleteSession(ctx context.Context, idHash string) error {
	return s.execOne(ctx, "DELETE FROM sessions WHERE id_hash = ?", idHash)
}

// DeleteUserSession ends the session with the given public ID, but only
// when it belongs to userID: another user's session is store.ErrNotFound,
// indistinguishable from one that does not exist.
func (s *DB) DeleteUserSession(ctx context.Context, userID int64, publicID string) error {
	return s.execOne(ctx, "DELETE FROM sessions WHERE public_id = ? AND user_id = ?", publicID, userID)
}

// UserSessions lists the sessions of one user, newest first.
func (s *DB) UserSessions(ctx context.Context, userID int64) ([]store.Session, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT public_id, mode, vos, created_at, last_seen_at, expires_at
		FROM sessions WHERE user_id = ? ORDER BY created_at DESC, public_id`, userID)
	if err != nil {
		return nil, fmt.Errorf("listing sessions of user %d: %w", userID, err)
	}
	defer rows.Close()
	var out []store.Session
	for rows.Next() {
		ses := store.Session{UserID: userID}
		var vos string
		var created, seen, expires int64
		if err := rows.Scan(&ses.PublicID, &ses.Mode, &vos, &created, &seen, &expires); err != nil {
			return nil, err
		}
		ses.VOs = splitVOs(vos)
		ses.CreatedAt, ses.LastSeenAt, ses.ExpiresAt = time.Unix(created, 0), time.Unix(seen, 0), time.Unix(expires, 0)
		out = append(out, ses)
	}
	return out, rows.Err()
}

// DeleteExpiredSessions removes sessions past their absolute end or idle
// since before idleCutoff, and reports how many went.
func (s *DB) DeleteExpiredSessions(ctx context.Context, now, idleCutoff time.Time) (int64, error) {
	res, err := s.db.ExecContext(ctx, "DELETE FROM sessions WHERE expires_at <= ? OR last_seen_at < ?", now.Unix(), idleCutoff.Unix())
	if err != nil {
		return 0, fmt.Errorf("deleting expired sessions: %w", err)
	}
	return res.RowsAffected()
}

func (s *DB) execOne(ctx context.Context, query string, args ...any) error {
	res, err := s.db.ExecContext(ctx, query, args...)
	if err != nil {
		return fmt.Errorf("session: %w", err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return err
	}
	if n == 0 {
		return store.ErrNotFound
	}
	return nil
}
