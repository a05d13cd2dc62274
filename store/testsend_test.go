package store_test

import (
	"context"
	"testing"
	"time"

	"github.com/webhookd/webhookd/store"
	"github.com/webhookd/webhookd/store/storetest"
)

// TestRedeliveredTestSendLeasedAsTest checks that a test send's delivery,
// queued again by Redeliver, is leased as a test (issue 12 item 10),
// including a test send recorded before the migration that added the
// deliveries' test column, which the migration finds by its log row.
func TestRedeliveredTestSendLeasedAsTest(t *testing.T) {
	storetest.Each(t, func(t *testing.T, s *store.Store) {
		ctx := context.Background()
		u := newUser(t, s, "a@x.io")
		w := newWebhook(t, s, u.ID, "message.new")
		publish(t, s, u.ID, "message.new")
		attempt(t, s, 200) // a real delivery, which must stay real

		l, err := s.RecordTestAttempt(ctx, store.TestAttempt{TenantID: u.ID, OccurredAt: time.Now(), Payload: []byte(`{}`),
			Log: store.Log{WebhookID: w.ID, EventType: "message.new", Status: store.AttemptFailed, StatusCode: 500, RequestHeaders: map[string]string{}}})
		if err != nil {
			t.Fatal(err)
		}
		// Back to the schema before the column and forward again: the
		// migration must find the test send by its log row.
		// Later migrations are rolled back first, down to and including 4.
		for {
			v, err := s.MigrateDown(ctx)
			if err != nil || v < 4 {
				t.Fatalf("migrate down: %d, %v; want version 4 rolled back", v, err)
			}
			if v == 4 {
				break
			}
		}
		if _, err := s.Migrate(ctx); err != nil {
			t.Fatal(err)
		}
		logs, _, err := s.ListLogs(ctx, u.ID, w.ID, store.LogFilter{Page: store.Page{Limit: 10}})
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range logs {
			if _, err := s.Redeliver(ctx, u.ID, w.ID, e.ID); err != nil {
				t.Fatalf("redeliver %s: %v", e.ID, err)
			}
		}
		leased, err := s.LeaseDeliveries(ctx, store.LeaseParams{Limit: 10, LeaseFor: time.Minute})
		if err != nil || len(leased) != 2 {
			t.Fatalf("lease: %d, %v; want the real delivery and the test send", len(leased), err)
		}
		for _, d := range leased {
			if want := d.ID == l.DeliveryID; d.Test != want {
				t.Errorf("delivery %s leased with Test %v, want %v", d.ID, d.Test, want)
			}
		}
	})
}

// TestReplayLeavesTestSendsWithoutLogs checks that Replay never queues a
// test send as a real delivery, even once retention has deleted its log
// row and not yet its delivery (they go in separate batches): the
// delivery's own test mark decides, not the log row.
func TestReplayLeavesTestSendsWithoutLogs(t *testing.T) {
	for _, target := range storetest.Targets(t) {
		t.Run(target.Name, func(t *testing.T) {
			s := storetest.Open(t, target.DB)
			ctx := context.Background()
			u := newUser(t, s, "a@x.io")
			w := newWebhook(t, s, u.ID, "message.new")
			start := time.Now().Add(-time.Minute)
			if _, err := s.RecordTestAttempt(ctx, store.TestAttempt{TenantID: u.ID, OccurredAt: time.Now(), Payload: []byte(`{}`),
				Log: store.Log{WebhookID: w.ID, EventType: "message.new", Status: store.AttemptFailed, StatusCode: 500, RequestHeaders: map[string]string{}}}); err != nil {
				t.Fatal(err)
			}
			if _, err := rawDB(t, target).ExecContext(ctx, `DELETE FROM webhook_logs`); err != nil {
				t.Fatal(err)
			}
			n, err := s.Replay(ctx, u.ID, w.ID, store.ReplayParams{Since: start})
			if err != nil || n != 0 {
				t.Fatalf("replay: %d, %v; want the test send left alone", n, err)
			}
			if leased, err := s.LeaseDeliveries(ctx, store.LeaseParams{Limit: 10, LeaseFor: time.Minute}); err != nil || len(leased) != 0 {
				t.Fatalf("lease after replay: %d, %v; want nothing due", len(leased), err)
			}
		})
	}
}
