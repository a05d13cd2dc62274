-- +goose Up
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
-- +goose StatementBegin
CREATE FUNCTION webhook_outbox_notify() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('webhookd_outbox', '');
    RETURN NULL;
END;
$$;
-- +goose StatementEnd
CREATE TRIGGER webhook_outbox_notify AFTER INSERT ON webhook_outbox
    FOR EACH STATEMENT EXECUTE FUNCTION webhook_outbox_notify();

-- +goose Down
DROP TRIGGER webhook_outbox_notify ON webhook_outbox;
DROP FUNCTION webhook_outbox_notify();
DROP TABLE webhook_outbox_dead;
DROP TABLE webhook_outbox;
