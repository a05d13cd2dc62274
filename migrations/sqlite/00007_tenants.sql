-- +goose NO TRANSACTION
-- +goose Up
-- Tenants: the CRM's customer accounts. Webhooks, events and API keys
-- belong to a tenant and every member (user) of it sees and manages them;
-- what a user created stays with the tenant when the user goes. Each
-- existing user gets a tenant of its own, with the user's id as the
-- tenant's id, so every existing row keeps its owner column's value and
-- only the column's meaning changes: from the user to the user's tenant.
--
-- SQLite cannot change a column's foreign key in place, so users,
-- webhooks, events and api_keys are rebuilt (SQLite's documented
-- procedure: foreign keys off, new table, copy, drop, rename, check). The
-- pragma has no effect inside a transaction, which is why this migration
-- runs its own; webhookd's writer is a single connection, so every
-- statement here runs on it.
PRAGMA foreign_keys = OFF;
BEGIN IMMEDIATE;

CREATE TABLE tenants (
    id         TEXT PRIMARY KEY,
    name       TEXT NOT NULL DEFAULT '',
    metadata   TEXT NOT NULL DEFAULT '{}',
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL
);
INSERT INTO tenants (id, name, created_at, updated_at) SELECT id, email, created_at, created_at FROM users;

CREATE TABLE users_new (
    id            TEXT PRIMARY KEY,
    email         TEXT NOT NULL UNIQUE,
    password_hash TEXT NOT NULL,
    created_at    INTEGER NOT NULL,
    updated_at    INTEGER NOT NULL,
    disabled_at   INTEGER,
    token_version INTEGER NOT NULL DEFAULT 0,
    tenant_id     TEXT NOT NULL REFERENCES tenants (id) ON DELETE CASCADE
);
INSERT INTO users_new (id, email, password_hash, created_at, updated_at, disabled_at, token_version, tenant_id)
    SELECT id, email, password_hash, created_at, updated_at, disabled_at, token_version, id FROM users;
DROP TABLE users;
ALTER TABLE users_new RENAME TO users;
CREATE INDEX users_tenant_id_idx ON users (tenant_id, id);

-- created_by is the member who created the row: a user's id, or the
-- subject of a trusted CRM token (no user row), so it has no foreign key.
CREATE TABLE webhooks_new (
    id                         TEXT PRIMARY KEY,
    tenant_id                  TEXT NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    name                       TEXT NOT NULL,
    url                        TEXT NOT NULL,
    events                     TEXT NOT NULL,
    secret                     TEXT NOT NULL,
    description                TEXT NOT NULL DEFAULT '',
    is_active                  BOOLEAN NOT NULL DEFAULT TRUE,
    created_at                 INTEGER NOT NULL,
    updated_at                 INTEGER NOT NULL,
    previous_secret            TEXT,
    previous_secret_expires_at INTEGER,
    disabled_reason            TEXT,
    disabled_at                INTEGER,
    headers                    TEXT NOT NULL DEFAULT '{}',
    rate_limit                 INTEGER,
    timeout_seconds            INTEGER,
    created_by                 TEXT NOT NULL DEFAULT ''
);
INSERT INTO webhooks_new (id, tenant_id, name, url, events, secret, description, is_active, created_at, updated_at,
        previous_secret, previous_secret_expires_at, disabled_reason, disabled_at, headers, rate_limit, timeout_seconds, created_by)
    SELECT id, user_id, name, url, events, secret, description, is_active, created_at, updated_at,
        previous_secret, previous_secret_expires_at, disabled_reason, disabled_at, headers, rate_limit, timeout_seconds, user_id
    FROM webhooks;
DROP TABLE webhooks;
ALTER TABLE webhooks_new RENAME TO webhooks;
CREATE INDEX webhooks_tenant_id_idx ON webhooks (tenant_id, id);

CREATE TABLE events_new (
    id              TEXT PRIMARY KEY,
    tenant_id       TEXT NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    event_type      TEXT NOT NULL,
    payload         BLOB NOT NULL,
    occurred_at     INTEGER NOT NULL,
    idempotency_key TEXT,
    delivery_count  INTEGER NOT NULL,
    created_at      INTEGER NOT NULL
);
INSERT INTO events_new (id, tenant_id, event_type, payload, occurred_at, idempotency_key, delivery_count, created_at)
    SELECT id, user_id, event_type, payload, occurred_at, idempotency_key, delivery_count, created_at FROM events;
DROP TABLE events;
ALTER TABLE events_new RENAME TO events;
CREATE UNIQUE INDEX events_idempotency_key_idx ON events (tenant_id, idempotency_key)
    WHERE idempotency_key IS NOT NULL;
CREATE INDEX events_created_idx ON events (created_at);

-- A service key (tenant_id NULL) acts for any tenant, naming it on each
-- request; any other key acts for its tenant only.
CREATE TABLE api_keys_new (
    id           TEXT PRIMARY KEY,
    tenant_id    TEXT REFERENCES tenants (id) ON DELETE CASCADE,
    name         TEXT NOT NULL,
    key_hash     TEXT NOT NULL UNIQUE,
    key_prefix   TEXT NOT NULL,
    created_at   INTEGER NOT NULL,
    last_used_at INTEGER,
    created_by   TEXT NOT NULL DEFAULT '',
    service      BOOLEAN NOT NULL DEFAULT FALSE,
    CHECK (service = (tenant_id IS NULL))
);
INSERT INTO api_keys_new (id, tenant_id, name, key_hash, key_prefix, created_at, last_used_at, created_by)
    SELECT id, user_id, name, key_hash, key_prefix, created_at, last_used_at, user_id FROM api_keys;
DROP TABLE api_keys;
ALTER TABLE api_keys_new RENAME TO api_keys;
CREATE INDEX api_keys_tenant_id_idx ON api_keys (tenant_id, id);

-- The copy must have kept every reference: a violation fails the CHECK
-- and with it the migration, before anything is committed.
CREATE TEMPORARY TABLE migration_foreign_key_check (violations INTEGER NOT NULL CHECK (violations = 0));
INSERT INTO migration_foreign_key_check SELECT COUNT(*) FROM pragma_foreign_key_check;
DROP TABLE migration_foreign_key_check;

COMMIT;
PRAGMA foreign_keys = ON;

-- +goose Down
-- Each tenant's rows go back to its oldest member; a tenant without
-- members (made by the service API) has no user to own them, and its rows
-- go with it, as do service keys.
PRAGMA foreign_keys = OFF;
BEGIN IMMEDIATE;

CREATE TEMPORARY TABLE tenant_owners AS
    SELECT tenant_id, (SELECT u2.id FROM users u2 WHERE u2.tenant_id = u.tenant_id ORDER BY u2.created_at, u2.id LIMIT 1) AS user_id
    FROM users u GROUP BY tenant_id;
DELETE FROM deliveries WHERE webhook_id IN (SELECT id FROM webhooks WHERE tenant_id NOT IN (SELECT tenant_id FROM tenant_owners))
    OR event_id IN (SELECT id FROM events WHERE tenant_id NOT IN (SELECT tenant_id FROM tenant_owners));
DELETE FROM webhook_stats WHERE webhook_id IN (SELECT id FROM webhooks WHERE tenant_id NOT IN (SELECT tenant_id FROM tenant_owners));
DELETE FROM webhook_logs WHERE webhook_id IN (SELECT id FROM webhooks WHERE tenant_id NOT IN (SELECT tenant_id FROM tenant_owners));
DELETE FROM webhook_log_counts WHERE webhook_id IN (SELECT id FROM webhooks WHERE tenant_id NOT IN (SELECT tenant_id FROM tenant_owners));
DELETE FROM fanouts WHERE event_id IN (SELECT id FROM events WHERE tenant_id NOT IN (SELECT tenant_id FROM tenant_owners));

CREATE TABLE api_keys_old (
    id           TEXT PRIMARY KEY,
    user_id      TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    name         TEXT NOT NULL,
    key_hash     TEXT NOT NULL UNIQUE,
    key_prefix   TEXT NOT NULL,
    created_at   INTEGER NOT NULL,
    last_used_at INTEGER
);
INSERT INTO api_keys_old (id, user_id, name, key_hash, key_prefix, created_at, last_used_at)
    SELECT k.id, o.user_id, k.name, k.key_hash, k.key_prefix, k.created_at, k.last_used_at
    FROM api_keys k JOIN tenant_owners o ON o.tenant_id = k.tenant_id;
DROP TABLE api_keys;
ALTER TABLE api_keys_old RENAME TO api_keys;
CREATE INDEX api_keys_user_id_idx ON api_keys (user_id, id);

CREATE TABLE events_old (
    id              TEXT PRIMARY KEY,
    user_id         TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    event_type      TEXT NOT NULL,
    payload         BLOB NOT NULL,
    occurred_at     INTEGER NOT NULL,
    idempotency_key TEXT,
    delivery_count  INTEGER NOT NULL,
    created_at      INTEGER NOT NULL
);
INSERT INTO events_old (id, user_id, event_type, payload, occurred_at, idempotency_key, delivery_count, created_at)
    SELECT e.id, o.user_id, e.event_type, e.payload, e.occurred_at, e.idempotency_key, e.delivery_count, e.created_at
    FROM events e JOIN tenant_owners o ON o.tenant_id = e.tenant_id;
DROP TABLE events;
ALTER TABLE events_old RENAME TO events;
CREATE UNIQUE INDEX events_idempotency_key_idx ON events (user_id, idempotency_key)
    WHERE idempotency_key IS NOT NULL;
CREATE INDEX events_created_idx ON events (created_at);

CREATE TABLE webhooks_old (
    id                         TEXT PRIMARY KEY,
    user_id                    TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    name                       TEXT NOT NULL,
    url                        TEXT NOT NULL,
    events                     TEXT NOT NULL,
    secret                     TEXT NOT NULL,
    description                TEXT NOT NULL DEFAULT '',
    is_active                  BOOLEAN NOT NULL DEFAULT TRUE,
    created_at                 INTEGER NOT NULL,
    updated_at                 INTEGER NOT NULL,
    previous_secret            TEXT,
    previous_secret_expires_at INTEGER,
    disabled_reason            TEXT,
    disabled_at                INTEGER,
    headers                    TEXT NOT NULL DEFAULT '{}',
    rate_limit                 INTEGER,
    timeout_seconds            INTEGER
);
INSERT INTO webhooks_old (id, user_id, name, url, events, secret, description, is_active, created_at, updated_at,
        previous_secret, previous_secret_expires_at, disabled_reason, disabled_at, headers, rate_limit, timeout_seconds)
    SELECT w.id, o.user_id, w.name, w.url, w.events, w.secret, w.description, w.is_active, w.created_at, w.updated_at,
        w.previous_secret, w.previous_secret_expires_at, w.disabled_reason, w.disabled_at, w.headers, w.rate_limit, w.timeout_seconds
    FROM webhooks w JOIN tenant_owners o ON o.tenant_id = w.tenant_id;
DROP TABLE webhooks;
ALTER TABLE webhooks_old RENAME TO webhooks;
CREATE INDEX webhooks_user_id_idx ON webhooks (user_id, id);

CREATE TABLE users_old (
    id            TEXT PRIMARY KEY,
    email         TEXT NOT NULL UNIQUE,
    password_hash TEXT NOT NULL,
    created_at    INTEGER NOT NULL,
    updated_at    INTEGER NOT NULL,
    disabled_at   INTEGER,
    token_version INTEGER NOT NULL DEFAULT 0
);
INSERT INTO users_old (id, email, password_hash, created_at, updated_at, disabled_at, token_version)
    SELECT id, email, password_hash, created_at, updated_at, disabled_at, token_version FROM users;
DROP TABLE users;
ALTER TABLE users_old RENAME TO users;
DROP TABLE tenants;
DROP TABLE tenant_owners;

CREATE TEMPORARY TABLE migration_foreign_key_check (violations INTEGER NOT NULL CHECK (violations = 0));
INSERT INTO migration_foreign_key_check SELECT COUNT(*) FROM pragma_foreign_key_check;
DROP TABLE migration_foreign_key_check;

COMMIT;
PRAGMA foreign_keys = ON;
