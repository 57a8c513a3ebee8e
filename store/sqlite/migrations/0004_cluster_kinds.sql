-- Cluster registrations get a kind (which backend serves them: 'oscar',
-- 'local', later 'aws') and one sealed credentials blob whose shape
-- depends on the auth kind (basic: username and password; token: none;
-- later AWS keys). The CHECK that allowed only 'basic' and 'token' goes:
-- the store validates auth kinds in Go, per cluster kind.
--
-- Existing rows keep their id, owner, name, endpoint and auth kind and
-- become kind 'oscar'. Their username and sealed password move to the
-- legacy_* columns; the Go step of this migration (sqlite.go,
-- resealClusterCredentials) re-seals them, bound to the row and its
-- endpoint, into credentials_sealed and then drops the legacy columns,
-- all in this migration's transaction.
CREATE TABLE clusters_v4 (
    id                     INTEGER PRIMARY KEY,
    owner_id               INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    name                   TEXT    NOT NULL,
    kind                   TEXT    NOT NULL DEFAULT 'oscar',
    endpoint               TEXT    NOT NULL,
    auth_kind              TEXT    NOT NULL,
    credentials_sealed     TEXT    NOT NULL DEFAULT '',
    insecure_tls           INTEGER NOT NULL DEFAULT 0,
    created_at             INTEGER NOT NULL,
    updated_at             INTEGER NOT NULL,
    legacy_username        TEXT    NOT NULL DEFAULT '',
    legacy_password_sealed TEXT    NOT NULL DEFAULT '',
    UNIQUE (owner_id, name)
);

INSERT INTO clusters_v4 (id, owner_id, name, kind, endpoint, auth_kind, insecure_tls,
                         created_at, updated_at, legacy_username, legacy_password_sealed)
SELECT id, owner_id, name, 'oscar', endpoint, auth_kind, insecure_tls,
       created_at, updated_at, username, password_sealed
FROM clusters;

DROP TABLE clusters;
ALTER TABLE clusters_v4 RENAME TO clusters;
