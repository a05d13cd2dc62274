package server_test

import (
	"net/http"
	"strings"
	"testing"

	"github.com/webhookd/webhookd/store"
	"github.com/webhookd/webhookd/store/storetest"
)

// orderingJSON is what a webhook answer says of its ordering.
type orderingJSON struct {
	ID          string `json:"id"`
	Ordering    string `json:"ordering"`
	OrderingKey string `json:"orderingKey"`
}

// TestWebhookOrderingFields: ordering and orderingKey are saved on
// create, shown by GET and changed by PATCH; switching to "none" clears
// the key, and a key alone is refused on an unordered webhook.
func TestWebhookOrderingFields(t *testing.T) {
	storetest.Each(t, func(t *testing.T, st *store.Store) {
		s := newTestServer(t, st)
		_, token := s.user(t, "fifo@example.com")

		var plain orderingJSON
		s.call(t, http.MethodPost, "/api/v1/webhooks", token, map[string]any{"name": "plain", "url": "https://example.com/a", "events": []string{"*"}},
			http.StatusCreated, &plain)
		if plain.Ordering != "none" || plain.OrderingKey != "" {
			t.Errorf("default ordering = %+v, want none without a key", plain)
		}

		var created orderingJSON
		s.call(t, http.MethodPost, "/api/v1/webhooks", token, map[string]any{"name": "fifo", "url": "https://example.com/b", "events": []string{"*"},
			"ordering": "fifo", "orderingKey": "data.conversationId"}, http.StatusCreated, &created)
		if created.Ordering != "fifo" || created.OrderingKey != "data.conversationId" {
			t.Fatalf("created = %+v, want fifo by data.conversationId", created)
		}
		var got orderingJSON
		s.call(t, http.MethodGet, "/api/v1/webhooks/"+created.ID, token, nil, http.StatusOK, &got)
		if got != created {
			t.Errorf("GET = %+v, want %+v", got, created)
		}
		s.call(t, http.MethodPatch, "/api/v1/webhooks/"+created.ID, token, map[string]any{"orderingKey": "data.contact.id"}, http.StatusOK, &got)
		if got.Ordering != "fifo" || got.OrderingKey != "data.contact.id" {
			t.Errorf("after a new key = %+v, want fifo by data.contact.id", got)
		}
		s.call(t, http.MethodPut, "/api/v1/webhooks/"+created.ID, token, map[string]any{"ordering": "none"}, http.StatusOK, &got)
		if got.Ordering != "none" || got.OrderingKey != "" {
			t.Errorf("after ordering none = %+v, want none and the key cleared", got)
		}
		wantError(t, s.do(t, http.MethodPatch, "/api/v1/webhooks/"+created.ID, token, map[string]any{"orderingKey": "data.id"}), http.StatusBadRequest, "orderingKey")
		s.call(t, http.MethodPatch, "/api/v1/webhooks/"+plain.ID, token, map[string]any{"ordering": "fifo", "orderingKey": "event"}, http.StatusOK, &got)
		if got.Ordering != "fifo" || got.OrderingKey != "event" {
			t.Errorf("plain made fifo = %+v, want fifo by event", got)
		}
	})
}

// TestOrderingKeyChangeWaitsForQueue: a FIFO webhook's orderingKey cannot
// change while ordered deliveries are pending (409, and nothing changes);
// switching to "none" first lets them go, and then a new key is taken.
func TestOrderingKeyChangeWaitsForQueue(t *testing.T) {
	storetest.Each(t, func(t *testing.T, st *store.Store) {
		s := newTestServer(t, st)
		_, token := s.user(t, "fifo-busy@example.com")
		var hook orderingJSON
		s.call(t, http.MethodPost, "/api/v1/webhooks", token, map[string]any{"name": "fifo", "url": "https://example.com/b", "events": []string{"*"},
			"ordering": "fifo", "orderingKey": "data.conversationId"}, http.StatusCreated, &hook)
		// No dispatcher runs here: both deliveries stay pending.
		for range 2 {
			s.call(t, http.MethodPost, "/api/v1/events", token, map[string]any{"event": "message.new", "data": map[string]any{"conversationId": "c1"}},
				http.StatusAccepted, nil)
		}
		if e := wantError(t, s.do(t, http.MethodPatch, "/api/v1/webhooks/"+hook.ID, token, map[string]any{"orderingKey": "data.contactId"}), http.StatusConflict); !strings.Contains(e.Message, "orderingKey cannot change") {
			t.Errorf("409 message %q, want it to say orderingKey cannot change", e.Message)
		}
		var got orderingJSON
		s.call(t, http.MethodGet, "/api/v1/webhooks/"+hook.ID, token, nil, http.StatusOK, &got)
		if got.OrderingKey != "data.conversationId" {
			t.Errorf("after the refused change orderingKey = %q, want data.conversationId", got.OrderingKey)
		}
		// The same key is no change.
		s.call(t, http.MethodPatch, "/api/v1/webhooks/"+hook.ID, token, map[string]any{"orderingKey": "data.conversationId"}, http.StatusOK, &got)
		s.call(t, http.MethodPatch, "/api/v1/webhooks/"+hook.ID, token, map[string]any{"ordering": "none"}, http.StatusOK, &got)
		s.call(t, http.MethodPatch, "/api/v1/webhooks/"+hook.ID, token, map[string]any{"ordering": "fifo", "orderingKey": "data.contactId"}, http.StatusOK, &got)
		if got.Ordering != "fifo" || got.OrderingKey != "data.contactId" {
			t.Errorf("after none then fifo = %+v, want fifo by data.contactId", got)
		}
	})
}
