-- Login sessions. The cookie holds a random ID; only its SHA-256 is kept
-- here. Tokens and OSCAR passwords live in `secrets`, sealed with the
-- server key (AES-256-GCM, bound to the row's id_hash).
CREATE TABLE sessions (
    id_hash      TEXT    PRIMARY KEY,
    public_id    TEXT    NOT NULL UNIQUE,
    user_id      INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    mode         TEXT    NOT NULL,
    vos          TEXT    NOT NULL DEFAULT '',
    csrf_token   TEXT    NOT NULL,
    secrets      TEXT    NOT NULL DEFAULT '',
    token_expiry INTEGER NOT NULL DEFAULT 0,
    created_at   INTEGER NOT NULL,
    last_seen_at INTEGER NOT NULL,
    expires_at   INTEGER NOT NULL
);

CREATE INDEX sessions_user ON sessions (user_id);
CREATE INDEX sessions_expires ON sessions (expires_at);
