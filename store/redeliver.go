package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"
)

// ErrInFlight is returned when a delivery cannot be changed because it is
// being sent right now.
var ErrInFlight = errors.New("store: delivery in flight")

// Redeliver queues the delivery behind one of a user's log entries for a
// new attempt now, keeping its id (and so its webhook-id). It returns the
// delivery id, also alongside ErrInFlight so that callers can name it.
func (s *Store) Redeliver(ctx context.Context, tenantID, webhookID, logID string) (string, error) {
	l, err := s.LogEntry(ctx, tenantID, webhookID, logID)
	if err != nil {
		return "", err
	}
	return s.redeliver(ctx, l)
}

// RedeliverOf is Redeliver for a webhook the caller has already loaded for
// its owner (with Webhook), so that a request checks ownership once:
// ErrNotFound when the attempt is not hook's.
func (s *Store) RedeliverOf(ctx context.Context, hook Webhook, logID string) (string, error) {
	l, err := s.LogEntryOf(ctx, hook, logID)
	if err != nil {
		return "", err
	}
	return s.redeliver(ctx, l)
}

// redeliver queues l's delivery again; l is an attempt its caller has
// found under the webhook's owner.
func (s *Store) redeliver(ctx context.Context, l Log) (string, error) {
	webhookID := l.WebhookID
	now := s.Now()
	err := s.inTx(ctx, func(tx *txn) error {
		// Not locked yet: the unordered path below may wait for a
		// completion of this delivery, which may wait for the webhook's
		// lock (CompleteDeliveries).
		ordering, _, err := s.webhookOrdering(ctx, tx, webhookID, false)
		if err != nil {
			return err
		}
		if ordering == OrderingFIFO {
			done, err := s.redeliverOrdered(ctx, tx, l, now)
			if err != nil || done {
				return err
			}
		}
		res, err := tx.ExecContext(ctx, `UPDATE deliveries SET status = 'pending', next_attempt_at = $1, updated_at = $1
			WHERE id = $2 AND webhook_id = $3 AND (lease_token IS NULL OR next_attempt_at <= $1)`, s.d.t(now), l.DeliveryID, webhookID)
		if err != nil {
			return err
		}
		if n, err := res.RowsAffected(); err != nil {
			return err
		} else if n == 0 {
			var exists bool
			if err := tx.QueryRowContext(ctx, `SELECT EXISTS (SELECT 1 FROM deliveries WHERE id = $1)`, l.DeliveryID).Scan(&exists); err != nil {
				return err
			}
			if !exists {
				return ErrNotFound // pruned by retention
			}
			return ErrInFlight
		}
		return s.notifyWork(ctx, tx)
	})
	if err != nil {
		return l.DeliveryID, fmt.Errorf("store: redeliver %s: %w", l.DeliveryID, err)
	}
	return l.DeliveryID, nil
}

// redeliverOrdered redelivers l's delivery of a FIFO webhook and reports
// whether it did: a finished one
// goes to the tail of its key's queue, with a new sequence number, rather
// than ahead of the deliveries queued since; one still waiting its turn is
// left in its place. A pending one at the head of its key (waiting for a
// retry) and a test send's are left to the unordered redelivery: sent now,
// keeping their place.
func (s *Store) redeliverOrdered(ctx context.Context, tx *txn, l Log, now time.Time) (bool, error) {
	var status string
	var due time.Time
	var test bool
	err := tx.QueryRowContext(ctx, `SELECT status, next_attempt_at, test FROM deliveries WHERE id = $1 AND webhook_id = $2`,
		l.DeliveryID, l.WebhookID).Scan(&status, scanTime{&due}, &test)
	switch {
	case errors.Is(err, sql.ErrNoRows):
		return false, ErrNotFound // pruned by retention
	case err != nil:
		return false, err
	case test:
		return false, nil
	case status == DeliveryPending && isHeld(due):
		return true, nil // queued already, in its turn
	case status == DeliveryPending:
		return false, nil
	}
	// A finished delivery, which no completion holds: lock the webhook
	// as a publish does, and read its ordering again under the lock.
	ordering, path, err := s.webhookOrdering(ctx, tx, l.WebhookID, true)
	if err != nil || ordering != OrderingFIFO {
		return false, err
	}
	if err := s.requeueOrdered(ctx, tx, l.WebhookID, path, []string{l.DeliveryID}, now); err != nil {
		return false, err
	}
	return true, s.notifyWork(ctx, tx)
}

// ReplayParams selects a webhook's finished deliveries to send again.
type ReplayParams struct {
	Since      time.Time
	Until      *time.Time
	OnlyFailed bool
}

// Replay queues again, for an attempt now, every finished delivery of a
// user's webhook created in the window (only the failed ones with
// OnlyFailed), and returns how many. Pending deliveries are left alone:
// they are on their way already. Test sends are left alone too: their
// made-up payloads must not reach a receiver as real events.
// It is ErrNotFound when the webhook is not the user's.
func (s *Store) Replay(ctx context.Context, tenantID, webhookID string, p ReplayParams) (int64, error) {
	hook, err := s.Webhook(ctx, tenantID, webhookID)
	if err != nil {
		return 0, err
	}
	return s.ReplayOf(ctx, hook, p)
}

// ReplayOf is Replay for a webhook the caller has already loaded for its
// owner (with Webhook), so that a request checks ownership once.
func (s *Store) ReplayOf(ctx context.Context, hook Webhook, p ReplayParams) (int64, error) {
	webhookID := hook.ID
	now := s.Now()
	a := s.d.args(5)
	q := `UPDATE deliveries SET status = 'pending', next_attempt_at = ` + a.add(s.d.t(now)) + `, updated_at = ` + a.add(s.d.t(now)) + `
		WHERE ` + s.replayWhere(a, webhookID, p)
	var n int64
	err := s.inTx(ctx, func(tx *txn) error {
		// Locked: a replay changes finished deliveries only, which no
		// completion holds.
		ordering, path, err := s.webhookOrdering(ctx, tx, webhookID, true)
		if err != nil {
			return err
		}
		if ordering == OrderingFIFO {
			n, err = s.replayOrdered(ctx, tx, webhookID, path, p, now)
			return err
		}
		res, err := tx.ExecContext(ctx, q, a.vals...)
		if err != nil {
			return err
		}
		if n, err = res.RowsAffected(); err != nil || n == 0 {
			return err
		}
		return s.notifyWork(ctx, tx)
	})
	if err != nil {
		return 0, fmt.Errorf("store: replay webhook %s: %w", webhookID, err)
	}
	return n, nil
}

// replayWhere is the condition on deliveries of a replay of webhookID,
// its arguments added to a.
func (s *Store) replayWhere(a *args, webhookID string, p ReplayParams) string {
	q := `webhook_id = ` + a.add(webhookID) + ` AND created_at >= ` + a.add(s.d.t(p.Since))
	if p.Until != nil {
		q += ` AND created_at < ` + a.add(s.d.t(*p.Until))
	}
	if p.OnlyFailed {
		q += ` AND status = 'failed'`
	} else {
		q += ` AND status <> 'pending'`
	}
	// A test send's delivery carries its own mark, which outlives its log
	// row: retention deletes logs and deliveries in separate batches.
	return q + ` AND test = FALSE`
}

// replayOrdered is the replay of a FIFO webhook (locked by the caller):
// the deliveries the replay selects are appended to the tails of their
// keys' queues in the order their events were accepted (by sequence
// number; those from before the webhook was ordered first, by creation),
// each with a new sequence number.
func (s *Store) replayOrdered(ctx context.Context, tx *txn, webhookID, path string, p ReplayParams, now time.Time) (int64, error) {
	a := s.d.args(3)
	// tx.Tx: the text varies with the window given.
	rows, err := tx.Tx.QueryContext(ctx, `SELECT id FROM deliveries WHERE `+s.replayWhere(a, webhookID, p)+`
		ORDER BY CASE WHEN seq IS NULL THEN 0 ELSE 1 END, seq, created_at, id`, a.vals...)
	if err != nil {
		return 0, err
	}
	ids, err := collect(rows, scanString)
	if err != nil {
		return 0, err
	}
	if len(ids) == 0 {
		return 0, nil
	}
	if err := s.requeueOrdered(ctx, tx, webhookID, path, ids, now); err != nil {
		return 0, err
	}
	return int64(len(ids)), s.notifyWork(ctx, tx)
}
