package store_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/webhookd/webhookd/store"
	"github.com/webhookd/webhookd/store/storetest"
)

// clock is a settable time source for the store.
type clock struct{ t time.Time }

func (c *clock) now() time.Time { return c.t }

func publish(t *testing.T, s *store.Store, userID, typ string) store.PublishResult {
	t.Helper()
	res, err := s.PublishEvents(context.Background(), []store.PublishParams{{TenantID: userID, Type: typ, Payload: []byte(`{"n":1}`), OccurredAt: time.Now()}})
	if err != nil {
		t.Fatalf("publish: %v", err)
	}
	return res[0]
}

// attempt leases every due delivery and completes each with status code
// code (2xx is success), scheduling a retry far out of the test's way on
// failure.
func attempt(t *testing.T, s *store.Store, code int) []store.LeasedDelivery {
	t.Helper()
	ctx := context.Background()
	leased, err := s.LeaseDeliveries(ctx, store.LeaseParams{Limit: 100, LeaseFor: time.Minute})
	if err != nil {
		t.Fatalf("lease: %v", err)
	}
	var batch []store.Completion
	for _, l := range leased {
		c := store.Completion{DeliveryID: l.ID, LeaseToken: l.LeaseToken, Gone: code == 410, Log: store.Log{
			WebhookID: l.WebhookID, EventID: l.EventID, DeliveryID: l.ID, EventType: l.EventType, Attempt: l.Attempt,
			Status: store.AttemptSuccess, StatusCode: code, RequestHeaders: map[string]string{}, RequestBody: []byte("{}"),
		}}
		if code >= 300 {
			next := s.Now().Add(100 * time.Hour)
			c.Log.Status, c.NextAttemptAt = store.AttemptFailed, &next
		}
		batch = append(batch, c)
	}
	if _, err := s.CompleteDeliveries(ctx, batch); err != nil {
		t.Fatalf("complete: %v", err)
	}
	return leased
}

func TestAutoDisable(t *testing.T) {
	c := &clock{}
	storetest.Each(t, func(t *testing.T, s *store.Store) {
		c.t = time.Now()
		ctx := context.Background()
		u := newUser(t, s, "a@x.io")
		failing := newWebhook(t, s, u.ID, "message.new")
		watcher := newWebhook(t, s, u.ID, "webhook.disabled")

		// Three failures over 80 minutes: the rule needs 4 failures over 1h.
		for i := 0; i < 3; i++ {
			publish(t, s, u.ID, "message.new")
			attempt(t, s, 500)
			if w, _ := s.Webhook(ctx, u.ID, failing.ID); !w.IsActive {
				t.Fatalf("disabled after %d failures at %v, too early", i+1, c.t)
			}
			c.t = c.t.Add(40 * time.Minute)
		}
		// A fourth failure, 2 hours after the first.
		publish(t, s, u.ID, "message.new")
		leased := attempt(t, s, 500)
		if len(leased) != 1 {
			t.Fatalf("leased %d, want the one new delivery", len(leased))
		}
		w, err := s.Webhook(ctx, u.ID, failing.ID)
		if err != nil {
			t.Fatal(err)
		}
		if w.IsActive || w.DisabledReason == "" || w.DisabledAt == nil {
			t.Fatalf("webhook after 4 failures over 2h = active %v, reason %q, at %v; want disabled", w.IsActive, w.DisabledReason, w.DisabledAt)
		}
		// The owner's other webhook subscribed to webhook.disabled was told.
		leased, err = s.LeaseDeliveries(ctx, store.LeaseParams{Limit: 10, LeaseFor: time.Minute})
		if err != nil || len(leased) != 1 || leased[0].WebhookID != watcher.ID || leased[0].EventType != store.WebhookDisabledEvent {
			t.Fatalf("after disabling: leased %+v, %v; want one webhook.disabled delivery to the watcher", leased, err)
		}
		// Re-enabling clears the reason.
		on := true
		w, err = s.UpdateWebhook(ctx, u.ID, failing.ID, store.WebhookPatch{IsActive: &on})
		if err != nil || !w.IsActive || w.DisabledReason != "" || w.DisabledAt != nil {
			t.Errorf("re-enabled = %+v, %v", w, err)
		}
	}, store.WithClock(c.now), store.WithAutoDisable(store.AutoDisable{After: time.Hour, MinFailures: 4}))
}

func TestGoneDisablesAtOnce(t *testing.T) {
	storetest.Each(t, func(t *testing.T, s *store.Store) {
		ctx := context.Background()
		u := newUser(t, s, "a@x.io")
		w := newWebhook(t, s, u.ID, "*")
		publish(t, s, u.ID, "message.new")
		attempt(t, s, 410)
		got, _ := s.Webhook(ctx, u.ID, w.ID)
		if got.IsActive || got.DisabledReason == "" {
			t.Errorf("after 410: active %v, reason %q; want disabled with a reason", got.IsActive, got.DisabledReason)
		}
	})
}

func TestRedeliverAndReplay(t *testing.T) {
	storetest.Each(t, func(t *testing.T, s *store.Store) {
		ctx := context.Background()
		u := newUser(t, s, "a@x.io")
		other := newUser(t, s, "b@x.io")
		w := newWebhook(t, s, u.ID, "*")
		start := s.Now().Add(-time.Second)
		for i := 0; i < 3; i++ {
			publish(t, s, u.ID, "message.new")
		}
		first := attempt(t, s, 200)
		logs, _, err := s.ListLogs(ctx, u.ID, w.ID, store.LogFilter{Page: store.Page{Limit: 10}})
		if err != nil || len(logs) != 3 {
			t.Fatalf("logs = %d, %v", len(logs), err)
		}
		if _, err := s.Redeliver(ctx, other.ID, w.ID, logs[0].ID); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("other user's redeliver: err = %v, want ErrNotFound", err)
		}
		id, err := s.Redeliver(ctx, u.ID, w.ID, logs[0].ID)
		if err != nil || id != logs[0].DeliveryID {
			t.Fatalf("redeliver = %q, %v; want delivery %s", id, err, logs[0].DeliveryID)
		}
		again, err := s.LeaseDeliveries(ctx, store.LeaseParams{Limit: 10, LeaseFor: time.Minute})
		if err != nil || len(again) != 1 || again[0].ID != id || again[0].Attempt != 2 {
			t.Fatalf("after redeliver leased %+v, %v; want delivery %s as attempt 2", again, err, id)
		}
		if _, err := s.Redeliver(ctx, u.ID, w.ID, logs[0].ID); !errors.Is(err, store.ErrInFlight) {
			t.Errorf("redeliver while leased: err = %v, want ErrInFlight", err)
		}
		if err := s.ReleaseDeliveries(ctx, again); err != nil {
			t.Fatal(err)
		}
		attempt(t, s, 200)

		n, err := s.Replay(ctx, u.ID, w.ID, store.ReplayParams{Since: start, OnlyFailed: true})
		if err != nil || n != 0 {
			t.Errorf("replay failed-only = %d, %v; want 0 (none failed)", n, err)
		}
		n, err = s.Replay(ctx, u.ID, w.ID, store.ReplayParams{Since: start})
		if err != nil || n != int64(len(first)) {
			t.Errorf("replay all = %d, %v; want %d", n, err, len(first))
		}
		if _, err := s.Replay(ctx, other.ID, w.ID, store.ReplayParams{Since: start}); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("other user's replay: err = %v, want ErrNotFound", err)
		}
		q, err := s.Queue(ctx)
		if err != nil || q.Due != 3 || q.OldestDue == nil {
			t.Errorf("queue = %+v, %v; want 3 due", q, err)
		}
	})
}

func TestRotateSecret(t *testing.T) {
	storetest.Each(t, func(t *testing.T, s *store.Store) {
		ctx := context.Background()
		u := newUser(t, s, "a@x.io")
		w := newWebhook(t, s, u.ID, "*")
		r, err := s.RotateSecret(ctx, u.ID, w.ID, "whsec_new", time.Hour)
		if err != nil || r.Secret != "whsec_new" || r.PreviousSecret != w.Secret || r.PreviousSecretExpiresAt == nil {
			t.Fatalf("rotate = %+v, %v", r, err)
		}
		publish(t, s, u.ID, "message.new")
		leased, _ := s.LeaseDeliveries(ctx, store.LeaseParams{Limit: 10, LeaseFor: time.Minute})
		if len(leased) != 1 || leased[0].Secret != "whsec_new" || leased[0].PreviousSecret != w.Secret {
			t.Fatalf("leased = %+v; want both secrets during the grace period", leased)
		}
		r, err = s.RotateSecret(ctx, u.ID, w.ID, "whsec_newer", 0)
		if err != nil || r.PreviousSecret != "" {
			t.Errorf("rotate without grace = %+v, %v; want no previous secret", r, err)
		}
		if _, err := s.RotateSecret(ctx, "someone-else", w.ID, "x", time.Hour); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("other user's rotate: err = %v, want ErrNotFound", err)
		}
	})
}

func TestPrune(t *testing.T) {
	c := &clock{}
	storetest.Each(t, func(t *testing.T, s *store.Store) {
		c.t = time.Now().Add(-48 * time.Hour)
		ctx := context.Background()
		u := newUser(t, s, "a@x.io")
		w := newWebhook(t, s, u.ID, "*")
		publish(t, s, u.ID, "message.new")
		attempt(t, s, 200) // old and finished
		publish(t, s, u.ID, "message.new")
		attempt(t, s, 500) // old but still pending a retry
		c.t = time.Now()
		publish(t, s, u.ID, "message.new")
		attempt(t, s, 200) // new

		cutoff := c.t.Add(-24 * time.Hour)
		var total int64
		for {
			n, err := s.Prune(ctx, cutoff, 1)
			if err != nil {
				t.Fatal(err)
			}
			if n == 0 {
				break
			}
			total += n
		}
		// Two old logs, their minute's and hour's counts, one finished
		// delivery and its event.
		if total != 6 {
			t.Errorf("pruned %d rows, want 6", total)
		}
		logs, _, _ := s.ListLogs(ctx, u.ID, w.ID, store.LogFilter{Page: store.Page{Limit: 10}})
		if len(logs) != 1 {
			t.Errorf("%d logs left, want the new one", len(logs))
		}
		if st, _ := s.WebhookStats(ctx, u.ID, w.ID, nil); st.PendingDeliveries != 1 {
			t.Errorf("pending = %d, want the old delivery still waiting for its retry", st.PendingDeliveries)
		}
	}, store.WithClock(c.now))
}

func TestLoginFailures(t *testing.T) {
	storetest.Each(t, func(t *testing.T, s *store.Store) {
		ctx := context.Background()
		since := s.Now().Add(-time.Minute)
		for i := 0; i < 3; i++ {
			if err := s.RecordLoginFailure(ctx, "email:a@x.io", "ip:1.2.3.4"); err != nil {
				t.Fatal(err)
			}
		}
		n, oldest, err := s.LoginFailures(ctx, "ip:1.2.3.4", since)
		if err != nil || n != 3 || oldest == nil {
			t.Fatalf("failures = %d, %v, %v; want 3", n, oldest, err)
		}
		if err := s.ClearLoginFailures(ctx, "email:a@x.io"); err != nil {
			t.Fatal(err)
		}
		if n, _, _ := s.LoginFailures(ctx, "email:a@x.io", since); n != 0 {
			t.Errorf("after clear: %d failures", n)
		}
	})
}

func TestUserTokenVersion(t *testing.T) {
	storetest.Each(t, func(t *testing.T, s *store.Store) {
		ctx := context.Background()
		u := newUser(t, s, "a@x.io")
		if err := s.SetPassword(ctx, u.ID, "new-hash"); err != nil {
			t.Fatal(err)
		}
		got, _ := s.UserByID(ctx, u.ID)
		if got.TokenVersion != u.TokenVersion+1 || got.PasswordHash != "new-hash" {
			t.Errorf("after SetPassword: %+v", got)
		}
		if err := s.SetUserDisabled(ctx, u.ID, true); err != nil {
			t.Fatal(err)
		}
		got, _ = s.UserByID(ctx, u.ID)
		if got.DisabledAt == nil || got.TokenVersion != u.TokenVersion+2 {
			t.Errorf("after disable: %+v", got)
		}
	})
}

// TestCompleteAfterWebhookDeleted checks that deleting a webhook while one
// of its deliveries is in flight does not fail the other outcomes that
// share the completion batch.
func TestCompleteAfterWebhookDeleted(t *testing.T) {
	storetest.Each(t, func(t *testing.T, s *store.Store) {
		ctx := context.Background()
		u := newUser(t, s, "a@x.io")
		doomed := newWebhook(t, s, u.ID, "*")
		kept := newWebhook(t, s, u.ID, "*")
		publish(t, s, u.ID, "message.new")
		leased, err := s.LeaseDeliveries(ctx, store.LeaseParams{Limit: 10, LeaseFor: time.Minute})
		if err != nil || len(leased) != 2 {
			t.Fatalf("lease = %d, %v", len(leased), err)
		}
		if err := s.DeleteWebhook(ctx, u.ID, doomed.ID); err != nil {
			t.Fatal(err)
		}
		var batch []store.Completion
		for _, l := range leased {
			batch = append(batch, store.Completion{DeliveryID: l.ID, LeaseToken: l.LeaseToken, Log: store.Log{
				WebhookID: l.WebhookID, EventID: l.EventID, DeliveryID: l.ID, EventType: l.EventType, Attempt: 1,
				Status: store.AttemptSuccess, StatusCode: 200, RequestHeaders: map[string]string{}}})
		}
		n, err := s.CompleteDeliveries(ctx, batch)
		if err != nil || n != 1 {
			t.Fatalf("complete = %d, %v; want the kept webhook's delivery recorded", n, err)
		}
		if st, _ := s.WebhookStats(ctx, u.ID, kept.ID, nil); st.SuccessfulAttempts != 1 {
			t.Errorf("kept webhook stats = %+v", st)
		}
	})
}

// TestLeaseRespectsPerWebhookCap checks that a lease takes no more of one
// webhook's deliveries than its cap allows, and leaves the rest untouched.
func TestLeaseRespectsPerWebhookCap(t *testing.T) {
	storetest.Each(t, func(t *testing.T, s *store.Store) {
		ctx := context.Background()
		u := newUser(t, s, "a@x.io")
		busy := newWebhook(t, s, u.ID, "*")
		for i := 0; i < 4; i++ {
			publish(t, s, u.ID, "message.new")
		}
		idle := newWebhook(t, s, u.ID, "*")
		publish(t, s, u.ID, "message.new")
		leased, err := s.LeaseDeliveries(ctx, store.LeaseParams{Limit: 100, LeaseFor: time.Minute, PerWebhook: 2, InFlight: map[string]int{busy.ID: 1}})
		if err != nil {
			t.Fatal(err)
		}
		per := map[string]int{}
		for _, l := range leased {
			per[l.WebhookID]++
		}
		if per[busy.ID] != 1 || per[idle.ID] != 1 {
			t.Fatalf("leased %v; want 1 of the busy webhook (cap 2, 1 in flight) and 1 of the idle one", per)
		}
		rest, err := s.LeaseDeliveries(ctx, store.LeaseParams{Limit: 100, LeaseFor: time.Minute})
		if err != nil || len(rest) != 4 {
			t.Errorf("uncapped lease = %d, %v; want the 4 left untouched", len(rest), err)
		}
	})
}
