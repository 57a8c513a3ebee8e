package sqlite

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/fdlstudio/fdlstudio/store"
)

// Clusters is the repository of users' cluster registrations. It seals
// credentials with the server's key on the way in and opens them on the
// way out, so callers only ever see plain values in memory.
type Clusters struct {
	db     *sql.DB
	sealer *store.Sealer
}

// Clusters returns the cluster repository, sealing secrets with sealer.
func (s *DB) Clusters(sealer *store.Sealer) *Clusters {
	return &Clusters{db: s.db, sealer: sealer}
}

// credentials is the sealed credentials blob of a registration. Its
// shape depends on the auth kind: basic has a username and password,
// token has nothing (the user's own token is sent), and AWS keys will add
// their fields here. Stored as JSON, then sealed whole.
type credentials struct {
	Username string `json:"username,omitempty"`
	Password string `json:"password,omitempty"`
}

// authKinds are the auth kinds each cluster kind accepts; the database
// no longer constrains them, so that new kinds need no table rebuild.
var authKinds = map[string][]string{
	store.KindOSCAR: {store.AuthBasic, store.AuthToken},
	store.KindLocal: {store.AuthBasic},
	store.KindAWS:   {store.AuthAWSKeys, store.AuthAWSDefaultChain},
}

// withSecret are the auth kinds whose Username and Password are sealed:
// a user and password, or an AWS access key id and secret.
func withSecret(authKind string) bool {
	return authKind == store.AuthBasic || authKind == store.AuthAWSKeys
}

// credentialsPurpose is the associated data a registration's credentials
// are sealed with. It binds them to the row (its id and owner), to the
// cluster and auth kinds and to the endpoint they are sent to, so a
// sealed blob copied to another row, or a row whose endpoint is changed
// in the database, does not open.
func credentialsPurpose(id, ownerID int64, kind, authKind, endpoint string) string {
	// JSON keeps the parts apart whatever characters they hold.
	b, _ := json.Marshal([]any{"cluster-credentials/v2", id, ownerID, kind, authKind, endpoint})
	return string(b)
}

// legacyPasswordPurpose is how schema 3 sealed a password (bound to owner
// and name only); only migration 0004 opens it.
func legacyPasswordPurpose(ownerID int64, name string) string {
	return "cluster:" + strconv.FormatInt(ownerID, 10) + ":" + name + ":password"
}

// resealClusterCredentials is the Go step of migration 0004: it moves
// each row's legacy username and sealed password into credentials
// sealed with credentialsPurpose, then drops the legacy columns.
func resealClusterCredentials(ctx context.Context, tx *sql.Tx, sealer *store.Sealer) error {
	type legacy struct {
		id, owner                                int64
		name, kind, auth, endpoint, user, sealed string
	}
	rows, err := tx.QueryContext(ctx, `SELECT id, owner_id, name, kind, auth_kind, endpoint, legacy_username, legacy_password_sealed
		FROM clusters WHERE legacy_username <> '' OR legacy_password_sealed <> ''`)
	if err != nil {
		return err
	}
	var todo []legacy
	for rows.Next() {
		var l legacy
		if err := rows.Scan(&l.id, &l.owner, &l.name, &l.kind, &l.auth, &l.endpoint, &l.user, &l.sealed); err != nil {
			rows.Close()
			return err
		}
		todo = append(todo, l)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return err
	}
	if len(todo) > 0 && sealer == nil {
		return errors.New("stored cluster credentials must be re-sealed, which needs the secret key (sqlite.WithSealer)")
	}
	for _, l := range todo {
		cred := credentials{Username: l.user}
		if l.sealed != "" {
			pw, err := sealer.Open(l.sealed, legacyPasswordPurpose(l.owner, l.name))
			if err != nil {
				return fmt.Errorf("cluster %q of user %d: %w", l.name, l.owner, err)
			}
			cred.Password = string(pw)
		}
		sealed, err := sealCredentials(sealer, cred, credentialsPurpose(l.id, l.owner, l.kind, l.auth, l.endpoint))
		if err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, "UPDATE clusters SET credentials_sealed = ? WHERE id = ?", sealed, l.id); err != nil {
			return err
		}
	}
	for _, col := range []string{"legacy_username", "legacy_password_sealed"} {
		if _, err := tx.ExecContext(ctx, "ALTER TABLE clusters DROP COLUMN "+col); err != nil {
			return err
		}
	}
	return nil
}

func sealCredentials(sealer *store.Sealer, cred credentials, purpose string) (string, error) {
	if cred == (credentials{}) {
		return "", nil
	}
	data, err := json.Marshal(cred)
	if err != nil {
		return "", err
	}
	return sealer.Seal(data, purpose)
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
// a cluster of that name already. An empty Kind is stored as
// store.KindOSCAR.
func (r *Clusters) Create(ctx context.Context, c store.Cluster) (store.Cluster, error) {
	c.Kind = kindOrDefault(c.Kind)
	if err := checkAuthKind(c); err != nil {
		return store.Cluster{}, err
	}
	tx, err := r.db.BeginTx(ctx, nil)
	if err != nil {
		return store.Cluster{}, err
	}
	defer tx.Rollback()
	now := time.Now()
	res, err := tx.ExecContext(ctx, `INSERT INTO clusters
		(owner_id, name, kind, endpoint, auth_kind, insecure_tls, created_at, updated_at)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?)`,
		c.OwnerID, c.Name, c.Kind, c.Endpoint, c.AuthKind, c.InsecureTLS, now.Unix(), now.Unix())
	if isUniqueViolation(err) {
		return store.Cluster{}, fmt.Errorf("cluster %q: %w", c.Name, store.ErrConflict)
	}
	if err != nil {
		return store.Cluster{}, err
	}
	// The id is part of what the credentials are bound to, so they are
	// sealed once the row has one.
	if c.ID, err = res.LastInsertId(); err != nil {
		return store.Cluster{}, err
	}
	sealed, err := r.seal(c)
	if err != nil {
		return store.Cluster{}, err
	}
	if _, err := tx.ExecContext(ctx, "UPDATE clusters SET credentials_sealed = ? WHERE id = ?", sealed, c.ID); err != nil {
		return store.Cluster{}, err
	}
	if err := tx.Commit(); err != nil {
		return store.Cluster{}, err
	}
	c.CreatedAt, c.UpdatedAt = time.Unix(now.Unix(), 0), time.Unix(now.Unix(), 0)
	return c, nil
}

// Update replaces the registration called oldName (renaming it to c.Name
// when they differ). An empty c.Password with basic auth keeps the stored
// password (an AWS account's secret key likewise), so an edit form need
// not send it back. An empty Kind keeps
// the stored kind.
func (r *Clusters) Update(ctx context.Context, oldName string, c store.Cluster) error {
	tx, err := r.db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	var old store.Cluster
	var oldSealed string
	err = tx.QueryRowContext(ctx, "SELECT id, kind, auth_kind, endpoint, credentials_sealed FROM clusters WHERE owner_id = ? AND name = ?",
		c.OwnerID, oldName).Scan(&old.ID, &old.Kind, &old.AuthKind, &old.Endpoint, &oldSealed)
	if errors.Is(err, sql.ErrNoRows) {
		return store.ErrNotFound
	}
	if err != nil {
		return err
	}
	c.ID = old.ID
	if c.Kind == "" {
		c.Kind = old.Kind
	}
	if err := checkAuthKind(c); err != nil {
		return err
	}
	// The stored password is opened only when it is kept, so a row whose
	// secret no longer opens can still be repaired with a new one.
	if withSecret(c.AuthKind) && c.Password == "" && old.AuthKind == c.AuthKind && oldSealed != "" {
		cred, err := r.open(oldSealed, old.ID, c.OwnerID, old.Kind, old.AuthKind, old.Endpoint)
		if err != nil {
			return fmt.Errorf("cluster %q: %w", oldName, err)
		}
		c.Password = cred.Password
	}
	sealed, err := r.seal(c)
	if err != nil {
		return err
	}
	_, err = tx.ExecContext(ctx, `UPDATE clusters SET name = ?, kind = ?, endpoint = ?, auth_kind = ?,
		credentials_sealed = ?, insecure_tls = ?, updated_at = ? WHERE id = ?`,
		c.Name, c.Kind, c.Endpoint, c.AuthKind, sealed, c.InsecureTLS, time.Now().Unix(), c.ID)
	if isUniqueViolation(err) {
		return fmt.Errorf("cluster %q: %w", c.Name, store.ErrConflict)
	}
	if err != nil {
		return err
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

const selectCluster = `SELECT id, owner_id, name, kind, endpoint, auth_kind, credentials_sealed,
	insecure_tls, created_at, updated_at FROM clusters`

type scanner interface{ Scan(...any) error }

func (r *Clusters) scan(row scanner) (store.Cluster, error) {
	var c store.Cluster
	var sealed string
	var created, updated int64
	if err := row.Scan(&c.ID, &c.OwnerID, &c.Name, &c.Kind, &c.Endpoint, &c.AuthKind, &sealed,
		&c.InsecureTLS, &created, &updated); err != nil {
		return store.Cluster{}, err
	}
	if sealed != "" {
		cred, err := r.open(sealed, c.ID, c.OwnerID, c.Kind, c.AuthKind, c.Endpoint)
		if err != nil {
			return store.Cluster{}, fmt.Errorf("cluster %q: %w", c.Name, err)
		}
		c.Username, c.Password = cred.Username, cred.Password
	}
	c.CreatedAt, c.UpdatedAt = time.Unix(created, 0), time.Unix(updated, 0)
	return c, nil
}

// open opens a row's sealed credentials.
func (r *Clusters) open(sealed string, id, ownerID int64, kind, authKind, endpoint string) (credentials, error) {
	var cred credentials
	data, err := r.sealer.Open(sealed, credentialsPurpose(id, ownerID, kind, authKind, endpoint))
	if err != nil {
		return cred, err
	}
	if err := json.Unmarshal(data, &cred); err != nil {
		return cred, fmt.Errorf("stored credentials: %w", err)
	}
	return cred, nil
}

// seal seals c's credentials, the fields its auth kind uses, bound to
// its row and endpoint.
func (r *Clusters) seal(c store.Cluster) (string, error) {
	var cred credentials
	if withSecret(c.AuthKind) {
		cred = credentials{Username: c.Username, Password: c.Password}
	}
	return sealCredentials(r.sealer, cred, credentialsPurpose(c.ID, c.OwnerID, c.Kind, c.AuthKind, c.Endpoint))
}

func kindOrDefault(kind string) string {
	if kind == "" {
		return store.KindOSCAR
	}
	return kind
}

// checkAuthKind refuses a kind or auth kind the store does not know, with
// a message that names the cluster and what is accepted.
func checkAuthKind(c store.Cluster) error {
	allowed, ok := authKinds[c.Kind]
	if !ok {
		return fmt.Errorf("cluster %q: unknown kind %q (want oscar, local or aws)", c.Name, c.Kind)
	}
	if !slices.Contains(allowed, c.AuthKind) {
		return fmt.Errorf("cluster %q: a %s cluster does not take auth kind %q (want %s)", c.Name, c.Kind, c.AuthKind, strings.Join(allowed, " or "))
	}
	return nil
}

func isUniqueViolation(err error) bool {
	return err != nil && strings.Contains(err.Error(), "UNIQUE constraint failed")
}
