-- Users' FDL workflows. Every save adds a row to workflow_versions (the
-- FDL text and the canvas positions, kept outside the FDL); the workflows
-- row names the latest version and holds the autosaved draft, so unsaved
-- work survives a restart.
CREATE TABLE workflows (
    id              INTEGER PRIMARY KEY,
    owner_id        INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    name            TEXT    NOT NULL,
    version         INTEGER NOT NULL DEFAULT 1,
    draft_yaml      TEXT,
    draft_positions TEXT,
    draft_base      INTEGER NOT NULL DEFAULT 0,
    -- Script files imported with a bundle, as a JSON object path → text.
    scripts         TEXT    NOT NULL DEFAULT '{}',
    created_at      INTEGER NOT NULL,
    updated_at      INTEGER NOT NULL
);
CREATE INDEX workflows_owner ON workflows (owner_id, updated_at);

CREATE TABLE workflow_versions (
    workflow_id INTEGER NOT NULL REFERENCES workflows (id) ON DELETE CASCADE,
    version     INTEGER NOT NULL,
    yaml        TEXT    NOT NULL,
    positions   TEXT    NOT NULL DEFAULT '{}',
    created_at  INTEGER NOT NULL,
    PRIMARY KEY (workflow_id, version)
);
