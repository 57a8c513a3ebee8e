-- OSCAR clusters a user has registered. Operator-wide clusters come from
-- the config file and are not stored. The password is sealed with the
-- server's secret key (store.Sealer).
CREATE TABLE clusters (
    id              INTEGER PRIMARY KEY,
    owner_id        INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    name            TEXT    NOT NULL,
    endpoint        TEXT    NOT NULL,
    auth_kind       TEXT    NOT NULL CHECK (auth_kind IN ('basic', 'token')),
    username        TEXT    NOT NULL DEFAULT '',
    password_sealed TEXT    NOT NULL DEFAULT '',
    insecure_tls    INTEGER NOT NULL DEFAULT 0,
    created_at      INTEGER NOT NULL,
    updated_at      INTEGER NOT NULL,
    UNIQUE (owner_id, name)
);
