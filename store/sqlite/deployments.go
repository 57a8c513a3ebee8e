package sqlite

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"strconv"
	"time"

	"github.com/fdlstudio/fdlstudio/store"
)

// Deployments is the repository of deployment records and their journals
// (backends/deploy), and of the cluster mapping remembered per workflow.
// Previous definitions are sealed with the server's key.
type Deployments struct {
	db     *sql.DB
	sealer *store.Sealer
}

// Deployments returns the deployment repository, sealing with sealer.
func (s *DB) Deployments(sealer *store.Sealer) *Deployments {
	return &Deployments{db: s.db, sealer: sealer}
}

func previousPurpose(id int64, cluster, name string) string {
	return "deployment:" + strconv.FormatInt(id, 10) + ":" + cluster + ":" + name + ":previous"
}

func deploymentCredentialsPurpose(id int64, cluster, name string) string {
	return "deployment:" + strconv.FormatInt(id, 10) + ":" + cluster + ":" + name + ":credentials"
}

// Begin records a new deployment, every function in state planned (or
// the state given), and marks the owner's earlier deployments of the same
// workflow that are still running as interrupted: a new apply supersedes
// them. It returns d with its ID and times set.
func (r *Deployments) Begin(ctx context.Context, d store.Deployment) (store.Deployment, error) {
	clusters, err := json.Marshal(orEmptyList(d.Clusters))
	if err != nil {
		return d, err
	}
	tx, err := r.db.BeginTx(ctx, nil)
	if err != nil {
		return d, err
	}
	defer tx.Rollback()
	now := time.Now()
	if _, err := tx.ExecContext(ctx, `UPDATE deployments SET outcome = ?, finished_at = ?
		WHERE owner_id = ? AND workflow = ? AND outcome = ?`,
		store.DeploymentInterrupted, now.Unix(), d.OwnerID, d.Workflow, store.DeploymentRunning); err != nil {
		return d, err
	}
	if d.Outcome == "" {
		d.Outcome = store.DeploymentRunning
	}
	res, err := tx.ExecContext(ctx, `INSERT INTO deployments (owner_id, user_name, workflow, version, clusters, outcome, started_at)
		VALUES (?, ?, ?, ?, ?, ?, ?)`, d.OwnerID, d.User, d.Workflow, d.Version, string(clusters), d.Outcome, now.Unix())
	if err != nil {
		return d, err
	}
	d.ID, _ = res.LastInsertId()
	d.StartedAt = time.Unix(now.Unix(), 0)
	for i := range d.Functions {
		f := &d.Functions[i]
		if f.State == "" {
			f.State = store.FunctionPlanned
		}
		sealed, err := r.sealPrevious(d.ID, f.Cluster, f.Name, f.Previous)
		if err != nil {
			return d, err
		}
		creds, err := r.seal(f.Credentials, deploymentCredentialsPurpose(d.ID, f.Cluster, f.Name))
		if err != nil {
			return d, err
		}
		f.UpdatedAt = d.StartedAt
		if _, err := tx.ExecContext(ctx, `INSERT INTO deployment_functions
			(deployment_id, seq, cluster, fdl_cluster, name, action, state, message, applied, previous_sealed, credentials_sealed, updated_at)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
			d.ID, i, f.Cluster, f.FDLCluster, f.Name, f.Action, f.State, f.Message, string(f.Applied), sealed, creds, now.Unix()); err != nil {
			if isUniqueViolation(err) {
				return d, fmt.Errorf("function %q on cluster %q is twice in the deployment: %w", f.Name, f.Cluster, store.ErrConflict)
			}
			return d, err
		}
	}
	return d, tx.Commit()
}

func (r *Deployments) sealPrevious(id int64, cluster, name string, prev []byte) (string, error) {
	return r.seal(prev, previousPurpose(id, cluster, name))
}

func (r *Deployments) seal(v []byte, purpose string) (string, error) {
	if len(v) == 0 {
		return "", nil
	}
	return r.sealer.Seal(v, purpose)
}

// Mark records a function's new state and message. previous, when not
// nil, replaces the definition kept for rollback. store.ErrNotFound if
// the deployment has no such function.
func (r *Deployments) Mark(ctx context.Context, id int64, cluster, name, state, message string, previous []byte) error {
	now := time.Now().Unix()
	var res sql.Result
	var err error
	if previous != nil {
		sealed, serr := r.sealPrevious(id, cluster, name, previous)
		if serr != nil {
			return serr
		}
		res, err = r.db.ExecContext(ctx, `UPDATE deployment_functions SET state = ?, message = ?, previous_sealed = ?, updated_at = ?
			WHERE deployment_id = ? AND cluster = ? AND name = ?`, state, message, sealed, now, id, cluster, name)
	} else {
		res, err = r.db.ExecContext(ctx, `UPDATE deployment_functions SET state = ?, message = ?, updated_at = ?
			WHERE deployment_id = ? AND cluster = ? AND name = ?`, state, message, now, id, cluster, name)
	}
	if err != nil {
		return err
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return store.ErrNotFound
	}
	return nil
}

// Finish records the deployment's outcome and end time.
func (r *Deployments) Finish(ctx context.Context, id int64, outcome string) error {
	res, err := r.db.ExecContext(ctx, "UPDATE deployments SET outcome = ?, finished_at = ? WHERE id = ?", outcome, time.Now().Unix(), id)
	if err != nil {
		return err
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return store.ErrNotFound
	}
	return nil
}

// Get returns ownerID's deployment id with its functions (previous
// definitions opened), or store.ErrNotFound.
func (r *Deployments) Get(ctx context.Context, ownerID, id int64) (store.Deployment, error) {
	ds, err := r.query(ctx, "WHERE owner_id = ? AND id = ?", ownerID, id)
	if err != nil {
		return store.Deployment{}, err
	}
	if len(ds) == 0 {
		return store.Deployment{}, store.ErrNotFound
	}
	return ds[0], nil
}

// List returns ownerID's deployments of workflow, newest first, with
// their functions.
func (r *Deployments) List(ctx context.Context, ownerID int64, workflow string) ([]store.Deployment, error) {
	return r.query(ctx, "WHERE owner_id = ? AND workflow = ? ORDER BY id DESC", ownerID, workflow)
}

func (r *Deployments) query(ctx context.Context, where string, args ...any) ([]store.Deployment, error) {
	rows, err := r.db.QueryContext(ctx, `SELECT id, owner_id, user_name, workflow, version, clusters, outcome, started_at, finished_at
		FROM deployments `+where, args...)
	if err != nil {
		return nil, err
	}
	var out []store.Deployment
	for rows.Next() {
		var d store.Deployment
		var clusters string
		var started, finished int64
		if err := rows.Scan(&d.ID, &d.OwnerID, &d.User, &d.Workflow, &d.Version, &clusters, &d.Outcome, &started, &finished); err != nil {
			rows.Close()
			return nil, err
		}
		if err := json.Unmarshal([]byte(clusters), &d.Clusters); err != nil {
			rows.Close()
			return nil, fmt.Errorf("deployment %d: clusters: %w", d.ID, err)
		}
		d.StartedAt = time.Unix(started, 0)
		if finished != 0 {
			d.FinishedAt = time.Unix(finished, 0)
		}
		out = append(out, d)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, err
	}
	for i := range out {
		if out[i].Functions, err = r.functions(ctx, out[i].ID); err != nil {
			return nil, err
		}
	}
	return out, nil
}

func (r *Deployments) functions(ctx context.Context, id int64) ([]store.DeployedFunction, error) {
	rows, err := r.db.QueryContext(ctx, `SELECT cluster, fdl_cluster, name, action, state, message, applied, previous_sealed, credentials_sealed, updated_at
		FROM deployment_functions WHERE deployment_id = ? ORDER BY seq`, id)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []store.DeployedFunction
	for rows.Next() {
		var f store.DeployedFunction
		var applied, sealed, creds string
		var updated int64
		if err := rows.Scan(&f.Cluster, &f.FDLCluster, &f.Name, &f.Action, &f.State, &f.Message, &applied, &sealed, &creds, &updated); err != nil {
			return nil, err
		}
		if applied != "" {
			f.Applied = []byte(applied)
		}
		if sealed != "" {
			if f.Previous, err = r.sealer.Open(sealed, previousPurpose(id, f.Cluster, f.Name)); err != nil {
				return nil, fmt.Errorf("deployment %d, function %q: previous definition: %w", id, f.Name, err)
			}
		}
		if creds != "" {
			if f.Credentials, err = r.sealer.Open(creds, deploymentCredentialsPurpose(id, f.Cluster, f.Name)); err != nil {
				return nil, fmt.Errorf("deployment %d, function %q: credentials sent: %w", id, f.Name, err)
			}
		}
		f.UpdatedAt = time.Unix(updated, 0)
		out = append(out, f)
	}
	return out, rows.Err()
}

// ClusterMap returns the registered cluster remembered for each FDL
// cluster id of ownerID's workflow (empty when none is).
func (r *Deployments) ClusterMap(ctx context.Context, ownerID int64, workflow string) (map[string]string, error) {
	rows, err := r.db.QueryContext(ctx, "SELECT fdl_cluster, cluster FROM workflow_clusters WHERE owner_id = ? AND workflow = ?", ownerID, workflow)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	m := map[string]string{}
	for rows.Next() {
		var k, v string
		if err := rows.Scan(&k, &v); err != nil {
			return nil, err
		}
		m[k] = v
	}
	return m, rows.Err()
}

// SetClusterMap remembers m (FDL cluster id -> registered cluster) for
// ownerID's workflow; ids m leaves out keep what was remembered, an empty
// value forgets one.
func (r *Deployments) SetClusterMap(ctx context.Context, ownerID int64, workflow string, m map[string]string) error {
	tx, err := r.db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	for k, v := range m {
		if v == "" {
			_, err = tx.ExecContext(ctx, "DELETE FROM workflow_clusters WHERE owner_id = ? AND workflow = ? AND fdl_cluster = ?", ownerID, workflow, k)
		} else {
			_, err = tx.ExecContext(ctx, `INSERT INTO workflow_clusters (owner_id, workflow, fdl_cluster, cluster) VALUES (?, ?, ?, ?)
				ON CONFLICT (owner_id, workflow, fdl_cluster) DO UPDATE SET cluster = excluded.cluster`, ownerID, workflow, k, v)
		}
		if err != nil {
			return err
		}
	}
	return tx.Commit()
}

func orEmptyList(l []string) []string {
	if l == nil {
		return []string{}
	}
	return l
}
