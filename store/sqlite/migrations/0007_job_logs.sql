-- Job logs archived when a job ends (live monitoring) or before FDL Studio
-- deletes it, so that they can be read after the job and its pod are
-- gone (OSCAR deletes a job's log with the job). One row per user,
-- cluster, service and job; a newer archive of the same job replaces the
-- older one. Logs are what the job printed, not credentials: they are
-- stored as text, bounded in size by the archiver.
CREATE TABLE job_logs (
    owner_id    INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    cluster     TEXT    NOT NULL,
    service     TEXT    NOT NULL,
    job         TEXT    NOT NULL,
    status      TEXT    NOT NULL DEFAULT '',
    created_at  INTEGER NOT NULL DEFAULT 0,
    started_at  INTEGER NOT NULL DEFAULT 0,
    finished_at INTEGER NOT NULL DEFAULT 0,
    log         TEXT    NOT NULL,
    truncated   INTEGER NOT NULL DEFAULT 0,
    archived_at INTEGER NOT NULL,
    PRIMARY KEY (owner_id, cluster, service, job)
);
