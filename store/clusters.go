package store

import "time"

// Ways FDL Studio authenticates to an OSCAR cluster.
const (
	// AuthBasic uses a username and password registered with the cluster.
	AuthBasic = "basic"
	// AuthToken forwards the user's own OIDC access token (the cluster
	// must trust the same issuer, as EGI's OSCAR clusters trust Check-in).
	AuthToken = "token"
)

// Kinds of cluster: which backend serves a registration. The backend
// registry (backends.Registry) maps each kind to its Backend.
const (
	// KindOSCAR is an OSCAR cluster reached over its REST API.
	KindOSCAR = "oscar"
	// KindLocal is the embedded local cluster of this FDL Studio.
	KindLocal = "local"
	// KindAWS is an AWS account (Lambda, Batch, S3; backends/scar). Its
	// Endpoint is the region (e.g. "eu-west-1").
	KindAWS = "aws"
)

// Ways FDL Studio authenticates to an AWS account.
const (
	// AuthAWSKeys uses an access key: Username holds the access key id and
	// Password the secret access key (sealed like any password).
	AuthAWSKeys = "keys"
	// AuthAWSDefaultChain uses the server's own credentials (role,
	// environment) through the AWS SDK's default chain.
	AuthAWSDefaultChain = "default-chain"
	// AuthAWSOperator is an access key the operator provides in the
	// config file (operator-aws-accounts): Username holds the key id and
	// Password the secret. Such records are shared, held in memory only
	// and never stored.
	AuthAWSOperator = "operator"
)

// Cluster is a cluster registration. Password is the plain value in
// memory only; the store keeps it sealed.
type Cluster struct {
	ID      int64
	OwnerID int64
	Name    string
	// Kind selects the backend (KindOSCAR, KindLocal, ...); "" means
	// KindOSCAR, the kind of every registration made before kinds existed.
	Kind     string
	Endpoint string
	AuthKind string
	Username string
	Password string
	// InsecureTLS turns certificate verification off for this cluster.
	InsecureTLS bool
	// Shared marks a cluster the operator configured for everyone; it is
	// not stored and cannot be edited from the UI.
	Shared bool
	// AdminOnly marks a shared cluster only administrators may use (the
	// embedded local cluster in a multi-user deployment).
	AdminOnly bool
	// Trusted marks an endpoint the operator chose (a configured cluster
	// or the embedded local cluster): the dial guard for user-supplied
	// endpoints does not apply to it.
	Trusted   bool
	CreatedAt time.Time
	UpdatedAt time.Time
}
