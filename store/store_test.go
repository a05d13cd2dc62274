package store_test

import (
	"context"
	"errors"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/webhookd/webhookd/store"
	"github.com/webhookd/webhookd/store/storetest"
)

func newUser(t testing.TB, s *store.Store, email string) store.User {
	t.Helper()
	u, err := s.CreateUser(context.Background(), email, "hash", "")
	if err != nil {
		t.Fatalf("create user: %v", err)
	}
	return u
}

func newWebhook(t testing.TB, s *store.Store, userID string, events ...string) store.Webhook {
	t.Helper()
	w, err := s.CreateWebhook(context.Background(), store.CreateWebhookParams{
		TenantID: userID, Name: "hook", URL: "https://example.com/hook", Events: events, Secret: "whsec_x", IsActive: true,
	})
	if err != nil {
		t.Fatalf("create webhook: %v", err)
	}
	return w
}

func TestUsers(t *testing.T) {
	storetest.Each(t, func(t *testing.T, s *store.Store) {
		ctx := context.Background()
		u := newUser(t, s, "Alice@Example.com")
		if u.Email != "alice@example.com" {
			t.Errorf("email = %q, want it lower-cased", u.Email)
		}
		if _, err := s.CreateUser(ctx, "ALICE@example.com", "h", ""); !errors.Is(err, store.ErrConflict) {
			t.Errorf("duplicate email: err = %v, want ErrConflict", err)
		}
		got, err := s.UserByEmail(ctx, "alice@EXAMPLE.com")
		if err != nil || got.ID != u.ID {
			t.Fatalf("UserByEmail = %+v, %v; want %s", got, err, u.ID)
		}
		if !got.CreatedAt.Equal(u.CreatedAt) {
			t.Errorf("created at = %v, want %v (times must round-trip)", got.CreatedAt, u.CreatedAt)
		}
		if _, err := s.UserByID(ctx, "nope"); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("missing user: err = %v, want ErrNotFound", err)
		}
	})
}

func TestWebhookCRUDAndOwnership(t *testing.T) {
	storetest.Each(t, func(t *testing.T, s *store.Store) {
		ctx := context.Background()
		alice, bob := newUser(t, s, "a@x.io"), newUser(t, s, "b@x.io")
		var ids []string
		for i := 0; i < 5; i++ {
			ids = append(ids, newWebhook(t, s, alice.ID, "message.new").ID)
		}
		page, next, err := s.ListWebhooks(ctx, alice.ID, store.Page{Limit: 3})
		if err != nil || len(page) != 3 || next == "" {
			t.Fatalf("page 1 = %d rows, next %q, %v; want 3 rows and a cursor", len(page), next, err)
		}
		if page[0].ID != ids[4] {
			t.Errorf("first row = %s, want newest %s", page[0].ID, ids[4])
		}
		page2, next2, err := s.ListWebhooks(ctx, alice.ID, store.Page{Limit: 3, Before: next})
		if err != nil || len(page2) != 2 || next2 != "" {
			t.Fatalf("page 2 = %d rows, next %q, %v; want 2 rows and no cursor", len(page2), next2, err)
		}
		if mine, _, _ := s.ListWebhooks(ctx, bob.ID, store.Page{Limit: 10}); len(mine) != 0 {
			t.Errorf("bob sees %d of alice's webhooks", len(mine))
		}
		if _, err := s.Webhook(ctx, bob.ID, ids[0]); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("bob get: err = %v, want ErrNotFound", err)
		}
		name := "renamed"
		if _, err := s.UpdateWebhook(ctx, bob.ID, ids[0], store.WebhookPatch{Name: &name}); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("bob update: err = %v, want ErrNotFound", err)
		}
		if err := s.DeleteWebhook(ctx, bob.ID, ids[0]); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("bob delete: err = %v, want ErrNotFound", err)
		}
		off := false
		events := []string{"*"}
		w, err := s.UpdateWebhook(ctx, alice.ID, ids[0], store.WebhookPatch{Name: &name, IsActive: &off, Events: &events})
		if err != nil {
			t.Fatalf("update: %v", err)
		}
		if w.Name != name || w.IsActive || len(w.Events) != 1 || w.Events[0] != "*" || w.URL != "https://example.com/hook" {
			t.Errorf("updated = %+v", w)
		}
		if err := s.DeleteWebhook(ctx, alice.ID, ids[0]); err != nil {
			t.Fatalf("delete: %v", err)
		}
		if _, err := s.Webhook(ctx, alice.ID, ids[0]); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("get deleted: err = %v, want ErrNotFound", err)
		}
	})
}

func TestPublishLeaseComplete(t *testing.T) {
	storetest.Each(t, func(t *testing.T, s *store.Store) {
		ctx := context.Background()
		u := newUser(t, s, "a@x.io")
		all := newWebhook(t, s, u.ID, "*")
		msg := newWebhook(t, s, u.ID, "message.*")
		_ = newWebhook(t, s, u.ID, "campaign.started")
		other := newUser(t, s, "b@x.io")
		_ = newWebhook(t, s, other.ID, "*")

		res, err := s.PublishEvents(ctx, []store.PublishParams{{TenantID: u.ID, Type: "message.new", Payload: []byte(`{"a":1}`), OccurredAt: time.Now(), IdempotencyKey: "k1"}})
		if err != nil {
			t.Fatalf("publish: %v", err)
		}
		if res[0].Deliveries != 2 || res[0].Duplicate {
			t.Fatalf("deliveries = %d (dup %v), want 2 (the * and message.* hooks of the owner only)", res[0].Deliveries, res[0].Duplicate)
		}
		again, err := s.PublishEvents(ctx, []store.PublishParams{{TenantID: u.ID, Type: "message.new", Payload: []byte(`{"a":1}`), OccurredAt: time.Now(), IdempotencyKey: "k1"}})
		if err != nil || !again[0].Duplicate || again[0].Event.ID != res[0].Event.ID {
			t.Fatalf("same key: %+v, %v; want the first event as a duplicate", again, err)
		}

		leased, err := s.LeaseDeliveries(ctx, store.LeaseParams{Limit: 10, LeaseFor: time.Minute})
		if err != nil || len(leased) != 2 {
			t.Fatalf("lease = %d, %v; want 2", len(leased), err)
		}
		if string(leased[0].Payload) != `{"a":1}` || leased[0].Attempt != 1 {
			t.Errorf("leased = %+v", leased[0])
		}
		if again, _ := s.LeaseDeliveries(ctx, store.LeaseParams{Limit: 10, LeaseFor: time.Minute}); len(again) != 0 {
			t.Errorf("leased %d deliveries twice", len(again))
		}
		next := s.Now().Add(time.Hour)
		var batch []store.Completion
		for _, l := range leased {
			c := store.Completion{DeliveryID: l.ID, LeaseToken: l.LeaseToken, Log: store.Log{
				WebhookID: l.WebhookID, EventID: l.EventID, DeliveryID: l.ID, EventType: l.EventType, Attempt: l.Attempt,
				Status: store.AttemptSuccess, StatusCode: 200, DurationMs: 12, RequestHeaders: map[string]string{"A": "b"}, RequestBody: []byte("{}"),
			}}
			if l.WebhookID == msg.ID {
				c.Log.Status, c.Log.StatusCode, c.Log.Error, c.NextAttemptAt = store.AttemptFailed, 500, "HTTP 500", &next
			}
			batch = append(batch, c)
		}
		if n, err := s.CompleteDeliveries(ctx, batch); err != nil || n != 2 {
			t.Fatalf("complete = %d, %v; want 2 fenced", n, err)
		}
		// A stale token changes nothing.
		if n, err := s.CompleteDeliveries(ctx, batch[:1]); err != nil || n != 0 {
			t.Errorf("stale completion = %d, %v; want 0", n, err)
		}
		st, err := s.WebhookStats(ctx, u.ID, all.ID, nil)
		if err != nil {
			t.Fatalf("stats: %v", err)
		}
		if st.TotalAttempts != 2 || st.SuccessfulAttempts != 2 || st.PendingDeliveries != 0 || st.P95DurationMs != 12 {
			t.Errorf("stats of the * hook = %+v", st)
		}
		st, _ = s.WebhookStats(ctx, u.ID, msg.ID, nil)
		if st.FailedAttempts != 1 || st.ConsecutiveFailures != 1 || st.PendingDeliveries != 1 {
			t.Errorf("stats of the failing hook = %+v", st)
		}
		due, err := s.NextDueAt(ctx, nil)
		if err != nil || due == nil || !due.Equal(next) {
			t.Errorf("next due = %v, %v; want %v", due, err, next)
		}
		logs, _, err := s.ListLogs(ctx, u.ID, msg.ID, store.LogFilter{Status: "failed", Page: store.Page{Limit: 10}})
		if err != nil || len(logs) != 1 || logs[0].StatusCode != 500 || logs[0].NextAttemptAt == nil || logs[0].RequestHeaders["A"] != "b" {
			t.Fatalf("logs = %+v, %v", logs, err)
		}
		if _, _, err := s.ListLogs(ctx, other.ID, msg.ID, store.LogFilter{Page: store.Page{Limit: 10}}); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("other user's logs: err = %v, want ErrNotFound", err)
		}
		if _, err := s.LogEntry(ctx, other.ID, msg.ID, logs[0].ID); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("other user's log entry: err = %v, want ErrNotFound", err)
		}
	})
}

// TestOpenMissingSchema (issue 12, new-user pass): a search_path naming no
// existing schema, as a typo in --db gives, is refused at Open naming the
// search_path, rather than failing later with goose's "relation
// goose_db_version does not exist". PostgreSQL only: SQLite has no schemas.
func TestOpenMissingSchema(t *testing.T) {
	db := storetest.PostgresURL(t)
	u, err := url.Parse(db)
	if err != nil {
		t.Fatal(err)
	}
	q := u.Query()
	q.Set("search_path", q.Get("search_path")+"_typo")
	u.RawQuery = q.Encode()
	s, err := store.Open(context.Background(), u.String())
	if err == nil {
		s.Close()
		t.Fatal("Open succeeded on a search_path naming no schema")
	}
	if !strings.Contains(err.Error(), "no schema of its search_path") || !strings.Contains(err.Error(), q.Get("search_path")) {
		t.Errorf("error %q, want it to say the search_path schema does not exist and name it", err)
	}
}
