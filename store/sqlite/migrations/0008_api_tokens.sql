-- Personal API tokens: they let a program (`fdlstudio deploy --server`)
-- act for a user on the /api/ routes, and nowhere else. The token is
-- shown once when it is made; only its SHA-256 is kept, so a copy of the
-- database hands out no working token. `mode` is how the user was logged
-- in when they made it (local, oidc, oscar): a token of the single local
-- user works only while the server runs in single-user mode, and the
-- other way round.
CREATE TABLE api_tokens (
    id           INTEGER PRIMARY KEY,
    user_id      INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    name         TEXT    NOT NULL,
    hash         TEXT    NOT NULL UNIQUE,
    mode         TEXT    NOT NULL,
    created_at   INTEGER NOT NULL,
    expires_at   INTEGER NOT NULL,
    last_used_at INTEGER NOT NULL DEFAULT 0,
    UNIQUE (user_id, name)
);

CREATE INDEX api_tokens_user ON api_tokens (user_id);
