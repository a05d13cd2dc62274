-- +goose Up
-- The transactional outbox (issue 17) is PostgreSQL only: a CRM writes it
-- in its own PostgreSQL transaction. This no-op keeps the version numbers
-- of both dialects aligned.
SELECT 1;

-- +goose Down
SELECT 1;
