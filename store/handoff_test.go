package store_test

import (
	"context"
	"fmt"
	"reflect"
	"sync"
	"testing"
	"time"

	"github.com/webhookd/webhookd/store"
	"github.com/webhookd/webhookd/store/storetest"
)

// takeAll is a Handoff that claims every delivery offered, up to its
// reserve, and keeps what it is handed; the dispatcher's caps are
// delivery's to test.
type takeAll struct {
	leaseFor time.Duration
	mu       sync.Mutex
	adopted  []store.LeasedDelivery
	canceled int
}

func (h *takeAll) Reserve(n int) store.Reservation { return &takeAllReservation{h: h, left: n} }

type takeAllReservation struct {
	h    *takeAll
	left int
}

func (r *takeAllReservation) Claim(string, string) bool {
	if r.left == 0 {
		return false
	}
	r.left--
	return true
}

func (r *takeAllReservation) LeaseFor() time.Duration { return r.h.leaseFor }

func (r *takeAllReservation) Adopt(leased []store.LeasedDelivery) {
	r.h.mu.Lock()
	defer r.h.mu.Unlock()
	r.h.adopted = append(r.h.adopted, leased...)
}

func (r *takeAllReservation) Cancel() {
	r.h.mu.Lock()
	defer r.h.mu.Unlock()
	r.h.canceled++
}

// TestHandedDeliveriesAreLeasedAsLeaseDueLeasesThem checks that a handed
// delivery is inserted leased, with all sending needs, exactly as a lease
// leaves one: no other lease takes it while the lease holds; once it ends
// another lease takes it over, as after a crash, and the first holder's
// completion is fenced off while the second's is recorded.
func TestHandedDeliveriesAreLeasedAsLeaseDueLeasesThem(t *testing.T) {
	now := time.Now().UTC().Truncate(time.Millisecond)
	var mu sync.Mutex
	clock := func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
	storetest.Each(t, func(t *testing.T, s *store.Store) {
		ctx := context.Background()
		u := newUser(t, s, "a@x.io")
		w, err := s.CreateWebhook(ctx, store.CreateWebhookParams{
			TenantID: u.ID, Name: "h", URL: "https://example.com/hook", Events: []string{"*"}, Secret: "whsec-1",
			IsActive: true, Headers: map[string]string{"X-Team": "crm"}, TimeoutSeconds: 7,
		})
		if err != nil {
			t.Fatal(err)
		}
		h := &takeAll{leaseFor: time.Minute}
		g := s.NewGroupCommitter(16, store.HandOffTo(h))
		defer g.Close()
		res, err := g.PublishEvents(ctx, []store.PublishParams{{TenantID: u.ID, Type: "contact.created", Payload: []byte(`{"a":1}`), OccurredAt: now}})
		if err != nil {
			t.Fatal(err)
		}
		if res[0].Deliveries != 1 || res[0].Handed != 1 || len(h.adopted) != 1 || h.canceled != 0 {
			t.Fatalf("deliveries %d, handed %d, adopted %d, canceled %d: want 1, 1, 1, 0", res[0].Deliveries, res[0].Handed, len(h.adopted), h.canceled)
		}
		l := h.adopted[0]
		if l.Attempt != 1 || l.EventID != res[0].Event.ID || l.EventType != "contact.created" || string(l.Payload) != `{"a":1}` ||
			!l.OccurredAt.Equal(now) || l.WebhookID != w.ID || l.TenantID != u.ID || l.URL != w.URL || l.Secret != "whsec-1" ||
			l.Headers["X-Team"] != "crm" || l.TimeoutSeconds != 7 || l.Ordered || l.Test || l.LeaseToken == "" ||
			!l.LeaseExpiresAt.Equal(now.Add(time.Minute)) {
			t.Fatalf("handed delivery %+v does not carry what sending needs", l)
		}

		params := store.LeaseParams{Limit: 10, LeaseFor: time.Minute}
		if got, err := s.LeaseDeliveries(ctx, params); err != nil || len(got) != 0 {
			t.Fatalf("a lease took %d deliveries (err %v) while the handed one's lease held, want 0", len(got), err)
		}
		mu.Lock()
		now = now.Add(time.Minute)
		mu.Unlock()
		taken, err := s.LeaseDeliveries(ctx, params)
		if err != nil || len(taken) != 1 || taken[0].ID != l.ID || taken[0].Attempt != 1 {
			t.Fatalf("after the lease ended a lease took %d (err %v), want the handed delivery on its first attempt", len(taken), err)
		}
		done := func(d store.LeasedDelivery) store.Completion {
			return store.Completion{DeliveryID: d.ID, LeaseToken: d.LeaseToken, Log: store.Log{
				WebhookID: d.WebhookID, EventID: d.EventID, DeliveryID: d.ID, EventType: d.EventType, Attempt: d.Attempt, Status: store.AttemptSuccess, StatusCode: 200,
			}}
		}
		if n, err := s.CompleteDeliveries(ctx, []store.Completion{done(l)}); err != nil || n != 0 {
			t.Fatalf("the first holder's completion after takeover recorded %d (err %v), want 0: fenced", n, err)
		}
		if n, err := s.CompleteDeliveries(ctx, []store.Completion{done(taken[0])}); err != nil || n != 1 {
			t.Fatalf("the new holder's completion recorded %d (err %v), want 1", n, err)
		}
	}, store.WithClock(clock))
}

// TestHandoffLeavesOrderedDeliveriesPending checks that a FIFO webhook's
// delivery is never handed over, even with workers to spare: it is
// inserted pending, and a lease takes it.
func TestHandoffLeavesOrderedDeliveriesPending(t *testing.T) {
	storetest.Each(t, func(t *testing.T, s *store.Store) {
		ctx := context.Background()
		u := newUser(t, s, "a@x.io")
		if _, err := s.CreateWebhook(ctx, store.CreateWebhookParams{
			TenantID: u.ID, Name: "fifo", URL: "https://example.com/hook", Events: []string{"*"}, Secret: "whsec-1",
			IsActive: true, Ordering: store.OrderingFIFO,
		}); err != nil {
			t.Fatal(err)
		}
		h := &takeAll{leaseFor: time.Minute}
		g := s.NewGroupCommitter(16, store.HandOffTo(h))
		defer g.Close()
		res, err := g.PublishEvents(ctx, []store.PublishParams{{TenantID: u.ID, Type: "contact.created", Payload: []byte(`{}`), OccurredAt: time.Now()}})
		if err != nil {
			t.Fatal(err)
		}
		if res[0].Handed != 0 || len(h.adopted) != 0 {
			t.Fatalf("handed %d, adopted %d, want 0 of an ordered delivery", res[0].Handed, len(h.adopted))
		}
		taken, err := s.LeaseDeliveries(ctx, store.LeaseParams{Limit: 10, LeaseFor: time.Minute})
		if err != nil || len(taken) != 1 || !taken[0].Ordered {
			t.Fatalf("a lease took %d (err %v), want the ordered delivery", len(taken), err)
		}
	})
}

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

// TestBatchOfManyTenantsFindsEachTenantsWebhooks publishes one batch whose
// events belong to several tenants, as the group committer's batches do,
// with and without a handoff: each event reaches exactly its own tenant's
// active webhooks that match its type and filter, a tenant without webhooks
// gets no delivery, and a handed delivery carries its own webhook's
// sending fields, not another tenant's.
func TestBatchOfManyTenantsFindsEachTenantsWebhooks(t *testing.T) {
	for _, handing := range []bool{false, true} {
		name := "plain"
		if handing {
			name = "handed"
		}
		t.Run(name, func(t *testing.T) {
			storetest.Each(t, func(t *testing.T, s *store.Store) {
				ctx := context.Background()
				a, b, c := newUser(t, s, "a@x.io"), newUser(t, s, "b@x.io"), newUser(t, s, "c@x.io")
				hook := func(tenant, url string, events []string, active bool, filter string) store.Webhook {
					t.Helper()
					p := store.CreateWebhookParams{TenantID: tenant, Name: "h", URL: url, Events: events,
						Secret: "whsec-" + url, IsActive: active, Headers: map[string]string{"X-Hook": url}}
					if filter != "" {
						p.Filter = []byte(filter)
					}
					w, err := s.CreateWebhook(ctx, p)
					if err != nil {
						t.Fatal(err)
					}
					return w
				}
				aAll := hook(a.ID, "https://a.example/all", []string{"*"}, true, "")
				aContact := hook(a.ID, "https://a.example/contact", []string{"contact.*"}, true, "")
				hook(a.ID, "https://a.example/off", []string{"*"}, false, "")
				cMatch := hook(c.ID, "https://c.example/vip", []string{"*"}, true, `{"data.vip":true}`)
				hook(c.ID, "https://c.example/message", []string{"message.new"}, true, "")
				want := map[string]map[string]bool{ // event index → webhook URLs
					"0": {aAll.URL: true, aContact.URL: true},
					"1": {},
					"2": {cMatch.URL: true},
					"3": {aAll.URL: true},
				}
				batch := []store.PublishParams{
					{TenantID: a.ID, Type: "contact.created", Payload: []byte(`{}`)},
					{TenantID: b.ID, Type: "contact.created", Payload: []byte(`{}`)},
					{TenantID: c.ID, Type: "contact.created", Payload: []byte(`{"vip":true}`)},
					{TenantID: a.ID, Type: "message.new", Payload: []byte(`{}`)},
				}
				var res []store.PublishResult
				h := &takeAll{leaseFor: time.Minute}
				var err error
				if handing {
					g := s.NewGroupCommitter(16, store.HandOffTo(h))
					res, err = g.PublishEvents(ctx, batch)
					g.Close()
				} else {
					res, err = s.PublishEvents(ctx, batch)
				}
				if err != nil {
					t.Fatal(err)
				}
				byEvent := map[string]int{}
				for i, r := range res {
					byEvent[r.Event.ID] = i
					if r.Deliveries != len(want[fmt.Sprint(i)]) {
						t.Errorf("event %d (%s of tenant %s): %d deliveries, want %d", i, batch[i].Type, batch[i].TenantID, r.Deliveries, len(want[fmt.Sprint(i)]))
					}
				}
				got := h.adopted
				if !handing {
					got, err = s.LeaseDeliveries(ctx, store.LeaseParams{Limit: 100, LeaseFor: time.Minute})
					if err != nil {
						t.Fatal(err)
					}
				}
				if len(got) != 4 {
					t.Fatalf("%d deliveries sendable, want 4", len(got))
				}
				for _, l := range got {
					i := byEvent[l.EventID]
					if !want[fmt.Sprint(i)][l.URL] {
						t.Errorf("event %d went to %s, want only %v", i, l.URL, want[fmt.Sprint(i)])
					}
					if l.TenantID != batch[i].TenantID || l.Secret != "whsec-"+l.URL || l.Headers["X-Hook"] != l.URL {
						t.Errorf("delivery to %s carries tenant %s, secret %q, headers %v: not its own webhook's", l.URL, l.TenantID, l.Secret, l.Headers)
					}
					delete(want[fmt.Sprint(i)], l.URL)
				}
			})
		})
	}
}
