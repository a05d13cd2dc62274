package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/webhookd/webhookd/catalog"
)

// IdempotencyWindow is how long an idempotency key answers with the first
// publish's result instead of creating a new event.
const IdempotencyWindow = 24 * time.Hour

// PublishParams is one event to accept.
type PublishParams struct {
	UserID         string
	Type           string
	Payload        []byte // compacted JSON
	OccurredAt     time.Time
	IdempotencyKey string // "" for none
}

// PublishResult is what accepting an event produced.
type PublishResult struct {
	Event      Event
	Deliveries int
	// Duplicate is true when the idempotency key had already been used
	// within IdempotencyWindow: Event is the first one and nothing new was
	// created.
	Duplicate bool
}

// PublishEvents accepts a batch of events in one transaction: each event
// and one pending delivery per matching active webhook of its owner are
// committed together or not at all. Batching lets concurrent publishers share
// one commit (group commit).
func (s *Store) PublishEvents(ctx context.Context, batch []PublishParams) ([]PublishResult, error) {
	results := make([]PublishResult, len(batch))
	err := s.inTx(ctx, func(tx *sql.Tx) error {
		subs := map[string][]subscription{}
		created := 0
		for i, p := range batch {
			r, err := s.publish(ctx, tx, p, subs)
			if err != nil {
				return err
			}
			results[i] = r
			if !r.Duplicate {
				created += r.Deliveries
			}
		}
		if created > 0 {
			return s.notifyWork(ctx, tx)
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("store: publish events: %w", err)
	}
	return results, nil
}

// subscription is an active webhook's id and patterns, loaded once per user
// per batch.
type subscription struct {
	webhookID string
	patterns  []string
}

func (s *Store) publish(ctx context.Context, tx *sql.Tx, p PublishParams, subs map[string][]subscription) (PublishResult, error) {
	now := s.Now()
	if p.IdempotencyKey != "" {
		prev, err := s.eventByIdempotencyKey(ctx, tx, p.UserID, p.IdempotencyKey)
		switch {
		case err == nil && now.Sub(prev.CreatedAt) < IdempotencyWindow:
			return PublishResult{Event: prev, Deliveries: prev.DeliveryCount, Duplicate: true}, nil
		case err == nil:
			// The key is older than the window: it no longer names that event.
			if _, err := tx.ExecContext(ctx, `UPDATE events SET idempotency_key = NULL WHERE id = $1`, prev.ID); err != nil {
				return PublishResult{}, fmt.Errorf("expire idempotency key: %w", err)
			}
		case !errors.Is(err, sql.ErrNoRows):
			return PublishResult{}, fmt.Errorf("look up idempotency key: %w", err)
		}
	}

	ws, ok := subs[p.UserID]
	if !ok {
		var err error
		if ws, err = activeSubscriptions(ctx, tx, p.UserID); err != nil {
			return PublishResult{}, err
		}
		subs[p.UserID] = ws
	}
	var targets []string
	for _, w := range ws {
		if catalog.MatchAny(w.patterns, p.Type) {
			targets = append(targets, w.webhookID)
		}
	}

	e := Event{
		ID: NewID(), UserID: p.UserID, Type: p.Type, Payload: p.Payload,
		OccurredAt: p.OccurredAt.UTC().Truncate(time.Millisecond), IdempotencyKey: p.IdempotencyKey,
		DeliveryCount: len(targets), CreatedAt: now,
	}
	var key any
	if e.IdempotencyKey != "" {
		key = e.IdempotencyKey
	}
	// ON CONFLICT covers two publishers racing with one key on PostgreSQL:
	// the loser waits for the winner's commit and then answers with its event.
	res, err := tx.ExecContext(ctx, `INSERT INTO events (id, user_id, event_type, payload, occurred_at, idempotency_key, delivery_count, created_at)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
		ON CONFLICT (user_id, idempotency_key) WHERE idempotency_key IS NOT NULL DO NOTHING`,
		e.ID, e.UserID, e.Type, e.Payload, s.d.t(e.OccurredAt), key, e.DeliveryCount, s.d.t(now))
	if err != nil {
		return PublishResult{}, fmt.Errorf("insert event: %w", err)
	}
	if n, err := res.RowsAffected(); err != nil {
		return PublishResult{}, fmt.Errorf("insert event: %w", err)
	} else if n == 0 {
		prev, err := s.eventByIdempotencyKey(ctx, tx, p.UserID, p.IdempotencyKey)
		if err != nil {
			return PublishResult{}, fmt.Errorf("look up idempotency key after conflict: %w", err)
		}
		return PublishResult{Event: prev, Deliveries: prev.DeliveryCount, Duplicate: true}, nil
	}
	if len(targets) > 0 {
		stmt, err := tx.PrepareContext(ctx, `INSERT INTO deliveries (id, event_id, webhook_id, status, attempts, next_attempt_at, created_at, updated_at)
			VALUES ($1, $2, $3, 'pending', 0, $4, $4, $4)`)
		if err != nil {
			return PublishResult{}, fmt.Errorf("prepare delivery insert: %w", err)
		}
		defer stmt.Close()
		for _, webhookID := range targets {
			if _, err := stmt.ExecContext(ctx, NewID(), e.ID, webhookID, s.d.t(now)); err != nil {
				return PublishResult{}, fmt.Errorf("insert delivery: %w", err)
			}
		}
	}
	return PublishResult{Event: e, Deliveries: len(targets)}, nil
}

func (s *Store) eventByIdempotencyKey(ctx context.Context, tx *sql.Tx, userID, key string) (Event, error) {
	var e Event
	var k sql.NullString
	err := tx.QueryRowContext(ctx, `SELECT id, user_id, event_type, payload, occurred_at, idempotency_key, delivery_count, created_at
		FROM events WHERE user_id = $1 AND idempotency_key = $2`, userID, key).
		Scan(&e.ID, &e.UserID, &e.Type, &e.Payload, scanTime{&e.OccurredAt}, &k, &e.DeliveryCount, scanTime{&e.CreatedAt})
	e.IdempotencyKey = k.String
	return e, err
}

func activeSubscriptions(ctx context.Context, tx *sql.Tx, userID string) ([]subscription, error) {
	rows, err := tx.QueryContext(ctx, `SELECT id, events FROM webhooks WHERE user_id = $1 AND is_active = TRUE`, userID)
	if err != nil {
		return nil, fmt.Errorf("load subscriptions: %w", err)
	}
	defer rows.Close()
	var out []subscription
	for rows.Next() {
		var sub subscription
		var events string
		if err := rows.Scan(&sub.webhookID, &events); err != nil {
			return nil, fmt.Errorf("load subscriptions: %w", err)
		}
		if err := jsonUnmarshalString(events, &sub.patterns); err != nil {
			return nil, fmt.Errorf("decode events of webhook %s: %w", sub.webhookID, err)
		}
		out = append(out, sub)
	}
	return out, rows.Err()
}

// Event returns one of the user's events.
func (s *Store) Event(ctx context.Context, userID, id string) (Event, error) {
	var e Event
	var k sql.NullString
	err := s.read.QueryRowContext(ctx, `SELECT id, user_id, event_type, payload, occurred_at, idempotency_key, delivery_count, created_at
		FROM events WHERE id = $1 AND user_id = $2`, id, userID).
		Scan(&e.ID, &e.UserID, &e.Type, &e.Payload, scanTime{&e.OccurredAt}, &k, &e.DeliveryCount, scanTime{&e.CreatedAt})
	if errors.Is(err, sql.ErrNoRows) {
		return Event{}, fmt.Errorf("store: event %s: %w", id, ErrNotFound)
	}
	if err != nil {
		return Event{}, fmt.Errorf("store: event %s: %w", id, err)
	}
	e.IdempotencyKey = k.String
	return e, nil
}
