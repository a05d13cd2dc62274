package store_test

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/webhookd/webhookd/store"
	"github.com/webhookd/webhookd/store/storetest"
)

// TestLeaseSharesWorkersBetweenOwners checks the per-owner cap (issue 12,
// item 3): an owner alone with due deliveries takes all but the last share
// of the free workers; once another owner has due deliveries, each is held
// to its share, however many of the first owner's are older and whether
// or not the window of oldest due deliveries reaches the other's.
func TestLeaseSharesWorkersBetweenOwners(t *testing.T) {
	c := &clock{}
	storetest.Each(t, func(t *testing.T, s *store.Store) {
		ctx := context.Background()
		c.t = time.Date(2026, 11, 29, 12, 0, 0, 0, time.UTC)
		a, b := newUser(t, s, "a@x.io"), newUser(t, s, "b@x.io")
		b1, b2 := newWebhook(t, s, b.ID, "*"), newWebhook(t, s, b.ID, "*")
		hookA := newWebhook(t, s, a.ID, "*")
		publishN := func(userID string, n int) {
			t.Helper()
			batch := make([]store.PublishParams, n)
			for i := range batch {
				batch[i] = store.PublishParams{TenantID: userID, Type: "message.new", Payload: []byte(`{}`), OccurredAt: c.t}
			}
			if _, err := s.PublishEvents(ctx, batch); err != nil {
				t.Fatalf("publish: %v", err)
			}
			c.t = c.t.Add(time.Second)
		}
		owners := func(leased []store.LeasedDelivery) map[string]int {
			per := map[string]int{}
			for _, l := range leased {
				per[l.TenantID]++
			}
			return per
		}
		lease := func(p store.LeaseParams) map[string]int {
			t.Helper()
			p.LeaseFor, p.PerOwner = time.Hour, 4
			leased, err := s.LeaseDeliveries(ctx, p)
			if err != nil {
				t.Fatal(err)
			}
			return owners(leased)
		}
		// 200 of B's deliveries: more than any window below reads.
		publishN(b.ID, 100)

		// B alone: past its share of 4, but not into the last 4 of 16.
		if got := lease(store.LeaseParams{Limit: 100, FreeWorkers: 16}); got[b.ID] != 12 || len(got) != 1 {
			t.Fatalf("lone owner leased %v, want 12 of B's (16 free, less a share of 4)", got)
		}
		// With those 12 in flight and 4 workers free, B gets none of them,
		// and is said to be held to its cap.
		held, err := s.LeaseDue(ctx, store.LeaseParams{Limit: 4, LeaseFor: time.Hour, PerOwner: 4, FreeWorkers: 4, OwnerInFlight: map[string]int{b.ID: 12}})
		if err != nil {
			t.Fatal(err)
		}
		if len(held.Deliveries) != 0 || !slices.Equal(held.OwnersAtCap, []string{b.ID}) {
			t.Fatalf("lone owner over its share leased %v, owners at cap %v; want none, and B at its cap: the last share stays free",
				owners(held.Deliveries), held.OwnersAtCap)
		}
		if due, err := s.NextDueAt(ctx, nil, b.ID); err != nil || due != nil {
			t.Errorf("next due past owner B = %v, %v; want none", due, err)
		}

		// A's deliveries fall due behind all of B's: the free share is A's.
		aDue := c.t
		publishN(a.ID, 3)
		if due, err := s.NextDueAt(ctx, nil, b.ID); err != nil || due == nil || !due.Equal(aDue) {
			t.Errorf("next due past owner B = %v, %v; want A's %v", due, err, aDue)
		}
		if got := lease(store.LeaseParams{Limit: 4, FreeWorkers: 4, OwnerInFlight: map[string]int{b.ID: 12}}); got[a.ID] != 3 || len(got) != 1 {
			t.Fatalf("leased %v, want A's 3 and none of B's", got)
		}

		// Both have due deliveries: each is held to its share, whatever is
		// free.
		publishN(a.ID, 10)
		if got := lease(store.LeaseParams{Limit: 100, FreeWorkers: 100, OwnerInFlight: map[string]int{b.ID: 2, a.ID: 3}}); got[b.ID] != 2 || got[a.ID] != 1 {
			t.Fatalf("leased %v, want 2 of B's and 1 of A's (shares of 4, less 2 and 3 in flight)", got)
		}
		// The per-webhook cap still holds within an owner's share; and once
		// B's webhooks are at their cap, B's due deliveries cannot go, so
		// they do not hold A to its share.
		got := map[string]int{}
		leased, err := s.LeaseDeliveries(ctx, store.LeaseParams{Limit: 100, LeaseFor: time.Hour, PerOwner: 4,
			OwnerInFlight: map[string]int{a.ID: 4}, PerWebhook: 3, InFlight: map[string]int{b1.ID: 2}})
		if err != nil {
			t.Fatal(err)
		}
		for _, l := range leased {
			got[l.WebhookID]++
		}
		if got[b1.ID] != 1 || got[b2.ID] != 3 || got[hookA.ID] != 3 {
			t.Fatalf("leased %v by webhook, want 1 of b1 (cap 3, 2 in flight), 3 of b2, 3 of A's (past its share, to its webhook's cap)", got)
		}
	}, store.WithClock(c.now))
}

// TestLeaseKeepsToRateLimit checks that a lease takes no more of a
// rate-limited webhook than its rate allows within the pacing horizon, at
// least one, so paced deliveries wait in the database rather than in a
// worker.
func TestLeaseKeepsToRateLimit(t *testing.T) {
	storetest.Each(t, func(t *testing.T, s *store.Store) {
		ctx := context.Background()
		u := newUser(t, s, "a@x.io")
		slow, fast, free := newWebhook(t, s, u.ID, "*"), newWebhook(t, s, u.ID, "*"), newWebhook(t, s, u.ID, "*")
		for w, rate := range map[string]int{slow.ID: 1, fast.ID: 1000} {
			if _, err := s.UpdateWebhook(ctx, u.ID, w, store.WebhookPatch{RateLimit: &rate}); err != nil {
				t.Fatal(err)
			}
		}
		for i := 0; i < 30; i++ {
			publish(t, s, u.ID, "message.new")
		}
		leased, err := s.LeaseDeliveries(ctx, store.LeaseParams{Limit: 100, LeaseFor: time.Hour, PaceHorizon: 20 * time.Millisecond})
		if err != nil {
			t.Fatal(err)
		}
		got := map[string]int{}
		for _, l := range leased {
			got[l.WebhookID]++
		}
		if got[slow.ID] != 1 || got[fast.ID] != 20 || got[free.ID] != 30 {
			t.Fatalf("leased %v by webhook; want 1 at 1/s, 20 at 1000/s (20 ms of it), all 30 unlimited", got)
		}
	})
}

// TestLeaseShareIgnoresOwnersThatCannotSend checks that another owner's
// due deliveries hold an owner to its share only when they could be sent
// now: those of a webhook at its own cap wait for that webhook, not for
// workers.
func TestLeaseShareIgnoresOwnersThatCannotSend(t *testing.T) {
	storetest.Each(t, func(t *testing.T, s *store.Store) {
		ctx := context.Background()
		a, b := newUser(t, s, "a@x.io"), newUser(t, s, "b@x.io")
		hookA := newWebhook(t, s, a.ID, "*")
		for range 7 {
			newWebhook(t, s, b.ID, "*")
		}
		for i := 0; i < 5; i++ {
			publish(t, s, a.ID, "message.new")
		}
		for i := 0; i < 20; i++ {
			publish(t, s, b.ID, "message.new")
		}
		lease := func(aInFlight, hookAInFlight int) map[string]int {
			t.Helper()
			leased, err := s.LeaseDeliveries(ctx, store.LeaseParams{Limit: 100, LeaseFor: time.Hour, FreeWorkers: 16,
				PerOwner: 4, OwnerInFlight: map[string]int{a.ID: aInFlight}, PerWebhook: 2, InFlight: map[string]int{hookA.ID: hookAInFlight}})
			if err != nil {
				t.Fatal(err)
			}
			per := map[string]int{}
			for _, l := range leased {
				per[l.TenantID]++
			}
			return per
		}
		// A is at its share of 4 and its webhook at its cap of 2 (in
		// flight from elsewhere): B may use all but the last share.
		if got := lease(4, 2); got[a.ID] != 0 || got[b.ID] != 12 {
			t.Fatalf("leased %v, want 12 of B's and none of A's (its webhook at its cap)", got)
		}
		// With room at A's webhook, A waits for workers only: both are
		// held to their share.
		if got := lease(4, 1); got[a.ID] != 0 || got[b.ID] != 4 {
			t.Fatalf("leased %v, want none of A's (at its share) and B's share of 4", got)
		}
	})
}
