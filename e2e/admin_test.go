package e2e

import (
	"net/http"
	"strings"
	"testing"

	"github.com/webhookd/webhookd/store/storetest"
)

// TestE2EUserAdminAndStatus drives `webhookd user passwd|disable|enable|
// delete` and `webhookd status` beside a running serve: each command works
// while serve holds the database, a new password or disabling ends the
// tokens already issued, and status shows the queue and the webhooks.
func TestE2EUserAdminAndStatus(t *testing.T) {
	t.Parallel()
	storetest.EachTarget(t, func(t *testing.T, db string) {
		t.Parallel()
		dbEnv := "WEBHOOKD_DB=" + db
		rc := newReceiver(t)
		p := startServe(t, db, adminEnv, deliveryArgs...)
		token := login(t, p.URL, adminEmail, adminPassword)
		a := api{t: t, base: p.URL, token: token}
		hook := createWebhook(t, a, rc.URL)
		publish(t, a, 2)
		waitSettled(t, a, hook.ID, 2)

		st := mustWebhookd(t, []string{dbEnv}, "", "status").stdout
		for _, want := range []string{"queue:", "webhooks: 1 active", adminEmail, hook.ID, "active"} {
			if !strings.Contains(st, want) {
				t.Errorf("status output lacks %q:\n%s", want, st)
			}
		}
		// migrate status only reads, so it too works beside serve (it was
		// refused on SQLite: "webhookd.db.lock is in use").
		if ms := mustWebhookd(t, []string{dbEnv}, "", "migrate", "status").stdout; !strings.Contains(ms, "00001_init.sql") || strings.Contains(ms, "pending") {
			t.Errorf("migrate status beside serve:\n%s\nwant every migration listed as applied", ms)
		}

		const newPassword = "a brand new long password"
		if r := webhookd(t, []string{dbEnv}, "", "user", "passwd", "--email", adminEmail, "--password", "short"); r.code == 0 {
			t.Errorf("passwd accepted a short password: %s", r)
		}
		mustWebhookd(t, []string{dbEnv}, newPassword+"\n", "user", "passwd", "--email", adminEmail)
		if code, body := a.call(http.MethodGet, "/api/v1/webhooks", ""); code != http.StatusUnauthorized {
			t.Errorf("token issued before passwd: %d %s, want 401", code, body)
		}
		a.token = login(t, p.URL, adminEmail, newPassword)

		mustWebhookd(t, []string{dbEnv}, "", "user", "disable", "--email", adminEmail)
		if code, body := a.call(http.MethodGet, "/api/v1/webhooks", ""); code != http.StatusUnauthorized {
			t.Errorf("token of a disabled user: %d %s, want 401", code, body)
		}
		if code, _ := (api{t: t, base: p.URL}).call(http.MethodPost, "/api/v1/auth/login", `{"email":"`+adminEmail+`","password":"`+newPassword+`"}`); code != http.StatusUnauthorized {
			t.Errorf("login of a disabled user: %d, want 401", code)
		}
		mustWebhookd(t, []string{dbEnv}, "", "user", "enable", "--email", adminEmail)
		a.token = login(t, p.URL, adminEmail, newPassword)

		mustWebhookd(t, []string{dbEnv}, "", "user", "delete", "--email", adminEmail)
		if code, _ := a.call(http.MethodGet, "/api/v1/webhooks", ""); code != http.StatusUnauthorized {
			t.Errorf("token of a deleted user: %d, want 401", code)
		}
		if r := webhookd(t, []string{dbEnv}, "", "user", "delete", "--email", adminEmail); r.code == 0 || !strings.Contains(r.stderr, "no user") {
			t.Errorf("deleting a missing user: %s, want an error naming it", r)
		}
		if st := mustWebhookd(t, []string{dbEnv}, "", "status").stdout; !strings.Contains(st, "no webhooks yet") {
			t.Errorf("status after deleting the only user:\n%s", st)
		}
	})
}
