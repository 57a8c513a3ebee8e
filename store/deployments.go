package store

import "time"

// Outcomes of a deployment as a whole.
const (
	DeploymentRunning     = "running"     // the apply has not finished (or the server stopped during it)
	DeploymentApplied     = "applied"     // every function reached its definition
	DeploymentFailed      = "failed"      // at least one function failed
	DeploymentInterrupted = "interrupted" // cancelled, or superseded by a later apply while running
	DeploymentRolledBack  = "rolled-back" // the functions it changed were restored
)

// States of one function in a deployment's journal.
const (
	FunctionPlanned    = "planned"     // in the plan, not yet sent
	FunctionStarted    = "started"     // sent; the backend's answer is not recorded yet
	FunctionDone       = "done"        // the backend accepted it
	FunctionFailed     = "failed"      // the backend refused it (Message says why)
	FunctionRolledBack = "rolled-back" // restored to its previous definition
)

// Deployment is the record of one apply of a workflow version: who, when,
// to which clusters, and the journal of every function.
type Deployment struct {
	ID      int64
	OwnerID int64
	// User is who applied it, as shown (name or e-mail).
	User string
	// Workflow identifies the workflow (the composer's id, or for the
	// command line the file's path); Version is its version (0 = unversioned).
	Workflow string
	Version  int64
	// Clusters are the registered cluster names it deployed to.
	Clusters   []string
	Outcome    string
	StartedAt  time.Time
	FinishedAt time.Time // zero while running
	Functions  []DeployedFunction
}

// DeployedFunction is one function's line in a deployment's journal.
type DeployedFunction struct {
	// Cluster is the registered cluster name; FDLCluster the id the FDL
	// writes.
	Cluster    string
	FDLCluster string
	Name       string
	// Action is what the plan said: create, update, unchanged or delete.
	Action  string
	State   string
	Message string
	// Applied is the definition deployed, as FDL shows a service (JSON of
	// deploy.Clean: no credentials); empty for a delete.
	Applied []byte
	// Previous is the definition the cluster had before (JSON, with the
	// credentials the cluster returned), kept for rollback; empty for a
	// create. Implementations encrypt it at rest.
	Previous []byte
	// Credentials are the credential values sent (JSON, path -> value),
	// so a later plan can tell a changed secret the cluster does not
	// return. Implementations encrypt them at rest.
	Credentials []byte
	UpdatedAt   time.Time
}
