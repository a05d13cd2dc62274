package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"time"
)

// WebhookDisabledEvent is the event type published to a user's other
// webhooks when webhookd disables one of them.
const WebhookDisabledEvent = "webhook.disabled"

// AutoDisable is the rule for switching off a webhook whose deliveries keep
// failing.
type AutoDisable struct {
	// After is how long every attempt must have failed (0 turns the rule
	// off; a 410 Gone still disables).
	After time.Duration
	// MinFailures is the fewest consecutive failed attempts.
	MinFailures int64
}

// WithAutoDisable makes completions disable failing webhooks by rule.
func WithAutoDisable(rule AutoDisable) Option {
	return func(s *Store) { s.autoDisableRule = rule }
}

// autoDisable switches off, inside the completion transaction, each webhook
// of the batch that answered 410 Gone or has failed long and often enough,
// and tells the owner's other webhooks with a webhook.disabled event.
func (s *Store) autoDisable(ctx context.Context, tx *txn, m map[string]*statsDelta, now time.Time) error {
	rule := s.autoDisableRule
	ids := make([]string, 0, len(m))
	for id, d := range m {
		if d.gone || (rule.After > 0 && d.failuresAfterSuccess > 0) {
			ids = append(ids, id)
		}
	}
	slices.Sort(ids)
	subs := map[string][]subscription{}
	for _, id := range ids {
		reason := "the receiver answered 410 Gone"
		if !m[id].gone {
			var failures int64
			var since *time.Time
			if err := tx.QueryRowContext(ctx, `SELECT consecutive_failures, failing_since FROM webhook_stats WHERE webhook_id = $1`, id).
				Scan(&failures, scanNullTime{&since}); err != nil {
				return fmt.Errorf("read failure streak of webhook %s: %w", id, err)
			}
			if since == nil || failures < rule.MinFailures || now.Sub(*since) < rule.After {
				continue
			}
			reason = fmt.Sprintf("every delivery failed for %s (%d consecutive failed attempts since %s)",
				now.Sub(*since).Round(time.Minute), failures, since.Format(time.RFC3339))
		}
		var userID, name, url string
		err := tx.QueryRowContext(ctx, `UPDATE webhooks SET is_active = FALSE, disabled_reason = $1, disabled_at = $2, updated_at = $2
			WHERE id = $3 AND is_active = TRUE RETURNING user_id, name, url`, reason, s.d.t(now), id).Scan(&userID, &name, &url)
		if errors.Is(err, sql.ErrNoRows) {
			continue // already inactive
		}
		if err != nil {
			return fmt.Errorf("disable webhook %s: %w", id, err)
		}
		payload, err := json.Marshal(map[string]string{
			"webhookId": id, "name": name, "url": url, "reason": reason, "disabledAt": now.Format("2006-01-02T15:04:05.000Z07:00"),
		})
		if err != nil {
			return fmt.Errorf("encode webhook.disabled: %w", err)
		}
		res, err := s.publish(ctx, tx, PublishParams{UserID: userID, Type: WebhookDisabledEvent, Payload: payload, OccurredAt: now}, subs)
		if err != nil {
			return fmt.Errorf("publish webhook.disabled: %w", err)
		}
		if res.Deliveries > 0 {
			if err := s.notifyWork(ctx, tx); err != nil {
				return err
			}
		}
	}
	return nil
}

// ErrInFlight is returned when a delivery cannot be changed because it is
// being sent right now.
var ErrInFlight = errors.New("store: delivery in flight")

// Redeliver queues the delivery behind one of a user's log entries for a
// new attempt now, keeping its id (and so its webhook-id). It returns the
// delivery id, also alongside ErrInFlight so that callers can name it.
func (s *Store) Redeliver(ctx context.Context, userID, webhookID, logID string) (string, error) {
	l, err := s.LogEntry(ctx, userID, webhookID, logID)
	if err != nil {
		return "", err
	}
	now := s.Now()
	err = s.inTx(ctx, func(tx *txn) error {
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
func (s *Store) Replay(ctx context.Context, userID, webhookID string, p ReplayParams) (int64, error) {
	if _, err := s.Webhook(ctx, userID, webhookID); err != nil {
		return 0, err
	}
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

// Prune deletes at most batch of each kind of old row: attempt logs,
// finished deliveries and events with nothing left to deliver, created
// before the cutoff, and stale login failures. It returns how many rows it
// deleted, so callers repeat until it returns 0, pausing between batches so
// that pruning never holds the writer for long.
func (s *Store) Prune(ctx context.Context, before time.Time, batch int) (int64, error) {
	cut := s.d.t(before)
	statements := []struct {
		q   string
		arg any
	}{
		{`DELETE FROM webhook_logs WHERE id IN (SELECT id FROM webhook_logs WHERE created_at < $1 LIMIT $2)`, cut},
		{`DELETE FROM deliveries WHERE id IN (SELECT id FROM deliveries WHERE status <> 'pending' AND updated_at < $1 LIMIT $2)`, cut},
		{`DELETE FROM events WHERE id IN (SELECT e.id FROM events e WHERE e.created_at < $1
			AND NOT EXISTS (SELECT 1 FROM deliveries d WHERE d.event_id = e.id) LIMIT $2)`, cut},
		// Attempt counts go with the logs: whole minutes and hours that
		// ended by the cutoff ($1 here is a Unix minute, not a time).
		{`DELETE FROM webhook_log_counts WHERE (webhook_id, span, minute) IN
			(SELECT webhook_id, span, minute FROM webhook_log_counts WHERE minute < $1 AND minute + span <= $1 LIMIT $2)`, unixMinute(before)},
	}
	var total int64
	for _, st := range statements {
		res, err := s.write.ExecContext(ctx, st.q, st.arg, batch)
		if err != nil {
			return total, fmt.Errorf("store: prune: %w", err)
		}
		n, err := res.RowsAffected()
		if err != nil {
			return total, fmt.Errorf("store: prune: %w", err)
		}
		total += n
	}
	// Login failures have their own cutoff, whatever the retention.
	n, err := s.PruneLoginFailures(ctx, batch)
	total += n
	if err != nil {
		return total, err
	}
	return total, nil
}

// PruneLoginFailures deletes at most batch failed-login records older than
// a day, whatever the retention: they only matter for minutes.
func (s *Store) PruneLoginFailures(ctx context.Context, batch int) (int64, error) {
	res, err := s.write.ExecContext(ctx, `DELETE FROM login_failures WHERE id IN (SELECT id FROM login_failures WHERE created_at < $1 LIMIT $2)`,
		s.d.t(s.Now().Add(-24*time.Hour)), batch)
	if err != nil {
		return 0, fmt.Errorf("store: prune login failures: %w", err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return 0, fmt.Errorf("store: prune login failures: %w", err)
	}
	return n, nil
}

// QueueStats is the state of the delivery queue.
type QueueStats struct {
	Due       int64 // pending and due now, not leased
	Scheduled int64 // pending, waiting for a retry time
	InFlight  int64 // leased and being sent
	// OldestDue is when the longest-waiting due delivery fell due.
	OldestDue *time.Time
}

// Queue reports the delivery queue's depth.
func (s *Store) Queue(ctx context.Context) (QueueStats, error) {
	now := s.d.t(s.Now())
	var q QueueStats
	err := s.read.QueryRowContext(ctx, `SELECT
		COALESCE(SUM(CASE WHEN lease_token IS NOT NULL AND next_attempt_at > $1 THEN 1 ELSE 0 END), 0),
		COALESCE(SUM(CASE WHEN next_attempt_at <= $1 THEN 1 ELSE 0 END), 0),
		COALESCE(SUM(CASE WHEN lease_token IS NULL AND next_attempt_at > $1 THEN 1 ELSE 0 END), 0),
		MIN(CASE WHEN next_attempt_at <= $1 THEN next_attempt_at END)
		FROM deliveries WHERE status = 'pending'`, now).Scan(&q.InFlight, &q.Due, &q.Scheduled, scanNullTime{&q.OldestDue})
	if err != nil {
		return QueueStats{}, fmt.Errorf("store: queue stats: %w", err)
	}
	return q, nil
}

// WebhookSummary is one webhook's line in an operator's status screen.
type WebhookSummary struct {
	ID, UserEmail, Name, URL string
	IsActive                 bool
	DisabledReason           string
	Pending                  int64
	SuccessLastHour          int64
	FailedLastHour           int64
	ConsecutiveFailures      int64
}

// Summaries lists every webhook of every user with its queue and last
// hour's outcomes, for `webhookd status`.
func (s *Store) Summaries(ctx context.Context) ([]WebhookSummary, error) {
	hourAgo := s.Now().Add(-time.Hour)
	// The id bound lets (webhook_id, status, id) find the hour's rows.
	rows, err := s.read.QueryContext(ctx, `SELECT w.id, u.email, w.name, w.url, w.is_active, COALESCE(w.disabled_reason, ''),
		(SELECT COUNT(*) FROM deliveries d WHERE d.webhook_id = w.id AND d.status = 'pending'),
		(SELECT COUNT(*) FROM webhook_logs l WHERE l.webhook_id = w.id AND l.status = 'success' AND l.id >= $2 AND l.created_at >= $1),
		(SELECT COUNT(*) FROM webhook_logs l WHERE l.webhook_id = w.id AND l.status = 'failed' AND l.id >= $2 AND l.created_at >= $1),
		COALESCE(st.consecutive_failures, 0)
		FROM webhooks w JOIN users u ON u.id = w.user_id LEFT JOIN webhook_stats st ON st.webhook_id = w.id
		ORDER BY u.email, w.id`, s.d.t(hourAgo), idBound(hourAgo.Add(-idSlack)))
	if err != nil {
		return nil, fmt.Errorf("store: webhook summaries: %w", err)
	}
	out, err := collect(rows, func(r rowScanner) (WebhookSummary, error) {
		var w WebhookSummary
		err := r.Scan(&w.ID, &w.UserEmail, &w.Name, &w.URL, &w.IsActive, &w.DisabledReason, &w.Pending,
			&w.SuccessLastHour, &w.FailedLastHour, &w.ConsecutiveFailures)
		return w, err
	})
	if err != nil {
		return nil, fmt.Errorf("store: webhook summaries: %w", err)
	}
	return out, nil
}

// WebhookCounts is how many webhooks are active, paused by their owners,
// and disabled by webhookd.
type WebhookCounts struct {
	Active, Paused, Disabled int64
}

// CountWebhooks counts webhooks by state, across all users.
func (s *Store) CountWebhooks(ctx context.Context) (WebhookCounts, error) {
	var c WebhookCounts
	err := s.read.QueryRowContext(ctx, `SELECT
		COALESCE(SUM(CASE WHEN is_active THEN 1 ELSE 0 END), 0),
		COALESCE(SUM(CASE WHEN NOT is_active AND disabled_at IS NULL THEN 1 ELSE 0 END), 0),
		COALESCE(SUM(CASE WHEN NOT is_active AND disabled_at IS NOT NULL THEN 1 ELSE 0 END), 0)
		FROM webhooks`).Scan(&c.Active, &c.Paused, &c.Disabled)
	if err != nil {
		return WebhookCounts{}, fmt.Errorf("store: count webhooks: %w", err)
	}
	return c, nil
}
