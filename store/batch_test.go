package store_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/webhookd/webhookd/store"
	"github.com/webhookd/webhookd/store/storetest"
)

// TestLargeBatches publishes, leases and completes more rows than one
// statement takes, in two rounds: on SQLite the second round runs on the
// statements the first one left prepared. Every row must come through each
// step exactly once.
func TestLargeBatches(t *testing.T) {
	storetest.Each(t, func(t *testing.T, s *store.Store) {
		ctx := context.Background()
		u := newUser(t, s, "big@x.io")
		hook := newWebhook(t, s, u.ID, "*")
		// Two chunks (200 + 189), each sent as uneven runs on SQLite.
		const n = 389
		for round := range 2 {
			since := s.Now()
			batch := make([]store.PublishParams, n)
			for i := range batch {
				batch[i] = store.PublishParams{TenantID: u.ID, Type: "message.new",
					Payload: fmt.Appendf(nil, `{"round":%d,"i":%d}`, round, i), OccurredAt: time.Now()}
			}
			res, err := s.PublishEvents(ctx, batch)
			if err != nil || len(res) != n {
				t.Fatalf("round %d: publish = %d results, %v; want %d", round, len(res), err, n)
			}
			payloadOf := map[string]string{}
			for i, r := range res {
				if r.Deliveries != 1 || r.Duplicate {
					t.Fatalf("round %d: event %d: %d deliveries (duplicate %v), want 1", round, i, r.Deliveries, r.Duplicate)
				}
				payloadOf[r.Event.ID] = string(batch[i].Payload)
			}
			if len(payloadOf) != n {
				t.Fatalf("round %d: %d distinct event ids, want %d", round, len(payloadOf), n)
			}

			leased, err := s.LeaseDeliveries(ctx, store.LeaseParams{Limit: 1000, LeaseFor: time.Minute})
			if err != nil || len(leased) != n {
				t.Fatalf("round %d: lease = %d, %v; want %d", round, len(leased), err, n)
			}
			completions := make([]store.Completion, 0, n)
			for i, l := range leased {
				if i > 0 && strings.Compare(leased[i-1].ID, l.ID) >= 0 {
					t.Fatalf("round %d: leased out of order: %s then %s", round, leased[i-1].ID, l.ID)
				}
				want, ok := payloadOf[l.EventID]
				if !ok || string(l.Payload) != want || l.WebhookID != hook.ID || l.Attempt != 1 {
					t.Fatalf("round %d: leased %+v; want event %s's delivery to %s with payload %s", round, l, l.EventID, hook.ID, want)
				}
				delete(payloadOf, l.EventID)
				c := store.Completion{DeliveryID: l.ID, LeaseToken: l.LeaseToken, Log: store.Log{
					WebhookID: l.WebhookID, EventID: l.EventID, DeliveryID: l.ID, EventType: l.EventType, Attempt: l.Attempt,
					Status: store.AttemptSuccess, StatusCode: 200, DurationMs: 3, RequestBody: l.Payload,
				}}
				if i%2 == 1 {
					// Failed for good: no retry left.
					c.Log.Status, c.Log.StatusCode, c.Log.Error = store.AttemptFailed, 500, "HTTP 500"
				}
				completions = append(completions, c)
			}
			if fenced, err := s.CompleteDeliveries(ctx, completions); err != nil || fenced != n {
				t.Fatalf("round %d: complete = %d fenced, %v; want %d", round, fenced, err, n)
			}

			// From the log rows of this round, and from the kept counters.
			st, err := s.WebhookStats(ctx, u.ID, hook.ID, &since)
			if err != nil {
				t.Fatalf("round %d: stats: %v", round, err)
			}
			if st.TotalAttempts != n || st.SuccessfulAttempts != (n+1)/2 || st.FailedAttempts != n/2 || st.PendingDeliveries != 0 {
				t.Errorf("round %d: stats since the round began = %+v; want %d attempts, %d successful, %d failed, none pending",
					round, st, n, (n+1)/2, n/2)
			}
			all, err := s.WebhookStats(ctx, u.ID, hook.ID, nil)
			if err != nil || all.TotalAttempts != int64(n*(round+1)) {
				t.Errorf("round %d: all-time attempts = %d, %v; want %d", round, all.TotalAttempts, err, n*(round+1))
			}
		}
		if s.Kind() == store.SQLite {
			// Fixed texts plus at most eight run sizes a statement: a handful,
			// and far from the cap.
			if got := s.PreparedWriterStatements(); got == 0 || got > 64 {
				t.Errorf("writer keeps %d statements prepared, want some, and no more than 64", got)
			}
		}
	})
}

// TestLeaseLooksPastABlockedBacklog puts thousands of due deliveries of a
// webhook at its cap, and of a paused webhook, ahead of a few deliveries of
// a third: leasing and NextDueAt must still find the third's, and keep to
// every cap.
func TestLeaseLooksPastABlockedBacklog(t *testing.T) {
	c := &clock{}
	storetest.Each(t, func(t *testing.T, s *store.Store) {
		ctx := context.Background()
		c.t = time.Date(2026, 11, 29, 12, 0, 0, 0, time.UTC)
		u := newUser(t, s, "backlog@x.io")
		hot := newWebhook(t, s, u.ID, "campaign.started")
		paused := newWebhook(t, s, u.ID, "conversation.created")
		quiet := newWebhook(t, s, u.ID, "message.new")
		publish := func(eventType string, n int) {
			t.Helper()
			batch := make([]store.PublishParams, n)
			for i := range batch {
				batch[i] = store.PublishParams{TenantID: u.ID, Type: eventType, Payload: []byte(`{}`), OccurredAt: c.t}
			}
			if _, err := s.PublishEvents(ctx, batch); err != nil {
				t.Fatalf("publish %s: %v", eventType, err)
			}
			c.t = c.t.Add(time.Second)
		}
		// Far more than the window either reads, oldest first.
		publish("campaign.started", 1200)
		publish("conversation.created", 1100)
		off := false
		if _, err := s.UpdateWebhook(ctx, u.ID, paused.ID, store.WebhookPatch{IsActive: &off}); err != nil {
			t.Fatal(err)
		}
		quietDue := c.t
		publish("message.new", 5)

		due, err := s.NextDueAt(ctx, []string{hot.ID})
		if err != nil || due == nil || !due.Equal(quietDue) {
			t.Errorf("next due past the hot webhook = %v, %v; want the quiet webhook's %v", due, err, quietDue)
		}
		due, err = s.NextDueAt(ctx, nil)
		if err != nil || due == nil || due.After(quietDue.Add(-2*time.Second)) {
			t.Errorf("next due of all = %v, %v; want the hot webhook's, 2 s before the quiet one's", due, err)
		}

		// The hot webhook is at its cap: only the quiet one's may go.
		leased, err := s.LeaseDeliveries(ctx, store.LeaseParams{Limit: 10, LeaseFor: time.Minute,
			SkipWebhooks: []string{hot.ID}, PerWebhook: 10, InFlight: map[string]int{hot.ID: 10}})
		if err != nil {
			t.Fatal(err)
		}
		if len(leased) != 5 {
			t.Fatalf("leased %d, want the quiet webhook's 5", len(leased))
		}
		for _, l := range leased {
			if l.WebhookID != quiet.ID {
				t.Errorf("leased a delivery of webhook %s, want only the quiet webhook's (%s)", l.WebhookID, quiet.ID)
			}
		}
		// Its leased deliveries are due again when their lease ends.
		due, err = s.NextDueAt(ctx, []string{hot.ID})
		if err != nil || due == nil || !due.Equal(c.t.Add(time.Minute)) {
			t.Errorf("next due past the hot webhook after leasing = %v, %v; want the lease's end %v", due, err, c.t.Add(time.Minute))
		}

		// With room for 3 more of the hot webhook, a lease takes 3, and no
		// more, however many are due.
		leased, err = s.LeaseDeliveries(ctx, store.LeaseParams{Limit: 10, LeaseFor: time.Minute,
			PerWebhook: 10, InFlight: map[string]int{hot.ID: 7}})
		if err != nil || len(leased) != 3 {
			t.Fatalf("leased %d, %v; want the hot webhook's 3", len(leased), err)
		}
		for _, l := range leased {
			if l.WebhookID != hot.ID {
				t.Errorf("leased a delivery of webhook %s, want the hot webhook's", l.WebhookID)
			}
		}
		// Nothing of the paused webhook, ever.
		leased, err = s.LeaseDeliveries(ctx, store.LeaseParams{Limit: 100, LeaseFor: time.Minute, SkipWebhooks: []string{hot.ID}})
		if err != nil || len(leased) != 0 {
			t.Errorf("leased %d, %v; want none: the rest belong to the hot and the paused webhook", len(leased), err)
		}
	}, store.WithClock(c.now))
}

// TestPublishManyKeepsCustomPlans: a batch large enough that its inserts
// let PostgreSQL keep the foreign-key checks' plans (plan_cache_mode auto
// for each insert) leaves the rest of its transaction on the store's
// custom plans, and creates every event and delivery; and the checks
// still refuse what they refused: events of a tenant that does not exist.
func TestPublishManyKeepsCustomPlans(t *testing.T) {
	storetest.Each(t, func(t *testing.T, s *store.Store) {
		ctx := context.Background()
		u := newUser(t, s, "many@example.com")
		newWebhook(t, s, u.TenantID, "*")
		newWebhook(t, s, u.TenantID, "message.*")
		var batch []store.PublishParams
		for i := range 40 {
			batch = append(batch, store.PublishParams{TenantID: u.TenantID, Type: "message.new", Payload: []byte(fmt.Sprintf(`{"i":%d}`, i)), OccurredAt: time.Now()})
		}
		for _, piped := range []bool{true, false} {
			deliveries, mode, err := s.PublishThenPlanMode(ctx, batch, piped)
			if err != nil {
				t.Fatal(err)
			}
			if deliveries != 80 {
				t.Errorf("pipelined %v: %d deliveries, want 80", piped, deliveries)
			}
			if s.Kind() == store.Postgres && mode != "force_custom_plan" {
				t.Errorf("pipelined %v: plan_cache_mode after the inserts = %q, want the store's force_custom_plan", piped, mode)
			}
		}
		// A tenant that does not exist: the check, with its plan kept,
		// still refuses the events.
		for i := range batch {
			batch[i].TenantID = "no-such-tenant"
		}
		if _, err := s.PublishEvents(ctx, batch); !errors.Is(err, store.ErrTenantNotFound) {
			t.Errorf("publish to a missing tenant: %v, want ErrTenantNotFound", err)
		}
	})
}
