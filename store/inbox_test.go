package store_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/webhookd/webhookd/store"
	"github.com/webhookd/webhookd/store/storetest"
)

// TestDeliveryWebhook checks that a delivery id leads to its own webhook,
// of whichever user, and nothing else does: the inbox attributes captures
// by it (issue 12, item 6).
func TestDeliveryWebhook(t *testing.T) {
	storetest.Each(t, func(t *testing.T, s *store.Store) {
		ctx := context.Background()
		alice, bob := newUser(t, s, "a@x.io"), newUser(t, s, "b@x.io")
		mine := newWebhook(t, s, alice.ID, "*")
		_ = newWebhook(t, s, bob.ID, "*")
		res, err := s.PublishEvents(ctx, []store.PublishParams{{TenantID: alice.ID, Type: "message.new", Payload: []byte(`{}`), OccurredAt: time.Now()}})
		if err != nil || res[0].Deliveries != 1 {
			t.Fatalf("publish = %+v, %v; want one delivery", res, err)
		}
		leased, err := s.LeaseDeliveries(ctx, store.LeaseParams{Limit: 10, LeaseFor: time.Minute})
		if err != nil || len(leased) != 1 {
			t.Fatalf("lease = %d, %v; want 1", len(leased), err)
		}
		w, err := s.DeliveryWebhook(ctx, leased[0].ID)
		if err != nil || w.ID != mine.ID || w.TenantID != alice.ID || w.Secret != mine.Secret || w.URL != mine.URL {
			t.Errorf("DeliveryWebhook = %+v, %v; want alice's webhook %s with its secret", w, err, mine.ID)
		}
		// A test send's delivery is found as well.
		l, err := s.RecordTestAttempt(ctx, store.TestAttempt{TenantID: alice.ID, OccurredAt: time.Now(), Payload: []byte(`{}`),
			Log: store.Log{WebhookID: mine.ID, EventType: "message.new", Status: store.AttemptSuccess, StatusCode: 200}})
		if err != nil {
			t.Fatalf("record test attempt: %v", err)
		}
		if w, err := s.DeliveryWebhook(ctx, l.DeliveryID); err != nil || w.ID != mine.ID {
			t.Errorf("DeliveryWebhook(test delivery) = %s, %v; want %s", w.ID, err, mine.ID)
		}
		for _, id := range []string{"", "nope", mine.ID, "' OR 1=1 --", leased[0].ID + "%"} {
			if _, err := s.DeliveryWebhook(ctx, id); !errors.Is(err, store.ErrNotFound) {
				t.Errorf("DeliveryWebhook(%q): err = %v, want ErrNotFound", id, err)
			}
		}
		// A deleted webhook takes its deliveries with it.
		if err := s.DeleteWebhook(ctx, alice.ID, mine.ID); err != nil {
			t.Fatalf("delete: %v", err)
		}
		if _, err := s.DeliveryWebhook(ctx, leased[0].ID); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("after delete: err = %v, want ErrNotFound", err)
		}
	})
}
