package store

import (
	"context"
	"fmt"
	"time"
)

// WebhookSummary is one webhook's line in an operator's status screen.
type WebhookSummary struct {
	ID, TenantID, Name, URL string
	IsActive                bool
	DisabledReason          string
	Pending                 int64
	SuccessLastHour         int64
	FailedLastHour          int64
	ConsecutiveFailures     int64
}

// Summaries lists every webhook of every tenant with its queue and last
// hour's outcomes, for `webhookd status`.
func (s *Store) Summaries(ctx context.Context) ([]WebhookSummary, error) {
	hourAgo := s.Now().Add(-time.Hour)
	// The id bound lets (webhook_id, status, id) find the hour's rows.
	rows, err := s.read.QueryContext(ctx, `SELECT w.id, w.tenant_id, w.name, w.url, w.is_active, COALESCE(w.disabled_reason, ''),
		(SELECT COUNT(*) FROM deliveries d WHERE d.webhook_id = w.id AND d.status = 'pending'),
		(SELECT COUNT(*) FROM webhook_logs l WHERE l.webhook_id = w.id AND l.status = 'success' AND l.id >= $2 AND l.created_at >= $1),
		(SELECT COUNT(*) FROM webhook_logs l WHERE l.webhook_id = w.id AND l.status = 'failed' AND l.id >= $2 AND l.created_at >= $1),
		COALESCE(st.consecutive_failures, 0)
		FROM webhooks w LEFT JOIN webhook_stats st ON st.webhook_id = w.id
		ORDER BY w.tenant_id, w.id`, s.d.t(hourAgo), idBound(hourAgo.Add(-idSlack)))
	if err != nil {
		return nil, fmt.Errorf("store: webhook summaries: %w", err)
	}
	out, err := collect(rows, func(r rowScanner) (WebhookSummary, error) {
		var w WebhookSummary
		err := r.Scan(&w.ID, &w.TenantID, &w.Name, &w.URL, &w.IsActive, &w.DisabledReason, &w.Pending,
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

// CountWebhooks counts webhooks by state, across all tenants.
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
