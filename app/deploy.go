package app

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"path/filepath"
	"sync"

	"github.com/fdlstudio/fdlstudio/backends"
	"github.com/fdlstudio/fdlstudio/backends/deploy"
	"github.com/fdlstudio/fdlstudio/backends/local"
	"github.com/fdlstudio/fdlstudio/backends/scar"
	"github.com/fdlstudio/fdlstudio/store"
	"github.com/fdlstudio/fdlstudio/store/sqlite"
	"github.com/fdlstudio/fdlstudio/web"
)

// CommandLineUser is the user a command acts for on a data directory: the
// local user of single-user mode ("local"/"local"), or the user issuer/
// subject, created if it has never logged in.
func CommandLineUser(ctx context.Context, db *sqlite.DB, issuer, subject string) (store.User, error) {
	name := "Local user"
	if issuer != "local" {
		name = subject
	}
	return db.UpsertUser(ctx, issuer, subject, name, "")
}

// Deployer is what `fdlstudio deploy` needs from a data directory: the
// deploy engine over the user's registered clusters (and the embedded
// local cluster, started on first use), the user's id and the remembered
// cluster mappings. Close releases the store and stops the local cluster.
type Deployer struct {
	Engine  *deploy.Engine
	OwnerID int64
	User    string
	Maps    deploy.ClusterMaps
	close   func()
}

// Close stops what OpenDeployer started.
func (d *Deployer) Close() { d.close() }

// OpenDeployer opens the store of dataDir (the server must be stopped: it
// holds the store) for the user issuer/subject ("local"/"local" is the
// user of local single-user mode). A cluster name resolves to that user's
// registration of that name; "local" is the embedded local cluster, which
// is started in this process the first time a plan needs it.
func OpenDeployer(ctx context.Context, dataDir, keyFile, issuer, subject string, log *slog.Logger) (*Deployer, error) {
	db, sealer, _, err := OpenStore(ctx, dataDir, keyFile)
	if err != nil {
		return nil, err
	}
	u, err := CommandLineUser(ctx, db, issuer, subject)
	if err != nil {
		db.Close()
		return nil, err
	}
	reg := backends.NewRegistry()
	registerKinds(reg, nil)
	// AWS accounts registered with an access key deploy from here too;
	// the server's own credentials (default-chain) and the operator's
	// accounts are the server's alone.
	scar.Register(reg, scar.Options{Ways: []string{scar.WayUser}})
	regs := db.Clusters(sealer)

	var (
		mu sync.Mutex
		lc *local.Cluster
	)
	localCluster := func() (store.Cluster, error) {
		mu.Lock()
		defer mu.Unlock()
		if lc == nil {
			c, err := local.New(local.Config{DataDir: filepath.Join(dataDir, "local")}, log)
			if err != nil {
				return store.Cluster{}, err
			}
			if err := c.Start(ctx); err != nil {
				c.Close()
				return store.Cluster{}, fmt.Errorf("starting the local cluster: %w", err)
			}
			lc = c
		}
		return localClusterRecord(lc), nil
	}
	resolve := func(ctx context.Context, cluster string) (backends.Services, error) {
		var c store.Cluster
		var err error
		if cluster == web.LocalClusterName {
			c, err = localCluster()
		} else {
			c, err = regs.Get(ctx, u.ID, cluster)
			if errors.Is(err, store.ErrNotFound) {
				return nil, fmt.Errorf("no cluster named %q is registered for %s (register it on the Clusters page or with `fdlstudio clusters import`)", cluster, subject)
			}
		}
		if err != nil {
			return nil, err
		}
		if c.AuthKind == store.AuthToken {
			return nil, fmt.Errorf("cluster %q is reached with your OpenID Connect token, which only a browser session holds: deploy to it from the workflow page", cluster)
		}
		return reg.Backend(ctx, c, backends.Acting{})
	}
	deps := db.Deployments(sealer)
	return &Deployer{
		Engine:  &deploy.Engine{Resolve: resolve, Journal: deps},
		OwnerID: u.ID, User: subject, Maps: deps,
		close: func() {
			mu.Lock()
			if lc != nil {
				lc.Close()
			}
			mu.Unlock()
			db.Close()
		},
	}, nil
}
