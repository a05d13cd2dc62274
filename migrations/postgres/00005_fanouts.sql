-- +goose Up
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

-- +goose Down
DROP TABLE fanouts;
