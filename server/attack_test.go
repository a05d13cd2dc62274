package server_test

import (
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	"github.com/webhookd/webhookd/auth"
	"github.com/webhookd/webhookd/store"
	"github.com/webhookd/webhookd/store/storetest"
)

// Attacks on tenancy: each test is a way one credential once reached
// further than it should, kept so that it stays shut.

// serviceKey makes a service key, as `webhookd apikey create --service`
// does, and returns the key.
func attackServiceKey(t testing.TB, s *testServer) string {
	t.Helper()
	key, hash, prefix, err := auth.NewAPIKey()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.st.CreateAPIKey(context.Background(), store.NewAPIKey{Service: true, CreatedBy: "cli", Name: "crm",
		KeyHash: hash, Prefix: prefix}); err != nil {
		t.Fatalf("create service key: %v", err)
	}
	return key
}

// portalSession opens a portal session for tenant with a service key and
// returns its token.
func portalSession(t testing.TB, s *testServer, svc, tenant string, readOnly bool) string {
	t.Helper()
	var out struct {
		Token string `json:"token"`
	}
	s.call(t, http.MethodPost, "/api/v1/tenants/"+tenant+"/portal-sessions", svc,
		map[string]any{"readOnly": readOnly, "expiresIn": 60}, http.StatusCreated, &out)
	return out.Token
}

// A portal session shows a tenant its webhooks and deliveries for an
// hour; it must not list, revoke or mint the tenant's API keys: a key it
// made would outlive the session by as long as nobody revokes it.
func TestPortalSessionCannotManageAPIKeys(t *testing.T) {
	storetest.Each(t, func(t *testing.T, st *store.Store) {
		s := newTestServer(t, st)
		svc := attackServiceKey(t, s)
		s.call(t, http.MethodPut, "/api/v1/tenants/acme", svc, nil, http.StatusCreated, nil)
		var victim apiKeyJSON
		s.call(t, http.MethodPost, "/api/v1/api-keys", svc, map[string]string{"name": "crm's acme key"}, http.StatusCreated, &victim,
			"Webhookd-Tenant", "acme")
		for _, readOnly := range []bool{false, true} {
			portal := portalSession(t, s, svc, "acme", readOnly)
			for _, r := range []struct {
				method, path string
				body         any
			}{
				{http.MethodGet, "/api/v1/api-keys", nil},
				{http.MethodPost, "/api/v1/api-keys", map[string]string{"name": "outlives the session"}},
				{http.MethodDelete, "/api/v1/api-keys/" + victim.ID, nil},
			} {
				wantError(t, s.do(t, r.method, r.path, portal, r.body), http.StatusForbidden)
			}
			// The session still sees what a portal shows.
			s.call(t, http.MethodGet, "/api/v1/webhooks", portal, nil, http.StatusOK, nil)
		}
		var keys page[apiKeyJSON]
		s.call(t, http.MethodGet, "/api/v1/api-keys", svc, nil, http.StatusOK, &keys, "Webhookd-Tenant", "acme")
		if len(keys.Data) != 1 || keys.Data[0].ID != victim.ID {
			t.Errorf("acme's keys after the portal sessions = %+v, want only %s", keys.Data, victim.ID)
		}
	})
}

// A portal session shows a tenant's customer that tenant's deliveries to
// an inbox: not what anyone else (another tenant's developer, with a
// credential in a header, say) sent to an inbox of that name, which
// signed-in members still see. Before, a read-only session of one tenant
// listed and streamed every such capture.
func TestPortalSeesOnlyItsOwnInboxCaptures(t *testing.T) {
	storetest.Each(t, func(t *testing.T, st *store.Store) {
		s := newTestServer(t, st)
		svc := attackServiceKey(t, s)
		for _, id := range []string{"acme", "beta"} {
			s.call(t, http.MethodPut, "/api/v1/tenants/"+id, svc, nil, http.StatusCreated, nil)
		}
		acme := portalSession(t, s, svc, "acme", false)
		betaRO := portalSession(t, s, svc, "beta", true)
		_, member := s.user(t, "developer@example.com")
		live := openStream(t, s, "/api/v1/inboxes/demo/stream", betaRO)
		acmeLive := openStream(t, s, "/api/v1/inboxes/demo/stream", acme)

		resp, err := http.Post(s.srv.URL+"/inbox/demo", "application/json", strings.NewReader(`{"someone":"else's"}`))
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		hook := s.hookTo(t, acme, s.srv.URL+"/inbox/demo", "*")
		s.sendTest(t, acme, hook.ID, "message.new", map[string]string{"owner": "acme"})

		list := func(token string) []capture {
			t.Helper()
			var p page[capture]
			s.call(t, http.MethodGet, "/api/v1/inboxes/demo", token, nil, http.StatusOK, &p)
			return p.Data
		}
		if got := list(acme); len(got) != 1 || got[0].WebhookID != hook.ID {
			t.Errorf("acme's portal lists %+v, want its test send alone", got)
		}
		if got := list(betaRO); len(got) != 0 {
			t.Errorf("beta's portal lists %+v, want nothing", got)
		}
		if got := list(member); len(got) != 1 || got[0].WebhookID != "" {
			t.Errorf("a member lists %+v, want the anonymous capture alone", got)
		}
		// Live, acme's first capture is its own delivery, not the
		// anonymous one before it; beta's stream gets none, which the
		// marker below, a delivery of beta's, proves.
		var c capture
		if err := json.Unmarshal(acmeLive.next(t).Data, &c); err != nil || c.WebhookID != hook.ID {
			t.Errorf("acme's first live capture = %+v (%v), want its test send", c, err)
		}
		betaRW := portalSession(t, s, svc, "beta", false)
		betaHook := s.hookTo(t, betaRW, s.srv.URL+"/inbox/demo", "*")
		s.sendTest(t, betaRW, betaHook.ID, "message.new", map[string]string{"owner": "beta"})
		c = capture{}
		if err := json.Unmarshal(live.next(t).Data, &c); err != nil || c.WebhookID != betaHook.ID {
			t.Errorf("beta's first live capture = %+v (%v), want its own test send", c, err)
		}
	})
}
