package store_test

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/webhookd/webhookd/store"
	"github.com/webhookd/webhookd/store/storetest"
)

// TestOrderingKeyPathChangedMidQueue is an ordering hole not fixed yet:
// a FIFO webhook's orderingKey path changed while deliveries wait keeps
// their old keys, so an event accepted after the change, under its new
// key, is sent before the older events still waiting under the old one.
// Skipped until the fix (see the report of branch attack16).
func TestOrderingKeyPathChangedMidQueue(t *testing.T) {
	t.Skip("known hole: pending ordered deliveries keep their old keys when orderingKey changes (not fixed)")
	c := &clock{}
	storetest.Each(t, func(t *testing.T, s *store.Store) {
		c.t = time.Date(2026, 12, 1, 9, 0, 0, 0, time.UTC)
		f := newOrderedFixture(t, s, c)
		f.publish(t, [2]any{"a", 1}, [2]any{"a", 2})
		if got := f.lease(t); !slices.Equal(keysOf(got), []int{1}) {
			t.Fatalf("leased %v, want [1]", keysOf(got))
		}
		path := "data.other"
		if _, err := s.UpdateWebhook(context.Background(), f.tenant, f.fifo.ID, store.WebhookPatch{OrderingKey: &path}); err != nil {
			t.Fatal(err)
		}
		f.publish(t, [2]any{"a", 3})
		if got := f.lease(t); len(got) != 0 {
			t.Fatalf("leased %v while 1 is in flight and 2 waits, want nothing: 3 overtook 2", keysOf(got))
		}
	}, store.WithClock(c.now))
}
