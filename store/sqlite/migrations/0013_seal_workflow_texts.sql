-- Workflow texts are FDL, which carries credentials (storage provider
-- keys, cluster passwords, service secrets): from now on the yaml of every
-- version and the draft yaml are sealed with the server's key, bound to
-- their row. The version list reports a text's size without opening it,
-- so the plain size is kept beside it. The Go step of this migration
-- seals the rows written in plain before (yaml_size NULL marks them).
ALTER TABLE workflow_versions ADD COLUMN yaml_size INTEGER;
