-- Deployments of workflows (backends/deploy): one row per apply, with the
-- journal of every function it planned. The journal is what makes an
-- interrupted apply converge and a rollback possible; previous_sealed is
-- the definition a function had before, sealed (it may hold credentials);
-- credentials_sealed the credential values sent, sealed, so that a changed
-- secret the cluster does not return is still seen as a change.
CREATE TABLE deployments (
    id          INTEGER PRIMARY KEY,
    owner_id    INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    user_name   TEXT    NOT NULL DEFAULT '',
    workflow    TEXT    NOT NULL,
    version     INTEGER NOT NULL DEFAULT 0,
    clusters    TEXT    NOT NULL DEFAULT '[]',
    outcome     TEXT    NOT NULL,
    started_at  INTEGER NOT NULL,
    finished_at INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX deployments_workflow ON deployments (owner_id, workflow, id);

CREATE TABLE deployment_functions (
    deployment_id   INTEGER NOT NULL REFERENCES deployments (id) ON DELETE CASCADE,
    seq             INTEGER NOT NULL,
    cluster         TEXT    NOT NULL,
    fdl_cluster     TEXT    NOT NULL DEFAULT '',
    name            TEXT    NOT NULL,
    action          TEXT    NOT NULL,
    state           TEXT    NOT NULL,
    message         TEXT    NOT NULL DEFAULT '',
    applied         TEXT    NOT NULL DEFAULT '',
    previous_sealed TEXT    NOT NULL DEFAULT '',
    credentials_sealed TEXT NOT NULL DEFAULT '',
    updated_at      INTEGER NOT NULL,
    PRIMARY KEY (deployment_id, cluster, name)
);

-- Which registered cluster each FDL cluster id of a workflow goes to, so
-- the next deploy need not ask again.
CREATE TABLE workflow_clusters (
    owner_id    INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    workflow    TEXT    NOT NULL,
    fdl_cluster TEXT    NOT NULL,
    cluster     TEXT    NOT NULL,
    PRIMARY KEY (owner_id, workflow, fdl_cluster)
);
