-- Who saved each workflow version and with what message, for the version
-- list (which no longer reads every version's text). Versions saved before
-- this migration have no author recorded; the list names the workflow's
-- owner, the only user who can save it.
ALTER TABLE workflow_versions ADD COLUMN author_id INTEGER REFERENCES users (id) ON DELETE SET NULL;
ALTER TABLE workflow_versions ADD COLUMN message TEXT NOT NULL DEFAULT '';
