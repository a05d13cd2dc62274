package e2e

import (
	"net/http"
	"testing"

	"github.com/webhookd/webhookd/store/storetest"
)

// TestE2EUserDisabledEndsTokensInEveryProcess: two webhookd processes on
// one PostgreSQL database serve a user's token, each from its user cache
// after the first request; `webhookd user disable`, a third process, ends
// the token in both by the time it returns, with no wait, and `user
// enable` brings neither the old token back (its version is spent) nor
// keeps a new one out.
func TestE2EUserDisabledEndsTokensInEveryProcess(t *testing.T) {
	t.Parallel()
	db := storetest.PostgresURL(t)
	a := startServe(t, db, adminEnv)
	b := startServe(t, db, adminEnv)
	token := login(t, a.URL, adminEmail, adminPassword)
	apis := []api{{t: t, base: a.URL, token: token}, {t: t, base: b.URL, token: token}}
	for range 3 { // the first lookup fills each cache, the others are served by it
		for _, p := range apis {
			p.json(http.MethodGet, "/api/v1/webhooks", "", http.StatusOK, nil)
		}
	}
	mustWebhookd(t, nil, "", "user", "disable", "--email", adminEmail, "--db", db)
	for _, p := range apis {
		if code, body := p.call(http.MethodGet, "/api/v1/webhooks", ""); code != http.StatusUnauthorized {
			t.Errorf("%s right after user disable returned: status %d, want 401; body %s", p.base, code, body)
		}
	}
	mustWebhookd(t, nil, "", "user", "enable", "--email", adminEmail, "--db", db)
	for _, p := range apis {
		if code, body := p.call(http.MethodGet, "/api/v1/webhooks", ""); code != http.StatusUnauthorized {
			t.Errorf("%s: the token from before the disable, after enable: status %d, want 401; body %s", p.base, code, body)
		}
	}
	fresh := login(t, b.URL, adminEmail, adminPassword)
	for _, p := range apis {
		p.token = fresh
		p.json(http.MethodGet, "/api/v1/webhooks", "", http.StatusOK, nil)
	}
}
