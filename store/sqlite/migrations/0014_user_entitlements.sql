-- The entitlements (EGI group URNs) an OpenID Connect user had at their
-- last login or token refresh, as a JSON list, and when they were read
-- (0: never, e.g. users from before this migration). API tokens are
-- checked against them at every request, so that a token stops working
-- when the operator's VO restriction would no longer let its user in.
ALTER TABLE users ADD COLUMN entitlements TEXT NOT NULL DEFAULT '[]';
ALTER TABLE users ADD COLUMN entitlements_at INTEGER NOT NULL DEFAULT 0;
