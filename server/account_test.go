package server_test

import (
	"net/http"
	"testing"

	"github.com/webhookd/webhookd/internal/wiretest"
	"github.com/webhookd/webhookd/server"
	"github.com/webhookd/webhookd/store"
	"github.com/webhookd/webhookd/store/storetest"
)

// consoleConfig is GET /api/v1/console/config.
type consoleConfig struct {
	FirstUserEmail *string `json:"firstUserEmail"`
}

func getConsoleConfig(t *testing.T, s *testServer) consoleConfig {
	t.Helper()
	var c consoleConfig
	resp := s.call(t, http.MethodGet, "/api/v1/console/config", "", nil, http.StatusOK, &c)
	if cc := resp.Header.Get("Cache-Control"); cc != "no-store" {
		t.Errorf("console config Cache-Control = %q, want no-store", cc)
	}
	return c
}

// The sign-in page names the first user serve created on this start,
// without a credential, until that user signs in; another user's sign-in
// does not end it, and a server started without one names nobody.
func TestConsoleConfigFirstUser(t *testing.T) {
	storetest.Each(t, func(t *testing.T, st *store.Store) {
		s := newTestServer(t, st, func(c *server.Config) { c.FirstUserEmail = "Boss@Example.com" })
		member(t, s, "boss@example.com", "acme")
		member(t, s, "other@example.com", "acme")
		if got := getConsoleConfig(t, s).FirstUserEmail; got == nil || *got != "Boss@Example.com" {
			t.Fatalf("firstUserEmail before any sign-in = %v, want Boss@Example.com", got)
		}
		s.call(t, http.MethodPost, "/api/v1/auth/login", "", map[string]string{"email": "other@example.com", "password": testPassword}, http.StatusOK, nil)
		if got := getConsoleConfig(t, s).FirstUserEmail; got == nil {
			t.Fatal("another user's sign-in ended the first user's hint")
		}
		// A failed sign-in of the first user is not a sign-in.
		s.do(t, http.MethodPost, "/api/v1/auth/login", "", map[string]string{"email": "boss@example.com", "password": "wrong password"})
		if got := getConsoleConfig(t, s).FirstUserEmail; got == nil {
			t.Fatal("a failed sign-in ended the first user's hint")
		}
		s.call(t, http.MethodPost, "/api/v1/auth/login", "", map[string]string{"email": "BOSS@example.com", "password": testPassword}, http.StatusOK, nil)
		if got := getConsoleConfig(t, s).FirstUserEmail; got != nil {
			t.Fatalf("firstUserEmail after the first user signed in = %q, want null", *got)
		}

		plain := newTestServer(t, st)
		if got := getConsoleConfig(t, plain).FirstUserEmail; got != nil {
			t.Fatalf("firstUserEmail of a server that created no user = %q, want null", *got)
		}
	})
}

func TestPasswordChange(t *testing.T) {
	storetest.Each(t, func(t *testing.T, st *store.Store) {
		s := newTestServer(t, st)
		u, token := member(t, s, "ann@example.com", "acme")
		const newPassword = "a brand new passphrase"

		t.Run("bad input names every field", func(t *testing.T) {
			wantError(t, s.do(t, http.MethodPost, "/api/v1/auth/password", token, map[string]string{}),
				http.StatusBadRequest, "currentPassword", "newPassword")
			wantError(t, s.do(t, http.MethodPost, "/api/v1/auth/password", token, map[string]string{"currentPassword": testPassword, "newPassword": "short"}),
				http.StatusBadRequest, "newPassword")
			wantError(t, s.do(t, http.MethodPost, "/api/v1/auth/password", token, map[string]string{"currentPassword": testPassword, "newPassword": testPassword}),
				http.StatusBadRequest, "newPassword")
			long := make([]byte, 73)
			for i := range long {
				long[i] = 'x'
			}
			wantError(t, s.do(t, http.MethodPost, "/api/v1/auth/password", token, map[string]string{"currentPassword": testPassword, "newPassword": string(long)}),
				http.StatusBadRequest, "newPassword")
			e := wantError(t, s.do(t, http.MethodPost, "/api/v1/auth/password", token, map[string]string{"currentPassword": "not it at all", "newPassword": newPassword}),
				http.StatusBadRequest, "currentPassword")
			if e.Message != "currentPassword: is not your current password" {
				t.Errorf("wrong current password says %q", e.Message)
			}
			// Nothing changed: the old password still signs in.
			s.call(t, http.MethodPost, "/api/v1/auth/login", "", map[string]string{"email": u.Email, "password": testPassword}, http.StatusOK, nil)
		})

		t.Run("only a signed-in user", func(t *testing.T) {
			key := newAPIKey(t, s, token, "publisher")
			wantError(t, s.do(t, http.MethodPost, "/api/v1/auth/password", key.Key, map[string]string{"currentPassword": testPassword, "newPassword": newPassword}),
				http.StatusForbidden)
			wantError(t, s.do(t, http.MethodPost, "/api/v1/auth/password", "", map[string]string{"currentPassword": testPassword, "newPassword": newPassword}),
				http.StatusUnauthorized)
		})

		t.Run("changed", func(t *testing.T) {
			var got wiretest.Login
			s.call(t, http.MethodPost, "/api/v1/auth/password", token, map[string]string{"currentPassword": testPassword, "newPassword": newPassword}, http.StatusOK, &got)
			if got.AccessToken == "" || got.User.ID != u.ID || got.User.Email != u.Email || got.User.Tenant != "acme" {
				t.Fatalf("answer = %+v, want a new token for %s", got, u.Email)
			}
			// The old token has ended; the new one works.
			wantError(t, s.do(t, http.MethodGet, "/api/v1/auth/me", token, nil), http.StatusUnauthorized)
			s.call(t, http.MethodGet, "/api/v1/auth/me", got.AccessToken, nil, http.StatusOK, nil)
			wantError(t, s.do(t, http.MethodPost, "/api/v1/auth/login", "", map[string]string{"email": u.Email, "password": testPassword}), http.StatusUnauthorized)
			s.call(t, http.MethodPost, "/api/v1/auth/login", "", map[string]string{"email": u.Email, "password": newPassword}, http.StatusOK, nil)
		})
	})
}

// memberWire is one entry of GET /api/v1/members.
type memberWire struct {
	ID         string  `json:"id"`
	Email      string  `json:"email"`
	CreatedAt  string  `json:"createdAt"`
	Disabled   bool    `json:"disabled"`
	DisabledAt *string `json:"disabledAt"`
	You        bool    `json:"you"`
}

func TestMemberList(t *testing.T) {
	storetest.Each(t, func(t *testing.T, st *store.Store) {
		s := newTestServer(t, st)
		svc := serviceKey(t, st, "crm")
		s.call(t, http.MethodPut, "/api/v1/tenants/acme", svc, map[string]any{"name": "Acme"}, http.StatusCreated, nil)
		ann, annToken := member(t, s, "ann@acme.example.com", "acme")
		bob, _ := member(t, s, "bob@acme.example.com", "acme")
		member(t, s, "eve@globex.example.com", "globex")
		if err := st.SetUserDisabled(t.Context(), bob.ID, true); err != nil {
			t.Fatal(err)
		}

		var got page[memberWire]
		s.call(t, http.MethodGet, "/api/v1/members", annToken, nil, http.StatusOK, &got)
		if len(got.Data) != 2 || got.NextCursor != nil {
			t.Fatalf("members = %+v, want ann and bob only", got)
		}
		if m := got.Data[0]; m.ID != ann.ID || m.Email != ann.Email || !m.You || m.Disabled || m.DisabledAt != nil || m.CreatedAt == "" {
			t.Errorf("first member = %+v, want ann, you, enabled", m)
		}
		if m := got.Data[1]; m.ID != bob.ID || m.You || !m.Disabled || m.DisabledAt == nil {
			t.Errorf("second member = %+v, want bob, disabled", m)
		}

		// A service key names the tenant; a portal session is refused.
		var bySvc page[memberWire]
		s.call(t, http.MethodGet, "/api/v1/members", svc, nil, http.StatusOK, &bySvc, server.TenantHeader, "globex")
		if len(bySvc.Data) != 1 || bySvc.Data[0].Email != "eve@globex.example.com" || bySvc.Data[0].You {
			t.Errorf("globex's members by the service key = %+v, want eve alone", bySvc.Data)
		}
		var p portalWire
		s.call(t, http.MethodPost, "/api/v1/tenants/acme/portal-sessions", svc, nil, http.StatusCreated, &p)
		e := wantError(t, s.do(t, http.MethodGet, "/api/v1/members", p.Token, nil), http.StatusForbidden)
		if e.Message != "a portal session cannot see the tenant's members" {
			t.Errorf("portal session refused with %q", e.Message)
		}
	})
}
