package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/fdlstudio/fdlstudio/store"
)

// UpsertUser returns the user identified by issuer and subject, creating
// it on first sight and refreshing its name and e-mail otherwise.
func (s *DB) UpsertUser(ctx context.Context, issuer, subject, name, email string) (store.User, error) {
	now := time.Now()
	_, err := s.db.ExecContext(ctx, `INSERT INTO users (issuer, subject, name, email, created_at)
		VALUES (?, ?, ?, ?, ?)
		ON CONFLICT (issuer, subject) DO UPDATE SET name = excluded.name, email = excluded.email`,
		issuer, subject, name, email, now.Unix())
	if err != nil {
		return store.User{}, fmt.Errorf("saving user %s/%s: %w", issuer, subject, err)
	}
	return s.userBy(ctx, "issuer = ? AND subject = ?", issuer, subject)
}

// User returns the user with the given ID, or store.ErrNotFound.
func (s *DB) User(ctx context.Context, id int64) (store.User, error) {
	return s.userBy(ctx, "id = ?", id)
}

func (s *DB) userBy(ctx context.Context, where string, args ...any) (store.User, error) {
	var u store.User
	var created int64
	err := s.db.QueryRowContext(ctx, "SELECT id, issuer, subject, name, email, created_at FROM users WHERE "+where, args...).
		Scan(&u.ID, &u.Issuer, &u.Subject, &u.Name, &u.Email, &created)
	if errors.Is(err, sql.ErrNoRows) {
		return store.User{}, store.ErrNotFound
	}
	if err != nil {
		return store.User{}, err
	}
	u.CreatedAt = time.Unix(created, 0)
	return u, nil
}
