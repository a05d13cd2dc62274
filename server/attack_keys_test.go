package server_test

import (
	"context"
	"net/http"
	"testing"

	"github.com/webhookd/webhookd/store"
	"github.com/webhookd/webhookd/store/storetest"
)

// A key made with a user's key is the user's as much as the key that
// made it: it must stop when the user is disabled, or a member about to
// be disabled could mint a key that survives it.
func TestKeyMadeByAUsersKeyStopsWithTheUser(t *testing.T) {
	storetest.Each(t, func(t *testing.T, st *store.Store) {
		s := newTestServer(t, st)
		u, token := s.user(t, "leaver@example.com")
		first := newAPIKey(t, s, token, "first")
		var second apiKeyJSON
		s.call(t, http.MethodPost, "/api/v1/api-keys", first.Key, map[string]string{"name": "second"}, http.StatusCreated, &second)
		s.call(t, http.MethodGet, "/api/v1/webhooks", second.Key, nil, http.StatusOK, nil)
		if err := st.SetUserDisabled(context.Background(), u.ID, true); err != nil {
			t.Fatal(err)
		}
		for name, key := range map[string]string{"the user's key": first.Key, "the key its key made": second.Key} {
			if resp := s.do(t, http.MethodGet, "/api/v1/webhooks", key, nil); resp.Status != http.StatusUnauthorized {
				t.Errorf("%s after the user was disabled: status %d, want 401; body %s", name, resp.Status, resp.Body)
			}
		}
	})
}

// Deleting a member is at least as final as disabling it: the keys it
// made (itself or with its keys) stop, where before disable-then-delete
// brought them back to life.
func TestDeletedMembersKeysStop(t *testing.T) {
	storetest.Each(t, func(t *testing.T, st *store.Store) {
		s := newTestServer(t, st)
		ctx := context.Background()
		stay, err := st.CreateUser(ctx, "stays@acme.example", passwordHash(t), "acme")
		if err != nil {
			t.Fatal(err)
		}
		leaver, err := st.CreateUser(ctx, "leaves@acme.example", passwordHash(t), "acme")
		if err != nil {
			t.Fatal(err)
		}
		issue := func(u store.User) string {
			tok, err := s.tokens.Issue(u.ID, u.TokenVersion)
			if err != nil {
				t.Fatal(err)
			}
			return tok
		}
		kept := newAPIKey(t, s, issue(stay), "the one who stays")
		first := newAPIKey(t, s, issue(leaver), "first")
		var second apiKeyJSON
		s.call(t, http.MethodPost, "/api/v1/api-keys", first.Key, map[string]string{"name": "second"}, http.StatusCreated, &second)
		if err := st.SetUserDisabled(ctx, leaver.ID, true); err != nil {
			t.Fatal(err)
		}
		if err := st.DeleteUser(ctx, leaver.ID); err != nil {
			t.Fatal(err)
		}
		for name, key := range map[string]string{"the deleted user's key": first.Key, "the key its key made": second.Key} {
			if resp := s.do(t, http.MethodGet, "/api/v1/webhooks", key, nil); resp.Status != http.StatusUnauthorized {
				t.Errorf("%s after the user was deleted: status %d, want 401; body %s", name, resp.Status, resp.Body)
			}
		}
		s.call(t, http.MethodGet, "/api/v1/webhooks", kept.Key, nil, http.StatusOK, nil)
	})
}
