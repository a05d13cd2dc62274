// Package delivery sends events to webhooks: the dispatcher that leases due
// deliveries from the store and runs them on a bounded pool of workers, the
// sender that builds the signed request and makes one attempt, and the retry
// schedule.
//
// # The lease protocol
//
// The dispatcher leases a batch of due deliveries (store.LeaseDeliveries),
// which stamps them with a lease token and moves their next_attempt_at to
// now + lease. Each is sent once; the outcome is recorded with
// store.CompleteDeliveries, fenced by the token, in batches. A process that
// dies mid-send never completes its leases, so they fall due again when the
// lease runs out and another process (or this one, restarted) sends them:
// delivery is at least once, and receivers de-duplicate by webhook-id.
//
// Long waits live in the database, never in a sleeping worker: a failed
// attempt is completed with its next_attempt_at from the Schedule, and the
// dispatcher sleeps only until the earliest due delivery or until woken.
// Woken within 2 ms of a lease that took less than a full batch, it waits
// out the rest first, so that the wake-ups of a busy dispatcher (each
// publish, each finished send) share one lease transaction.
//
// # Isolation
//
// Every webhook has a cap on sends in flight. A webhook at its cap is left
// out of the next lease, so a slow or hanging receiver holds at most its cap
// of workers and never delays the others.
package delivery
