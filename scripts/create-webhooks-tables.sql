-- create-webhooks-tables.sql: webhookd's PostgreSQL schema as one plain SQL
-- script, for installations that create tables by hand instead of running
-- `webhookd migrate up`:
--
--     psql -h localhost -U postgres -d whatscrm -f scripts/create-webhooks-tables.sql
--
-- Run it once, on an empty database (or with search_path naming an empty
-- schema). It creates exactly what the Up sections of migrations/postgres/*.sql
-- create, and also goose's version table with the rows goose itself writes
-- (version 0, then one row per migration, all applied), so `webhookd serve`
-- finds no pending migration and starts without changing anything.
--
-- This file MUST match migrations/postgres. It holds each migration's Up
-- section in order, under the migration's file name, so that columns added
-- by ALTER TABLE end up in the same place as after `migrate up`. When a
-- migration is added, append its Up section as a new block before goose's
-- table and add a goose_db_version row for its version at the end.
-- A test enforces this: store/schema_test.go (TestSchemaScript) builds one
-- schema with the migrations and one with this script and fails on any
-- difference in tables, columns, defaults, constraints, indexes or version
-- rows.
--
-- Everything runs in one transaction, so a failure (for example, tables that
-- already exist) leaves the database untouched; use psql -v ON_ERROR_STOP=1
-- to make psql stop at the first error.

BEGIN;

-- 00001_init.sql

CREATE TABLE settings (
    key   TEXT PRIMARY KEY,
    value TEXT NOT NULL
);

CREATE TABLE users (
    id            TEXT PRIMARY KEY,
    email         TEXT NOT NULL UNIQUE,
    password_hash TEXT NOT NULL,
    created_at    TIMESTAMPTZ NOT NULL,
    updated_at    TIMESTAMPTZ NOT NULL
);

CREATE TABLE api_keys (
    id           TEXT PRIMARY KEY,
    user_id      TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    name         TEXT NOT NULL,
    key_hash     TEXT NOT NULL UNIQUE,
    key_prefix   TEXT NOT NULL,
    created_at   TIMESTAMPTZ NOT NULL,
    last_used_at TIMESTAMPTZ
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
    created_at  TIMESTAMPTZ NOT NULL,
    updated_at  TIMESTAMPTZ NOT NULL
);
CREATE INDEX webhooks_user_id_idx ON webhooks (user_id, id);

CREATE TABLE webhook_stats (
    webhook_id           TEXT PRIMARY KEY REFERENCES webhooks (id) ON DELETE CASCADE,
    total_attempts       BIGINT NOT NULL DEFAULT 0,
    successful_attempts  BIGINT NOT NULL DEFAULT 0,
    failed_attempts      BIGINT NOT NULL DEFAULT 0,
    total_duration_ms    BIGINT NOT NULL DEFAULT 0,
    consecutive_failures BIGINT NOT NULL DEFAULT 0,
    last_attempt_at      TIMESTAMPTZ,
    last_success_at      TIMESTAMPTZ,
    last_failure_at      TIMESTAMPTZ
);

CREATE TABLE events (
    id              TEXT PRIMARY KEY,
    user_id         TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    event_type      TEXT NOT NULL,
    payload         BYTEA NOT NULL,
    occurred_at     TIMESTAMPTZ NOT NULL,
    idempotency_key TEXT,
    delivery_count  INTEGER NOT NULL,
    created_at      TIMESTAMPTZ NOT NULL
);
CREATE UNIQUE INDEX events_idempotency_key_idx ON events (user_id, idempotency_key)
    WHERE idempotency_key IS NOT NULL;

CREATE TABLE deliveries (
    id              TEXT PRIMARY KEY,
    event_id        TEXT NOT NULL REFERENCES events (id) ON DELETE CASCADE,
    webhook_id      TEXT NOT NULL REFERENCES webhooks (id) ON DELETE CASCADE,
    status          TEXT NOT NULL CHECK (status IN ('pending', 'success', 'failed')),
    attempts        INTEGER NOT NULL DEFAULT 0,
    next_attempt_at TIMESTAMPTZ NOT NULL,
    lease_token     TEXT,
    created_at      TIMESTAMPTZ NOT NULL,
    updated_at      TIMESTAMPTZ NOT NULL
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
    request_body    BYTEA NOT NULL,
    response_body   BYTEA,
    created_at      TIMESTAMPTZ NOT NULL,
    next_attempt_at TIMESTAMPTZ,
    test            BOOLEAN NOT NULL DEFAULT FALSE
);
CREATE INDEX webhook_logs_webhook_id_idx ON webhook_logs (webhook_id, id);
CREATE INDEX webhook_logs_webhook_created_idx ON webhook_logs (webhook_id, created_at);

-- 00002_operations.sql

-- Accounts: disabling a user or changing its password ends its tokens
-- (token_version is in every token and must match).
ALTER TABLE users ADD COLUMN disabled_at TIMESTAMPTZ;
ALTER TABLE users ADD COLUMN token_version INTEGER NOT NULL DEFAULT 0;

-- Failed logins, counted per email and per client address for throttling.
CREATE TABLE login_failures (
    id           BIGSERIAL PRIMARY KEY,
    throttle_key TEXT NOT NULL,
    created_at   TIMESTAMPTZ NOT NULL
);
CREATE INDEX login_failures_key_idx ON login_failures (throttle_key, created_at);

-- Secret rotation: the old secret keeps signing until it expires.
ALTER TABLE webhooks ADD COLUMN previous_secret TEXT;
ALTER TABLE webhooks ADD COLUMN previous_secret_expires_at TIMESTAMPTZ;
-- Auto-disable and per-webhook delivery options.
ALTER TABLE webhooks ADD COLUMN disabled_reason TEXT;
ALTER TABLE webhooks ADD COLUMN disabled_at TIMESTAMPTZ;
ALTER TABLE webhooks ADD COLUMN headers TEXT NOT NULL DEFAULT '{}';
ALTER TABLE webhooks ADD COLUMN rate_limit INTEGER;
ALTER TABLE webhooks ADD COLUMN timeout_seconds INTEGER;
-- When the current run of consecutive failures began.
ALTER TABLE webhook_stats ADD COLUMN failing_since TIMESTAMPTZ;

-- Retention prunes by age.
CREATE INDEX webhook_logs_created_idx ON webhook_logs (created_at);
CREATE INDEX events_created_idx ON events (created_at);

-- 00003_webhook_due_index.sql
-- Each webhook's pending deliveries in due order, so the dispatcher can ask
-- a webhook for its oldest due deliveries without reading the backlog of
-- another webhook that is at its in-flight cap or paused. It replaces the
-- (webhook_id, status) index, whose uses it still serves.
DROP INDEX deliveries_webhook_id_idx;
CREATE INDEX deliveries_webhook_id_idx ON deliveries (webhook_id, status, next_attempt_at);

-- 00004_delivery_test.sql
-- A test send's delivery stays a test when it is redelivered: the
-- dispatcher logs its attempt as a test, makes it once and never retries
-- it, and a 410 answer to it does not disable the webhook. Deliveries of
-- test sends made before this column existed are found by their log rows.
ALTER TABLE deliveries ADD COLUMN test BOOLEAN NOT NULL DEFAULT FALSE;

-- 00005_fanouts.sql
-- Events whose deliveries are still being created: a large fan-out is
-- committed with its events and then inserted in short transactions, so it
-- never holds the writer long. after_webhook_id is the progress (deliveries
-- exist for the event's matching webhooks up to it), last_webhook_id the
-- greatest webhook the event matched when it was accepted; a restart resumes
-- from the row.
CREATE TABLE fanouts (
    event_id         TEXT PRIMARY KEY REFERENCES events (id) ON DELETE CASCADE,
    after_webhook_id TEXT NOT NULL DEFAULT '',
    last_webhook_id  TEXT NOT NULL
);

-- 00006_log_read_indexes.sql
-- Filtered log pages at a million rows: each filter has an index that ends
-- in id, so a page is read in id order straight from it and stops at the
-- page size instead of sorting every matching row (a type alone is read as
-- its two statuses' ranges, merged). A time window becomes an
-- id range as well (log ids are UUIDv7 carrying their created_at), which
-- any of these indexes, and (webhook_id, id), can seek.
CREATE INDEX webhook_logs_webhook_status_idx ON webhook_logs (webhook_id, status, id);
CREATE INDEX webhook_logs_webhook_type_idx ON webhook_logs (webhook_id, event_type, status, id);
-- With windows read by id, (webhook_id, created_at) served nothing that
-- (webhook_id, id) does not, and it tempted planners without statistics
-- into reading a whole window and sorting it: it goes, and with it its
-- cost on every log insert.
DROP INDEX webhook_logs_webhook_created_idx;

-- Each webhook's attempts per minute and per hour, kept with the log rows in
-- the same transaction, so that stats since a time and the hourly series sum
-- at most a few hundred small rows rather than reading every log row of the
-- window. A row counts the span minutes (1 or 60) from minute, a Unix time
-- in whole minutes.
CREATE TABLE webhook_log_counts (
    webhook_id          TEXT NOT NULL REFERENCES webhooks (id) ON DELETE CASCADE,
    span                BIGINT NOT NULL CHECK (span IN (1, 60)),
    minute              BIGINT NOT NULL,
    total_attempts      BIGINT NOT NULL,
    successful_attempts BIGINT NOT NULL,
    total_duration_ms   BIGINT NOT NULL,
    max_duration_ms     BIGINT NOT NULL,
    last_success_at     TIMESTAMPTZ,
    last_failure_at     TIMESTAMPTZ,
    PRIMARY KEY (webhook_id, span, minute)
);
-- Retention deletes the counts with the logs, by age.
CREATE INDEX webhook_log_counts_minute_idx ON webhook_log_counts (minute);

-- 00007_tenants.sql
-- Tenants: the CRM's customer accounts. Webhooks, events and API keys
-- belong to a tenant and every member (user) of it sees and manages them;
-- what a user created stays with the tenant when the user goes. Each
-- existing user gets a tenant of its own, with the user's id as the
-- tenant's id, so every existing row keeps its owner column's value and
-- only the column's meaning changes: from the user to the user's tenant.
CREATE TABLE tenants (
    id         TEXT PRIMARY KEY,
    name       TEXT NOT NULL DEFAULT '',
    metadata   TEXT NOT NULL DEFAULT '{}',
    created_at TIMESTAMPTZ NOT NULL,
    updated_at TIMESTAMPTZ NOT NULL
);
INSERT INTO tenants (id, name, created_at, updated_at) SELECT id, email, created_at, created_at FROM users;

ALTER TABLE users ADD COLUMN tenant_id TEXT REFERENCES tenants (id) ON DELETE CASCADE;
UPDATE users SET tenant_id = id;
ALTER TABLE users ALTER COLUMN tenant_id SET NOT NULL;
CREATE INDEX users_tenant_id_idx ON users (tenant_id, id);

-- created_by is the member who created the row: a user's id, or the
-- subject of a trusted CRM token (no user row), so it has no foreign key.
ALTER TABLE webhooks DROP CONSTRAINT webhooks_user_id_fkey;
ALTER TABLE webhooks RENAME COLUMN user_id TO tenant_id;
ALTER TABLE webhooks ADD CONSTRAINT webhooks_tenant_id_fkey FOREIGN KEY (tenant_id) REFERENCES tenants (id) ON DELETE CASCADE;
ALTER TABLE webhooks ADD COLUMN created_by TEXT NOT NULL DEFAULT '';
UPDATE webhooks SET created_by = tenant_id;
ALTER INDEX webhooks_user_id_idx RENAME TO webhooks_tenant_id_idx;

ALTER TABLE events DROP CONSTRAINT events_user_id_fkey;
ALTER TABLE events RENAME COLUMN user_id TO tenant_id;
ALTER TABLE events ADD CONSTRAINT events_tenant_id_fkey FOREIGN KEY (tenant_id) REFERENCES tenants (id) ON DELETE CASCADE;

-- A service key (tenant_id NULL) acts for any tenant, naming it on each
-- request; any other key acts for its tenant only.
ALTER TABLE api_keys DROP CONSTRAINT api_keys_user_id_fkey;
ALTER TABLE api_keys RENAME COLUMN user_id TO tenant_id;
ALTER TABLE api_keys ALTER COLUMN tenant_id DROP NOT NULL;
ALTER TABLE api_keys ADD CONSTRAINT api_keys_tenant_id_fkey FOREIGN KEY (tenant_id) REFERENCES tenants (id) ON DELETE CASCADE;
ALTER TABLE api_keys ADD COLUMN created_by TEXT NOT NULL DEFAULT '';
ALTER TABLE api_keys ADD COLUMN service BOOLEAN NOT NULL DEFAULT FALSE;
ALTER TABLE api_keys ADD CONSTRAINT api_keys_service_check CHECK (service = (tenant_id IS NULL));
UPDATE api_keys SET created_by = tenant_id;
ALTER INDEX api_keys_user_id_idx RENAME TO api_keys_tenant_id_idx;

-- 00008_webhook_filters.sql

ALTER TABLE webhooks ADD COLUMN filter TEXT;

-- 00009_ordered_delivery.sql
-- Ordered delivery (FIFO per ordering key). A webhook says whether its
-- deliveries are ordered and by which path of the envelope; ordering_seq
-- is the last sequence number given to one of its deliveries, taken in the
-- publishing transaction so the numbers follow acceptance order.
ALTER TABLE webhooks ADD COLUMN ordering TEXT NOT NULL DEFAULT 'none' CHECK (ordering IN ('none', 'fifo'));
ALTER TABLE webhooks ADD COLUMN ordering_key TEXT NOT NULL DEFAULT '';
ALTER TABLE webhooks ADD COLUMN ordering_seq BIGINT NOT NULL DEFAULT 0;
-- A delivery to a FIFO webhook carries its key's value and its sequence
-- number (both NULL for unordered deliveries). Only the oldest pending one
-- of each key is due; the rest wait, pending, due at the end of time, until
-- the one before them finishes (see store/ordering.go).
ALTER TABLE deliveries ADD COLUMN ordering_key TEXT;
ALTER TABLE deliveries ADD COLUMN seq BIGINT;
-- Each key's queue in order: the publish asks whether a key has one
-- waiting, and a finished delivery lets the next of its key go.
CREATE INDEX deliveries_ordering_idx ON deliveries (webhook_id, ordering_key, seq) WHERE status = 'pending' AND seq IS NOT NULL;

-- 00010_outbox.sql

-- The transactional outbox (issue 17): the CRM inserts a row here inside
-- its own transaction, and `webhookd serve --outbox` turns each committed
-- row into one event and deletes it in the same transaction. The columns
-- are nullable as the CRM may leave them: a row that cannot become an
-- event (no event type, no data, no tenant and no --outbox-owner) is moved
-- to webhook_outbox_dead with the reason rather than failing the CRM's
-- own transaction.
CREATE TABLE webhook_outbox (
    id              BIGSERIAL PRIMARY KEY,
    tenant          TEXT,
    event           TEXT,
    data            JSONB,
    idempotency_key TEXT,
    occurred_at     TIMESTAMPTZ DEFAULT now(),
    created_at      TIMESTAMPTZ DEFAULT now()
);

-- Rows that could not become events, with why; `webhookd outbox requeue`
-- moves them back into webhook_outbox under the same id.
CREATE TABLE webhook_outbox_dead (
    id              BIGINT PRIMARY KEY,
    tenant          TEXT,
    event           TEXT,
    data            JSONB,
    idempotency_key TEXT,
    occurred_at     TIMESTAMPTZ,
    created_at      TIMESTAMPTZ,
    reason          TEXT NOT NULL,
    dead_at         TIMESTAMPTZ NOT NULL
);

-- Each inserting statement wakes every consumer once it commits (NOTIFY is
-- delivered at commit, and never for a rolled-back transaction); per
-- statement rather than per row, so a bulk insert costs one notification.
CREATE FUNCTION webhook_outbox_notify() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('webhookd_outbox', '');
    RETURN NULL;
END;
$$;
CREATE TRIGGER webhook_outbox_notify AFTER INSERT ON webhook_outbox
    FOR EACH STATEMENT EXECUTE FUNCTION webhook_outbox_notify();

-- 00011_log_covering_index.sql: nothing on PostgreSQL (SQLite widens its
-- (webhook_id, id) log index); only its version row below.

-- goose's version table, created exactly as goose v3 creates it for
-- PostgreSQL. goose writes version 0 when it creates the table and then one
-- row per applied migration; ids come from the identity column (not written
-- here) so that goose's own later inserts continue the sequence.

CREATE TABLE goose_db_version (
    id         integer PRIMARY KEY GENERATED BY DEFAULT AS IDENTITY,
    version_id bigint NOT NULL,
    is_applied boolean NOT NULL,
    tstamp     timestamp NOT NULL DEFAULT now()
);

INSERT INTO goose_db_version (version_id, is_applied) VALUES (0, true);
INSERT INTO goose_db_version (version_id, is_applied) VALUES (1, true);
INSERT INTO goose_db_version (version_id, is_applied) VALUES (2, true);
INSERT INTO goose_db_version (version_id, is_applied) VALUES (3, true);
INSERT INTO goose_db_version (version_id, is_applied) VALUES (4, true);
INSERT INTO goose_db_version (version_id, is_applied) VALUES (5, true);
INSERT INTO goose_db_version (version_id, is_applied) VALUES (6, true);
INSERT INTO goose_db_version (version_id, is_applied) VALUES (7, true);
INSERT INTO goose_db_version (version_id, is_applied) VALUES (8, true);
INSERT INTO goose_db_version (version_id, is_applied) VALUES (9, true);
INSERT INTO goose_db_version (version_id, is_applied) VALUES (10, true);
INSERT INTO goose_db_version (version_id, is_applied) VALUES (11, true);

COMMIT;
