package store_test

import (
	"context"
	"database/sql"
	"testing"

	"github.com/webhookd/webhookd/store"
	"github.com/webhookd/webhookd/store/storetest"
)

// failStatsReset makes every later change of webhook_stats.failing_since
// fail, through a trigger in the test's own database.
func failStatsReset(t *testing.T, target storetest.Target) {
	t.Helper()
	driver, dsn, stmts := "sqlite", "file:"+target.DB+"?_pragma=busy_timeout(10000)", []string{
		`CREATE TRIGGER fail_stats_reset BEFORE UPDATE OF failing_since ON webhook_stats
			BEGIN SELECT RAISE(ABORT, 'forced failure of the stats reset'); END`,
	}
	if target.Name == "postgres" {
		driver, dsn, stmts = "pgx", target.DB, []string{
			`CREATE FUNCTION fail_stats_reset() RETURNS trigger LANGUAGE plpgsql AS $$
				BEGIN RAISE EXCEPTION 'forced failure of the stats reset'; END $$`,
			`CREATE TRIGGER fail_stats_reset BEFORE UPDATE OF failing_since ON webhook_stats
				FOR EACH ROW EXECUTE FUNCTION fail_stats_reset()`,
		}
	}
	db, err := sql.Open(driver, dsn)
	if err != nil {
		t.Fatalf("open %s for the trigger: %v", target.Name, err)
	}
	defer db.Close()
	for _, q := range stmts {
		if _, err := db.Exec(q); err != nil {
			t.Fatalf("create trigger: %v", err)
		}
	}
}

// TestUpdateWebhookIsOneTransaction re-enables a failing webhook while the
// stats reset that re-enabling implies fails: the whole update must roll
// back (issue 12 item 13), not leave the webhook re-enabled with its old
// failure streak behind an error answer.
func TestUpdateWebhookIsOneTransaction(t *testing.T) {
	for _, target := range storetest.Targets(t) {
		t.Run(target.Name, func(t *testing.T) {
			ctx := context.Background()
			s := storetest.Open(t, target.DB)
			u := newUser(t, s, "a@x.io")
			w := newWebhook(t, s, u.ID, "message.new")
			publish(t, s, u.ID, "message.new")
			attempt(t, s, 500) // failing_since is set
			off, on, name := false, true, "renamed"
			if _, err := s.UpdateWebhook(ctx, u.ID, w.ID, store.WebhookPatch{IsActive: &off}); err != nil {
				t.Fatalf("pause: %v", err)
			}

			failStatsReset(t, target)
			if _, err := s.UpdateWebhook(ctx, u.ID, w.ID, store.WebhookPatch{IsActive: &on, Name: &name}); err == nil {
				t.Fatal("re-enable with a failing stats reset: no error, want one")
			}
			got, err := s.Webhook(ctx, u.ID, w.ID)
			if err != nil {
				t.Fatal(err)
			}
			if got.IsActive || got.Name != w.Name {
				t.Errorf("after the failed update: active %v, name %q; want the update rolled back (paused, %q)", got.IsActive, got.Name, w.Name)
			}
			// Updates that do not re-enable do not touch the stats.
			if got, err := s.UpdateWebhook(ctx, u.ID, w.ID, store.WebhookPatch{Name: &name}); err != nil || got.Name != name {
				t.Errorf("rename: %+v, %v; want it applied", got, err)
			}
		})
	}
}
