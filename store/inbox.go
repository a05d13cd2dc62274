package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
)

// DeliveryWebhook returns the webhook, of any user, that the delivery
// with this id belongs to, or ErrNotFound when no delivery has that id.
// The development inbox asks it for the delivery a capture names in its
// webhook-id header: that one webhook decides who sees the capture and
// which secrets its signature is checked against, so that no other
// webhook, however many target a similar URL, takes part.
func (s *Store) DeliveryWebhook(ctx context.Context, deliveryID string) (Webhook, error) {
	row := s.queryRow(ctx, `SELECT `+webhookColumns+` FROM webhooks
		WHERE id = (SELECT webhook_id FROM deliveries WHERE id = $1)`, deliveryID)
	w, err := scanWebhook(row)
	if errors.Is(err, sql.ErrNoRows) {
		return Webhook{}, fmt.Errorf("store: webhook of delivery %q: %w", deliveryID, ErrNotFound)
	}
	if err != nil {
		return Webhook{}, fmt.Errorf("store: webhook of delivery %q: %w", deliveryID, err)
	}
	return w, nil
}
