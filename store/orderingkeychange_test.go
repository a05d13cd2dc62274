package store_test

import (
	"context"
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/webhookd/webhookd/store"
	"github.com/webhookd/webhookd/store/storetest"
)

// TestOrderingKeyPathChangedMidQueue: a FIFO webhook's orderingKey path
// cannot change while ordered deliveries wait (found by the attack
// review): they keep the key values they were given under the old path,
// so an event accepted after the change, under its new key, would overtake
// them. The change is refused with ErrOrderingKeyBusy until they are sent,
// and nothing is changed meanwhile.
func TestOrderingKeyPathChangedMidQueue(t *testing.T) {
	c := &clock{}
	storetest.Each(t, func(t *testing.T, s *store.Store) {
		ctx := context.Background()
		c.t = time.Date(2026, 12, 1, 9, 0, 0, 0, time.UTC)
		f := newOrderedFixture(t, s, c)
		f.publish(t, [2]any{"a", 1}, [2]any{"a", 2})
		got := f.lease(t)
		if !slices.Equal(keysOf(got), []int{1}) {
			t.Fatalf("leased %v, want [1]", keysOf(got))
		}
		path := "data.other"
		if _, err := s.UpdateWebhook(ctx, f.tenant, f.fifo.ID, store.WebhookPatch{OrderingKey: &path}); !errors.Is(err, store.ErrOrderingKeyBusy) {
			t.Fatalf("orderingKey changed with deliveries waiting: %v, want ErrOrderingKeyBusy", err)
		}
		if w, err := s.Webhook(ctx, f.tenant, f.fifo.ID); err != nil || w.OrderingKey == path {
			t.Fatalf("after the refused change the webhook has orderingKey %q (%v), want the old one", w.OrderingKey, err)
		}
		// The same key again is no change, and is allowed.
		same := f.fifo.OrderingKey
		if _, err := s.UpdateWebhook(ctx, f.tenant, f.fifo.ID, store.WebhookPatch{OrderingKey: &same}); err != nil {
			t.Fatalf("patching the same orderingKey: %v", err)
		}
		// Once the queue is sent, the path may change.
		f.complete(t, done(got[1], true, nil))
		next := f.lease(t)
		if !slices.Equal(keysOf(next), []int{2}) {
			t.Fatalf("leased %v after 1 succeeded, want [2]", keysOf(next))
		}
		f.complete(t, done(next[2], true, nil))
		if _, err := s.UpdateWebhook(ctx, f.tenant, f.fifo.ID, store.WebhookPatch{OrderingKey: &path}); err != nil {
			t.Fatalf("orderingKey change with an empty queue: %v", err)
		}
	}, store.WithClock(c.now))
}
