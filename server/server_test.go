package server_test

import (
	"net/http"
	"net/url"
	"reflect"
	"strings"
	"testing"

	"github.com/webhookd/webhookd/server"
	"github.com/webhookd/webhookd/store"
	"github.com/webhookd/webhookd/store/storetest"
)

func TestRouting(t *testing.T) {
	storetest.Each(t, func(t *testing.T, st *store.Store) {
		s := newTestServer(t, st)
		_, token := s.user(t, "a@example.com")
		hook := s.hookTo(t, token, newReceiver(t).URL(), "*")

		t.Run("unknown routes are 404 JSON", func(t *testing.T) {
			// "/" is the console's page.
			for _, p := range []string{"/index.html", "/console/", "/console", "/api", "/api/v1", "/api/v1/nope", "/api/v2/webhooks", "/api/v1/webhooks/",
				"/api/v1/webhooks/" + hook.ID + "/nope", "/api/v1/webhooks/" + hook.ID + "/logs/", "/API/V1/WEBHOOKS"} {
				for _, tok := range []string{token, ""} {
					wantError(t, s.do(t, http.MethodGet, p, tok, nil), http.StatusNotFound)
				}
			}
		})

		t.Run("pages and health checks answer HEAD", func(t *testing.T) {
			for _, p := range []string{"/", "/console/app.js", "/healthz", "/readyz"} {
				get, head := s.do(t, http.MethodGet, p, "", nil), s.do(t, http.MethodHead, p, "", nil)
				if head.Status != http.StatusOK || len(head.Body) != 0 || head.Header.Get("Content-Type") != get.Header.Get("Content-Type") {
					t.Errorf("HEAD %s = %d %q with %d body bytes; want 200, GET's Content-Type %q, no body",
						p, head.Status, head.Header.Get("Content-Type"), len(head.Body), get.Header.Get("Content-Type"))
				}
			}
		})

		t.Run("wrong methods are 405 JSON", func(t *testing.T) {
			for _, r := range [][2]string{
				{http.MethodGet, "/api/v1/auth/login"},
				{http.MethodPut, "/api/v1/auth/login"},
				{http.MethodDelete, "/api/v1/webhooks"},
				{http.MethodPatch, "/api/v1/webhooks"},
				{http.MethodPost, "/api/v1/webhooks/" + hook.ID},
				{http.MethodGet, "/api/v1/webhooks/" + hook.ID + "/test"},
				{http.MethodDelete, "/api/v1/webhooks/" + hook.ID + "/logs"},
				{http.MethodPost, "/api/v1/webhooks/" + hook.ID + "/stats"},
				{http.MethodGet, "/api/v1/events"},
				{http.MethodPost, "/api/v1/event-types"},
				{http.MethodPut, "/api/v1/api-keys"},
				{http.MethodGet, "/api/v1/api-keys/" + hook.ID},
			} {
				resp := s.do(t, r[0], r[1], token, nil)
				wantError(t, resp, http.StatusMethodNotAllowed)
				if resp.Header.Get("Allow") == "" {
					t.Errorf("%s %s: 405 without an Allow header", r[0], r[1])
				}
			}
		})

		t.Run("bad ids are 404", func(t *testing.T) {
			logs := s.sendTest(t, token, hook.ID, "message.new", map[string]any{})
			bad := []string{"1", "nope", "abc-def", strings.Repeat("a", 36), strings.Repeat("0", 100), store.NewID(),
				"%20", "..", "00000000-0000-0000-0000-000000000000", "' OR '1'='1", strings.ToUpper(store.NewID())}
			for _, id := range bad {
				id = url.PathEscape(id)
				for _, r := range [][2]string{
					{http.MethodGet, "/api/v1/webhooks/" + id},
					{http.MethodPatch, "/api/v1/webhooks/" + id},
					{http.MethodPut, "/api/v1/webhooks/" + id},
					{http.MethodDelete, "/api/v1/webhooks/" + id},
					{http.MethodPost, "/api/v1/webhooks/" + id + "/test"},
					{http.MethodGet, "/api/v1/webhooks/" + id + "/logs"},
					{http.MethodGet, "/api/v1/webhooks/" + id + "/logs/" + logs.LogID},
					{http.MethodGet, "/api/v1/webhooks/" + hook.ID + "/logs/" + id},
					{http.MethodGet, "/api/v1/webhooks/" + id + "/stats"},
					{http.MethodGet, "/api/v1/events/" + id},
					{http.MethodDelete, "/api/v1/api-keys/" + id},
				} {
					resp := s.do(t, r[0], r[1], token, map[string]string{"name": "x"})
					if resp.Status != http.StatusNotFound {
						t.Errorf("%s %s: status %d, want 404; body %s", r[0], r[1], resp.Status, resp.Body)
						continue
					}
					wantError(t, resp, http.StatusNotFound)
				}
			}
			var after webhookJSON
			s.call(t, http.MethodGet, "/api/v1/webhooks/"+hook.ID, token, nil, http.StatusOK, &after)
			if after.Name != hook.Name {
				t.Errorf("webhook name became %q", after.Name)
			}
		})

		t.Run("login body errors", func(t *testing.T) {
			wantError(t, s.do(t, http.MethodPost, "/api/v1/auth/login", "", rawBody("")), http.StatusBadRequest)
			wantError(t, s.do(t, http.MethodPost, "/api/v1/auth/login", "",
				rawBody(`{"email":"a@example.com","password":"`+strings.Repeat("p", 1<<20)+`"}`)), http.StatusRequestEntityTooLarge)
			wantError(t, s.do(t, http.MethodPost, "/api/v1/auth/login", "",
				rawBody(`{"email":"a@example.com","password":"x","remember":true}`)), http.StatusBadRequest, "remember")
		})
	})
}

func TestOwnership(t *testing.T) {
	storetest.Each(t, func(t *testing.T, st *store.Store) {
		s := newTestServer(t, st)
		_, tokenA := s.user(t, "a@example.com")
		_, tokenB := s.user(t, "b@example.com")
		rc := newReceiver(t)

		hookA := s.hookTo(t, tokenA, rc.URL(), "*")
		sent := s.sendTest(t, tokenA, hookA.ID, "message.new", map[string]string{"from": "A"})
		var eventA eventResult
		s.call(t, http.MethodPost, "/api/v1/events", tokenA, map[string]any{"event": "message.new", "data": 1}, http.StatusAccepted, &eventA)
		var keyA apiKeyJSON
		s.call(t, http.MethodPost, "/api/v1/api-keys", tokenA, map[string]string{"name": "A's key"}, http.StatusCreated, &keyA)
		hookB := s.hookTo(t, tokenB, rc.URL(), "*")
		sentB := s.sendTest(t, tokenB, hookB.ID, "message.new", map[string]string{"from": "B"})

		before := s.getWebhook(t, tokenA, hookA.ID)
		statsBefore := s.stats(t, tokenA, hookA.ID)
		received := len(rc.requests())

		t.Run("B gets 404 on every route of A's rows", func(t *testing.T) {
			a := "/api/v1/webhooks/" + hookA.ID
			for _, r := range []struct {
				method, path string
				body         any
			}{
				{http.MethodGet, a, nil},
				{http.MethodPatch, a, map[string]any{"name": "taken"}},
				{http.MethodPut, a, map[string]any{"url": "https://evil.example.com"}},
				{http.MethodPatch, a, map[string]any{"isActive": false}},
				{http.MethodDelete, a, nil},
				{http.MethodPost, a + "/test", map[string]any{"eventType": "message.new", "payload": map[string]int{}}},
				{http.MethodPost, a + "/test", nil},
				{http.MethodGet, a + "/logs", nil},
				{http.MethodGet, a + "/logs?limit=1", nil},
				{http.MethodGet, a + "/logs/" + sent.LogID, nil},
				{http.MethodGet, "/api/v1/webhooks/" + hookB.ID + "/logs/" + sent.LogID, nil},
				{http.MethodGet, a + "/stats", nil},
				{http.MethodDelete, "/api/v1/api-keys/" + keyA.ID, nil},
				{http.MethodGet, "/api/v1/events/" + eventA.ID, nil},
			} {
				resp := s.do(t, r.method, r.path, tokenB, r.body)
				if resp.Status != http.StatusNotFound {
					t.Errorf("B: %s %s: status %d, want 404; body %s", r.method, r.path, resp.Status, resp.Body)
					continue
				}
				wantError(t, resp, http.StatusNotFound)
				if strings.Contains(string(resp.Body), hookA.Secret) {
					t.Errorf("B: %s %s: answer shows A's secret", r.method, r.path)
				}
			}
			// A's own log is not reachable through A's other webhook either.
			hookA2 := s.hookTo(t, tokenA, rc.URL(), "campaign.started")
			wantError(t, s.do(t, http.MethodGet, "/api/v1/webhooks/"+hookA2.ID+"/logs/"+sent.LogID, tokenA, nil), http.StatusNotFound)
			s.call(t, http.MethodDelete, "/api/v1/webhooks/"+hookA2.ID, tokenA, nil, http.StatusNoContent, nil)
		})

		t.Run("A's rows are unchanged", func(t *testing.T) {
			if after := s.getWebhook(t, tokenA, hookA.ID); after != before {
				t.Errorf("A's webhook changed:\nbefore %s\n after %s", before, after)
			}
			if got := len(rc.requests()); got != received {
				t.Errorf("receiver got %d requests, want %d: B's test send to A's webhook went out", got, received)
			}
			if after := s.stats(t, tokenA, hookA.ID); !reflect.DeepEqual(after, statsBefore) {
				t.Errorf("A's stats changed: before %+v, after %+v", statsBefore, after)
			}
			s.call(t, http.MethodGet, "/api/v1/webhooks", keyA.Key, nil, http.StatusOK, nil)
			s.call(t, http.MethodGet, "/api/v1/events/"+eventA.ID, tokenA, nil, http.StatusOK, nil)
		})

		t.Run("lists show only the caller's rows", func(t *testing.T) {
			if ids := s.webhookIDs(t, tokenB); len(ids) != 1 || ids[0] != hookB.ID {
				t.Errorf("B lists webhooks %v, want only %s", ids, hookB.ID)
			}
			if ids := s.webhookIDs(t, tokenA); len(ids) != 1 || ids[0] != hookA.ID {
				t.Errorf("A lists webhooks %v, want only %s", ids, hookA.ID)
			}
			var keys page[apiKeyJSON]
			s.call(t, http.MethodGet, "/api/v1/api-keys", tokenB, nil, http.StatusOK, &keys)
			if len(keys.Data) != 0 {
				t.Errorf("B lists API keys %+v, want none", keys.Data)
			}
			var logs page[logJSON]
			s.call(t, http.MethodGet, "/api/v1/webhooks/"+hookB.ID+"/logs", tokenB, nil, http.StatusOK, &logs)
			if len(logs.Data) != 1 || logs.Data[0].ID != sentB.LogID {
				t.Errorf("B's logs = %+v, want only B's test send %s", logs.Data, sentB.LogID)
			}
		})

		t.Run("B's events never reach A's webhooks", func(t *testing.T) {
			pendingA := s.pending(t, tokenA, hookA.ID)
			for _, ev := range []string{"message.new", "conversation.created", "campaign.completed"} {
				var res eventResult
				s.call(t, http.MethodPost, "/api/v1/events", tokenB, map[string]any{"event": ev, "data": 1}, http.StatusAccepted, &res)
				if res.Deliveries != 1 {
					t.Errorf("B's %s reached %d webhooks, want 1 (B's own)", ev, res.Deliveries)
				}
				wantError(t, s.do(t, http.MethodGet, "/api/v1/events/"+res.ID, tokenA, nil), http.StatusNotFound)
			}
			if got := s.pending(t, tokenA, hookA.ID); got != pendingA {
				t.Errorf("A's webhook pending went from %d to %d after B published", pendingA, got)
			}
			if got := s.pending(t, tokenB, hookB.ID); got != 3 {
				t.Errorf("B's webhook pending = %d, want 3", got)
			}
		})

		t.Run("A can still do everything", func(t *testing.T) {
			s.call(t, http.MethodPatch, "/api/v1/webhooks/"+hookA.ID, tokenA, map[string]any{"name": "mine"}, http.StatusOK, nil)
			s.call(t, http.MethodDelete, "/api/v1/api-keys/"+keyA.ID, tokenA, nil, http.StatusNoContent, nil)
			s.call(t, http.MethodDelete, "/api/v1/webhooks/"+hookA.ID, tokenA, nil, http.StatusNoContent, nil)
			s.getWebhook(t, tokenB, hookB.ID)
		})
	})
}

func TestNewRequiresDependencies(t *testing.T) {
	if _, err := server.New(server.Config{}); err == nil {
		t.Error("server.New with an empty Config succeeded, want an error naming what is missing")
	}
}
