package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/fdlstudio/fdlstudio/store"
)

// Clusters is the repository of users' cluster registrations. It seals
// passwords with the server's key on the way in and opens them on the
// way out, so callers only ever see plain values in memory.
type Clusters struct {
	db     *sql.DB
	sealer *store.Sealer
}

// Clusters returns the cluster repository, sealing secrets with sealer.
func (s *DB) Clusters(sealer *store.Sealer) *Clusters {
	return &Clusters{db: s.db, sealer: sealer}
}

// passwordPurpose binds a sealed password to its owner and row, so a
// value copied into another row does not open.
func passwordPurpose(ownerID int64, name string) string {
	return "cluster:" + strconv.FormatInt(ownerID, 10) + ":" + name + ":password"
}

// List returns the clusters ownerID registered, by name.
func (r *Clusters) List(ctx context.Context, ownerID int64) ([]store.Cluster, error) {
	rows, err := r.db.QueryContext(ctx, selectCluster+" WHERE owner_id = ? ORDER BY name", ownerID)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []store.Cluster
	for rows.Next() {
		c, err := r.scan(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, c)
	}
	return out, rows.Err()
}

// Get returns ownerID's cluster called name, or store.ErrNotFound (also
// when the name belongs to another user's cluster).
func (r *Clusters) Get(ctx context.Context, ownerID int64, name string) (store.Cluster, error) {
	c, err := r.scan(r.db.QueryRowContext(ctx, selectCluster+" WHERE owner_id = ? AND name = ?", ownerID, name))
	if errors.Is(err, sql.ErrNoRows) {
		return store.Cluster{}, store.ErrNotFound
	}
	return c, err
}

// Create stores a new registration; store.ErrConflict when the owner has
// a cluster of that name already.
func (r *Clusters) Create(ctx context.Context, c store.Cluster) (store.Cluster, error) {
	sealed, err := r.seal(c)
	if err != nil {
		return store.Cluster{}, err
	}
	now := time.Now()
	res, err := r.db.ExecContext(ctx, `INSERT INTO clusters
		(owner_id, name, endpoint, auth_kind, username, password_sealed, insecure_tls, created_at, updated_at)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		c.OwnerID, c.Name, c.Endpoint, c.AuthKind, c.Username, sealed, c.InsecureTLS, now.Unix(), now.Unix())
	if isUniqueViolation(err) {
		return store.Cluster{}, fmt.Errorf("cluster %q: %w", c.Name, store.ErrConflict)
	}
	if err != nil {
		return store.Cluster{}, err
	}
	c.ID, _ = res.LastInsertId()
	c.CreatedAt, c.UpdatedAt = time.Unix(now.Unix(), 0), time.Unix(now.Unix(), 0)
	return c, nil
}

// Update replaces the registration called oldName (renaming it to c.Name
// when they differ). An empty c.Password with basic auth keeps the stored
// password, so an edit form need not send it back.
func (r *Clusters) Update(ctx context.Context, oldName string, c store.Cluster) error {
	tx, err := r.db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	if c.AuthKind == store.AuthBasic && c.Password == "" {
		var sealed string
		err := tx.QueryRowContext(ctx, "SELECT password_sealed FROM clusters WHERE owner_id = ? AND name = ?", c.OwnerID, oldName).Scan(&sealed)
		if errors.Is(err, sql.ErrNoRows) {
			return store.ErrNotFound
		}
		if err != nil {
			return err
		}
		if sealed != "" {
			pw, err := r.sealer.Open(sealed, passwordPurpose(c.OwnerID, oldName))
			if err != nil {
				return err
			}
			c.Password = string(pw)
		}
	}
	sealed, err := r.seal(c)
	if err != nil {
		return err
	}
	res, err := tx.ExecContext(ctx, `UPDATE clusters SET name = ?, endpoint = ?, auth_kind = ?, username = ?,
		password_sealed = ?, insecure_tls = ?, updated_at = ? WHERE owner_id = ? AND name = ?`,
		c.Name, c.Endpoint, c.AuthKind, c.Username, sealed, c.InsecureTLS, time.Now().Unix(), c.OwnerID, oldName)
	if isUniqueViolation(err) {
		return fmt.Errorf("cluster %q: %w", c.Name, store.ErrConflict)
	}
	if err != nil {
		return err
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return store.ErrNotFound
	}
	return tx.Commit()
}

// Delete removes ownerID's cluster called name; store.ErrNotFound if
// there is none.
func (r *Clusters) Delete(ctx context.Context, ownerID int64, name string) error {
	res, err := r.db.ExecContext(ctx, "DELETE FROM clusters WHERE owner_id = ? AND name = ?", ownerID, name)
	if err != nil {
		return err
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return store.ErrNotFound
	}
	return nil
}

const selectCluster = `SELECT id, owner_id, name, endpoint, auth_kind, username, password_sealed,
	insecure_tls, created_at, updated_at FROM clusters`

type scanner interface{ Scan(...any) error }

func (r *Clusters) scan(row scanner) (store.Cluster, error) {
	var c store.Cluster
	var sealed string
	var created, updated int64
	if err := row.Scan(&c.ID, &c.OwnerID, &c.Name, &c.Endpoint, &c.AuthKind, &c.Username, &sealed,
		&c.InsecureTLS, &created, &updated); err != nil {
		return store.Cluster{}, err
	}
	if sealed != "" {
		pw, err := r.sealer.Open(sealed, passwordPurpose(c.OwnerID, c.Name))
		if err != nil {
			return store.Cluster{}, fmt.Errorf("cluster %q: %w", c.Name, err)
		}
		c.Password = string(pw)
	}
	c.CreatedAt, c.UpdatedAt = time.Unix(created, 0), time.Unix(updated, 0)
	return c, nil
}

func (r *Clusters) seal(c store.Cluster) (string, error) {
	if c.Password == "" {
		return "", nil
	}
	return r.sealer.Seal([]byte(c.Password), passwordPurpose(c.OwnerID, c.Name))
}

func isUniqueViolation(err error) bool {
	return err != nil && strings.Contains(err.Error(), "UNIQUE constraint failed")
}
