-- +goose Up
-- Times are INTEGER Unix milliseconds: modernc.org/sqlite would otherwise store
-- time.Time as text that does not compare in time order.
CREATE TABLE settings (
    key   TEXT PRIMARY KEY,
    value TEXT NOT NULL
);

CREATE TABLE users (
    id            TEXT PRIMARY KEY,
    email         TEXT NOT NULL UNIQUE,
    password_hash TEXT NOT NULL,
    created_at    INTEGER NOT NULL,
    updated_at    INTEGER NOT NULL
);

CREATE TABLE api_keys (
    id           TEXT PRIMARY KEY,
    user_id      TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    name         TEXT NOT NULL,
    key_hash     TEXT NOT NULL UNIQUE,
    key_prefix   TEXT NOT NULL,
    created_at   INTEGER NOT NULL,
    last_used_at INTEGER
);
CREATE INDEX api_keys_user_id_idx ON api_keys (user_id, id);

CREATE TABLE webhooks (
    id          TEXT PRIMARY KEY,
    user_id     TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    name        TEXT NOT NULL,
    url         TEXT NOT NULL,
    events      TEXT NOT NULL,
    secret      TEXT NOT NULL,
    description TEXT NOT NULL DEFAULT '',
    is_active   BOOLEAN NOT NULL DEFAULT TRUE,
    created_at  INTEGER NOT NULL,
    updated_at  INTEGER NOT NULL
);
CREATE INDEX webhooks_user_id_idx ON webhooks (user_id, id);

CREATE TABLE webhook_stats (
    webhook_id           TEXT PRIMARY KEY REFERENCES webhooks (id) ON DELETE CASCADE,
    total_attempts       INTEGER NOT NULL DEFAULT 0,
    successful_attempts  INTEGER NOT NULL DEFAULT 0,
    failed_attempts      INTEGER NOT NULL DEFAULT 0,
    total_duration_ms    INTEGER NOT NULL DEFAULT 0,
    consecutive_failures INTEGER NOT NULL DEFAULT 0,
    last_attempt_at      INTEGER,
    last_success_at      INTEGER,
    last_failure_at      INTEGER
);

CREATE TABLE events (
    id              TEXT PRIMARY KEY,
    user_id         TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    event_type      TEXT NOT NULL,
    payload         BLOB NOT NULL,
    occurred_at     INTEGER NOT NULL,
    idempotency_key TEXT,
    delivery_count  INTEGER NOT NULL,
    created_at      INTEGER NOT NULL
);
CREATE UNIQUE INDEX events_idempotency_key_idx ON events (user_id, idempotency_key)
    WHERE idempotency_key IS NOT NULL;

CREATE TABLE deliveries (
    id              TEXT PRIMARY KEY,
    event_id        TEXT NOT NULL REFERENCES events (id) ON DELETE CASCADE,
    webhook_id      TEXT NOT NULL REFERENCES webhooks (id) ON DELETE CASCADE,
    status          TEXT NOT NULL CHECK (status IN ('pending', 'success', 'failed')),
    attempts        INTEGER NOT NULL DEFAULT 0,
    next_attempt_at INTEGER NOT NULL,
    lease_token     TEXT,
    created_at      INTEGER NOT NULL,
    updated_at      INTEGER NOT NULL
);
CREATE INDEX deliveries_due_idx ON deliveries (next_attempt_at) WHERE status = 'pending';
CREATE INDEX deliveries_webhook_id_idx ON deliveries (webhook_id, status);
CREATE INDEX deliveries_event_id_idx ON deliveries (event_id);

CREATE TABLE webhook_logs (
    id              TEXT PRIMARY KEY,
    webhook_id      TEXT NOT NULL REFERENCES webhooks (id) ON DELETE CASCADE,
    event_id        TEXT NOT NULL,
    delivery_id     TEXT NOT NULL,
    event_type      TEXT NOT NULL,
    attempt         INTEGER NOT NULL,
    status          TEXT NOT NULL CHECK (status IN ('success', 'failed')),
    status_code     INTEGER,
    duration_ms     INTEGER NOT NULL,
    error           TEXT,
    request_headers TEXT NOT NULL,
    request_body    BLOB NOT NULL,
    response_body   BLOB,
    created_at      INTEGER NOT NULL,
    next_attempt_at INTEGER,
    test            BOOLEAN NOT NULL DEFAULT FALSE
);
CREATE INDEX webhook_logs_webhook_id_idx ON webhook_logs (webhook_id, id);
CREATE INDEX webhook_logs_webhook_created_idx ON webhook_logs (webhook_id, created_at);

-- +goose Down
DROP TABLE webhook_logs;
DROP TABLE deliveries;
DROP TABLE events;
DROP TABLE webhook_stats;
DROP TABLE webhooks;
DROP TABLE api_keys;
DROP TABLE users;
DROP TABLE settings;
