package store

import (
	"context"
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
		WHERE webhook_id = ` + a.add(webhookID) + ` AND created_at >= ` + a.add(s.d.t(p.Since))
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
	q += ` AND test = FALSE`
	var n int64
	err := s.inTx(ctx, func(tx *txn) error {
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
