package store_test

import (
	"context"
	"reflect"
	"sync"
	"testing"
	"time"

	"github.com/webhookd/webhookd/store"
	"github.com/webhookd/webhookd/store/storetest"
)

// TestHandedDeliveryEqualsItsLeaseField checks that what a publish hands
// over is, field for field, what LeaseDue returns for the same delivery
// once the handed lease has ended (as after a crash), for a webhook with a
// rotated secret in its grace period, headers, a timeout and an event
// with a timestamp finer than the store keeps: only the lease token and
// its end may differ.
func TestHandedDeliveryEqualsItsLeaseField(t *testing.T) {
	now := time.Now().UTC().Truncate(time.Millisecond)
	var mu sync.Mutex
	clock := func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
	storetest.Each(t, func(t *testing.T, s *store.Store) {
		ctx := context.Background()
		u := newUser(t, s, "a@x.io")
		w, err := s.CreateWebhook(ctx, store.CreateWebhookParams{
			TenantID: u.ID, Name: "h", URL: "https://example.com/hook", Events: []string{"*"}, Secret: "whsec-1",
			IsActive: true, Headers: map[string]string{"X-Team": "crm", "X-Other": "b"}, TimeoutSeconds: 9,
		})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := s.RotateSecret(ctx, u.ID, w.ID, "whsec-2", time.Hour); err != nil {
			t.Fatal(err)
		}
		h := &takeAll{leaseFor: time.Minute}
		g := s.NewGroupCommitter(16, store.HandOffTo(h))
		defer g.Close()
		at := now.Add(-time.Hour).Add(123456 * time.Nanosecond).In(time.FixedZone("X", 3600))
		res, err := g.PublishEvents(ctx, []store.PublishParams{{TenantID: u.ID, Type: "contact.created",
			Payload: []byte(`{"a":[1,2,{"b":"é"}]}`), OccurredAt: at, HasTimestamp: true}})
		if err != nil {
			t.Fatal(err)
		}
		if res[0].Handed != 1 || len(h.adopted) != 1 {
			t.Fatalf("handed %d, adopted %d, want 1 and 1", res[0].Handed, len(h.adopted))
		}
		handed := h.adopted[0]
		mu.Lock()
		now = now.Add(time.Minute)
		mu.Unlock()
		taken, err := s.LeaseDeliveries(ctx, store.LeaseParams{Limit: 10, LeaseFor: time.Minute})
		if err != nil || len(taken) != 1 {
			t.Fatalf("lease took %d (err %v), want the handed delivery", len(taken), err)
		}
		leased := taken[0]
		handed.LeaseToken, leased.LeaseToken = "", ""
		handed.LeaseExpiresAt, leased.LeaseExpiresAt = time.Time{}, time.Time{}
		if !handed.OccurredAt.Equal(leased.OccurredAt) {
			t.Errorf("occurred at: handed %v, leased %v", handed.OccurredAt, leased.OccurredAt)
		}
		handed.OccurredAt, leased.OccurredAt = time.Time{}, time.Time{}
		if !reflect.DeepEqual(handed, leased) {
			t.Errorf("handed delivery differs from the leased one:\nhanded %+v\nleased %+v", handed, leased)
		}
	}, store.WithClock(clock))
}
