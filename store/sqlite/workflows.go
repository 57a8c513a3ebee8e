package sqlite

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/fdlstudio/fdlstudio/store"
)

// Workflows is the repository of users' workflows and their versions.
// Every method takes the owner: another user's workflow is ErrNotFound.
// The FDL texts (each version's and the draft) may hold credentials, so
// they are sealed with the server's key (the one given to Open with
// WithSealer), each bound to its row; names and positions stay plain.
type Workflows struct {
	db     *sql.DB
	sealer *store.Sealer
}

// Workflows returns the workflow repository, sealing texts with the
// sealer Open was given.
func (s *DB) Workflows() *Workflows { return &Workflows{db: s.db, sealer: s.sealer} }

// errNoWorkflowSealer is why texts cannot be written or read without a
// sealer.
var errNoWorkflowSealer = errors.New("workflow texts are stored encrypted, which needs the secret key (sqlite.WithSealer)")

// WorkflowVersionPurpose and draftPurpose are the associated data a
// version's text and the draft are sealed with: bound to the owner, the
// workflow and the version (or the draft), so a sealed text copied to
// another row does not open. Exported for tests that read the file.
func WorkflowVersionPurpose(ownerID, id int64, version int) string {
	b, _ := json.Marshal([]any{"workflow-version/v1", ownerID, id, version})
	return string(b)
}

func draftPurpose(ownerID, id int64) string {
	b, _ := json.Marshal([]any{"workflow-draft/v1", ownerID, id})
	return string(b)
}

func sealText(sealer *store.Sealer, text, purpose string) (string, error) {
	if sealer == nil {
		return "", errNoWorkflowSealer
	}
	return sealer.Seal([]byte(text), purpose)
}

// openText opens a sealed text; what names the row in the error.
func openText(sealer *store.Sealer, sealed, purpose, what string) (string, error) {
	if sealer == nil {
		return "", fmt.Errorf("%s: %w", what, errNoWorkflowSealer)
	}
	pt, err := sealer.Open(sealed, purpose)
	if err != nil {
		return "", fmt.Errorf("%s: %w", what, err)
	}
	return string(pt), nil
}

// sealWorkflowTexts is the Go step of migration 0013: it seals, bound to
// its row, the text of every version stored in plain (yaml_size NULL,
// recording its size) and every draft not sealed yet. Run twice, it
// changes nothing the second time.
func sealWorkflowTexts(ctx context.Context, tx *sql.Tx, sealer *store.Sealer) error {
	type plain struct {
		owner, id int64
		version   int
		text      string
	}
	collect := func(query string) ([]plain, error) {
		rows, err := tx.QueryContext(ctx, query)
		if err != nil {
			return nil, err
		}
		defer rows.Close()
		var out []plain
		for rows.Next() {
			var p plain
			if err := rows.Scan(&p.owner, &p.id, &p.version, &p.text); err != nil {
				return nil, err
			}
			out = append(out, p)
		}
		return out, rows.Err()
	}
	versions, err := collect(`SELECT w.owner_id, w.id, v.version, v.yaml FROM workflow_versions v
		JOIN workflows w ON w.id = v.workflow_id WHERE v.yaml_size IS NULL`)
	if err != nil {
		return err
	}
	drafts, err := collect(`SELECT owner_id, id, 0, draft_yaml FROM workflows WHERE draft_yaml IS NOT NULL`)
	if err != nil {
		return err
	}
	if len(versions)+len(drafts) > 0 && sealer == nil {
		return errors.New("stored workflow texts must be encrypted, which needs the secret key (sqlite.WithSealer)")
	}
	for _, p := range versions {
		sealed, err := sealer.Seal([]byte(p.text), WorkflowVersionPurpose(p.owner, p.id, p.version))
		if err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, `UPDATE workflow_versions SET yaml = ?, yaml_size = ? WHERE workflow_id = ? AND version = ?`,
			sealed, len(p.text), p.id, p.version); err != nil {
			return err
		}
	}
	for _, p := range drafts {
		if _, err := sealer.Open(p.text, draftPurpose(p.owner, p.id)); err == nil {
			continue // sealed already: only an authentic sealed draft opens
		}
		sealed, err := sealer.Seal([]byte(p.text), draftPurpose(p.owner, p.id))
		if err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, `UPDATE workflows SET draft_yaml = ? WHERE id = ?`, sealed, p.id); err != nil {
			return err
		}
	}
	return nil
}

const selectWorkflow = `SELECT w.id, w.owner_id, w.name, w.version, v.yaml, v.positions,
	COALESCE(w.draft_yaml, ''), COALESCE(w.draft_positions, ''), w.draft_base, w.scripts, w.created_at, w.updated_at
	FROM workflows w JOIN workflow_versions v ON v.workflow_id = w.id AND v.version = w.version`

func (r *Workflows) scan(row scanner) (store.Workflow, error) {
	var w store.Workflow
	var created, updated int64
	var scripts, text, draft string
	err := row.Scan(&w.ID, &w.OwnerID, &w.Name, &w.Version, &text, &w.Positions,
		&draft, &w.DraftPositions, &w.DraftBase, &scripts, &created, &updated)
	if err != nil {
		return w, err
	}
	if err := json.Unmarshal([]byte(scripts), &w.Scripts); err != nil {
		return w, err
	}
	w.CreatedAt, w.UpdatedAt = time.Unix(created, 0), time.Unix(updated, 0)
	what := fmt.Sprintf("workflow %d of user %d", w.ID, w.OwnerID)
	if w.YAML, err = openText(r.sealer, text, WorkflowVersionPurpose(w.OwnerID, w.ID, w.Version), fmt.Sprintf("%s, version %d", what, w.Version)); err != nil {
		return w, err
	}
	if draft != "" {
		if w.Draft, err = openText(r.sealer, draft, draftPurpose(w.OwnerID, w.ID), what+", draft"); err != nil {
			return w, err
		}
	}
	return w, nil
}

// List returns ownerID's workflows, most recently changed first.
func (r *Workflows) List(ctx context.Context, ownerID int64) ([]store.Workflow, error) {
	rows, err := r.db.QueryContext(ctx, selectWorkflow+" WHERE w.owner_id = ? ORDER BY w.updated_at DESC, w.id DESC", ownerID)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []store.Workflow
	for rows.Next() {
		w, err := r.scan(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, w)
	}
	return out, rows.Err()
}

// Get returns ownerID's workflow id, or store.ErrNotFound.
func (r *Workflows) Get(ctx context.Context, ownerID, id int64) (store.Workflow, error) {
	w, err := r.scan(r.db.QueryRowContext(ctx, selectWorkflow+" WHERE w.owner_id = ? AND w.id = ?", ownerID, id))
	if errors.Is(err, sql.ErrNoRows) {
		return store.Workflow{}, store.ErrNotFound
	}
	return w, err
}

// Create stores a new workflow with its first version and the script
// files that came with it.
func (r *Workflows) Create(ctx context.Context, ownerID int64, name, yaml, positions string, scripts map[string]string) (store.Workflow, error) {
	if scripts == nil {
		scripts = map[string]string{}
	}
	sj, err := json.Marshal(scripts)
	if err != nil {
		return store.Workflow{}, err
	}
	tx, err := r.db.BeginTx(ctx, nil)
	if err != nil {
		return store.Workflow{}, err
	}
	defer tx.Rollback()
	now := time.Now().Unix()
	res, err := tx.ExecContext(ctx, `INSERT INTO workflows (owner_id, name, version, scripts, created_at, updated_at) VALUES (?, ?, 1, ?, ?, ?)`,
		ownerID, name, string(sj), now, now)
	if err != nil {
		return store.Workflow{}, err
	}
	id, _ := res.LastInsertId()
	sealed, err := sealText(r.sealer, yaml, WorkflowVersionPurpose(ownerID, id, 1))
	if err != nil {
		return store.Workflow{}, err
	}
	if _, err := tx.ExecContext(ctx, `INSERT INTO workflow_versions (workflow_id, version, yaml, yaml_size, positions, created_at, author_id) VALUES (?, 1, ?, ?, ?, ?, ?)`,
		id, sealed, len(yaml), orEmptyJSON(positions), now, ownerID); err != nil {
		return store.Workflow{}, err
	}
	if err := tx.Commit(); err != nil {
		return store.Workflow{}, err
	}
	return r.Get(ctx, ownerID, id)
}

// Save adds a version based on version base, with the owner as its
// author and message (may be empty), and clears the draft. When base is
// not the latest version (the workflow was saved elsewhere in the
// meantime) nothing is written and the error is store.ErrConflict.
func (r *Workflows) Save(ctx context.Context, ownerID, id int64, base int, name, yaml, positions, message string) (int, error) {
	tx, err := r.db.BeginTx(ctx, nil)
	if err != nil {
		return 0, err
	}
	defer tx.Rollback()
	var cur int
	err = tx.QueryRowContext(ctx, `SELECT version FROM workflows WHERE owner_id = ? AND id = ?`, ownerID, id).Scan(&cur)
	if errors.Is(err, sql.ErrNoRows) {
		return 0, store.ErrNotFound
	}
	if err != nil {
		return 0, err
	}
	if cur != base {
		return 0, fmt.Errorf("workflow saved as version %d since version %d was opened: %w", cur, base, store.ErrConflict)
	}
	now := time.Now().Unix()
	next := cur + 1
	sealed, err := sealText(r.sealer, yaml, WorkflowVersionPurpose(ownerID, id, next))
	if err != nil {
		return 0, err
	}
	if _, err := tx.ExecContext(ctx, `INSERT INTO workflow_versions (workflow_id, version, yaml, yaml_size, positions, created_at, author_id, message) VALUES (?, ?, ?, ?, ?, ?, ?, ?)`,
		id, next, sealed, len(yaml), orEmptyJSON(positions), now, ownerID, message); err != nil {
		return 0, err
	}
	if _, err := tx.ExecContext(ctx, `UPDATE workflows SET version = ?, name = ?, draft_yaml = NULL, draft_positions = NULL, draft_base = 0, updated_at = ? WHERE id = ?`,
		next, name, now, id); err != nil {
		return 0, err
	}
	return next, tx.Commit()
}

// SaveDraft stores unsaved work (started from version base) so that it
// survives a restart; an empty yaml clears the draft.
func (r *Workflows) SaveDraft(ctx context.Context, ownerID, id int64, base int, yaml, positions string) error {
	var y, p any
	if yaml != "" {
		sealed, err := sealText(r.sealer, yaml, draftPurpose(ownerID, id))
		if err != nil {
			return err
		}
		y, p = sealed, orEmptyJSON(positions)
	}
	res, err := r.db.ExecContext(ctx, `UPDATE workflows SET draft_yaml = ?, draft_positions = ?, draft_base = ?, updated_at = ? WHERE owner_id = ? AND id = ?`,
		y, p, base, time.Now().Unix(), ownerID, id)
	if err != nil {
		return err
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return store.ErrNotFound
	}
	return nil
}

// Version returns one saved version of a workflow; store.ErrNotFound when
// the workflow is not the owner's or has no such version.
func (r *Workflows) Version(ctx context.Context, ownerID, id int64, version int) (store.WorkflowVersion, error) {
	var v store.WorkflowVersion
	var at int64
	var sealed string
	err := r.db.QueryRowContext(ctx, `SELECT v.version, v.yaml, v.positions, v.created_at FROM workflow_versions v
		JOIN workflows w ON w.id = v.workflow_id WHERE w.owner_id = ? AND w.id = ? AND v.version = ?`, ownerID, id, version).
		Scan(&v.Version, &sealed, &v.Positions, &at)
	if errors.Is(err, sql.ErrNoRows) {
		return v, store.ErrNotFound
	}
	if err != nil {
		return v, err
	}
	v.CreatedAt = time.Unix(at, 0)
	v.YAML, err = openText(r.sealer, sealed, WorkflowVersionPurpose(ownerID, id, version),
		fmt.Sprintf("workflow %d of user %d, version %d", id, ownerID, version))
	return v, err
}

// VersionList lists the saved versions of a workflow, newest first,
// without their text; store.ErrNotFound when the workflow is not the
// owner's. A version saved before authors were recorded names the owner.
func (r *Workflows) VersionList(ctx context.Context, ownerID, id int64) ([]store.WorkflowVersionInfo, error) {
	rows, err := r.db.QueryContext(ctx, `SELECT v.version, v.created_at, COALESCE(u.name, ''), v.message, COALESCE(v.yaml_size, 0)
		FROM workflow_versions v JOIN workflows w ON w.id = v.workflow_id
		LEFT JOIN users u ON u.id = COALESCE(v.author_id, w.owner_id)
		WHERE w.owner_id = ? AND w.id = ? ORDER BY v.version DESC`, ownerID, id)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []store.WorkflowVersionInfo
	for rows.Next() {
		var v store.WorkflowVersionInfo
		var at int64
		if err := rows.Scan(&v.Version, &at, &v.Author, &v.Message, &v.Size); err != nil {
			return nil, err
		}
		v.CreatedAt = time.Unix(at, 0)
		out = append(out, v)
	}
	if err := rows.Err(); err != nil {
		return nil, err
	}
	if len(out) == 0 {
		return nil, store.ErrNotFound
	}
	return out, nil
}

// Delete removes a workflow with all its versions.
func (r *Workflows) Delete(ctx context.Context, ownerID, id int64) error {
	res, err := r.db.ExecContext(ctx, `DELETE FROM workflows WHERE owner_id = ? AND id = ?`, ownerID, id)
	if err != nil {
		return err
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return store.ErrNotFound
	}
	return nil
}

func orEmptyJSON(s string) string {
	if s == "" {
		return "{}"
	}
	return s
}
