-- +goose Up
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

INSERT INTO webhook_log_counts (webhook_id, span, minute, total_attempts, successful_attempts, total_duration_ms,
    max_duration_ms, last_success_at, last_failure_at)
SELECT webhook_id, 1, FLOOR(EXTRACT(EPOCH FROM created_at) / 60)::bigint, COUNT(*),
    SUM(CASE WHEN status = 'success' THEN 1 ELSE 0 END), SUM(duration_ms), MAX(duration_ms),
    MAX(CASE WHEN status = 'success' THEN created_at END),
    MAX(CASE WHEN status = 'failed' THEN created_at END)
FROM webhook_logs GROUP BY 1, 3;

INSERT INTO webhook_log_counts (webhook_id, span, minute, total_attempts, successful_attempts, total_duration_ms,
    max_duration_ms, last_success_at, last_failure_at)
SELECT webhook_id, 60, FLOOR(EXTRACT(EPOCH FROM created_at) / 3600)::bigint * 60, COUNT(*),
    SUM(CASE WHEN status = 'success' THEN 1 ELSE 0 END), SUM(duration_ms), MAX(duration_ms),
    MAX(CASE WHEN status = 'success' THEN created_at END),
    MAX(CASE WHEN status = 'failed' THEN created_at END)
FROM webhook_logs GROUP BY 1, 3;

-- +goose Down
DROP TABLE webhook_log_counts;
DROP INDEX webhook_logs_webhook_type_idx;
DROP INDEX webhook_logs_webhook_status_idx;
CREATE INDEX webhook_logs_webhook_created_idx ON webhook_logs (webhook_id, created_at);
