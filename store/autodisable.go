package store

import (
	"context"
	"database/sql"
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

// DisabledWebhook is what webhookd tells a user's other webhooks when it
// disables one: the body of the webhook.disabled event.
type DisabledWebhook struct {
	ID, Name, URL string
	Reason        string // in words, as the webhook's disabled reason
	DisabledAt    time.Time
}

// WithDisabledPayload sets how the webhook.disabled event's payload is
// encoded. The payload is wire format, which belongs above the store (main
// wires catalog.WebhookDisabledPayload, and so does storetest). A store
// without it still disables webhooks by rule and on a 410, but publishes
// no webhook.disabled event.
func WithDisabledPayload(encode func(DisabledWebhook) ([]byte, error)) Option {
	return func(s *Store) { s.disabledPayload = encode }
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
			if st := m[id].streak; st != nil {
				// Returned by the statement that added the batch's counters.
				failures, since = st.failures, st.since
			} else if err := tx.QueryRowContext(ctx, `SELECT consecutive_failures, failing_since FROM webhook_stats WHERE webhook_id = $1`, id).
				Scan(&failures, scanNullTime{&since}); err != nil {
				return fmt.Errorf("read failure streak of webhook %s: %w", id, err)
			}
			if since == nil || failures < rule.MinFailures || now.Sub(*since) < rule.After {
				continue
			}
			reason = fmt.Sprintf("every delivery failed for %s (%d consecutive failed attempts since %s)",
				now.Sub(*since).Round(time.Minute), failures, since.Format(time.RFC3339))
		}
		var tenantID, name, url string
		err := tx.QueryRowContext(ctx, `UPDATE webhooks SET is_active = FALSE, disabled_reason = $1, disabled_at = $2, updated_at = $2
			WHERE id = $3 AND is_active = TRUE RETURNING tenant_id, name, url`, reason, s.d.t(now), id).Scan(&tenantID, &name, &url)
		if errors.Is(err, sql.ErrNoRows) {
			continue // already inactive
		}
		if err != nil {
			return fmt.Errorf("disable webhook %s: %w", id, err)
		}
		if s.disabledPayload == nil {
			continue
		}
		payload, err := s.disabledPayload(DisabledWebhook{ID: id, Name: name, URL: url, Reason: reason, DisabledAt: now})
		if err != nil {
			return fmt.Errorf("encode webhook.disabled: %w", err)
		}
		res, err := s.publish(ctx, tx, PublishParams{TenantID: tenantID, Type: WebhookDisabledEvent, Payload: payload, OccurredAt: now}, subs)
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
