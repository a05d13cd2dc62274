-- +goose Up
-- A test send's delivery stays a test when it is redelivered: the
-- dispatcher logs its attempt as a test, makes it once and never retries
-- it, and a 410 answer to it does not disable the webhook. Deliveries of
-- test sends made before this column existed are found by their log rows.
ALTER TABLE deliveries ADD COLUMN test BOOLEAN NOT NULL DEFAULT FALSE;
UPDATE deliveries SET test = TRUE WHERE id IN (SELECT delivery_id FROM webhook_logs WHERE test = TRUE);

-- +goose Down
ALTER TABLE deliveries DROP COLUMN test;
