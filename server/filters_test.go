package server_test

import (
	"net/http"
	"strings"
	"testing"

	"github.com/webhookd/webhookd/store"
	"github.com/webhookd/webhookd/store/storetest"
)

type filterTestJSON struct {
	Matches bool   `json:"matches"`
	Failed  string `json:"failed"`
	Reason  string `json:"reason"`
}

type publishJSON struct {
	ID         string `json:"id"`
	Deliveries int    `json:"deliveries"`
}

// TestWebhookFilterField: filter is saved compacted on create, returned by
// GET and lists, replaced by PATCH and PUT, kept by a PATCH without it,
// and removed by null.
func TestWebhookFilterField(t *testing.T) {
	storetest.Each(t, func(t *testing.T, st *store.Store) {
		s := newTestServer(t, st)
		_, token := s.user(t, "f@example.com")
		hook := s.createWebhook(t, token, map[string]any{"name": "f", "url": "https://example.com/f", "events": []string{"message.new"},
			"filter": map[string]any{"data.direction": "inbound", "data.type": map[string]any{"$in": []string{"text", "image"}}}})
		if got := string(hook.Filter); got != `{"data.direction":"inbound","data.type":{"$in":["text","image"]}}` {
			t.Fatalf("created filter = %s", got)
		}
		var got webhookJSON
		s.call(t, http.MethodGet, "/api/v1/webhooks/"+hook.ID, token, nil, http.StatusOK, &got)
		if string(got.Filter) != string(hook.Filter) {
			t.Fatalf("GET filter = %s, want %s", got.Filter, hook.Filter)
		}
		var list page[webhookJSON]
		s.call(t, http.MethodGet, "/api/v1/webhooks", token, nil, http.StatusOK, &list)
		if len(list.Data) != 1 || string(list.Data[0].Filter) != string(hook.Filter) {
			t.Fatalf("list = %+v, want the filter shown", list.Data)
		}
		s.call(t, http.MethodPatch, "/api/v1/webhooks/"+hook.ID, token, map[string]any{"name": "renamed"}, http.StatusOK, &got)
		if string(got.Filter) != string(hook.Filter) {
			t.Fatalf("a PATCH without filter changed it to %s", got.Filter)
		}
		s.call(t, http.MethodPatch, "/api/v1/webhooks/"+hook.ID, token, map[string]any{"filter": map[string]any{"event": "message.new"}}, http.StatusOK, &got)
		if string(got.Filter) != `{"event":"message.new"}` {
			t.Fatalf("PATCH filter = %s", got.Filter)
		}
		s.call(t, http.MethodPut, "/api/v1/webhooks/"+hook.ID, token, map[string]any{"filter": map[string]any{"data.n": map[string]any{"$gt": 1}}}, http.StatusOK, &got)
		if string(got.Filter) != `{"data.n":{"$gt":1}}` {
			t.Fatalf("PUT filter = %s", got.Filter)
		}
		s.call(t, http.MethodPatch, "/api/v1/webhooks/"+hook.ID, token, rawBody(`{"filter": null}`), http.StatusOK, &got)
		if string(got.Filter) != "null" {
			t.Fatalf("filter after null = %s, want null", got.Filter)
		}
		body := s.getWebhook(t, token, hook.ID)
		if !strings.Contains(body, `"filter":null`) {
			t.Fatalf("GET after clearing = %s, want \"filter\":null", body)
		}
		plain := s.createWebhook(t, token, map[string]any{"name": "p", "url": "https://example.com/p", "events": []string{"*"}})
		if string(plain.Filter) != "null" {
			t.Fatalf("a webhook created without filter shows %s, want null", plain.Filter)
		}
	})
}

// TestWebhookFilterRefused: a bad filter is a 400 naming its place, and
// the webhook is left as it was.
func TestWebhookFilterRefused(t *testing.T) {
	storetest.Each(t, func(t *testing.T, st *store.Store) {
		s := newTestServer(t, st)
		_, token := s.user(t, "f@example.com")
		base := map[string]any{"name": "f", "url": "https://example.com/f", "events": []string{"*"}}
		with := func(filter any) map[string]any {
			b := map[string]any{}
			for k, v := range base {
				b[k] = v
			}
			b["filter"] = filter
			return b
		}
		for _, tt := range []struct {
			filter any
			field  string
		}{
			{map[string]any{"data.type": map[string]any{"$in": "text"}}, "filter.data.type.$in"},
			{map[string]any{"data.type": map[string]any{"$like": "t"}}, "filter.data.type.$like"},
			{map[string]any{"data.text": map[string]any{"$regex": "(?<x>a"}}, "filter.data.text.$regex"},
			{[]any{1}, "filter"},
		} {
			wantError(t, s.do(t, http.MethodPost, "/api/v1/webhooks", token, with(tt.filter)), http.StatusBadRequest, tt.field)
		}
		hook := s.createWebhook(t, token, with(map[string]any{"event": "message.new"}))
		before := s.getWebhook(t, token, hook.ID)
		wantError(t, s.do(t, http.MethodPatch, "/api/v1/webhooks/"+hook.ID, token,
			map[string]any{"filter": map[string]any{"$or": []any{}}}), http.StatusBadRequest, "filter.$or")
		if after := s.getWebhook(t, token, hook.ID); after != before {
			t.Fatalf("a refused PATCH changed the webhook:\n%s\nwas\n%s", after, before)
		}
	})
}

// TestPublishCountsFilteredDeliveries: the 202's deliveries counts only the
// webhooks whose filter matched, and only they receive the event; a test
// send ignores the filter.
func TestPublishCountsFilteredDeliveries(t *testing.T) {
	storetest.Each(t, func(t *testing.T, st *store.Store) {
		s := newTestServer(t, st)
		_, token := s.user(t, "f@example.com")
		rc := newReceiver(t)
		inbound := s.createWebhook(t, token, map[string]any{"name": "in", "url": rc.URL(), "events": []string{"message.new"},
			"filter": map[string]any{"data.direction": "inbound"}})
		media := s.createWebhook(t, token, map[string]any{"name": "media", "url": rc.URL(), "events": []string{"message.*"},
			"filter": map[string]any{"data": map[string]any{"type": map[string]any{"$in": []string{"image", "video"}}}}})
		all := s.hookTo(t, token, rc.URL(), "message.new")
		for _, tt := range []struct {
			data map[string]any
			want int
			to   []string
		}{
			{map[string]any{"direction": "inbound", "type": "text"}, 2, []string{inbound.ID, all.ID}},
			{map[string]any{"direction": "outbound", "type": "image"}, 2, []string{media.ID, all.ID}},
			{map[string]any{"direction": "inbound", "type": "video"}, 3, []string{inbound.ID, media.ID, all.ID}},
			{map[string]any{"direction": "outbound", "type": "text"}, 1, []string{all.ID}},
		} {
			var res publishJSON
			s.call(t, http.MethodPost, "/api/v1/events", token, map[string]any{"event": "message.new", "data": tt.data}, http.StatusAccepted, &res)
			if res.Deliveries != tt.want {
				t.Errorf("publish %v: deliveries = %d, want %d", tt.data, res.Deliveries, tt.want)
			}
		}
		for id, want := range map[string]int64{inbound.ID: 2, media.ID: 2, all.ID: 4} {
			if got := s.pending(t, token, id); got != want {
				t.Errorf("webhook %s has %d pending deliveries, want %d", id, got, want)
			}
		}

		// A test is a test: the filter would refuse this payload.
		if res := s.sendTest(t, token, inbound.ID, "message.new", map[string]any{"direction": "outbound"}); !res.Success {
			t.Fatalf("test send to a filtered webhook = %+v, want it sent whatever the filter", res)
		}
		reqs := rc.requests()
		if len(reqs) != 1 || !strings.Contains(string(reqs[0].Body), `"direction":"outbound"`) {
			t.Fatalf("receiver got %d requests, want the test send's one", len(reqs))
		}
	})
}

// TestFilterTestRoute: POST /api/v1/filters/test answers whether a filter
// matches an event and, when not, which clause failed and why.
func TestFilterTestRoute(t *testing.T) {
	storetest.Each(t, func(t *testing.T, st *store.Store) {
		s := newTestServer(t, st)
		_, token := s.user(t, "f@example.com")
		event := map[string]any{"event": "message.new", "timestamp": "2024-01-01T12:00:00.000Z",
			"data": map[string]any{"direction": "inbound", "type": "text", "channel": map[string]any{"id": "ch_1"}}}
		var res filterTestJSON
		s.call(t, http.MethodPost, "/api/v1/filters/test", token, map[string]any{
			"filter": map[string]any{"data.direction": "inbound", "data.channel.id": "ch_1", "timestamp": map[string]any{"$gte": "2024-01-01T00:00:00.000Z"}},
			"event":  event}, http.StatusOK, &res)
		if res != (filterTestJSON{Matches: true}) {
			t.Errorf("matching filter = %+v, want matches with no failure", res)
		}
		s.call(t, http.MethodPost, "/api/v1/filters/test", token, map[string]any{
			"filter": map[string]any{"data.direction": "inbound", "data.type": map[string]any{"$in": []string{"image", "video"}}},
			"event":  event}, http.StatusOK, &res)
		if res.Matches || res.Failed != "data.type.$in" || !strings.Contains(res.Reason, `"text"`) {
			t.Errorf("failing filter = %+v, want failed data.type.$in with a reason naming \"text\"", res)
		}
		// An event without data or timestamp is tried as {} at the current time.
		s.call(t, http.MethodPost, "/api/v1/filters/test", token, map[string]any{
			"filter": map[string]any{"event": "conversation.created"}, "event": map[string]any{"event": "conversation.created"}}, http.StatusOK, &res)
		if !res.Matches {
			t.Errorf("event-only filter = %+v, want a match", res)
		}

		wantError(t, s.do(t, http.MethodPost, "/api/v1/filters/test", token, map[string]any{
			"filter": map[string]any{"data.type": map[string]any{"$in": "text"}}, "event": event}), http.StatusBadRequest, "filter.data.type.$in")
		wantError(t, s.do(t, http.MethodPost, "/api/v1/filters/test", token, map[string]any{"event": event}), http.StatusBadRequest, "filter")
		wantError(t, s.do(t, http.MethodPost, "/api/v1/filters/test", token, map[string]any{"filter": map[string]any{}}), http.StatusBadRequest, "event")
		wantError(t, s.do(t, http.MethodPost, "/api/v1/filters/test", token, map[string]any{
			"filter": map[string]any{}, "event": map[string]any{"timestamp": "yesterday"}}), http.StatusBadRequest, "event.timestamp")
		wantError(t, s.do(t, http.MethodPost, "/api/v1/filters/test", "", map[string]any{"filter": map[string]any{}, "event": event}), http.StatusUnauthorized)
	})
}
