// Package store owns every SQL statement webhookd runs, for both SQLite and
// PostgreSQL, and the domain types those statements read and write.
//
// # Dialects
//
// Both databases are reached through database/sql (modernc.org/sqlite and
// pgx's stdlib driver). Both bind $1…$N by position, so most statements are
// written once. What differs is a method of the one unexported dialect
// value, never a comparison of kinds in a query: how a time is bound
// (SQLite keeps INTEGER Unix milliseconds because modernc would otherwise
// write Go's time.String() text, which does not sort), the placeholders of
// a statement built piece by piece (dialect.args: $n, or a bare ? on
// SQLite, which looks $n up by name, quadratic over a batch's thousands),
// the locking clauses (SKIP LOCKED, FOR UPDATE, FOR KEY SHARE, the owner's
// and a login key's locks, all nothing on SQLite's single writer),
// NOTIFY, the planner settings of walkIndexesInOrder, and the migrations.
// Errors are classified by code in errors.go, never by message.
//
// SQLite uses two pools over one file: a writer with a single connection
// and BEGIN IMMEDIATE transactions, so writers queue in Go instead of
// failing with SQLITE_BUSY, and a reader pool for SELECTs, which WAL lets run
// beside the writer. A lock file next to the database refuses a second
// process, because leases assume one process owns an SQLite database.
//
// # Ownership
//
// Webhooks, events and API keys belong to a tenant (the CRM's customer
// account, tenants.id); users are its members. Every method that reads or
// changes a tenant's rows takes the tenant's id and filters by it, so one
// tenant's ids are simply not found by another (ErrNotFound), never
// "forbidden". Deleting a tenant removes all of its rows by cascade. The
// dispatcher's per-owner caps and fairness, and the per-owner limits, are
// per tenant: the owner of a delivery is its webhook's tenant.
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
// A lease (LeaseDue) takes due deliveries oldest first within caps its
// caller gives it, from its own count of sends in flight: per webhook, per
// owner (an owner past its share only while no other owner has due
// deliveries that could go now, and never into the last share of free
// workers) and, for a rate-limited webhook, what its rate allows within
// the pacing horizon. With several processes on PostgreSQL each counts
// only its own sends, so the caps hold per process. One write transaction
// runs, in order:
//
//  1. On PostgreSQL, walkIndexesInOrder: sorts and JIT off until commit
//     (see below).
//  2. The window: the oldest due deliveries with their webhook, owner,
//     state and rate limit, in next_attempt_at order, LIMIT the lease's
//     size plus 64 (at most 1000); on PostgreSQL FOR UPDATE OF d SKIP
//     LOCKED, so processes leasing side by side pass over each other's
//     rows instead of waiting. It is read whole first, since deciding an
//     owner's room may need another query.
//  3. In Go, the window's rows are taken in due order while their
//     webhook is active, not skipped, and has room under the caps. Whether
//     other owners are waiting is answered from the window when it held
//     every due delivery, and otherwise by the probe of step 4 leaving out
//     the owner asking.
//  4. Only when the window was full and the lease is not: the probe,
//     activeWebhooksByDue, which lists the active webhooks with a pending
//     delivery by the earliest next_attempt_at of each (one probe of the
//     (webhook_id, status, next_attempt_at) index per webhook, however
//     long its backlog), read owner by owner so that the owners already
//     at their cap, left out, cost nothing; then,
//     webhook by webhook in that order, as many of its own oldest due
//     deliveries as it has room for (SKIP LOCKED again on PostgreSQL).
//     So a window full of deliveries that cannot be taken (a paused
//     webhook with a backlog of thousands, a webhook or owner at its cap)
//     costs a probe per webhook, not a pass over the backlog.
//  5. UPDATE … SET lease_token, next_attempt_at = now + lease WHERE id IN
//     (…), then the leased rows with their events and webhooks, both in
//     runs of at most 200 ids (power-of-two runs on SQLite, whose writer
//     keeps each distinct text prepared).
//
// The owners left out for their cap are returned with the lease, so the
// dispatcher need not wait for their due deliveries. NextDueAt reads the
// same window, and the same probe when the window is full, to say when the
// next delivery falls due.
//
// A completion batch (CompleteDeliveries) is one transaction: the batch's
// webhooks that still exist (FOR KEY SHARE on PostgreSQL, so a delete
// waits for the batch), one UPDATE joining a VALUES list of (id, lease
// token, outcome) fenced by the lease token, the attempts' log rows, the
// counters, and auto-disable. At shutdown, unfinished leases are released
// (ReleaseDeliveries); on SQLite, whose file this process alone holds,
// every lease left by a crash is released at start (ReleaseAllLeases).
//
// A lease's cost must not depend on the backlog or on statistics the
// database may not have. PostgreSQL without statistics expects a few
// hundred due rows and would rather read and sort them all than walk the
// due index in order and stop at the window, so the lease transaction
// disables sorts (walkIndexesInOrder), and JIT with them, since a sort
// costed as disabled would otherwise be compiled on every lease; SQLite
// walks the index on its own. Whether other owners wait for workers is
// asked of their webhooks only, so an owner with 10,000 webhooks is not
// probed webhook by webhook per lease.
//
// # Reading the logs
//
// A log's id is a UUIDv7 made from its created_at, so id order is time order
// and a time window is an id range. Every log page is read backwards along
// an index that ends in id, (webhook_id, id), (webhook_id, status, id) or
// (webhook_id, event_type, status, id) (a type alone merges its two
// statuses' reads), and stops at the page size; no statement sorts a
// webhook's matching rows. On SQLite (webhook_id, id) also carries
// created_at, status and duration_ms, so that the part-minute of a stats
// window and the p95's durations are summed from the index alone.
// Attempt counts are kept per minute and per hour in webhook_log_counts, in
// the completion's transaction, for stats over a window and the hourly
// series.
package store
