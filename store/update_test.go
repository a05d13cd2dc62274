package store_test

import (
	"context"
	"database/sql"
	"fmt"
	"testing"
	"time"

	"github.com/webhookd/webhookd/store"
	"github.com/webhookd/webhookd/store/storetest"
)

// openRawStore opens a plain second connection to a test database, for
// what the store offers no way to do: create triggers, read a column.
func openRawStore(t *testing.T, target storetest.Target) *sql.DB {
	t.Helper()
	driver, dsn := "sqlite", "file:"+target.DB+"?_pragma=busy_timeout(10000)"
	if target.Name == "postgres" {
		driver, dsn = "pgx", target.DB
	}
	db, err := sql.Open(driver, dsn)
	if err != nil {
		t.Fatalf("open %s directly: %v", target.Name, err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

// failUpdatesOf makes every later change of table.column fail, through a
// trigger in the test's own database.
func failUpdatesOf(t *testing.T, target storetest.Target, raw *sql.DB, table, column string) {
	t.Helper()
	name := "fail_" + table
	stmts := []string{fmt.Sprintf(`CREATE TRIGGER %s BEFORE UPDATE OF %s ON %s
		BEGIN SELECT RAISE(ABORT, 'forced failure'); END`, name, column, table)}
	if target.Name == "postgres" {
		stmts = []string{
			fmt.Sprintf(`CREATE FUNCTION %s() RETURNS trigger LANGUAGE plpgsql AS $$
				BEGIN RAISE EXCEPTION 'forced failure'; END $$`, name),
			fmt.Sprintf(`CREATE TRIGGER %s BEFORE UPDATE OF %s ON %s FOR EACH ROW EXECUTE FUNCTION %s()`, name, column, table, name),
		}
	}
	for _, q := range stmts {
		if _, err := raw.Exec(q); err != nil {
			t.Fatalf("create trigger: %v", err)
		}
	}
}

// TestUpdateWebhookIsOneTransaction re-enables a failing webhook while one
// of the statements that re-enabling runs fails, the stats reset or the
// webhook's own update: the whole update must roll back (issue 12 item
// 13), not leave half of it behind an error answer.
func TestUpdateWebhookIsOneTransaction(t *testing.T) {
	for _, failing := range []struct{ table, column string }{{"webhook_stats", "failing_since"}, {"webhooks", "name"}} {
		for _, target := range storetest.Targets(t) {
			t.Run(failing.table+"/"+target.Name, func(t *testing.T) {
				ctx := context.Background()
				s := storetest.Open(t, target.DB)
				raw := openRawStore(t, target)
				u := newUser(t, s, "a@x.io")
				w := newWebhook(t, s, u.ID, "message.new")
				publish(t, s, u.ID, "message.new")
				attempt(t, s, 500) // failing_since is set
				off, on, name := false, true, "renamed"
				if _, err := s.UpdateWebhook(ctx, u.ID, w.ID, store.WebhookPatch{IsActive: &off}); err != nil {
					t.Fatalf("pause: %v", err)
				}
				failingSince := func() string {
					var v any
					if err := raw.QueryRow(`SELECT failing_since FROM webhook_stats WHERE webhook_id = $1`, w.ID).Scan(&v); err != nil {
						t.Fatal(err)
					}
					return fmt.Sprint(v)
				}
				before := failingSince()

				failUpdatesOf(t, target, raw, failing.table, failing.column)
				if _, err := s.UpdateWebhook(ctx, u.ID, w.ID, store.WebhookPatch{IsActive: &on, Name: &name}); err == nil {
					t.Fatal("re-enable with a failing statement: no error, want one")
				}
				got, err := s.Webhook(ctx, u.ID, w.ID)
				if err != nil {
					t.Fatal(err)
				}
				if got.IsActive || got.Name != w.Name {
					t.Errorf("after the failed update: active %v, name %q; want the update rolled back (paused, %q)", got.IsActive, got.Name, w.Name)
				}
				if after := failingSince(); after != before {
					t.Errorf("after the failed update: failing_since %s, want it rolled back to %s", after, before)
				}
			})
		}
	}
}

// TestReenableBesideAutoDisable re-enables a webhook over and over while
// completions answered 410 Gone disable it again, on PostgreSQL where the
// two run side by side: every update and every completion must succeed,
// with neither waiting on the other in a deadlock (issue 12 item 13).
func TestReenableBesideAutoDisable(t *testing.T) {
	storetest.SkipWithoutPostgres(t)
	ctx := context.Background()
	s := storetest.Open(t, storetest.PostgresURL(t))
	u := newUser(t, s, "a@x.io")
	w := newWebhook(t, s, u.ID, "message.new")
	const rounds = 200
	errs := make(chan error, 2*rounds)
	done := make(chan struct{})
	go func() {
		defer close(done)
		on := true
		for i := 0; i < rounds; i++ {
			if _, err := s.UpdateWebhook(ctx, u.ID, w.ID, store.WebhookPatch{IsActive: &on}); err != nil {
				errs <- fmt.Errorf("re-enable: %w", err)
			}
		}
	}()
	for i := 0; i < rounds; i++ {
		res, err := s.PublishEvents(ctx, []store.PublishParams{{TenantID: u.ID, Type: "message.new", Payload: []byte(`{}`), OccurredAt: s.Now()}})
		if err != nil || len(res) != 1 {
			t.Fatalf("publish: %v", err)
		}
		leased, err := s.LeaseDeliveries(ctx, store.LeaseParams{Limit: 100, LeaseFor: time.Minute})
		if err != nil {
			t.Fatalf("lease: %v", err)
		}
		var batch []store.Completion
		for _, l := range leased {
			batch = append(batch, store.Completion{DeliveryID: l.ID, LeaseToken: l.LeaseToken, Gone: true, Log: store.Log{
				WebhookID: l.WebhookID, EventID: l.EventID, DeliveryID: l.ID, EventType: l.EventType, Attempt: l.Attempt,
				Status: store.AttemptFailed, StatusCode: 410, RequestHeaders: map[string]string{}, RequestBody: []byte("{}"),
			}})
		}
		if _, err := s.CompleteDeliveries(ctx, batch); err != nil {
			errs <- fmt.Errorf("complete: %w", err)
		}
	}
	<-done
	close(errs)
	for err := range errs {
		t.Error(err)
	}
}
