-- +goose Up
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

-- +goose Down
-- Each tenant's rows go back to its oldest member; a tenant without
-- members (made by the service API) has no user to own them, and its rows
-- go with it, as do service keys.
DELETE FROM api_keys WHERE service OR tenant_id NOT IN (SELECT tenant_id FROM users);
DELETE FROM webhooks WHERE tenant_id NOT IN (SELECT tenant_id FROM users);
DELETE FROM events WHERE tenant_id NOT IN (SELECT tenant_id FROM users);
CREATE TEMPORARY TABLE tenant_owners ON COMMIT DROP AS
    SELECT DISTINCT ON (tenant_id) tenant_id, id AS user_id FROM users ORDER BY tenant_id, created_at, id;

ALTER INDEX api_keys_tenant_id_idx RENAME TO api_keys_user_id_idx;
ALTER TABLE api_keys DROP CONSTRAINT api_keys_service_check;
ALTER TABLE api_keys DROP COLUMN service;
ALTER TABLE api_keys DROP COLUMN created_by;
ALTER TABLE api_keys DROP CONSTRAINT api_keys_tenant_id_fkey;
UPDATE api_keys k SET tenant_id = o.user_id FROM tenant_owners o WHERE o.tenant_id = k.tenant_id;
ALTER TABLE api_keys ALTER COLUMN tenant_id SET NOT NULL;
ALTER TABLE api_keys RENAME COLUMN tenant_id TO user_id;
ALTER TABLE api_keys ADD CONSTRAINT api_keys_user_id_fkey FOREIGN KEY (user_id) REFERENCES users (id) ON DELETE CASCADE;

ALTER TABLE events DROP CONSTRAINT events_tenant_id_fkey;
UPDATE events e SET tenant_id = o.user_id FROM tenant_owners o WHERE o.tenant_id = e.tenant_id;
ALTER TABLE events RENAME COLUMN tenant_id TO user_id;
ALTER TABLE events ADD CONSTRAINT events_user_id_fkey FOREIGN KEY (user_id) REFERENCES users (id) ON DELETE CASCADE;

ALTER INDEX webhooks_tenant_id_idx RENAME TO webhooks_user_id_idx;
ALTER TABLE webhooks DROP COLUMN created_by;
ALTER TABLE webhooks DROP CONSTRAINT webhooks_tenant_id_fkey;
UPDATE webhooks w SET tenant_id = o.user_id FROM tenant_owners o WHERE o.tenant_id = w.tenant_id;
ALTER TABLE webhooks RENAME COLUMN tenant_id TO user_id;
ALTER TABLE webhooks ADD CONSTRAINT webhooks_user_id_fkey FOREIGN KEY (user_id) REFERENCES users (id) ON DELETE CASCADE;

DROP INDEX users_tenant_id_idx;
ALTER TABLE users DROP COLUMN tenant_id;
DROP TABLE tenants;
