-- +goose Up
-- SQLite's 00011 widens (webhook_id, id) so that a stats window's rows are
-- summed from the index alone. PostgreSQL keeps its index as it is: an
-- index-only scan there skips the table only for pages the visibility map
-- marks all-visible, which needs a VACUUM, and a plan must not depend on
-- one having run (with autovacuum off, nothing marks them); measured at
-- 5,000,000 rows, its bitmap read of a busy half-minute (9,190 rows) took
-- 7 ms. The version exists so that both dialects carry the same numbers.
SELECT 1;

-- +goose Down
SELECT 1;
