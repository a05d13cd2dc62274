-- +goose Up
-- (webhook_id, id) widened with the columns a stats window sums and a log
-- window filters on, so that those reads never leave the index: the part
-- of a minute that stats?since= counts from the log rows (up to half a
-- minute of a busy webhook's rows, 8,000 at 5 million logs), the p95's
-- latest 1,000 durations, and the rows a time window's id range holds
-- beyond its exact created_at ends (idSlack) are each checked in the index,
-- and a log page seeks the table only for the rows it returns. It keeps its
-- name, and so every statement that names it, and still serves (webhook_id,
-- id) seeks and pages in id order; a log insert still writes the same
-- number of B-trees.
DROP INDEX webhook_logs_webhook_id_idx;
CREATE INDEX webhook_logs_webhook_id_idx ON webhook_logs (webhook_id, id, created_at, status, duration_ms);

-- +goose Down
DROP INDEX webhook_logs_webhook_id_idx;
CREATE INDEX webhook_logs_webhook_id_idx ON webhook_logs (webhook_id, id);
