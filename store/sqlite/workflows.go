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
type Workflows struct{ db *sql.DB }

// Workflows returns the workflow repository.
func (s *DB) Workflows() *Workflows { return &Workflows{db: s.db} }

const selectWorkflow = `SELECT w.id, w.owner_id, w.name, w.version, v.yaml, v.positions,
	COALESCE(w.draft_yaml, ''), COALESCE(w.draft_positions, ''), w.draft_base, w.scripts, w.created_at, w.updated_at
	FROM workflows w JOIN workflow_versions v ON v.workflow_id = w.id AND v.version = w.version`

func scanWorkflow(row scanner) (store.Workflow, error) {
	var w store.Workflow
	var created, updated int64
	var scripts string
	err := row.Scan(&w.ID, &w.OwnerID, &w.Name, &w.Version, &w.YAML, &w.Positions,
		&w.Draft, &w.DraftPositions, &w.DraftBase, &scripts, &created, &updated)
	if err == nil {
		err = json.Unmarshal([]byte(scripts), &w.Scripts)
	}
	w.CreatedAt, w.UpdatedAt = time.Unix(created, 0), time.Unix(updated, 0)
	return w, err
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
		w, err := scanWorkflow(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, w)
	}
	return out, rows.Err()
}

// Get returns ownerID's workflow id, or store.ErrNotFound.
func (r *Workflows) Get(ctx context.Context, ownerID, id int64) (store.Workflow, error) {
	w, err := scanWorkflow(r.db.QueryRowContext(ctx, selectWorkflow+" WHERE w.owner_id = ? AND w.id = ?", ownerID, id))
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
	if _, err := tx.ExecContext(ctx, `INSERT INTO workflow_versions (workflow_id, version, yaml, positions, created_at, author_id) VALUES (?, 1, ?, ?, ?, ?)`,
		id, yaml, orEmptyJSON(positions), now, ownerID); err != nil {
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
	if _, err := tx.ExecContext(ctx, `INSERT INTO workflow_versions (workflow_id, version, yaml, positions, created_at, author_id, message) VALUES (?, ?, ?, ?, ?, ?, ?)`,
		id, next, yaml, orEmptyJSON(positions), now, ownerID, message); err != nil {
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
		y, p = yaml, orEmptyJSON(positions)
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
	err := r.db.QueryRowContext(ctx, `SELECT v.version, v.yaml, v.positions, v.created_at FROM workflow_versions v
		JOIN workflows w ON w.id = v.workflow_id WHERE w.owner_id = ? AND w.id = ? AND v.version = ?`, ownerID, id, version).
		Scan(&v.Version, &v.YAML, &v.Positions, &at)
	if errors.Is(err, sql.ErrNoRows) {
		return v, store.ErrNotFound
	}
	v.CreatedAt = time.Unix(at, 0)
	return v, err
}

// VersionList lists the saved versions of a workflow, newest first,
// without their text; store.ErrNotFound when the workflow is not the
// owner's. A version saved before authors were recorded names the owner.
func (r *Workflows) VersionList(ctx context.Context, ownerID, id int64) ([]store.WorkflowVersionInfo, error) {
	rows, err := r.db.QueryContext(ctx, `SELECT v.version, v.created_at, COALESCE(u.name, ''), v.message, octet_length(v.yaml)
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
