-- +goose Up
-- A webhook's payload filter: a JSON document (package filter) matched
-- against each event's envelope when the event is accepted; NULL, the
-- default, lets every event of the webhook's types through.
ALTER TABLE webhooks ADD COLUMN filter TEXT;

-- +goose Down
ALTER TABLE webhooks DROP COLUMN filter;
