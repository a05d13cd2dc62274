-- +goose Up
-- Each webhook's pending deliveries in due order, so the dispatcher can ask
-- a webhook for its oldest due deliveries without reading the backlog of
-- another webhook that is at its in-flight cap or paused. It replaces the
-- (webhook_id, status) index, whose uses it still serves.
DROP INDEX deliveries_webhook_id_idx;
CREATE INDEX deliveries_webhook_id_idx ON deliveries (webhook_id, status, next_attempt_at);

-- +goose Down
DROP INDEX deliveries_webhook_id_idx;
CREATE INDEX deliveries_webhook_id_idx ON deliveries (webhook_id, status);
