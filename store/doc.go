// Package store owns every SQL statement webhookd runs, for both SQLite and
// PostgreSQL, and the domain types those statements read and write.
//
// # Dialects
//
// Both databases are reached through database/sql (modernc.org/sqlite and
// pgx's stdlib driver). Both bind $1…$N by position, so most statements are
// written once; what differs lives in the unexported dialect value: how a
// time is bound (SQLite keeps INTEGER Unix milliseconds because modernc would
// otherwise write Go's time.String() text, which does not sort), the lease
// statement, and error classification.
//
// SQLite uses two pools over one file: a writer with a single connection
// and BEGIN IMMEDIATE transactions, so writers queue in Go instead of
// failing with SQLITE_BUSY, and a reader pool for SELECTs, which WAL lets run
// beside the writer. A lock file next to the database refuses a second
// process, because leases assume one process owns an SQLite database.
//
// # Ownership
//
// Every method that reads or changes a user's rows takes the owner's id and
// filters by it, so one user's ids are simply not found by another user
// (ErrNotFound), never "forbidden".
//
// # The delivery queue
//
// deliveries is the queue: one row per event × webhook, whose id is the
// stable delivery id sent to receivers. next_attempt_at drives both retries
// and leases: leasing sets it to now + lease and stamps a lease token, so a
// lease that is never completed (a crashed process) simply becomes due again.
// Completions are fenced by the lease token, so a worker whose lease expired
// and was taken over cannot overwrite the newer owner's outcome.
// webhook_logs is append-only, one row per attempt.
//
// A lease takes due deliveries oldest first within caps its caller gives
// it, from its own count of sends in flight: per webhook, per owner (an
// owner past its share only while no other owner has due deliveries that
// could go now, and never into the last share of free workers) and, for a
// rate-limited webhook, what its rate allows now. With several processes
// on PostgreSQL each counts only its own sends, so the caps hold per
// process.
//
// A lease's cost must not depend on the backlog or on statistics the
// database may not have: it reads a bounded window of the oldest due
// deliveries by walking the due index in order. PostgreSQL without
// statistics expects a few hundred due rows and would rather read and sort
// them all, so the lease transaction disables sorts (walkIndexesInOrder),
// and JIT with them, since a sort costed as disabled would otherwise be
// compiled on every lease; SQLite walks the index on its own. Whether
// other owners wait for workers is asked of their webhooks only, so an
// owner with 10,000 webhooks is not probed webhook by webhook per lease.
//
// # Reading the logs
//
// A log's id is a UUIDv7 made from its created_at, so id order is time order
// and a time window is an id range. Every log page is read backwards along
// an index that ends in id, (webhook_id, id), (webhook_id, status, id) or
// (webhook_id, event_type, status, id) (a type alone merges its two
// statuses' reads), and stops at the page size; no statement sorts a
// webhook's matching rows.
// Attempt counts are kept per minute and per hour in webhook_log_counts, in
// the completion's transaction, for stats over a window and the hourly
// series.
package store
