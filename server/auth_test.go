package server_test

import (
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/webhookd/webhookd/auth"
	"github.com/webhookd/webhookd/internal/wiretest"
	"github.com/webhookd/webhookd/store"
	"github.com/webhookd/webhookd/store/storetest"
)

func TestLogin(t *testing.T) {
	storetest.Each(t, func(t *testing.T, st *store.Store) {
		s := newTestServer(t, st)
		u, _ := s.user(t, "your-email@example.com")

		t.Run("seed login", func(t *testing.T) {
			var got wiretest.Login
			s.call(t, http.MethodPost, "/api/v1/auth/login", "", rawBody(`{
    "email": "your-email@example.com",
    "password": "`+testPassword+`"
  }`), http.StatusOK, &got)
			if got.AccessToken == "" {
				t.Fatal("accessToken is empty")
			}
			if got.TokenType != "Bearer" {
				t.Errorf("tokenType = %q, want Bearer", got.TokenType)
			}
			if want := int64(testTTL / time.Second); got.ExpiresIn != want {
				t.Errorf("expiresIn = %d, want %d", got.ExpiresIn, want)
			}
			if got.User.ID != u.ID || got.User.Email != "your-email@example.com" {
				t.Errorf("user = %+v, want {%s your-email@example.com}", got.User, u.ID)
			}
			// The token is what every other route takes.
			var me struct{ ID string }
			s.call(t, http.MethodGet, "/api/v1/auth/me", got.AccessToken, nil, http.StatusOK, &me)
			if me.ID != u.ID {
				t.Errorf("GET /auth/me id = %q, want %q", me.ID, u.ID)
			}
			s.call(t, http.MethodGet, "/api/v1/webhooks", got.AccessToken, nil, http.StatusOK, nil)
		})

		t.Run("email is case-insensitive", func(t *testing.T) {
			s.call(t, http.MethodPost, "/api/v1/auth/login", "",
				map[string]string{"email": " Your-Email@Example.COM ", "password": testPassword}, http.StatusOK, nil)
		})

		t.Run("wrong password and unknown email answer alike", func(t *testing.T) {
			wrong := s.do(t, http.MethodPost, "/api/v1/auth/login", "",
				map[string]string{"email": "your-email@example.com", "password": "not the password"})
			unknown := s.do(t, http.MethodPost, "/api/v1/auth/login", "",
				map[string]string{"email": "nobody@example.com", "password": testPassword})
			ew := wantError(t, wrong, http.StatusUnauthorized)
			eu := wantError(t, unknown, http.StatusUnauthorized)
			if ew.Message != eu.Message {
				t.Errorf("wrong password says %q, unknown email says %q: they must not differ", ew.Message, eu.Message)
			}
			for name, r := range map[string]response{"wrong password": wrong, "unknown email": unknown} {
				if h := r.Header.Get("WWW-Authenticate"); !strings.HasPrefix(h, "Bearer") {
					t.Errorf("%s: WWW-Authenticate = %q, want Bearer", name, h)
				}
			}
		})

		t.Run("missing fields", func(t *testing.T) {
			wantError(t, s.do(t, http.MethodPost, "/api/v1/auth/login", "", map[string]string{}),
				http.StatusBadRequest, "email", "password")
			wantError(t, s.do(t, http.MethodPost, "/api/v1/auth/login", "", map[string]any{"email": 1, "password": "x"}),
				http.StatusBadRequest, "email")
			wantError(t, s.do(t, http.MethodPost, "/api/v1/auth/login", "", rawBody(`{"email":`)), http.StatusBadRequest)
			// PostgreSQL refuses NUL in text: a 400, not a 500.
			wantError(t, s.do(t, http.MethodPost, "/api/v1/auth/login", "",
				map[string]string{"email": "your-email@example.com\x00", "password": testPassword}), http.StatusBadRequest, "email")
		})
	})
}

// forge signs claims as a token with method and key.
func forge(t testing.TB, method jwt.SigningMethod, key any, claims jwt.Claims) string {
	t.Helper()
	// webhookd's tokens carry the user's token version as "ver"; registered
	// claims get version 0, which a new user has.
	if rc, ok := claims.(jwt.RegisteredClaims); ok {
		claims = versioned{RegisteredClaims: rc, Ver: 0}
	}
	s, err := jwt.NewWithClaims(method, claims).SignedString(key)
	if err != nil {
		t.Fatalf("sign forged token: %v", err)
	}
	return s
}

// versioned is a token's claims with the token version.
type versioned struct {
	jwt.RegisteredClaims
	Ver int `json:"ver"`
}

func TestAuthRejects(t *testing.T) {
	storetest.Each(t, func(t *testing.T, st *store.Store) {
		s := newTestServer(t, st)
		u, token := s.user(t, "a@example.com")
		gone, goneToken := s.user(t, "gone@example.com")
		if err := st.DeleteUser(context.Background(), gone.ID); err != nil {
			t.Fatalf("delete user: %v", err)
		}
		other, err := auth.NewTokens([]byte("some-other-secret-0123456789"), time.Hour)
		if err != nil {
			t.Fatal(err)
		}
		otherToken, err := other.Issue(u.ID, 0)
		if err != nil {
			t.Fatal(err)
		}
		now := time.Now()
		valid := func() jwt.RegisteredClaims {
			return jwt.RegisteredClaims{
				Issuer: auth.Issuer, Subject: u.ID,
				IssuedAt: jwt.NewNumericDate(now), ExpiresAt: jwt.NewNumericDate(now.Add(time.Hour)),
			}
		}
		expired := valid()
		expired.IssuedAt = jwt.NewNumericDate(now.Add(-2 * time.Hour))
		expired.ExpiresAt = jwt.NewNumericDate(now.Add(-time.Hour))
		noExp := valid()
		noExp.ExpiresAt = nil
		wrongIssuer := valid()
		wrongIssuer.Issuer = "someone-else"
		noSubject := valid()
		noSubject.Subject = ""
		unknownSubject := valid()
		unknownSubject.Subject = store.NewID()
		notYet := valid()
		notYet.NotBefore = jwt.NewNumericDate(now.Add(time.Hour))

		// The forged control token proves the other cases fail for the
		// reason they name, not for a mistake in forging.
		s.call(t, http.MethodGet, "/api/v1/webhooks", forge(t, jwt.SigningMethodHS256, testJWTSecret, valid()), nil, http.StatusOK, nil)
		s.call(t, http.MethodGet, "/api/v1/webhooks", token, nil, http.StatusOK, nil)
		s.call(t, http.MethodGet, "/api/v1/webhooks", "", nil, http.StatusOK, nil, "Authorization", "bearer "+token)

		tests := []struct {
			name   string
			header string // the whole Authorization header; "" sends none
		}{
			{"missing header", ""},
			{"basic scheme", "Basic YTpi"},
			{"bearer without token", "Bearer "},
			{"bare token", token},
			{"garbage token", "Bearer not.a.token"},
			{"random text", "Bearer hello"},
			{"expired", "Bearer " + forge(t, jwt.SigningMethodHS256, testJWTSecret, expired)},
			{"no exp", "Bearer " + forge(t, jwt.SigningMethodHS256, testJWTSecret, noExp)},
			{"alg none", "Bearer " + forge(t, jwt.SigningMethodNone, jwt.UnsafeAllowNoneSignatureType, valid())},
			{"HS512 with the right secret", "Bearer " + forge(t, jwt.SigningMethodHS512, testJWTSecret, valid())},
			{"another secret", "Bearer " + otherToken},
			{"wrong issuer", "Bearer " + forge(t, jwt.SigningMethodHS256, testJWTSecret, wrongIssuer)},
			{"no subject", "Bearer " + forge(t, jwt.SigningMethodHS256, testJWTSecret, noSubject)},
			{"unknown user", "Bearer " + forge(t, jwt.SigningMethodHS256, testJWTSecret, unknownSubject)},
			{"not valid yet", "Bearer " + forge(t, jwt.SigningMethodHS256, testJWTSecret, notYet)},
			{"deleted user", "Bearer " + goneToken},
			{"unknown API key", "Bearer " + auth.APIKeyPrefix + "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"},
			{"tampered token", "Bearer " + token[:len(token)-2] + "xx"},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				var hdr []string
				if tt.header != "" {
					hdr = []string{"Authorization", tt.header}
				}
				for _, route := range [][2]string{
					{http.MethodGet, "/api/v1/webhooks"},
					{http.MethodPost, "/api/v1/events"},
					{http.MethodGet, "/api/v1/event-types"},
				} {
					resp := s.do(t, route[0], route[1], "", map[string]any{"event": "message.new", "data": 1}, hdr...)
					wantError(t, resp, http.StatusUnauthorized)
					if h := resp.Header.Get("WWW-Authenticate"); !strings.HasPrefix(h, "Bearer") {
						t.Errorf("%s %s: WWW-Authenticate = %q, want Bearer", route[0], route[1], h)
					}
				}
			})
		}
	})
}

type apiKeyJSON struct {
	ID         string  `json:"id"`
	Name       string  `json:"name"`
	Prefix     string  `json:"prefix"`
	Key        string  `json:"key"`
	CreatedAt  string  `json:"createdAt"`
	LastUsedAt *string `json:"lastUsedAt"`
}

func TestAPIKeys(t *testing.T) {
	storetest.Each(t, func(t *testing.T, st *store.Store) {
		s := newTestServer(t, st)
		_, token := s.user(t, "a@example.com")
		_, tokenB := s.user(t, "b@example.com")

		var created apiKeyJSON
		s.call(t, http.MethodPost, "/api/v1/api-keys", token, map[string]string{"name": "crm publisher"}, http.StatusCreated, &created)
		if !strings.HasPrefix(created.Key, auth.APIKeyPrefix) {
			t.Fatalf("key = %q, want the %s prefix", created.Key, auth.APIKeyPrefix)
		}
		if created.Name != "crm publisher" || created.ID == "" || !strings.HasPrefix(created.Key, created.Prefix) {
			t.Errorf("created = %+v, want name, id and a prefix of the key", created)
		}
		parseTime(t, "createdAt", created.CreatedAt)
		if created.LastUsedAt != nil {
			t.Errorf("lastUsedAt = %q before any use, want null", *created.LastUsedAt)
		}

		list := func(t *testing.T, token string) (page[apiKeyJSON], string) {
			t.Helper()
			var p page[apiKeyJSON]
			resp := s.call(t, http.MethodGet, "/api/v1/api-keys", token, nil, http.StatusOK, &p)
			return p, string(resp.Body)
		}
		t.Run("list never shows the key", func(t *testing.T) {
			p, raw := list(t, token)
			if len(p.Data) != 1 || p.Data[0].ID != created.ID || p.Data[0].Prefix != created.Prefix {
				t.Fatalf("list = %s, want the one key", raw)
			}
			if strings.Contains(raw, created.Key) || strings.Contains(raw, `"key"`) {
				t.Errorf("list shows the key: %s", raw)
			}
		})

		t.Run("key works as a bearer credential", func(t *testing.T) {
			var hooks page[webhookJSON]
			s.call(t, http.MethodGet, "/api/v1/webhooks", created.Key, nil, http.StatusOK, &hooks)
			s.call(t, http.MethodPost, "/api/v1/events", created.Key,
				map[string]any{"event": "message.new", "data": map[string]string{"messageId": "m1"}}, http.StatusAccepted, nil)
			p, _ := list(t, token)
			if len(p.Data) != 1 {
				t.Fatalf("list has %d keys, want 1", len(p.Data))
			}
			wantRecent(t, "lastUsedAt", p.Data[0].LastUsedAt)
		})

		t.Run("other user", func(t *testing.T) {
			if p, raw := list(t, tokenB); len(p.Data) != 0 {
				t.Errorf("user B lists %s, want none", raw)
			}
			wantError(t, s.do(t, http.MethodDelete, "/api/v1/api-keys/"+created.ID, tokenB, nil), http.StatusNotFound)
			s.call(t, http.MethodGet, "/api/v1/webhooks", created.Key, nil, http.StatusOK, nil)
		})

		t.Run("validation", func(t *testing.T) {
			for _, body := range []any{
				map[string]any{},
				map[string]any{"name": ""},
				map[string]any{"name": "   "},
				map[string]any{"name": strings.Repeat("n", 256)},
				map[string]any{"name": "a\x00b"},
				map[string]any{"name": 7},
			} {
				wantError(t, s.do(t, http.MethodPost, "/api/v1/api-keys", token, body), http.StatusBadRequest, "name")
			}
			wantError(t, s.do(t, http.MethodPost, "/api/v1/api-keys", token, map[string]any{"name": "x", "scope": "all"}),
				http.StatusBadRequest, "scope")
			if p, raw := list(t, token); len(p.Data) != 1 {
				t.Errorf("after rejected creates the list is %s, want the one key", raw)
			}
		})

		t.Run("delete revokes", func(t *testing.T) {
			resp := s.call(t, http.MethodDelete, "/api/v1/api-keys/"+created.ID, token, nil, http.StatusNoContent, nil)
			if len(resp.Body) != 0 {
				t.Errorf("204 has body %q", resp.Body)
			}
			wantError(t, s.do(t, http.MethodGet, "/api/v1/webhooks", created.Key, nil), http.StatusUnauthorized)
			wantError(t, s.do(t, http.MethodDelete, "/api/v1/api-keys/"+created.ID, token, nil), http.StatusNotFound)
			if p, raw := list(t, token); len(p.Data) != 0 {
				t.Errorf("after delete the list is %s, want empty", raw)
			}
		})
	})
}
