-- People who have used this installation. A user is identified by the
-- issuer and subject of their login (OIDC), by the OSCAR endpoint and user
-- name (basic login), or is the single local user.
CREATE TABLE users (
    id         INTEGER PRIMARY KEY,
    issuer     TEXT    NOT NULL,
    subject    TEXT    NOT NULL,
    name       TEXT    NOT NULL DEFAULT '',
    email      TEXT    NOT NULL DEFAULT '',
    created_at INTEGER NOT NULL,
    UNIQUE (issuer, subject)
);
