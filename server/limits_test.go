package server_test

import (
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/webhookd/webhookd/store"
	"github.com/webhookd/webhookd/store/storetest"
)

// TestWebhookLimitPerOwner (issue 12, item 4): one webhook past
// --max-webhooks-per-owner is refused with 400 naming the limit; another
// owner still has its own allowance.
func TestWebhookLimitPerOwner(t *testing.T) {
	storetest.Each(t, func(t *testing.T, st *store.Store) {
		s := newTestServer(t, st)
		_, token := cheapUser(t, s, "a@example.com")
		_, other := cheapUser(t, s, "b@example.com")
		body := map[string]any{"name": "h", "url": "https://example.com/hook", "events": []string{"*"}}
		for range 2 {
			s.createWebhook(t, token, body)
		}
		e := wantError(t, s.do(t, http.MethodPost, "/api/v1/webhooks", token, body), http.StatusBadRequest)
		if !strings.Contains(e.Message, "limit of 2 webhooks per owner reached (--max-webhooks-per-owner)") {
			t.Errorf("message %q, want it to name the limit", e.Message)
		}
		if ids := s.webhookIDs(t, token); len(ids) != 2 {
			t.Errorf("%d webhooks after the refusal, want 2", len(ids))
		}
		s.createWebhook(t, other, body)
	}, store.WithMaxWebhooksPerOwner(2))
}

// TestDeliveryLimitPerRequest (issue 12, item 4): a batch whose events
// would create more deliveries than --max-deliveries-per-request is
// refused with 400 naming the limit, and creates nothing.
func TestDeliveryLimitPerRequest(t *testing.T) {
	storetest.Each(t, func(t *testing.T, st *store.Store) {
		s := newTestServer(t, st)
		_, token := cheapUser(t, s, "a@example.com")
		var hooks []string
		for i := range 3 {
			hooks = append(hooks, s.hookTo(t, token, fmt.Sprintf("https://example.com/%d", i), "*").ID)
		}
		events := func(n int) map[string]any {
			evs := make([]map[string]any, n)
			for i := range evs {
				evs[i] = map[string]any{"event": "message.new", "data": i}
			}
			return map[string]any{"events": evs}
		}
		e := wantError(t, s.do(t, http.MethodPost, "/api/v1/events/batch", token, events(4)), http.StatusBadRequest)
		if !strings.Contains(e.Message, "12 deliveries, more than the limit of 10 per request (--max-deliveries-per-request)") {
			t.Errorf("message %q, want it to name the count and the limit", e.Message)
		}
		for _, h := range hooks {
			if p := s.pending(t, token, h); p != 0 {
				t.Errorf("webhook %s has %d pending deliveries after the refusal, want 0", h, p)
			}
		}
		// One event over the limit cannot be split: its message says so
		// rather than "send fewer events per request" (new-user pass).
		for range 8 {
			hooks = append(hooks, s.hookTo(t, token, fmt.Sprintf("https://example.com/%d", len(hooks)), "conversation.created").ID)
		}
		e = wantError(t, s.do(t, http.MethodPost, "/api/v1/events", token, map[string]any{"event": "conversation.created", "data": 1}), http.StatusBadRequest)
		if !strings.Contains(e.Message, "the event would create 11 deliveries (one per matching webhook)") || strings.Contains(e.Message, "fewer events") {
			t.Errorf("message %q, want it to name one event's deliveries and not advise fewer events", e.Message)
		}
		var res batchResult
		s.call(t, http.MethodPost, "/api/v1/events/batch", token, events(3), http.StatusAccepted, &res)
		if len(res.Data) != 3 || res.Data[2].Deliveries != 3 {
			t.Errorf("batch of 3 = %+v, want 3 events with 3 deliveries each", res.Data)
		}
	}, store.WithMaxDeliveriesPerRequest(10))
}
