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

// CreateAPIToken stores a new API token (its hash, never the token) and
// returns it with its ID. A name the user already gave another token is
// store.ErrConflict.
func (s *DB) CreateAPIToken(ctx context.Context, t store.APIToken) (store.APIToken, error) {
	res, err := s.db.ExecContext(ctx, `INSERT INTO api_tokens (user_id, name, hash, mode, created_at, expires_at)
		VALUES (?, ?, ?, ?, ?, ?)`,
		t.UserID, t.Name, t.Hash, t.Mode, t.CreatedAt.Unix(), t.ExpiresAt.Unix())
	if err != nil {
		if strings.Contains(err.Error(), "UNIQUE constraint failed") {
			return t, fmt.Errorf("API token %q: %w", t.Name, store.ErrConflict)
		}
		return t, fmt.Errorf("saving API token %q of user %d: %w", t.Name, t.UserID, err)
	}
	if t.ID, err = res.LastInsertId(); err != nil {
		return t, err
	}
	return t, nil
}

// APITokenByHash returns the token whose hash is given, with its user, or
// store.ErrNotFound. It does not check expiry: that is the caller's
// policy.
func (s *DB) APITokenByHash(ctx context.Context, hash string) (store.APIToken, error) {
	var t store.APIToken
	var created, expires, used, userCreated, entsAt int64
	var ents string
	err := s.db.QueryRowContext(ctx, `SELECT t.id, t.user_id, t.name, t.hash, t.mode, t.created_at, t.expires_at, t.last_used_at,
			u.id, u.issuer, u.subject, u.name, u.email, u.created_at, u.entitlements, u.entitlements_at
		FROM api_tokens t JOIN users u ON u.id = t.user_id WHERE t.hash = ?`, hash).
		Scan(&t.ID, &t.UserID, &t.Name, &t.Hash, &t.Mode, &created, &expires, &used,
			&t.User.ID, &t.User.Issuer, &t.User.Subject, &t.User.Name, &t.User.Email, &userCreated, &ents, &entsAt)
	if errors.Is(err, sql.ErrNoRows) {
		return store.APIToken{}, store.ErrNotFound
	}
	if err != nil {
		return store.APIToken{}, fmt.Errorf("reading API token: %w", err)
	}
	t.CreatedAt, t.ExpiresAt, t.LastUsedAt = time.Unix(created, 0), time.Unix(expires, 0), timeOrZero(used)
	t.User.CreatedAt = time.Unix(userCreated, 0)
	return t, scanEntitlements(&t.User, ents, entsAt)
}

// TouchAPIToken records when a token was last used.
func (s *DB) TouchAPIToken(ctx context.Context, id int64, at time.Time) error {
	return s.execOne(ctx, "UPDATE api_tokens SET last_used_at = ? WHERE id = ?", at.Unix(), id)
}

// APITokens lists the tokens of one user, newest first. The hashes are
// left out: nothing shows them.
func (s *DB) APITokens(ctx context.Context, userID int64) ([]store.APIToken, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT id, name, mode, created_at, expires_at, last_used_at
		FROM api_tokens WHERE user_id = ? ORDER BY created_at DESC, id DESC`, userID)
	if err != nil {
		return nil, fmt.Errorf("listing API tokens of user %d: %w", userID, err)
	}
	defer rows.Close()
	var out []store.APIToken
	for rows.Next() {
		t := store.APIToken{UserID: userID}
		var created, expires, used int64
		if err := rows.Scan(&t.ID, &t.Name, &t.Mode, &created, &expires, &used); err != nil {
			return nil, err
		}
		t.CreatedAt, t.ExpiresAt, t.LastUsedAt = time.Unix(created, 0), time.Unix(expires, 0), timeOrZero(used)
		out = append(out, t)
	}
	return out, rows.Err()
}

// DeleteAPIToken revokes one of userID's tokens. Another user's token is
// store.ErrNotFound, indistinguishable from one that does not exist.
func (s *DB) DeleteAPIToken(ctx context.Context, userID, id int64) error {
	return s.execOne(ctx, "DELETE FROM api_tokens WHERE id = ? AND user_id = ?", id, userID)
}

// DeleteUserAPITokens revokes every token of userID and reports how many
// there were.
func (s *DB) DeleteUserAPITokens(ctx context.Context, userID int64) (int64, error) {
	res, err := s.db.ExecContext(ctx, "DELETE FROM api_tokens WHERE user_id = ?", userID)
	if err != nil {
		return 0, fmt.Errorf("revoking the API tokens of user %d: %w", userID, err)
	}
	return res.RowsAffected()
}
