package server_test

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/MicahParks/jwkset"
	"github.com/golang-jwt/jwt/v5"

	"github.com/webhookd/webhookd/auth"
	"github.com/webhookd/webhookd/server"
	"github.com/webhookd/webhookd/store"
	"github.com/webhookd/webhookd/store/storetest"
	"github.com/webhookd/webhookd/trust"
)

// crm is the CRM a sidecar webhookd serves: it signs its users' access
// tokens with an Ed25519 key it publishes as a JWKS over HTTP.
type crm struct {
	kid  string
	key  ed25519.PrivateKey
	jwks *httptest.Server
}

const (
	crmIssuer   = "https://crm.example.com"
	crmAudience = "webhookd"
)

func newCRM(t testing.TB) *crm {
	t.Helper()
	_, key, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	c := &crm{kid: "crm-2026-12", key: key}
	jwk, err := jwkset.NewJWKFromKey(key.Public(), jwkset.JWKOptions{Metadata: jwkset.JWKMetadataOptions{KID: c.kid, ALG: jwkset.AlgEdDSA, USE: jwkset.UseSig}})
	if err != nil {
		t.Fatal(err)
	}
	body, err := json.Marshal(jwkset.JWKSMarshal{Keys: []jwkset.JWKMarshal{jwk.Marshal()}})
	if err != nil {
		t.Fatal(err)
	}
	c.jwks = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.Write(body)
	}))
	t.Cleanup(c.jwks.Close)
	return c
}

// withTrusted serves with a verifier of the CRM's tokens, on the store's
// clock as main wires it.
func (c *crm) withTrusted(t testing.TB, st *store.Store) serverOption {
	t.Helper()
	v, err := trust.New(context.Background(), trust.Config{JWKSURL: c.jwks.URL, Issuer: crmIssuer, Audience: crmAudience, Now: st.Now})
	if err != nil {
		t.Fatalf("trust.New: %v", err)
	}
	t.Cleanup(v.Close)
	return func(cfg *server.Config) { cfg.Trusted = v }
}

// claims are a valid token's claims for member of tenant.
func (c *crm) claims(tenant, member string) jwt.MapClaims {
	return jwt.MapClaims{"iss": crmIssuer, "aud": crmAudience, "tenant": tenant, "sub": member,
		"iat": time.Now().Unix(), "exp": time.Now().Add(time.Hour).Unix()}
}

// sign signs claims with the CRM's key.
func (c *crm) sign(t testing.TB, claims jwt.MapClaims) string {
	t.Helper()
	tok := jwt.NewWithClaims(jwt.SigningMethodEdDSA, claims)
	tok.Header["kid"] = c.kid
	s, err := tok.SignedString(c.key)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// token is the CRM's access token for member of tenant.
func (c *crm) token(t testing.TB, tenant, member string) string {
	t.Helper()
	return c.sign(t, c.claims(tenant, member))
}

// newTenantAs is newTenant for a credential made elsewhere: two webhooks,
// a logged test send, a published event and an API key, made with token.
func newTenantAs(t testing.TB, s *testServer, name, token string) *tenant {
	t.Helper()
	tn := &tenant{name: name, rc: newReceiver(t), token: token}
	tn.all = s.hookTo(t, tn.token, tn.rc.URL(), "*")
	tn.msgs = s.hookTo(t, tn.token, tn.rc.URL(), "message.*")
	tn.log = s.sendTest(t, tn.token, tn.all.ID, "message.new", map[string]string{"owner": name}).LogID
	s.call(t, http.MethodPost, "/api/v1/events", tn.token,
		map[string]any{"event": "message.new", "data": map[string]string{"owner": name}, "idempotencyKey": "shared-key"},
		http.StatusAccepted, &tn.event)
	tn.key = newAPIKey(t, s, tn.token, name+"'s publisher")
	return tn
}

type meAnswer struct {
	ID     string `json:"id"`
	Email  string `json:"email"`
	Tenant string `json:"tenant"`
}

// The CRM's access tokens work on the API as its users (issue 15): the
// tenant claim is the tenant, made on first use; the subject is the
// member, recorded as the creator; webhookd's own logins keep working
// beside them.
func TestTrustedTokens(t *testing.T) {
	storetest.Each(t, func(t *testing.T, st *store.Store) {
		ctx := context.Background()
		c := newCRM(t)
		s := newTestServer(t, st, c.withTrusted(t, st))
		member := c.token(t, "acme", "crm-user-7")

		var me meAnswer
		s.call(t, http.MethodGet, "/api/v1/auth/me", member, nil, http.StatusOK, &me)
		if me != (meAnswer{ID: "crm-user-7", Tenant: "acme"}) {
			t.Errorf("/auth/me = %+v, want id crm-user-7, no email, tenant acme", me)
		}
		if ok, err := st.TenantExists(ctx, "acme"); err != nil || !ok {
			t.Fatalf("tenant acme after its first token: exists %v, %v; want it made", ok, err)
		}

		rc := newReceiver(t)
		var created struct {
			webhookJSON
			Tenant string `json:"tenant"`
		}
		s.call(t, http.MethodPost, "/api/v1/webhooks", member,
			map[string]any{"name": "crm hook", "url": rc.URL(), "events": []string{"message.*"}}, http.StatusCreated, &created)
		if created.Tenant != "acme" {
			t.Errorf("created webhook's tenant %q, want acme", created.Tenant)
		}
		stored, err := st.Webhook(ctx, "acme", created.ID)
		if err != nil {
			t.Fatalf("the created webhook in the store: %v", err)
		}
		if stored.CreatedBy != "crm-user-7" {
			t.Errorf("webhook created by %q, want the token's subject crm-user-7", stored.CreatedBy)
		}

		// Tenant-wide: another member of acme sees and publishes to it.
		colleague := c.token(t, "acme", "crm-user-8")
		if ids := s.webhookIDs(t, colleague); !slices.Equal(ids, []string{created.ID}) {
			t.Errorf("acme's list for another member = %v, want [%s]", ids, created.ID)
		}
		var res eventResult
		s.call(t, http.MethodPost, "/api/v1/events", colleague,
			map[string]any{"event": "message.new", "data": map[string]string{"text": "hi"}}, http.StatusAccepted, &res)
		if res.Deliveries != 1 {
			t.Errorf("publish as acme: %d deliveries, want 1 (its webhook)", res.Deliveries)
		}
		if n := s.pending(t, member, created.ID); n != 1 {
			t.Errorf("acme's webhook has %d pending deliveries, want 1", n)
		}
		key := newAPIKey(t, s, member, "made by a CRM user")
		keys, err := st.ListAPIKeys(ctx, "acme")
		if err != nil || len(keys) != 1 || keys[0].ID != key.ID || keys[0].CreatedBy != "crm-user-7" {
			t.Errorf("acme's API keys = %+v, %v; want %s created by crm-user-7", keys, err, key.ID)
		}

		// webhookd's own login, beside: its own tenant, none of acme's rows.
		user, own := s.user(t, "ops@example.com")
		s.call(t, http.MethodGet, "/api/v1/auth/me", own, nil, http.StatusOK, &me)
		if me.ID != user.ID || me.Email != "ops@example.com" || me.Tenant == "acme" || me.Tenant == "" {
			t.Errorf("/auth/me with webhookd's own token = %+v, want %s in its own tenant", me, user.ID)
		}
		if ids := s.webhookIDs(t, own); len(ids) != 0 {
			t.Errorf("a webhookd user's list = %v, want none of acme's", ids)
		}
		wantError(t, s.do(t, http.MethodGet, "/api/v1/webhooks/"+created.ID, own, nil), http.StatusNotFound)

		// The tenant claim may name any valid tenant, which is made once.
		for range 2 {
			s.call(t, http.MethodGet, "/api/v1/webhooks", c.token(t, "org:7.eu-west_1", "m"), nil, http.StatusOK, nil)
		}
		if ok, err := st.TenantExists(ctx, "org:7.eu-west_1"); err != nil || !ok {
			t.Errorf("tenant org:7.eu-west_1: exists %v, %v; want it made", ok, err)
		}
	})
}

// A CRM token that fails a check answers 401 saying which, and leaves no
// tenant behind; webhookd's own tokens keep their own message; without
// --trusted-* the CRM's tokens are refused like any unknown token.
func TestTrustedTokensRefused(t *testing.T) {
	storetest.Each(t, func(t *testing.T, st *store.Store) {
		ctx := context.Background()
		c := newCRM(t)
		s := newTestServer(t, st, c.withTrusted(t, st))
		ghost := func(edit func(jwt.MapClaims)) jwt.MapClaims {
			cl := c.claims("ghost", "crm-user-9")
			edit(cl)
			return cl
		}
		stranger := newCRM(t)
		stranger.kid = "not-published"
		hmacWithJWKS := jwt.NewWithClaims(jwt.SigningMethodHS256, c.claims("ghost", "crm-user-9"))
		hmacWithJWKS.Header["kid"] = c.kid
		confused, err := hmacWithJWKS.SignedString([]byte(c.key.Public().(ed25519.PublicKey)))
		if err != nil {
			t.Fatal(err)
		}
		for name, tc := range map[string]struct{ token, says string }{
			"expired":        {c.sign(t, ghost(func(cl jwt.MapClaims) { cl["exp"] = time.Now().Add(-time.Hour).Unix() })), "token expired at "},
			"no tenant":      {c.sign(t, ghost(func(cl jwt.MapClaims) { delete(cl, "tenant") })), `token has no "tenant" claim`},
			"bad tenant":     {c.sign(t, ghost(func(cl jwt.MapClaims) { cl["tenant"] = "../etc" })), `claim "tenant" is not a valid tenant id`},
			"wrong issuer":   {c.sign(t, ghost(func(cl jwt.MapClaims) { cl["iss"] = "https://evil.example.com" })), "is not the trusted issuer"},
			"wrong audience": {c.sign(t, ghost(func(cl jwt.MapClaims) { cl["aud"] = "someone-else" })), `does not include the trusted audience "` + crmAudience + `"`},
			"unknown key":    {stranger.token(t, "ghost", "crm-user-9"), `key id (kid) "not-published" is not a trusted key`},
			"HMAC":           {confused, "HS256 is not accepted"},
			"not a JWT":      {"definitely-not-a-token", "malformed token"},
		} {
			t.Run(name, func(t *testing.T) {
				resp := s.do(t, http.MethodGet, "/api/v1/webhooks", tc.token, nil)
				e := wantError(t, resp, http.StatusUnauthorized)
				if !strings.Contains(e.Message, tc.says) {
					t.Errorf("message %q, want it to say %q", e.Message, tc.says)
				}
				if resp.Header.Get("WWW-Authenticate") == "" {
					t.Error("no WWW-Authenticate on the 401")
				}
			})
		}
		if ok, err := st.TenantExists(ctx, "ghost"); err != nil || ok {
			t.Errorf("tenant ghost after refused tokens: exists %v, %v; want none made", ok, err)
		}

		// webhookd's own token, expired or from another webhookd, is told
		// so in webhookd's words, not in the CRM check's.
		user, _ := s.user(t, "ops@example.com")
		for name, secret := range map[string][]byte{"expired": testJWTSecret, "another secret": []byte("some-other-webhookd-secret-0123456789")} {
			exp := time.Now().Add(time.Hour)
			if name == "expired" {
				exp = time.Now().Add(-time.Hour)
			}
			own, err := jwt.NewWithClaims(jwt.SigningMethodHS256, jwt.MapClaims{"iss": auth.Issuer, "sub": user.ID, "ver": user.TokenVersion,
				"iat": time.Now().Add(-2 * time.Hour).Unix(), "exp": exp.Unix()}).SignedString(secret)
			if err != nil {
				t.Fatal(err)
			}
			if e := wantError(t, s.do(t, http.MethodGet, "/api/v1/webhooks", own, nil), http.StatusUnauthorized); e.Message != "invalid or expired token" {
				t.Errorf("webhookd's own token, %s: message %q, want invalid or expired token", name, e.Message)
			}
		}

		off := newTestServer(t, st)
		if e := wantError(t, off.do(t, http.MethodGet, "/api/v1/webhooks", c.token(t, "acme", "m"), nil), http.StatusUnauthorized); e.Message != "invalid or expired token" {
			t.Errorf("a CRM token without --trusted-*: message %q, want invalid or expired token", e.Message)
		}
	})
}

// A CRM token reaches only its own tenant's rows: every route that takes
// an id answers 404 for another tenant's, whether that tenant came from
// the CRM or from a webhookd login, and naming another tenant in the
// Webhookd-Tenant header is a 404 too.
func TestTrustedTokensStayInTheirTenant(t *testing.T) {
	storetest.Each(t, func(t *testing.T, st *store.Store) {
		c := newCRM(t)
		s := newTestServer(t, st, c.withTrusted(t, st))
		acme := newTenantAs(t, s, "acme", c.token(t, "acme", "crm-user-1"))
		globex := newTenantAs(t, s, "globex", c.token(t, "globex", "crm-user-2"))
		alice := newTenant(t, s, "alice")
		for _, pair := range [][2]*tenant{{globex, acme}, {acme, alice}, {alice, acme}} {
			intruder, victim := pair[0], pair[1]
			t.Run(intruder.name+" walks "+victim.name+"'s ids", func(t *testing.T) {
				for _, r := range intrusions(intruder, victim) {
					if resp := s.do(t, r.method, r.path, intruder.token, r.body); resp.Status != http.StatusNotFound {
						t.Errorf("%s %s: status %d, want 404; body %s", r.method, r.path, resp.Status, resp.Body)
					}
				}
			})
		}
		wantError(t, s.do(t, http.MethodGet, "/api/v1/webhooks", globex.token, nil, server.TenantHeader, "acme"), http.StatusNotFound)
		s.call(t, http.MethodGet, "/api/v1/webhooks", globex.token, nil, http.StatusOK, nil, server.TenantHeader, "globex")
		for _, tn := range []*tenant{acme, globex} {
			if ids := s.webhookIDs(t, tn.token); !slices.Equal(sorted(ids), sorted([]string{tn.all.ID, tn.msgs.ID})) {
				t.Errorf("%s lists %v, want its own two webhooks", tn.name, ids)
			}
			if got := tn.rc.requests(); len(got) == 0 {
				t.Errorf("%s's receiver got nothing from its test send", tn.name)
			}
		}
	})
}

func sorted(s []string) []string {
	s = slices.Clone(s)
	slices.Sort(s)
	return s
}

// The tenant ids trusted tokens may name are the store's.
func TestTrustedTenantIDsAreTheStores(t *testing.T) {
	for _, id := range []string{"acme", "A", "org_123", "org:7.eu-west_1", "0", strings.Repeat("a", 128),
		"", ".acme", "-acme", "acme corp", "acme/1", "acme\x00", strings.Repeat("a", 129), "ä"} {
		if trust.ValidTenant(id) != store.ValidTenantID(id) {
			t.Errorf("tenant id %q: trust says %v, store says %v", id, trust.ValidTenant(id), store.ValidTenantID(id))
		}
	}
}
