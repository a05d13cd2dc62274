-- +goose Up
-- Ordered delivery (FIFO per ordering key). A webhook says whether its
-- deliveries are ordered and by which path of the envelope; ordering_seq
-- is the last sequence number given to one of its deliveries, taken in the
-- publishing transaction so the numbers follow acceptance order.
ALTER TABLE webhooks ADD COLUMN ordering TEXT NOT NULL DEFAULT 'none' CHECK (ordering IN ('none', 'fifo'));
ALTER TABLE webhooks ADD COLUMN ordering_key TEXT NOT NULL DEFAULT '';
ALTER TABLE webhooks ADD COLUMN ordering_seq INTEGER NOT NULL DEFAULT 0;
-- A delivery to a FIFO webhook carries its key's value and its sequence
-- number (both NULL for unordered deliveries). Only the oldest pending one
-- of each key is due; the rest wait, pending, due at the end of time, until
-- the one before them finishes (see store/ordering.go).
ALTER TABLE deliveries ADD COLUMN ordering_key TEXT;
ALTER TABLE deliveries ADD COLUMN seq INTEGER;
-- Each key's queue in order: the publish asks whether a key has one
-- waiting, and a finished delivery lets the next of its key go.
CREATE INDEX deliveries_ordering_idx ON deliveries (webhook_id, ordering_key, seq) WHERE status = 'pending' AND seq IS NOT NULL;

-- +goose Down
DROP INDEX deliveries_ordering_idx;
ALTER TABLE deliveries DROP COLUMN seq;
ALTER TABLE deliveries DROP COLUMN ordering_key;
ALTER TABLE webhooks DROP COLUMN ordering_seq;
ALTER TABLE webhooks DROP COLUMN ordering_key;
ALTER TABLE webhooks DROP COLUMN ordering;
