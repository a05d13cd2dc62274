-- +goose Up
-- Accounts: disabling a user or changing its password ends its tokens
-- (token_version is in every token and must match).
ALTER TABLE users ADD COLUMN disabled_at INTEGER;
ALTER TABLE users ADD COLUMN token_version INTEGER NOT NULL DEFAULT 0;

-- Failed logins, counted per email and per client address for throttling.
CREATE TABLE login_failures (
    id           INTEGER PRIMARY KEY,
    throttle_key TEXT NOT NULL,
    created_at   INTEGER NOT NULL
);
CREATE INDEX login_failures_key_idx ON login_failures (throttle_key, created_at);

-- Secret rotation: the old secret keeps signing until it expires.
ALTER TABLE webhooks ADD COLUMN previous_secret TEXT;
ALTER TABLE webhooks ADD COLUMN previous_secret_expires_at INTEGER;
-- Auto-disable and per-webhook delivery options.
ALTER TABLE webhooks ADD COLUMN disabled_reason TEXT;
ALTER TABLE webhooks ADD COLUMN disabled_at INTEGER;
ALTER TABLE webhooks ADD COLUMN headers TEXT NOT NULL DEFAULT '{}';
ALTER TABLE webhooks ADD COLUMN rate_limit INTEGER;
ALTER TABLE webhooks ADD COLUMN timeout_seconds INTEGER;
-- When the current run of consecutive failures began.
ALTER TABLE webhook_stats ADD COLUMN failing_since INTEGER;

-- Retention prunes by age.
CREATE INDEX webhook_logs_created_idx ON webhook_logs (created_at);
CREATE INDEX events_created_idx ON events (created_at);

-- +goose Down
DROP INDEX events_created_idx;
DROP INDEX webhook_logs_created_idx;
ALTER TABLE webhook_stats DROP COLUMN failing_since;
ALTER TABLE webhooks DROP COLUMN timeout_seconds;
ALTER TABLE webhooks DROP COLUMN rate_limit;
ALTER TABLE webhooks DROP COLUMN headers;
ALTER TABLE webhooks DROP COLUMN disabled_at;
ALTER TABLE webhooks DROP COLUMN disabled_reason;
ALTER TABLE webhooks DROP COLUMN previous_secret_expires_at;
ALTER TABLE webhooks DROP COLUMN previous_secret;
DROP TABLE login_failures;
ALTER TABLE users DROP COLUMN token_version;
ALTER TABLE users DROP COLUMN disabled_at;
