package server_test

import (
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/webhookd/webhookd/server"
	"github.com/webhookd/webhookd/store"
	"github.com/webhookd/webhookd/store/storetest"
)

// batchResult is POST /api/v1/events/batch's answer: one event's answer
// per event, and whether its idempotency key replayed an earlier one.
type batchResult struct {
	Data []struct {
		eventResult
		Replayed bool `json:"replayed"`
	} `json:"data"`
}

func TestPublishBatch(t *testing.T) {
	storetest.Each(t, func(t *testing.T, st *store.Store) {
		s := newTestServer(t, st)
		_, token := s.user(t, "a@example.com")
		const url = "https://example.com/hook"
		all := s.hookTo(t, token, url, "*")
		messages := s.hookTo(t, token, url, "message.*")
		_, otherToken := s.user(t, "b@example.com")
		other := s.hookTo(t, otherToken, url, "*")
		wantPending := func(t *testing.T, allN, messagesN int64) {
			t.Helper()
			if got := s.pending(t, token, all.ID); got != allN {
				t.Errorf("the * webhook has %d pending deliveries, want %d", got, allN)
			}
			if got := s.pending(t, token, messages.ID); got != messagesN {
				t.Errorf("the message.* webhook has %d pending deliveries, want %d", got, messagesN)
			}
			if got := s.pending(t, otherToken, other.ID); got != 0 {
				t.Errorf("another user's webhook has %d pending deliveries, want 0", got)
			}
		}

		t.Run("every event, in order, fanned out", func(t *testing.T) {
			var res batchResult
			s.call(t, http.MethodPost, "/api/v1/events/batch", token, map[string]any{"events": []map[string]any{
				{"event": "message.new", "data": map[string]any{"n": 0}},
				{"event": "conversation.created", "data": map[string]any{"n": 1}, "timestamp": "2024-01-01T12:00:00.000Z"},
				{"event": "message.new", "data": []int{2}, "idempotencyKey": "batch-k1"},
			}}, http.StatusAccepted, &res)
			wantTypes := []string{"message.new", "conversation.created", "message.new"}
			wantDeliveries := []int{2, 1, 2}
			if len(res.Data) != 3 {
				t.Fatalf("%d results, want 3", len(res.Data))
			}
			for i, r := range res.Data {
				if r.ID == "" || r.Event != wantTypes[i] || r.Deliveries != wantDeliveries[i] || r.Replayed {
					t.Errorf("result %d = %+v, want a new %s with %d deliveries", i, r, wantTypes[i], wantDeliveries[i])
				}
				var ev eventJSON
				s.call(t, http.MethodGet, "/api/v1/events/"+r.ID, token, nil, http.StatusOK, &ev)
				if want := fmt.Sprint(i); !strings.Contains(string(ev.Data), want) || ev.Event != wantTypes[i] {
					t.Errorf("event %d = %+v, want its own type and data", i, ev)
				}
				if i == 1 && ev.Timestamp != "2024-01-01T12:00:00.000Z" {
					t.Errorf("event 1's timestamp = %s, want the one given", ev.Timestamp)
				}
			}
			wantPending(t, 3, 2)
		})

		t.Run("idempotency keys, within a batch and across", func(t *testing.T) {
			var first batchResult
			s.call(t, http.MethodPost, "/api/v1/events/batch", token, map[string]any{"events": []map[string]any{
				{"event": "message.new", "data": 1, "idempotencyKey": "batch-k2"},
				{"event": "message.new", "data": 1, "idempotencyKey": "batch-k2"},
				{"event": "message.new", "data": []int{2}, "idempotencyKey": "batch-k1"},
			}}, http.StatusAccepted, &first)
			if len(first.Data) != 3 || first.Data[0].Replayed || !first.Data[1].Replayed || first.Data[1].ID != first.Data[0].ID || !first.Data[2].Replayed {
				t.Errorf("results = %+v; want the first new, the second its replay, the third a replay of the earlier batch's key", first.Data)
			}
			// Only the first of the three is new.
			wantPending(t, 4, 3)

			// A key used again with other content is refused, naming the
			// event, and none of the batch is published (issue 12, item 5).
			for name, events := range map[string][]map[string]any{
				"against an earlier batch": {
					{"event": "message.new", "data": 9, "idempotencyKey": "batch-k3"},
					{"event": "message.new", "data": []int{3}, "idempotencyKey": "batch-k1"},
				},
				"within the batch": {
					{"event": "message.new", "data": 9, "idempotencyKey": "batch-k3"},
					{"event": "message.new", "data": 10, "idempotencyKey": "batch-k3"},
				},
			} {
				e := wantError(t, s.do(t, http.MethodPost, "/api/v1/events/batch", token, map[string]any{"events": events}),
					http.StatusUnprocessableEntity, "events[1].idempotencyKey")
				if !strings.Contains(e.Message, "events[1].idempotencyKey") || !strings.Contains(e.Message, "different content") {
					t.Errorf("%s: message %q, want it to name events[1].idempotencyKey and say why", name, e.Message)
				}
			}
			wantPending(t, 4, 3)
		})

		t.Run("all or nothing: every bad event is named", func(t *testing.T) {
			resp := s.do(t, http.MethodPost, "/api/v1/events/batch", token, rawBody(`{"events":[
				{"event":"message.new","data":{}},
				{"event":"no.such.event","data":{}},
				{"event":"message.new","data":{},"bogus":1},
				{"event":"message.new"},
				["not","an","object"],
				{"event":"message.new","data":{},"timestamp":"yesterday","idempotencyKey":""}
			]}`))
			e := wantError(t, resp, http.StatusBadRequest, "events[1].event", "events[2].bogus", "events[3].data", "events[4]",
				"events[5].timestamp", "events[5].idempotencyKey")
			if _, ok := e.Detail("events[0].event"); ok {
				t.Errorf("the good event was named: %s", resp.Body)
			}
			wantPending(t, 4, 3)
		})

		t.Run("the batch itself", func(t *testing.T) {
			one := map[string]any{"event": "message.new", "data": 1}
			tooMany := make([]map[string]any, server.MaxBatchEvents+1)
			for i := range tooMany {
				tooMany[i] = one
			}
			for name, body := range map[string]any{
				"no events":   map[string]any{},
				"empty":       map[string]any{"events": []any{}},
				"too many":    map[string]any{"events": tooMany},
				"not a list":  map[string]any{"events": one},
				"other field": map[string]any{"events": []any{one}, "event": "message.new"},
			} {
				t.Run(name, func(t *testing.T) {
					field := "events"
					if name == "other field" {
						field = "event"
					}
					wantError(t, s.do(t, http.MethodPost, "/api/v1/events/batch", token, body), http.StatusBadRequest, field)
				})
			}
			wantError(t, s.do(t, http.MethodPost, "/api/v1/events/batch", token, map[string]any{"events": []any{one}}, "Idempotency-Key", "k"),
				http.StatusBadRequest, "Idempotency-Key")
			big := `{"events":[{"event":"message.new","data":"` + strings.Repeat("a", 5<<20) + `"}]}`
			wantError(t, s.do(t, http.MethodPost, "/api/v1/events/batch", token, rawBody(big)), http.StatusRequestEntityTooLarge)
			wantError(t, s.do(t, http.MethodPost, "/api/v1/events/batch", "", map[string]any{"events": []any{one}}), http.StatusUnauthorized)
			wantPending(t, 4, 3)
		})

		t.Run("a thousand events in one request", func(t *testing.T) {
			events := make([]map[string]any, server.MaxBatchEvents)
			for i := range events {
				events[i] = map[string]any{"event": "campaign.started", "data": map[string]int{"contact": i}}
			}
			var res batchResult
			s.call(t, http.MethodPost, "/api/v1/events/batch", token, map[string]any{"events": events}, http.StatusAccepted, &res)
			seen := map[string]bool{}
			for _, r := range res.Data {
				seen[r.ID] = true
			}
			if len(res.Data) != server.MaxBatchEvents || len(seen) != server.MaxBatchEvents {
				t.Errorf("%d results with %d distinct ids, want %d of each", len(res.Data), len(seen), server.MaxBatchEvents)
			}
			wantPending(t, 4+server.MaxBatchEvents, 3)
		})
	})
}
