package server_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/webhookd/webhookd/auth"
	"github.com/webhookd/webhookd/server"
	"github.com/webhookd/webhookd/store"
	"github.com/webhookd/webhookd/store/storetest"
)

// serviceKey makes a service API key, as 'webhookd apikey create
// --service' does, and returns the key.
func serviceKey(t testing.TB, st *store.Store, name string) string {
	t.Helper()
	key, hash, prefix, err := auth.NewAPIKey()
	if err != nil {
		t.Fatalf("new API key: %v", err)
	}
	if _, err := st.CreateAPIKey(context.Background(), store.NewAPIKey{Service: true, CreatedBy: "cli", Name: name, KeyHash: hash, Prefix: prefix}); err != nil {
		t.Fatalf("create service key: %v", err)
	}
	return key
}

// member makes a user of tenant, as 'webhookd user create --tenant' does,
// and returns it with an access token.
func member(t testing.TB, s *testServer, email, tenant string) (store.User, string) {
	t.Helper()
	u, err := s.st.CreateUser(context.Background(), email, cheapHash(t, testPassword), tenant)
	if err != nil {
		t.Fatalf("create user %s of %s: %v", email, tenant, err)
	}
	if u.TenantID != tenant {
		t.Fatalf("user %s has tenant %q, want %q", email, u.TenantID, tenant)
	}
	token, err := s.tokens.Issue(u.ID, u.TokenVersion)
	if err != nil {
		t.Fatalf("issue token: %v", err)
	}
	return u, token
}

// tenantWire is the API's tenant object.
type tenantWire struct {
	ID        string          `json:"id"`
	Name      string          `json:"name"`
	Metadata  json.RawMessage `json:"metadata"`
	Webhooks  *int64          `json:"webhooks"`
	CreatedAt string          `json:"createdAt"`
	UpdatedAt string          `json:"updatedAt"`
}

// portalWire is POST /api/v1/tenants/{id}/portal-sessions's answer.
type portalWire struct {
	URL       string `json:"url"`
	Token     string `json:"token"`
	ExpiresAt string `json:"expiresAt"`
	ReadOnly  bool   `json:"readOnly"`
}

// meWire is GET /api/v1/auth/me.
type meWire struct {
	ID        string  `json:"id"`
	Email     string  `json:"email"`
	Tenant    string  `json:"tenant"`
	ReadOnly  bool    `json:"readOnly"`
	ExpiresAt *string `json:"expiresAt"`
}

// tenantOfJSON reads the "tenant" field of an API object.
func tenantOfJSON(t testing.TB, body []byte) string {
	t.Helper()
	var v struct {
		Tenant *string `json:"tenant"`
	}
	if err := json.Unmarshal(body, &v); err != nil || v.Tenant == nil {
		t.Fatalf("no tenant field in %s (%v)", body, err)
	}
	return *v.Tenant
}

// suiteTenant is a tenant as the tenancy suite sets it up: two members, each
// with a webhook, and the rows the walks need.
type suiteTenant struct {
	*tenant
	second string // the second member's token
	users  [2]store.User
	portal string // a portal session's token
}

// newCRMTenant creates tenant id through the service API, two members
// with the CLI's rules, a webhook made by each, a logged test send, an
// event published by the service key and an API key made by the second
// member.
func newCRMTenant(t *testing.T, s *testServer, svc, id string) *suiteTenant {
	t.Helper()
	var tw tenantWire
	resp := s.call(t, http.MethodPut, "/api/v1/tenants/"+id, svc, map[string]any{"name": strings.ToUpper(id), "metadata": map[string]any{"plan": "pro", "seats": 2}},
		http.StatusCreated, &tw)
	if loc := resp.Header.Get("Location"); loc != "/api/v1/tenants/"+id {
		t.Errorf("PUT tenant %s: Location %q", id, loc)
	}
	if tw.ID != id || tw.Name != strings.ToUpper(id) || string(tw.Metadata) != `{"plan":"pro","seats":2}` {
		t.Errorf("PUT tenant %s = %+v", id, tw)
	}
	c := &suiteTenant{tenant: &tenant{name: id, rc: newReceiver(t)}}
	c.users[0], c.token = member(t, s, "agent1@"+id+".example.com", id)
	c.users[1], c.second = member(t, s, "agent2@"+id+".example.com", id)
	c.all = s.hookTo(t, c.token, c.rc.URL(), "*")
	c.msgs = s.hookTo(t, c.second, c.rc.URL(), "message.*")
	c.log = s.sendTest(t, c.second, c.all.ID, "message.new", map[string]string{"owner": id}).LogID
	s.call(t, http.MethodPost, "/api/v1/events", svc,
		map[string]any{"tenant": id, "event": "message.new", "data": map[string]string{"owner": id}, "idempotencyKey": "shared-key"},
		http.StatusAccepted, &c.event)
	c.key = newAPIKey(t, s, c.second, id+"'s publisher")
	var p portalWire
	s.call(t, http.MethodPost, "/api/v1/tenants/"+id+"/portal-sessions", svc, nil, http.StatusCreated, &p)
	c.portal = p.Token
	return c
}

// routePattern turns a route of server.go into a regular expression for
// the paths it serves.
func routePattern(route string) (method string, re *regexp.Regexp) {
	method, path, _ := strings.Cut(route, " ")
	parts := strings.Split(path, "/")
	for i, p := range parts {
		switch {
		case strings.HasPrefix(p, ":"):
			parts[i] = "[^/]+"
		case strings.HasPrefix(p, "*"):
			parts[i] = ".*"
		default:
			parts[i] = regexp.QuoteMeta(p)
		}
	}
	return method, regexp.MustCompile("^" + strings.Join(parts, "/") + "$")
}

// notAcrossTenants are the routes that take no id of a tenant's row, so
// that there is nothing of another tenant's to name: each with why, and
// where its isolation is checked instead.
var notAcrossTenants = map[string]string{
	"GET /healthz": "public", "HEAD /healthz": "public", "GET /readyz": "public", "HEAD /readyz": "public",
	"GET /metrics": "public", "GET /api/v1/openapi.json": "public", "POST /api/v1/auth/login": "public",
	"GET /": "the console", "HEAD /": "the console", "GET /console/*file": "the console", "HEAD /console/*file": "the console",
	"GET /inbox/:name": "public capture", "POST /inbox/:name": "public capture", "PUT /inbox/:name": "public capture",
	"PATCH /inbox/:name": "public capture", "DELETE /inbox/:name": "public capture",
	"GET /api/v1/inboxes/:name":                "inbox names are shared: a list shows the caller's captures only (inbox_privacy_test.go)",
	"GET /api/v1/inboxes/:name/stream":         "inbox names are shared: a stream shows the caller's captures only (inbox_privacy_test.go)",
	"GET /api/v1/auth/me":                      "the caller's own identity (checked below)",
	"GET /api/v1/console/config":               "public: the first user's email until it signs in (account_test.go)",
	"POST /api/v1/auth/password":               "the caller's own password (account_test.go)",
	"GET /api/v1/members":                      "lists the caller's tenant (account_test.go)",
	"GET /api/v1/event-types":                  "the catalogue, the same for everyone",
	"POST /api/v1/filters/test":                "matches a filter against the event in the body: reads and stores nothing",
	"POST /api/v1/webhooks":                    "creates in the caller's tenant (lists checked below)",
	"GET /api/v1/webhooks":                     "lists the caller's tenant (checked below)",
	"POST /api/v1/events":                      "publishes to the caller's tenant (deliveries checked below)",
	"POST /api/v1/events/batch":                "publishes to the caller's tenant (deliveries checked below)",
	"POST /api/v1/api-keys":                    "creates in the caller's tenant",
	"GET /api/v1/api-keys":                     "lists the caller's tenant (checked below)",
	"GET /api/v1/tenants":                      "service keys only (checked below: 403 for the rest)",
	"PUT /api/v1/tenants/:id":                  "service keys only (checked below: 403 for the rest)",
	"GET /api/v1/tenants/:id":                  "service keys only (checked below: 403 for the rest)",
	"DELETE /api/v1/tenants/:id":               "service keys only (checked below: 403 for the rest)",
	"POST /api/v1/tenants/:id/portal-sessions": "service keys only (checked below: 403 for the rest)",
	"GET /api/v1/outbox/dead":                  "service keys only (checked below: 403 for the rest); every tenant's outbox rows, listed for the operator",
}

func TestTenantSuite(t *testing.T) {
	storetest.EachTarget(t, func(t *testing.T, db string) {
		st := storetest.Open(t, db)
		raw, kind := openRaw(t, db)
		s := newTestServer(t, st)
		svc := serviceKey(t, st, "crm-backend")
		acme := newCRMTenant(t, s, svc, "acme")
		beta := newCRMTenant(t, s, svc, "org_beta")
		crms := []*suiteTenant{acme, beta}
		as := func(tenant string) []string { return []string{server.TenantHeader, tenant} }

		t.Run("PUT is idempotent", func(t *testing.T) {
			var first, again tenantWire
			s.call(t, http.MethodGet, "/api/v1/tenants/acme", svc, nil, http.StatusOK, &first)
			s.call(t, http.MethodPut, "/api/v1/tenants/acme", svc, map[string]any{"name": "ACME", "metadata": map[string]any{"seats": 2, "plan": "pro"}}, http.StatusOK, &again)
			if again.UpdatedAt != first.UpdatedAt || again.CreatedAt != first.CreatedAt || string(again.Metadata) != string(first.Metadata) {
				t.Errorf("the same PUT again = %+v, was %+v: nothing may change", again, first)
			}
			var renamed tenantWire
			s.call(t, http.MethodPut, "/api/v1/tenants/acme", svc, map[string]any{"name": "Acme Corp"}, http.StatusOK, &renamed)
			if renamed.Name != "Acme Corp" || string(renamed.Metadata) != string(first.Metadata) || renamed.CreatedAt != first.CreatedAt {
				t.Errorf("rename = %+v, want the name changed and the rest kept", renamed)
			}
			// A PUT without a body creates a bare tenant, then changes nothing.
			var bare tenantWire
			s.call(t, http.MethodPut, "/api/v1/tenants/bare.tenant:1", svc, nil, http.StatusCreated, &bare)
			if bare.Name != "" || string(bare.Metadata) != "{}" {
				t.Errorf("bare tenant = %+v", bare)
			}
			s.call(t, http.MethodPut, "/api/v1/tenants/bare.tenant:1", svc, nil, http.StatusOK, nil)
			s.call(t, http.MethodDelete, "/api/v1/tenants/bare.tenant:1", svc, nil, http.StatusNoContent, nil)
		})

		t.Run("members share their tenant's webhooks", func(t *testing.T) {
			for _, c := range crms {
				want := []string{c.all.ID, c.msgs.ID}
				slices.Sort(want)
				for i, token := range []string{c.token, c.second, c.key.Key, c.portal} {
					ids := s.webhookIDs(t, token)
					slices.Sort(ids)
					if !slices.Equal(ids, want) {
						t.Errorf("%s credential %d lists %v, want %v", c.name, i, ids, want)
					}
				}
				// Each member manages the other's webhook.
				resp := s.call(t, http.MethodPatch, "/api/v1/webhooks/"+c.msgs.ID, c.token, map[string]any{"description": "edited by agent1"}, http.StatusOK, nil)
				if got := tenantOfJSON(t, resp.Body); got != c.name {
					t.Errorf("webhook's tenant = %q, want %q", got, c.name)
				}
				var w webhookJSON
				s.call(t, http.MethodGet, "/api/v1/webhooks/"+c.msgs.ID, c.second, nil, http.StatusOK, &w)
				if w.Description != "edited by agent1" {
					t.Errorf("agent2 sees description %q, want agent1's edit", w.Description)
				}
				var keys page[apiKeyJSON]
				s.call(t, http.MethodGet, "/api/v1/api-keys", c.token, nil, http.StatusOK, &keys)
				if len(keys.Data) != 1 || keys.Data[0].ID != c.key.ID {
					t.Errorf("agent1 lists keys %+v, want agent2's %s", keys.Data, c.key.ID)
				}
				resp = s.call(t, http.MethodGet, "/api/v1/webhooks/"+c.all.ID+"/logs/"+c.log, c.token, nil, http.StatusOK, nil)
				if got := tenantOfJSON(t, resp.Body); got != c.name {
					t.Errorf("log's tenant = %q, want %q", got, c.name)
				}
				resp = s.call(t, http.MethodGet, "/api/v1/events/"+c.event.ID, c.second, nil, http.StatusOK, nil)
				if got := tenantOfJSON(t, resp.Body); got != c.name {
					t.Errorf("event's tenant = %q, want %q", got, c.name)
				}
			}
		})

		t.Run("auth/me shows the tenant", func(t *testing.T) {
			for _, c := range crms {
				var me meWire
				s.call(t, http.MethodGet, "/api/v1/auth/me", c.token, nil, http.StatusOK, &me)
				if me.Tenant != c.name || me.ID != c.users[0].ID || me.Email != c.users[0].Email {
					t.Errorf("me as agent1 of %s = %+v", c.name, me)
				}
				s.call(t, http.MethodGet, "/api/v1/auth/me", c.key.Key, nil, http.StatusOK, &me)
				if me.Tenant != c.name {
					t.Errorf("me with %s's key = %+v", c.name, me)
				}
				me = meWire{}
				s.call(t, http.MethodGet, "/api/v1/auth/me", c.portal, nil, http.StatusOK, &me)
				if me.Tenant != c.name || me.ReadOnly || me.ExpiresAt == nil {
					t.Errorf("me with %s's portal session = %+v, want its tenant and expiry", c.name, me)
				}
				me = meWire{}
				s.call(t, http.MethodGet, "/api/v1/auth/me", svc, nil, http.StatusOK, &me, as(c.name)...)
				if me.Tenant != c.name {
					t.Errorf("me with the service key for %s = %+v", c.name, me)
				}
			}
		})

		// listIDs lists the webhooks a credential sees, with headers.
		listIDs := func(t *testing.T, token string, headers ...string) []string {
			t.Helper()
			var p page[webhookJSON]
			s.call(t, http.MethodGet, "/api/v1/webhooks?limit=100", token, nil, http.StatusOK, &p, headers...)
			var ids []string
			for _, w := range p.Data {
				ids = append(ids, w.ID)
			}
			slices.Sort(ids)
			return ids
		}
		ownIDs := func(c *suiteTenant) []string {
			ids := []string{c.all.ID, c.msgs.ID}
			slices.Sort(ids)
			return ids
		}

		t.Run("a service key names its tenant", func(t *testing.T) {
			for _, c := range crms {
				if got := listIDs(t, svc, as(c.name)...); !slices.Equal(got, ownIDs(c)) {
					t.Errorf("service key for %s lists %v, want %v", c.name, got, ownIDs(c))
				}
				// Created for the tenant, seen by its members, gone again.
				var w webhookJSON
				resp := s.call(t, http.MethodPost, "/api/v1/webhooks", svc, map[string]any{"name": "by the CRM", "url": c.rc.URL(), "events": []string{"campaign.*"}},
					http.StatusCreated, &w, as(c.name)...)
				if got := tenantOfJSON(t, resp.Body); got != c.name {
					t.Errorf("the service key's webhook has tenant %q, want %q", got, c.name)
				}
				s.call(t, http.MethodGet, "/api/v1/webhooks/"+w.ID, c.second, nil, http.StatusOK, nil)
				s.call(t, http.MethodDelete, "/api/v1/webhooks/"+w.ID, svc, nil, http.StatusNoContent, nil, as(c.name)...)
			}
			// Without a tenant, a malformed one, an unknown one.
			wantError(t, s.do(t, http.MethodGet, "/api/v1/webhooks", svc, nil), http.StatusBadRequest, "tenant")
			wantError(t, s.do(t, http.MethodGet, "/api/v1/webhooks", svc, nil, as("not a tenant")...), http.StatusBadRequest, server.TenantHeader)
			// The header twice (wiretest sets headers, so by hand).
			req, err := http.NewRequest(http.MethodGet, s.srv.URL+"/api/v1/webhooks", nil)
			if err != nil {
				t.Fatal(err)
			}
			req.Header.Set("Authorization", "Bearer "+svc)
			req.Header.Add(server.TenantHeader, "acme")
			req.Header.Add(server.TenantHeader, "org_beta")
			twice, err := s.srv.Client().Do(req)
			if err != nil {
				t.Fatal(err)
			}
			twice.Body.Close()
			if twice.StatusCode != http.StatusBadRequest {
				t.Errorf("the tenant header twice: status %d, want 400", twice.StatusCode)
			}
			e := wantError(t, s.do(t, http.MethodGet, "/api/v1/webhooks", svc, nil, as("nobody")...), http.StatusNotFound)
			if !strings.Contains(e.Message, `"nobody"`) {
				t.Errorf("unknown tenant: message %q, want it named", e.Message)
			}
			wantError(t, s.do(t, http.MethodGet, "/api/v1/api-keys", svc, nil), http.StatusBadRequest, "tenant")
		})

		t.Run("publishing for a tenant", func(t *testing.T) {
			pub := func(token string, body map[string]any, headers ...string) eventResult {
				t.Helper()
				var res eventResult
				s.call(t, http.MethodPost, "/api/v1/events", token, body, http.StatusAccepted, &res, headers...)
				return res
			}
			for _, c := range crms {
				data := map[string]string{"owner": c.name}
				if r := pub(svc, map[string]any{"tenant": c.name, "event": "message.new", "data": data}); r.Deliveries != 2 {
					t.Errorf("service publish for %s in the body reached %d webhooks, want its 2", c.name, r.Deliveries)
				}
				if r := pub(svc, map[string]any{"event": "conversation.created", "data": data}, as(c.name)...); r.Deliveries != 1 {
					t.Errorf("service publish for %s in the header reached %d webhooks, want 1", c.name, r.Deliveries)
				}
				// Its own key and its members may name their own tenant.
				if r := pub(c.key.Key, map[string]any{"tenant": c.name, "event": "message.new", "data": data}); r.Deliveries != 2 {
					t.Errorf("%s's key naming its tenant reached %d webhooks, want 2", c.name, r.Deliveries)
				}
				if r := pub(c.second, map[string]any{"event": "campaign.started", "data": data}, as(c.name)...); r.Deliveries != 1 {
					t.Errorf("%s's member naming its tenant reached %d webhooks, want 1", c.name, r.Deliveries)
				}
				// The idempotency key is the tenant's: the service key
				// replays the tenant's event, not the other's.
				resp := s.call(t, http.MethodPost, "/api/v1/events", svc,
					map[string]any{"tenant": c.name, "event": "message.new", "data": data, "idempotencyKey": "shared-key"}, http.StatusAccepted, nil)
				var replay eventResult
				decodeJSON(t, resp, &replay)
				if replay.ID != c.event.ID || resp.Header.Get("Idempotent-Replayed") != "true" {
					t.Errorf("replay for %s = %+v, want its event %s replayed", c.name, replay, c.event.ID)
				}
			}
			// A batch: its tenant at the top, one event naming the other.
			var b struct {
				Data []eventResult `json:"data"`
			}
			s.call(t, http.MethodPost, "/api/v1/events/batch", svc, map[string]any{"tenant": acme.name, "events": []any{
				map[string]any{"event": "message.new", "data": map[string]string{"owner": acme.name}},
				map[string]any{"tenant": beta.name, "event": "message.new", "data": map[string]string{"owner": beta.name}},
				map[string]any{"tenant": acme.name, "event": "conversation.assigned", "data": map[string]string{"owner": acme.name}},
			}}, http.StatusAccepted, &b)
			if len(b.Data) != 3 || b.Data[0].Deliveries != 2 || b.Data[1].Deliveries != 2 || b.Data[2].Deliveries != 1 {
				t.Fatalf("batch = %+v, want 2, 2 and 1 deliveries", b.Data)
			}
			for i, owner := range []*suiteTenant{acme, beta, acme} {
				resp := s.call(t, http.MethodGet, "/api/v1/events/"+b.Data[i].ID, svc, nil, http.StatusOK, nil, as(owner.name)...)
				if got := tenantOfJSON(t, resp.Body); got != owner.name {
					t.Errorf("batch event %d has tenant %q, want %q", i, got, owner.name)
				}
				other := map[*suiteTenant]*suiteTenant{acme: beta, beta: acme}[owner]
				wantError(t, s.do(t, http.MethodGet, "/api/v1/events/"+b.Data[i].ID, other.token, nil), http.StatusNotFound)
			}
			// Per event only, and the header for the whole batch.
			s.call(t, http.MethodPost, "/api/v1/events/batch", svc, map[string]any{"events": []any{
				map[string]any{"tenant": beta.name, "event": "message.new", "data": map[string]string{"owner": beta.name}},
			}}, http.StatusAccepted, nil)
			s.call(t, http.MethodPost, "/api/v1/events/batch", svc, map[string]any{"events": []any{
				map[string]any{"event": "message.new", "data": map[string]string{"owner": acme.name}},
			}}, http.StatusAccepted, nil, as(acme.name)...)

			// Refusals.
			ev := func(extra map[string]any) map[string]any {
				b := map[string]any{"event": "message.new", "data": map[string]string{"owner": "nobody"}}
				for k, v := range extra {
					b[k] = v
				}
				return b
			}
			wantError(t, s.do(t, http.MethodPost, "/api/v1/events", svc, ev(nil)), http.StatusBadRequest, "tenant")
			wantError(t, s.do(t, http.MethodPost, "/api/v1/events/batch", svc, map[string]any{"events": []any{ev(nil)}}), http.StatusBadRequest, "events[0].tenant")
			wantError(t, s.do(t, http.MethodPost, "/api/v1/events", svc, ev(map[string]any{"tenant": "nobody"})), http.StatusNotFound)
			wantError(t, s.do(t, http.MethodPost, "/api/v1/events/batch", svc, map[string]any{"tenant": "nobody", "events": []any{ev(nil)}}), http.StatusNotFound)
			wantError(t, s.do(t, http.MethodPost, "/api/v1/events/batch", svc, map[string]any{"events": []any{ev(map[string]any{"tenant": "nobody"})}}), http.StatusNotFound)
			wantError(t, s.do(t, http.MethodPost, "/api/v1/events", svc, ev(nil), as("nobody")...), http.StatusNotFound)
			wantError(t, s.do(t, http.MethodPost, "/api/v1/events", svc, ev(map[string]any{"tenant": "-x"})), http.StatusBadRequest, "tenant")
			wantError(t, s.do(t, http.MethodPost, "/api/v1/events", svc, ev(nil), as("-x")...), http.StatusBadRequest, server.TenantHeader)
			// A tenant's credentials naming the other tenant: 404, as for
			// any of its ids, and the same answer as for no tenant at all.
			for _, pair := range [][2]*suiteTenant{{acme, beta}, {beta, acme}} {
				c, other := pair[0], pair[1]
				for _, cred := range []string{c.token, c.second, c.key.Key, c.portal} {
					for _, r := range []struct {
						method, path string
						body         any
						headers      []string
					}{
						{http.MethodPost, "/api/v1/events", ev(map[string]any{"tenant": other.name}), nil},
						{http.MethodPost, "/api/v1/events", ev(nil), as(other.name)},
						{http.MethodPost, "/api/v1/events/batch", map[string]any{"tenant": other.name, "events": []any{ev(nil)}}, nil},
						{http.MethodPost, "/api/v1/events/batch", map[string]any{"events": []any{ev(map[string]any{"tenant": other.name})}}, nil},
						{http.MethodGet, "/api/v1/webhooks", nil, as(other.name)},
						{http.MethodGet, "/api/v1/auth/me", nil, as(other.name)},
						{http.MethodGet, "/api/v1/webhooks/" + c.all.ID, nil, as(other.name)},
					} {
						resp := s.do(t, r.method, r.path, cred, r.body, r.headers...)
						if resp.Status != http.StatusNotFound {
							t.Errorf("%s's credential naming %s: %s %s: status %d, want 404; %s", c.name, other.name, r.method, r.path, resp.Status, resp.Body)
						}
					}
				}
			}
		})

		t.Run("every route across tenants answers 404", func(t *testing.T) {
			before := takeSnapshot(t, s, raw, kind, acme.token, acme.views(), acme.rc)
			// Each credential beta has, the service key acting for beta
			// included, walks acme's ids.
			creds := map[string][]string{
				"agent1's token": {beta.token}, "agent2's token": {beta.second}, "API key": {beta.key.Key},
				"portal session": {beta.portal}, "service key for beta": {svc, server.TenantHeader, beta.name},
			}
			walked := map[string]bool{}
			for cred, c := range creds {
				for _, r := range intrusions(beta.tenant, acme.tenant) {
					path, _, _ := strings.Cut(r.path, "?")
					for _, route := range serverRoutes(t) {
						if m, re := routePattern(route); m == r.method && re.MatchString(path) {
							walked[route] = true
						}
					}
					resp := s.do(t, r.method, r.path, c[0], r.body, c[1:]...)
					if cred == "portal session" && strings.HasPrefix(r.path, "/api/v1/api-keys") {
						// No key of any tenant's, its own included.
						wantError(t, resp, http.StatusForbidden)
						continue
					}
					if resp.Status != http.StatusNotFound {
						t.Errorf("beta's %s: %s %s: status %d, want 404; body %.300s", cred, r.method, r.path, resp.Status, resp.Body)
						continue
					}
					got := wantError(t, resp, http.StatusNotFound)
					missing := wantError(t, s.do(t, r.method, withFreshIDs(r.path, acme.tenant), c[0], r.body, c[1:]...), http.StatusNotFound)
					if got.Message != missing.Message {
						t.Errorf("%s %s: acme's row answers %q, a missing one %q", r.method, r.path, got.Message, missing.Message)
					}
					for _, secret := range []string{acme.all.Secret, acme.msgs.Secret, acme.key.Key} {
						if strings.Contains(string(resp.Body), secret) {
							t.Errorf("%s %s: the 404 shows a secret of acme's", r.method, r.path)
						}
					}
				}
			}
			// A route added to server.go is walked or says why not.
			for _, route := range serverRoutes(t) {
				if !walked[route] && notAcrossTenants[route] == "" {
					t.Errorf("route %s is neither walked across tenants (intrusions) nor listed in notAcrossTenants", route)
				}
				if walked[route] && notAcrossTenants[route] != "" {
					t.Errorf("route %s is walked and also listed in notAcrossTenants", route)
				}
			}
			if d := before.diff(takeSnapshot(t, s, raw, kind, acme.token, acme.views(), acme.rc)); d != "" {
				t.Errorf("the walks changed acme's data: %s", d)
			}
		})

		t.Run("service-only routes refuse other credentials", func(t *testing.T) {
			for _, c := range crms {
				for cred, token := range map[string]string{"token": c.token, "API key": c.key.Key, "portal session": c.portal} {
					for _, r := range [][2]string{
						{http.MethodGet, "/api/v1/tenants"}, {http.MethodPut, "/api/v1/tenants/" + c.name}, {http.MethodGet, "/api/v1/tenants/" + c.name},
						{http.MethodDelete, "/api/v1/tenants/" + c.name}, {http.MethodPost, "/api/v1/tenants/" + c.name + "/portal-sessions"},
						{http.MethodGet, "/api/v1/outbox/dead"},
					} {
						wantError(t, s.do(t, r[0], r[1], token, nil), http.StatusForbidden)
						_ = cred
					}
				}
			}
			if ok, _ := st.TenantExists(context.Background(), acme.name); !ok {
				t.Fatalf("acme is gone after the refused deletes")
			}
		})

		// gamma is deleted with its deliveries pending, before any
		// dispatcher runs: none may ever reach its receiver.
		gamma := &suiteTenant{tenant: &tenant{name: "gamma", rc: newReceiver(t)}}
		t.Run("tenant routes", func(t *testing.T) {
			s.call(t, http.MethodPut, "/api/v1/tenants/gamma", svc, map[string]any{"name": "Gamma"}, http.StatusCreated, nil)
			s.call(t, http.MethodPut, "/api/v1/tenants/gamma", svc, map[string]any{"name": "Gamma"}, http.StatusOK, nil)
			var gt tenantWire
			s.call(t, http.MethodGet, "/api/v1/tenants/gamma", svc, nil, http.StatusOK, &gt)
			if gt.ID != "gamma" || gt.Name != "Gamma" || gt.Webhooks != nil {
				t.Errorf("GET gamma = %+v", gt)
			}
			gamma.users[0], gamma.token = member(t, s, "agent@gamma.example.com", "gamma")
			gamma.all = s.hookTo(t, gamma.token, gamma.rc.URL(), "*")
			s.call(t, http.MethodPost, "/api/v1/webhooks", svc, map[string]any{"name": "crm", "url": gamma.rc.URL(), "events": []string{"message.*"}},
				http.StatusCreated, &gamma.msgs, as("gamma")...)
			for i := range 3 {
				var r eventResult
				s.call(t, http.MethodPost, "/api/v1/events", svc, map[string]any{"tenant": "gamma", "event": "message.new", "data": map[string]int{"n": i}},
					http.StatusAccepted, &r)
				if r.Deliveries != 2 {
					t.Fatalf("gamma's event reached %d webhooks, want 2", r.Deliveries)
				}
			}
			if n := s.pending(t, gamma.token, gamma.all.ID); n != 3 {
				t.Fatalf("gamma has %d pending deliveries, want 3", n)
			}

			// The list, a page at a time, with webhook counts.
			var seen []tenantWire
			path := "/api/v1/tenants?limit=1"
			for range 10 {
				var p page[tenantWire]
				s.call(t, http.MethodGet, path, svc, nil, http.StatusOK, &p)
				if len(p.Data) > 1 {
					t.Fatalf("a page of limit 1 holds %d tenants", len(p.Data))
				}
				seen = append(seen, p.Data...)
				if p.NextCursor == nil {
					break
				}
				path = "/api/v1/tenants?limit=1&cursor=" + *p.NextCursor
			}
			var ids []string
			for _, tw := range seen {
				ids = append(ids, tw.ID)
				want := map[string]int64{"acme": 2, "org_beta": 2, "gamma": 2}[tw.ID]
				if tw.Webhooks == nil || *tw.Webhooks != want {
					t.Errorf("tenant %s lists webhooks %v, want %d", tw.ID, tw.Webhooks, want)
				}
			}
			if want := []string{"acme", "gamma", "org_beta"}; !slices.Equal(ids, want) {
				t.Errorf("tenants listed %v, want %v", ids, want)
			}

			s.call(t, http.MethodDelete, "/api/v1/tenants/gamma", svc, nil, http.StatusNoContent, nil)
			wantError(t, s.do(t, http.MethodGet, "/api/v1/tenants/gamma", svc, nil), http.StatusNotFound)
			wantError(t, s.do(t, http.MethodDelete, "/api/v1/tenants/gamma", svc, nil), http.StatusNotFound)
			wantError(t, s.do(t, http.MethodGet, "/api/v1/webhooks", svc, nil, as("gamma")...), http.StatusNotFound)
			wantError(t, s.do(t, http.MethodPost, "/api/v1/events", svc, map[string]any{"tenant": "gamma", "event": "message.new", "data": 1}), http.StatusNotFound)
			wantError(t, s.do(t, http.MethodGet, "/api/v1/webhooks", gamma.token, nil), http.StatusUnauthorized)
			var left int
			if err := raw.QueryRow(`SELECT (SELECT COUNT(*) FROM deliveries WHERE webhook_id IN ($1, $2)) + (SELECT COUNT(*) FROM webhooks WHERE tenant_id = 'gamma')
				+ (SELECT COUNT(*) FROM events WHERE tenant_id = 'gamma') + (SELECT COUNT(*) FROM users WHERE tenant_id = 'gamma')
				+ (SELECT COUNT(*) FROM webhook_logs WHERE webhook_id IN ($1, $2)) + (SELECT COUNT(*) FROM webhook_stats WHERE webhook_id IN ($1, $2))`,
				gamma.all.ID, gamma.msgs.ID).Scan(&left); err != nil {
				t.Fatal(err)
			}
			if left != 0 {
				t.Errorf("%d rows of gamma's outlived its delete", left)
			}
		})

		t.Run("portal sessions", func(t *testing.T) {
			before := time.Now().Truncate(time.Second)
			var p portalWire
			s.call(t, http.MethodPost, "/api/v1/tenants/acme/portal-sessions", svc, map[string]any{"expiresIn": 60}, http.StatusCreated, &p)
			after := time.Now()
			if want := s.srv.URL + "/#portal=" + p.Token; p.URL != want || p.ReadOnly {
				t.Errorf("portal session = %+v, want url %s", p, want)
			}
			exp := parseTime(t, "expiresAt", p.ExpiresAt)
			if exp.Before(before.Add(59*time.Second)) || exp.After(after.Add(61*time.Second)) {
				t.Errorf("expiresAt %v, want a minute after %v", exp, before)
			}
			var def portalWire
			s.call(t, http.MethodPost, "/api/v1/tenants/acme/portal-sessions", svc, map[string]any{}, http.StatusCreated, &def)
			if exp := parseTime(t, "expiresAt", def.ExpiresAt); exp.Before(before.Add(time.Hour-time.Second)) || exp.After(time.Now().Add(time.Hour+time.Second)) {
				t.Errorf("default expiresAt %v, want an hour after %v", exp, before)
			}
			for _, bad := range []any{59, 86401, 0, "60"} {
				wantError(t, s.do(t, http.MethodPost, "/api/v1/tenants/acme/portal-sessions", svc, map[string]any{"expiresIn": bad}), http.StatusBadRequest, "expiresIn")
			}
			s.call(t, http.MethodPost, "/api/v1/tenants/acme/portal-sessions", svc, map[string]any{"expiresIn": 86400}, http.StatusCreated, nil)
			wantError(t, s.do(t, http.MethodPost, "/api/v1/tenants/nobody/portal-sessions", svc, map[string]any{}), http.StatusNotFound)

			// The session works on the API, for its tenant only.
			if got := listIDs(t, p.Token); !slices.Equal(got, ownIDs(acme)) {
				t.Errorf("portal session lists %v, want acme's %v", got, ownIDs(acme))
			}
			var w webhookJSON
			s.call(t, http.MethodPost, "/api/v1/webhooks", p.Token, map[string]any{"name": "portal", "url": acme.rc.URL(), "events": []string{"campaign.*"}}, http.StatusCreated, &w)
			s.call(t, http.MethodDelete, "/api/v1/webhooks/"+w.ID, p.Token, nil, http.StatusNoContent, nil)
			wantError(t, s.do(t, http.MethodGet, "/api/v1/webhooks/"+beta.all.ID, p.Token, nil), http.StatusNotFound)
			wantError(t, s.do(t, http.MethodGet, "/api/v1/webhooks", p.Token, nil, as(beta.name)...), http.StatusNotFound)
			s.call(t, http.MethodGet, "/api/v1/webhooks", p.Token, nil, http.StatusOK, nil, as(acme.name)...)

			// Read-only: it looks, but every write is refused.
			var ro portalWire
			s.call(t, http.MethodPost, "/api/v1/tenants/acme/portal-sessions", svc, map[string]any{"readOnly": true}, http.StatusCreated, &ro)
			if !ro.ReadOnly {
				t.Errorf("read-only session = %+v", ro)
			}
			var me meWire
			s.call(t, http.MethodGet, "/api/v1/auth/me", ro.Token, nil, http.StatusOK, &me)
			if !me.ReadOnly || me.Tenant != acme.name {
				t.Errorf("me with a read-only session = %+v", me)
			}
			for _, r := range intrusions(beta.tenant, acme.tenant) {
				if r.method == http.MethodGet {
					continue
				}
				e := wantError(t, s.do(t, r.method, r.path, ro.Token, r.body), http.StatusForbidden)
				if !strings.Contains(e.Message, "read-only") {
					t.Errorf("%s %s with a read-only session: %q, want it to say read-only", r.method, r.path, e.Message)
				}
			}
			for _, r := range []struct {
				method, path string
				body         any
			}{
				{http.MethodPost, "/api/v1/webhooks", map[string]any{"name": "x", "url": acme.rc.URL(), "events": []string{"*"}}},
				{http.MethodPost, "/api/v1/events", map[string]any{"event": "message.new", "data": 1}},
				{http.MethodPost, "/api/v1/events/batch", map[string]any{"events": []any{map[string]any{"event": "message.new", "data": 1}}}},
				{http.MethodPost, "/api/v1/api-keys", map[string]any{"name": "x"}},
				{http.MethodDelete, "/api/v1/api-keys/" + acme.key.ID, nil},
				{http.MethodPatch, "/api/v1/webhooks/" + acme.all.ID, map[string]any{"name": "x"}},
				{http.MethodPost, "/api/v1/webhooks/" + acme.all.ID + "/test", nil},
			} {
				wantError(t, s.do(t, r.method, r.path, ro.Token, r.body), http.StatusForbidden)
			}
			if got := listIDs(t, ro.Token); !slices.Equal(got, ownIDs(acme)) {
				t.Errorf("read-only session lists %v, want acme's %v", got, ownIDs(acme))
			}
			s.call(t, http.MethodGet, "/api/v1/webhooks/"+acme.all.ID+"/logs", ro.Token, nil, http.StatusOK, nil)

			// A session shows no API keys and cannot make one that would
			// outlive it.
			for _, r := range []struct {
				method, path string
				body         any
			}{
				{http.MethodGet, "/api/v1/api-keys", nil},
				{http.MethodPost, "/api/v1/api-keys", map[string]any{"name": "forever"}},
				{http.MethodDelete, "/api/v1/api-keys/" + acme.key.ID, nil},
			} {
				e := wantError(t, s.do(t, r.method, r.path, p.Token, r.body), http.StatusForbidden)
				if !strings.Contains(e.Message, "portal session") {
					t.Errorf("%s %s with a portal session: %q", r.method, r.path, e.Message)
				}
			}
			wantError(t, s.do(t, http.MethodGet, "/api/v1/api-keys", ro.Token, nil), http.StatusForbidden)

			// An ended session says so.
			claims := jwt.MapClaims{"iss": auth.Issuer, "sub": "portal:acme", "aud": []string{"webhookd-portal"}, "tenant": "acme",
				"iat": time.Now().Add(-2 * time.Hour).Unix(), "nbf": time.Now().Add(-2 * time.Hour).Unix(), "exp": time.Now().Add(-time.Hour).Unix()}
			expired, err := jwt.NewWithClaims(jwt.SigningMethodHS256, claims).SignedString(testJWTSecret)
			if err != nil {
				t.Fatal(err)
			}
			e := wantError(t, s.do(t, http.MethodGet, "/api/v1/webhooks", expired, nil), http.StatusUnauthorized)
			if !strings.Contains(e.Message, "portal session has expired") {
				t.Errorf("expired session: %q, want it to say the session has expired", e.Message)
			}
			// Signed with another secret, it is not a session at all.
			forged, err := jwt.NewWithClaims(jwt.SigningMethodHS256, jwt.MapClaims{"iss": auth.Issuer, "aud": []string{"webhookd-portal"}, "tenant": "org_beta",
				"exp": time.Now().Add(time.Hour).Unix()}).SignedString([]byte("not the server's secret, not at all"))
			if err != nil {
				t.Fatal(err)
			}
			wantError(t, s.do(t, http.MethodGet, "/api/v1/webhooks", forged, nil), http.StatusUnauthorized)
			// A session of a deleted tenant opens nothing.
			if resp := s.do(t, http.MethodGet, "/api/v1/webhooks", gamma.portalFor(t, s), nil); resp.Status != http.StatusNotFound && resp.Status != http.StatusUnauthorized {
				t.Errorf("a deleted tenant's portal session: status %d, want 404 or 401", resp.Status)
			}
		})

		t.Run("events reach only their tenant's receivers", func(t *testing.T) {
			runDispatcher(t, st)
			deadline := time.Now().Add(time.Minute)
			for _, c := range crms {
				for _, id := range []string{c.all.ID, c.msgs.ID} {
					for s.pending(t, c.token, id) > 0 {
						if time.Now().After(deadline) {
							t.Fatalf("%s's webhook %s still has deliveries pending after a minute", c.name, id)
						}
						time.Sleep(20 * time.Millisecond)
					}
				}
			}
			for _, c := range crms {
				reqs := c.rc.requests()
				if len(reqs) < 10 {
					t.Errorf("%s's receiver got %d requests, want at least 10", c.name, len(reqs))
				}
				for _, r := range reqs {
					var env struct {
						Data struct {
							Owner string `json:"owner"`
						} `json:"data"`
					}
					if err := json.Unmarshal(r.Body, &env); err != nil {
						t.Fatalf("%s's receiver got %s: %v", c.name, r.Body, err)
					}
					if env.Data.Owner != c.name {
						t.Errorf("%s's receiver got %q's event: %s", c.name, env.Data.Owner, r.Body)
					}
				}
			}
			if n := len(gamma.rc.requests()); n != 0 {
				t.Errorf("the deleted tenant's receiver got %d deliveries, want none", n)
			}
		})
	})
}

// portalFor returns a portal session token for the tenant, signed as the
// server signs them, whether or not the tenant still exists.
func (c *suiteTenant) portalFor(t testing.TB, s *testServer) string {
	t.Helper()
	created, err := s.st.TenantCreatedAt(context.Background(), c.name)
	if errors.Is(err, store.ErrNotFound) {
		created, err = time.UnixMilli(1), nil // any time: the tenant is gone
	}
	if err != nil {
		t.Fatal(err)
	}
	token, _, err := s.tokens.IssuePortal(c.name, created, false, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	return token
}

// TestAutoCreateTenants: publishing with a service key for a tenant that
// does not exist answers 404, unless --auto-create-tenants is set; then
// the tenant is made. Only publishing creates: other routes still 404.
func TestAutoCreateTenants(t *testing.T) {
	storetest.Each(t, func(t *testing.T, st *store.Store) {
		ctx := context.Background()
		strict := newTestServer(t, st)
		auto := newTestServer(t, st, func(c *server.Config) { c.AutoCreateTenants = true })
		svc := serviceKey(t, st, "crm")
		_, token := member(t, strict, "agent@acme.example.com", "acme")
		ev := map[string]any{"tenant": "newco", "event": "message.new", "data": 1}

		wantError(t, strict.do(t, http.MethodPost, "/api/v1/events", svc, ev), http.StatusNotFound)
		if ok, _ := st.TenantExists(ctx, "newco"); ok {
			t.Fatalf("a refused publish created the tenant")
		}
		var r eventResult
		auto.call(t, http.MethodPost, "/api/v1/events", svc, ev, http.StatusAccepted, &r)
		if r.Deliveries != 0 {
			t.Errorf("a new tenant's event reached %d webhooks", r.Deliveries)
		}
		var tw tenantWire
		strict.call(t, http.MethodGet, "/api/v1/tenants/newco", svc, nil, http.StatusOK, &tw)
		if tw.ID != "newco" {
			t.Errorf("auto-created tenant = %+v", tw)
		}
		strict.call(t, http.MethodGet, "/api/v1/events/"+r.ID, svc, nil, http.StatusOK, nil, server.TenantHeader, "newco")
		// In a batch, at the top and per event; with the header.
		auto.call(t, http.MethodPost, "/api/v1/events/batch", svc, map[string]any{"tenant": "newco2", "events": []any{
			map[string]any{"event": "message.new", "data": 1}, map[string]any{"tenant": "newco3", "event": "message.new", "data": 1}}}, http.StatusAccepted, nil)
		for _, id := range []string{"newco2", "newco3"} {
			if ok, _ := st.TenantExists(ctx, id); !ok {
				t.Errorf("the batch did not create %s", id)
			}
		}
		// The header on a route other than publishing creates nothing; nor
		// may a tenant's own credential create another tenant.
		wantError(t, auto.do(t, http.MethodGet, "/api/v1/webhooks", svc, nil, server.TenantHeader, "newco4"), http.StatusNotFound)
		wantError(t, auto.do(t, http.MethodPost, "/api/v1/events", token, map[string]any{"tenant": "newco5", "event": "message.new", "data": 1}), http.StatusNotFound)
		wantError(t, auto.do(t, http.MethodPost, "/api/v1/events", svc, map[string]any{"tenant": "not valid", "event": "message.new", "data": 1}), http.StatusBadRequest, "tenant")
		for _, id := range []string{"newco4", "newco5"} {
			if ok, _ := st.TenantExists(ctx, id); ok {
				t.Errorf("%s was created", id)
			}
		}
		_ = fmt.Sprint()
	})
}

// TestTenantStreamsEnd: an event stream opened by a portal session or by
// a member ends when the tenant is deleted, by the same rule as a new
// request; a portal session's stream also ends with the session.
func TestTenantStreamsEnd(t *testing.T) {
	storetest.Each(t, func(t *testing.T, st *store.Store) {
		s := newTestServer(t, st, func(c *server.Config) { c.StreamRecheck = 50 * time.Millisecond })
		svc := serviceKey(t, st, "crm")
		s.call(t, http.MethodPut, "/api/v1/tenants/acme", svc, nil, http.StatusCreated, nil)
		_, token := member(t, s, "agent@acme.example.com", "acme")
		hook := s.hookTo(t, token, newReceiver(t).URL(), "*")
		var p portalWire
		s.call(t, http.MethodPost, "/api/v1/tenants/acme/portal-sessions", svc, map[string]any{"readOnly": true}, http.StatusCreated, &p)
		streams := map[string]*eventStream{
			"portal log stream":   openStream(t, s, "/api/v1/webhooks/"+hook.ID+"/logs/stream", p.Token),
			"portal inbox stream": openStream(t, s, "/api/v1/inboxes/acme-inbox/stream", p.Token),
			"member log stream":   openStream(t, s, "/api/v1/webhooks/"+hook.ID+"/logs/stream", token),
		}
		s.call(t, http.MethodDelete, "/api/v1/tenants/acme", svc, nil, http.StatusNoContent, nil)
		for name, es := range streams {
			wantEnded(t, name, es, "")
		}
	})
}

// TestPortalSessionOfRecreatedTenant: a portal session names its tenant
// and the tenant's creation time, so a tenant deleted and created again
// under the same id does not open to the old tenant's sessions (401),
// while a session made for the new tenant works.
func TestPortalSessionOfRecreatedTenant(t *testing.T) {
	c := &clock{}
	c.set(time.Now().UTC())
	storetest.Each(t, func(t *testing.T, st *store.Store) {
		s := newTestServer(t, st)
		svc := serviceKey(t, st, "crm")
		s.call(t, http.MethodPut, "/api/v1/tenants/acme", svc, nil, http.StatusCreated, nil)
		var old portalWire
		s.call(t, http.MethodPost, "/api/v1/tenants/acme/portal-sessions", svc, nil, http.StatusCreated, &old)
		s.call(t, http.MethodGet, "/api/v1/webhooks", old.Token, nil, http.StatusOK, nil)

		s.call(t, http.MethodDelete, "/api/v1/tenants/acme", svc, nil, http.StatusNoContent, nil)
		wantError(t, s.do(t, http.MethodGet, "/api/v1/webhooks", old.Token, nil), http.StatusNotFound)
		c.set(c.Now().Add(time.Millisecond))
		s.call(t, http.MethodPut, "/api/v1/tenants/acme", svc, nil, http.StatusCreated, nil)
		_, token := member(t, s, "agent@acme.example.com", "acme")
		hook := s.hookTo(t, token, newReceiver(t).URL(), "*")

		for _, path := range []string{"/api/v1/webhooks", "/api/v1/auth/me", "/api/v1/event-types"} {
			e := wantError(t, s.do(t, http.MethodGet, path, old.Token, nil), http.StatusUnauthorized)
			if !strings.Contains(e.Message, "deleted") {
				t.Errorf("GET %s with the old tenant's portal session: %q, want it to say the tenant was deleted", path, e.Message)
			}
		}
		var fresh portalWire
		s.call(t, http.MethodPost, "/api/v1/tenants/acme/portal-sessions", svc, nil, http.StatusCreated, &fresh)
		var p page[webhookJSON]
		s.call(t, http.MethodGet, "/api/v1/webhooks", fresh.Token, nil, http.StatusOK, &p)
		if len(p.Data) != 1 || p.Data[0].ID != hook.ID {
			t.Errorf("the new tenant's portal session lists %+v, want its webhook %s", p.Data, hook.ID)
		}
	}, store.WithClock(c.Now))
}

// TestMisspeltTenantHeaderNamed: a service key with the tenant in a
// misspelt header gets a 400 naming tenant, the header webhookd reads and
// the one the request sent, on tenant routes and when publishing.
func TestMisspeltTenantHeaderNamed(t *testing.T) {
	storetest.Each(t, func(t *testing.T, st *store.Store) {
		s := newTestServer(t, st)
		svc := serviceKey(t, st, "crm")
		s.call(t, http.MethodPut, "/api/v1/tenants/acme", svc, nil, http.StatusCreated, nil)
		for _, header := range []string{"Webhookd-Tenent", "X-Webhookd-Tenant", "Tenant"} {
			for _, r := range []struct {
				method, path string
				body         any
			}{
				{http.MethodGet, "/api/v1/webhooks", nil},
				{http.MethodPost, "/api/v1/webhooks", map[string]any{"name": "x", "url": "https://example.com/hook", "events": []string{"*"}}},
				{http.MethodPost, "/api/v1/events", map[string]any{"event": "message.new", "data": 1}},
			} {
				e := wantError(t, s.do(t, r.method, r.path, svc, r.body, header, "acme"), http.StatusBadRequest, "tenant")
				msg, _ := e.Detail("tenant")
				if !strings.Contains(msg, server.TenantHeader+" header") || !strings.Contains(msg, "sent "+header) {
					t.Errorf("%s %s with %s: %q, want it to name %s and %s", r.method, r.path, header, msg, server.TenantHeader, header)
				}
			}
		}
		// Without a look-alike the message names only the right header.
		e := wantError(t, s.do(t, http.MethodGet, "/api/v1/webhooks", svc, nil), http.StatusBadRequest, "tenant")
		if msg, _ := e.Detail("tenant"); !strings.Contains(msg, server.TenantHeader) || strings.Contains(msg, "sent") {
			t.Errorf("no tenant header: %q, want it to name %s alone", msg, server.TenantHeader)
		}
		// The right header still works beside a look-alike.
		s.call(t, http.MethodGet, "/api/v1/webhooks", svc, nil, http.StatusOK, nil, server.TenantHeader, "acme", "Tenant", "other")
	})
}

// TestBatchUnknownTenantNamesTheEvent: in a batch, an event naming a
// tenant that does not exist (or, for a tenant's own credential, another
// tenant) answers 404 naming the event's index, and nothing is published.
func TestBatchUnknownTenantNamesTheEvent(t *testing.T) {
	storetest.Each(t, func(t *testing.T, st *store.Store) {
		s := newTestServer(t, st)
		svc := serviceKey(t, st, "crm")
		for _, id := range []string{"acme", "beta"} {
			s.call(t, http.MethodPut, "/api/v1/tenants/"+id, svc, nil, http.StatusCreated, nil)
		}
		_, token := member(t, s, "agent@acme.example.com", "acme")
		s.hookTo(t, token, newReceiver(t).URL(), "*")
		ev := func(tenant string) map[string]any {
			return map[string]any{"tenant": tenant, "event": "message.new", "data": map[string]int{"n": 1}}
		}
		for _, c := range []struct {
			name, token string
			events      []any
			field, id   string
		}{
			{"service key, unknown tenant", svc, []any{ev("acme"), ev("acme"), ev("beta"), ev("nobody"), ev("acme")}, "events[3].tenant", "nobody"},
			{"member, another tenant", token, []any{ev("acme"), ev("beta")}, "events[1].tenant", "beta"},
		} {
			e := wantError(t, s.do(t, http.MethodPost, "/api/v1/events/batch", c.token, map[string]any{"events": c.events}), http.StatusNotFound, c.field)
			if !strings.HasPrefix(e.Message, c.field+": ") || !strings.Contains(e.Message, `"`+c.id+`"`) {
				t.Errorf("%s: message %q, want it to name %s and %q", c.name, e.Message, c.field, c.id)
			}
		}
		var p page[webhookJSON]
		s.call(t, http.MethodGet, "/api/v1/webhooks", token, nil, http.StatusOK, &p)
		if n := s.pending(t, token, p.Data[0].ID); n != 0 {
			t.Errorf("%d deliveries pending after refused batches, want none", n)
		}
	})
}
