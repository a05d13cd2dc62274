package server_test

import (
	"fmt"
	"net/http"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/webhookd/webhookd/internal/wiretest"
	"github.com/webhookd/webhookd/server"
	"github.com/webhookd/webhookd/store"
	"github.com/webhookd/webhookd/store/storetest"
)

// eventResult is POST /api/v1/events's answer; eventJSON is GET
// /api/v1/events/:id.
type (
	eventResult = wiretest.Accepted
	eventJSON   = wiretest.Event
)

func TestPublishEvents(t *testing.T) {
	storetest.Each(t, func(t *testing.T, st *store.Store) {
		s := newTestServer(t, st)
		_, token := s.user(t, "a@example.com")
		const url = "https://example.com/hook"
		all := s.hookTo(t, token, url, "*")
		messages := s.hookTo(t, token, url, "message.*")
		exact := s.hookTo(t, token, url, "message.new")
		conversations := s.hookTo(t, token, url, "conversation.created", "conversation.assigned")
		inactive := s.createWebhook(t, token, map[string]any{"name": "off", "url": url, "events": []string{"*"}, "isActive": false})
		paused := s.hookTo(t, token, url, "*")
		s.call(t, http.MethodPatch, "/api/v1/webhooks/"+paused.ID, token, map[string]any{"isActive": false}, http.StatusOK, nil)
		hooks := map[string]string{"*": all.ID, "message.*": messages.ID, "message.new": exact.ID,
			"conversation.*": conversations.ID, "inactive": inactive.ID, "paused": paused.ID}
		want := map[string]int64{}
		checkPending := func(t *testing.T) {
			t.Helper()
			for name, id := range hooks {
				if got := s.pending(t, token, id); got != want[name] {
					t.Errorf("webhook %s has %d pending deliveries, want %d", name, got, want[name])
				}
			}
		}

		t.Run("fan-out counts matching active webhooks", func(t *testing.T) {
			for _, tt := range []struct {
				event   string
				reaches []string
			}{
				{"message.new", []string{"*", "message.*", "message.new"}},
				{"conversation.created", []string{"*", "conversation.*"}},
				{"conversation.assigned", []string{"*", "conversation.*"}},
				{"campaign.started", []string{"*"}},
			} {
				var res eventResult
				resp := s.call(t, http.MethodPost, "/api/v1/events", token,
					map[string]any{"event": tt.event, "data": map[string]any{"n": 1}}, http.StatusAccepted, &res)
				if res.ID == "" || res.Event != tt.event || res.Deliveries != len(tt.reaches) {
					t.Errorf("publish %s = %s, want an id, the event and %d deliveries", tt.event, resp.Body, len(tt.reaches))
				}
				for _, name := range tt.reaches {
					want[name]++
				}
			}
			checkPending(t)
		})

		t.Run("get returns the data as published", func(t *testing.T) {
			data := `{ "b": 1, "a": [1, 2, {"z": null}], "html": "<a href='x'>&</a>", "uni": "é\u00e9", "n": 1.50e3 }`
			body := `{"event":"message.new","data":` + data + `,"timestamp":"2024-01-01T12:00:00.000Z"}`
			var res eventResult
			s.call(t, http.MethodPost, "/api/v1/events", token, rawBody(body), http.StatusAccepted, &res)
			want["*"]++
			want["message.*"]++
			want["message.new"]++
			var got eventJSON
			s.call(t, http.MethodGet, "/api/v1/events/"+res.ID, token, nil, http.StatusOK, &got)
			wantData := `{"b":1,"a":[1,2,{"z":null}],"html":"<a href='x'>&</a>","uni":"é\u00e9","n":1.50e3}`
			if string(got.Data) != wantData {
				t.Errorf("data = %s, want %s (compacted, key order and escapes kept)", got.Data, wantData)
			}
			if got.ID != res.ID || got.Event != "message.new" || got.Deliveries != 3 || got.IdempotencyKey != nil {
				t.Errorf("event = %+v, want id %s, message.new, 3 deliveries, no idempotency key", got, res.ID)
			}
			if got.Timestamp != "2024-01-01T12:00:00.000Z" {
				t.Errorf("timestamp = %q, want the published 2024-01-01T12:00:00.000Z", got.Timestamp)
			}
			wantRecent(t, "createdAt", &got.CreatedAt)
		})

		t.Run("timestamp with an offset is kept as UTC", func(t *testing.T) {
			var res eventResult
			s.call(t, http.MethodPost, "/api/v1/events", token,
				map[string]any{"event": "campaign.started", "data": 1, "timestamp": "2024-01-01T13:00:00.1234+01:00"}, http.StatusAccepted, &res)
			want["*"]++
			var got eventJSON
			s.call(t, http.MethodGet, "/api/v1/events/"+res.ID, token, nil, http.StatusOK, &got)
			if got.Timestamp != "2024-01-01T12:00:00.123Z" {
				t.Errorf("timestamp = %q, want 2024-01-01T12:00:00.123Z", got.Timestamp)
			}
		})

		t.Run("scalar data and default timestamp", func(t *testing.T) {
			for _, data := range []string{`"text"`, `42`, `[1,2]`, `true`} {
				var res eventResult
				s.call(t, http.MethodPost, "/api/v1/events", token, rawBody(`{"event":"campaign.completed","data":`+data+`}`), http.StatusAccepted, &res)
				want["*"]++
				var got eventJSON
				s.call(t, http.MethodGet, "/api/v1/events/"+res.ID, token, nil, http.StatusOK, &got)
				if string(got.Data) != data {
					t.Errorf("data = %s, want %s", got.Data, data)
				}
				wantRecent(t, "timestamp", &got.Timestamp)
			}
		})

		t.Run("rejected publishes create nothing", func(t *testing.T) {
			big := `"` + strings.Repeat("x", server.MaxEventDataBytes) + `"`
			tests := []struct {
				name   string
				body   any
				status int
				fields []string
			}{
				{"unknown event", map[string]any{"event": "nope.thing", "data": 1}, http.StatusBadRequest, []string{"event"}},
				{"wildcard event", map[string]any{"event": "message.*", "data": 1}, http.StatusBadRequest, []string{"event"}},
				{"missing event", map[string]any{"data": 1}, http.StatusBadRequest, []string{"event"}},
				{"empty event", map[string]any{"event": "", "data": 1}, http.StatusBadRequest, []string{"event"}},
				{"event a number", map[string]any{"event": 1, "data": 1}, http.StatusBadRequest, []string{"event"}},
				{"missing data", map[string]any{"event": "message.new"}, http.StatusBadRequest, []string{"data"}},
				{"both missing", map[string]any{}, http.StatusBadRequest, []string{"event", "data"}},
				{"bad timestamp", map[string]any{"event": "message.new", "data": 1, "timestamp": "yesterday"}, http.StatusBadRequest, []string{"timestamp"}},
				{"timestamp a number", map[string]any{"event": "message.new", "data": 1, "timestamp": 1}, http.StatusBadRequest, []string{"timestamp"}},
				{"idempotency key too long", map[string]any{"event": "message.new", "data": 1, "idempotencyKey": strings.Repeat("k", 256)}, http.StatusBadRequest, []string{"idempotencyKey"}},
				{"idempotency key empty", map[string]any{"event": "message.new", "data": 1, "idempotencyKey": ""}, http.StatusBadRequest, []string{"idempotencyKey"}},
				{"idempotency key control character", map[string]any{"event": "message.new", "data": 1, "idempotencyKey": "a\nb"}, http.StatusBadRequest, []string{"idempotencyKey"}},
				{"unknown field", map[string]any{"event": "message.new", "data": 1, "payload": 1}, http.StatusBadRequest, []string{"payload"}},
				{"malformed", rawBody(`{"event":"message.new","data":{`), http.StatusBadRequest, nil},
				{"trailing data", rawBody(`{"event":"message.new","data":1}{}`), http.StatusBadRequest, nil},
				{"invalid UTF-8", rawBody("{\"event\":\"message.new\",\"data\":\"\xff\"}"), http.StatusBadRequest, nil},
				{"empty body", rawBody(""), http.StatusBadRequest, nil},
				{"deeply nested data", rawBody(`{"event":"message.new","data":` + strings.Repeat("[", 20000) + strings.Repeat("]", 20000) + `}`), http.StatusBadRequest, nil},
				{"data not closed", rawBody(`{"event":"message.new","data":[1,2}`), http.StatusBadRequest, nil},
				{"data over 1 MiB", rawBody(`{"event":"message.new","data":` + big + `}`), http.StatusRequestEntityTooLarge, nil},
				{"body far over 1 MiB", rawBody(`{"event":"message.new","data":` + big + `,"x":"` + strings.Repeat("y", 128<<10) + `"}`), http.StatusRequestEntityTooLarge, nil},
			}
			for _, tt := range tests {
				t.Run(tt.name, func(t *testing.T) {
					wantError(t, s.do(t, http.MethodPost, "/api/v1/events", token, tt.body), tt.status, tt.fields...)
					checkPending(t)
				})
			}
		})

		t.Run("data of exactly 1 MiB is accepted", func(t *testing.T) {
			data := `"` + strings.Repeat("x", server.MaxEventDataBytes-2) + `"`
			var res eventResult
			s.call(t, http.MethodPost, "/api/v1/events", token, rawBody(`{"event":"campaign.started","data":`+data+`}`), http.StatusAccepted, &res)
			want["*"]++
			var got eventJSON
			s.call(t, http.MethodGet, "/api/v1/events/"+res.ID, token, nil, http.StatusOK, &got)
			if string(got.Data) != data {
				t.Errorf("stored data is %d bytes, want the %d published", len(got.Data), len(data))
			}
			checkPending(t)
		})

		t.Run("unknown event ids", func(t *testing.T) {
			for _, id := range []string{store.NewID(), "nope", "1", strings.Repeat("a", 36), all.ID} {
				wantError(t, s.do(t, http.MethodGet, "/api/v1/events/"+id, token, nil), http.StatusNotFound)
			}
		})
	})
}

func TestIdempotency(t *testing.T) {
	storetest.Each(t, func(t *testing.T, st *store.Store) {
		s := newTestServer(t, st)
		_, token := s.user(t, "a@example.com")
		_, tokenB := s.user(t, "b@example.com")
		hook := s.hookTo(t, token, "https://example.com/a", "*")
		hookB := s.hookTo(t, tokenB, "https://example.com/b", "*")

		publish := func(t *testing.T, token string, body any, headers ...string) (eventResult, response) {
			t.Helper()
			var res eventResult
			resp := s.call(t, http.MethodPost, "/api/v1/events", token, body, http.StatusAccepted, &res, headers...)
			return res, resp
		}

		t.Run("body key", func(t *testing.T) {
			first, _ := publish(t, token, map[string]any{"event": "message.new", "data": map[string]int{"v": 1, "w": 2}, "idempotencyKey": "order-1"})
			// The same content, members in another order and spaced
			// differently, replays the first answer.
			again, resp := publish(t, token, rawBody(`{"idempotencyKey":"order-1", "data": {"w":2, "v":1}, "event":"message.new"}`))
			if again != first {
				t.Errorf("repeat = %+v, want the first answer %+v", again, first)
			}
			if resp.Header.Get("Idempotent-Replayed") != "true" {
				t.Errorf("Idempotent-Replayed = %q on a replay, want true", resp.Header.Get("Idempotent-Replayed"))
			}
			// Other content under the key is refused, not dropped
			// (issue 12, item 5): 422 naming the key.
			for name, body := range map[string]map[string]any{
				"data":      {"event": "message.new", "data": map[string]int{"v": 2, "w": 2}, "idempotencyKey": "order-1"},
				"event":     {"event": "campaign.started", "data": map[string]int{"v": 1, "w": 2}, "idempotencyKey": "order-1"},
				"timestamp": {"event": "message.new", "data": map[string]int{"v": 1, "w": 2}, "timestamp": "2020-01-01T00:00:00Z", "idempotencyKey": "order-1"},
			} {
				resp := s.do(t, http.MethodPost, "/api/v1/events", token, body)
				e := wantError(t, resp, http.StatusUnprocessableEntity, "idempotencyKey")
				if !strings.Contains(e.Message, `idempotencyKey "order-1" was already used with different content`) {
					t.Errorf("other %s: message %q, want it to name the key", name, e.Message)
				}
				if resp.Header.Get("Idempotent-Replayed") != "" {
					t.Errorf("other %s: Idempotent-Replayed %q on a refusal", name, resp.Header.Get("Idempotent-Replayed"))
				}
			}
			if p := s.pending(t, token, hook.ID); p != 1 {
				t.Errorf("pending = %d after five publishes with one key, want 1", p)
			}
			var got eventJSON
			s.call(t, http.MethodGet, "/api/v1/events/"+first.ID, token, nil, http.StatusOK, &got)
			if string(got.Data) != `{"v":1,"w":2}` || got.IdempotencyKey == nil || *got.IdempotencyKey != "order-1" {
				t.Errorf("event = %+v (data %s), want the first data and key order-1", got, got.Data)
			}
		})

		t.Run("header key", func(t *testing.T) {
			body := map[string]any{"event": "message.new", "data": 1}
			first, resp := publish(t, token, body, "Idempotency-Key", "order-2")
			if resp.Header.Get("Idempotent-Replayed") != "" {
				t.Errorf("first publish says Idempotent-Replayed %q", resp.Header.Get("Idempotent-Replayed"))
			}
			again, _ := publish(t, token, body, "Idempotency-Key", "order-2")
			if again != first {
				t.Errorf("repeat = %+v, want %+v", again, first)
			}
			// The header and the body name the same key space.
			viaBody, _ := publish(t, token, map[string]any{"event": "message.new", "data": 1, "idempotencyKey": "order-2"})
			if viaBody != first {
				t.Errorf("body key after header key = %+v, want %+v", viaBody, first)
			}
			e := wantError(t, s.do(t, http.MethodPost, "/api/v1/events", token, map[string]any{"event": "message.new", "data": 2}, "Idempotency-Key", "order-2"),
				http.StatusUnprocessableEntity, "Idempotency-Key")
			if !strings.Contains(e.Message, `Idempotency-Key "order-2" was already used with different content`) {
				t.Errorf("header key with other data: message %q, want it to name the key", e.Message)
			}
			if p := s.pending(t, token, hook.ID); p != 2 {
				t.Errorf("pending = %d, want 2", p)
			}
		})

		t.Run("body key wins over header", func(t *testing.T) {
			first, _ := publish(t, token, map[string]any{"event": "message.new", "data": 1, "idempotencyKey": "order-3"}, "Idempotency-Key", "order-2")
			if p := s.pending(t, token, hook.ID); p != 3 {
				t.Errorf("pending = %d, want 3: order-3 is a new key", p)
			}
			again, _ := publish(t, token, map[string]any{"event": "message.new", "data": 1}, "Idempotency-Key", "order-3")
			if again != first {
				t.Errorf("header order-3 = %+v, want %+v", again, first)
			}
		})

		t.Run("no key publishes every time", func(t *testing.T) {
			a, _ := publish(t, token, map[string]any{"event": "message.new", "data": 1})
			b, _ := publish(t, token, map[string]any{"event": "message.new", "data": 1})
			if a.ID == b.ID {
				t.Errorf("two publishes without a key share id %s", a.ID)
			}
			if p := s.pending(t, token, hook.ID); p != 5 {
				t.Errorf("pending = %d, want 5", p)
			}
		})

		t.Run("keys are per user", func(t *testing.T) {
			mine, _ := publish(t, tokenB, map[string]any{"event": "message.new", "data": 1, "idempotencyKey": "order-1"})
			if mine.Deliveries != 1 {
				t.Errorf("user B's publish with A's key = %+v, want a new event with 1 delivery", mine)
			}
			if p := s.pending(t, tokenB, hookB.ID); p != 1 {
				t.Errorf("user B pending = %d, want 1", p)
			}
			if p := s.pending(t, token, hook.ID); p != 5 {
				t.Errorf("user A pending = %d, want 5", p)
			}
		})

		t.Run("bad header key", func(t *testing.T) {
			wantError(t, s.do(t, http.MethodPost, "/api/v1/events", token, map[string]any{"event": "message.new", "data": 1},
				"Idempotency-Key", strings.Repeat("k", 256)), http.StatusBadRequest, "idempotencyKey")
			// A header may carry bytes that are not UTF-8, which PostgreSQL
			// refuses in text: a 400, not a 500.
			wantError(t, s.do(t, http.MethodPost, "/api/v1/events", token, map[string]any{"event": "message.new", "data": 1},
				"Idempotency-Key", "order-\xff\xfe"), http.StatusBadRequest, "idempotencyKey")
			if p := s.pending(t, token, hook.ID); p != 5 {
				t.Errorf("pending = %d after a rejected publish, want 5", p)
			}
		})
	})
}

// clock is a store clock tests move by hand.
type clock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *clock) set(t time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = t
}

func TestIdempotencyWindow(t *testing.T) {
	c := &clock{}
	storetest.Each(t, func(t *testing.T, st *store.Store) {
		start := time.Now().UTC()
		c.set(start)
		s := newTestServer(t, st)
		_, token := s.user(t, "a@example.com")
		hook := s.hookTo(t, token, "https://example.com/a", "*")
		body := map[string]any{"event": "message.new", "data": 1, "idempotencyKey": "daily-report"}

		var first, again, later eventResult
		s.call(t, http.MethodPost, "/api/v1/events", token, body, http.StatusAccepted, &first)
		c.set(start.Add(store.IdempotencyWindow - time.Minute))
		s.call(t, http.MethodPost, "/api/v1/events", token, body, http.StatusAccepted, &again)
		if again != first {
			t.Errorf("within the window: %+v, want the first answer %+v", again, first)
		}
		c.set(start.Add(store.IdempotencyWindow + time.Minute))
		resp := s.call(t, http.MethodPost, "/api/v1/events", token, body, http.StatusAccepted, &later)
		if later.ID == first.ID || later.Deliveries != 1 || resp.Header.Get("Idempotent-Replayed") != "" {
			t.Errorf("after the window: %+v (replayed %q), want a new event", later, resp.Header.Get("Idempotent-Replayed"))
		}
		if p := s.pending(t, token, hook.ID); p != 2 {
			t.Errorf("pending = %d, want 2", p)
		}
		// The old event stays readable; the key now names the new one.
		s.call(t, http.MethodGet, "/api/v1/events/"+first.ID, token, nil, http.StatusOK, nil)
		var replay eventResult
		s.call(t, http.MethodPost, "/api/v1/events", token, body, http.StatusAccepted, &replay)
		if replay != later {
			t.Errorf("replay after renewal = %+v, want %+v", replay, later)
		}
	}, store.WithClock(c.Now))
}

func TestConcurrentRequests(t *testing.T) {
	storetest.Each(t, func(t *testing.T, st *store.Store) {
		for _, mode := range []string{"store", "group commit"} {
			t.Run(mode, func(t *testing.T) {
				var opts []serverOption
				if mode == "group commit" {
					g := st.NewGroupCommitter(64)
					t.Cleanup(g.Close)
					opts = append(opts, func(c *server.Config) { c.Publisher = g })
				}
				s := newTestServer(t, st, opts...)
				_, token := s.user(t, strings.ReplaceAll(mode, " ", "-")+"@example.com")
				concurrentRequests(t, s, token)
			})
		}
	})
}

// concurrentRequests publishes and writes from many goroutines at once.
func concurrentRequests(t *testing.T, s *testServer, token string) {
	hook := s.hookTo(t, token, "https://example.com/a", "*")
	const n = 16

	t.Run("one idempotency key from many publishers", func(t *testing.T) {
		results := make([]response, n)
		errs := make([]error, n)
		var wg sync.WaitGroup
		for i := range n {
			wg.Go(func() {
				results[i], errs[i] = s.send(http.MethodPost, "/api/v1/events", token,
					// One publish retried: the same content each time.
					map[string]any{"event": "message.new", "data": 1, "idempotencyKey": "same"})
			})
		}
		wg.Wait()
		var ids []string
		for i, r := range results {
			if errs[i] != nil {
				t.Fatalf("publish %d: %v", i, errs[i])
			}
			if r.Status != http.StatusAccepted {
				t.Fatalf("publish %d: status %d, want 202; body %s", i, r.Status, r.Body)
			}
			var res eventResult
			decodeJSON(t, r, &res)
			if res.Deliveries != 1 {
				t.Errorf("publish %d: %+v, want 1 delivery", i, res)
			}
			ids = append(ids, res.ID)
		}
		if distinct := slices.Compact(slices.Sorted(slices.Values(ids))); len(distinct) != 1 {
			t.Errorf("concurrent publishes with one key made events %v, want one", distinct)
		}
		if p := s.pending(t, token, hook.ID); p != 1 {
			t.Errorf("pending = %d, want 1", p)
		}
	})

	t.Run("writes never fail with busy", func(t *testing.T) {
		errs := make([]error, 3*n)
		var wg sync.WaitGroup
		for i := range n {
			wg.Go(func() {
				errs[i] = wantStatus(s.send(http.MethodPost, "/api/v1/webhooks", token,
					map[string]any{"name": "c", "url": "https://example.com/c", "events": []string{"campaign.completed"}}))(http.StatusCreated)
			})
			wg.Go(func() {
				errs[n+i] = wantStatus(s.send(http.MethodPost, "/api/v1/events", token, map[string]any{"event": "campaign.started", "data": i}))(http.StatusAccepted)
			})
			wg.Go(func() {
				errs[2*n+i] = wantStatus(s.send(http.MethodPatch, "/api/v1/webhooks/"+hook.ID, token, map[string]any{"description": "d"}))(http.StatusOK)
			})
		}
		wg.Wait()
		for _, err := range errs {
			if err != nil {
				t.Error(err)
			}
		}
		if got := len(s.webhookIDs(t, token)); got != n+1 {
			t.Errorf("%d webhooks, want %d", got, n+1)
		}
		if p := s.pending(t, token, hook.ID); p != n+1 {
			t.Errorf("pending = %d, want %d", p, n+1)
		}
	})
}

// countingWaker counts wake-ups.
type countingWaker struct{ n atomic.Int64 }

func (w *countingWaker) Wake() { w.n.Add(1) }

func TestWakesDispatcher(t *testing.T) {
	storetest.Each(t, func(t *testing.T, st *store.Store) {
		w := &countingWaker{}
		s := newTestServer(t, st, func(c *server.Config) { c.Waker = w })
		_, token := s.user(t, "a@example.com")
		hook := s.hookTo(t, token, "https://example.com/a", "message.new")
		wantWakes := func(t *testing.T, what string, want int64) {
			t.Helper()
			if got := w.n.Load(); got != want {
				t.Errorf("after %s: %d wake-ups, want %d", what, got, want)
			}
		}
		wantWakes(t, "creating a webhook", 0)
		s.call(t, http.MethodPost, "/api/v1/events", token, map[string]any{"event": "message.new", "data": 1, "idempotencyKey": "k"}, http.StatusAccepted, nil)
		wantWakes(t, "a publish with a delivery", 1)
		s.call(t, http.MethodPost, "/api/v1/events", token, map[string]any{"event": "message.new", "data": 1, "idempotencyKey": "k"}, http.StatusAccepted, nil)
		wantWakes(t, "a replayed publish", 1)
		s.call(t, http.MethodPost, "/api/v1/events", token, map[string]any{"event": "campaign.started", "data": 1}, http.StatusAccepted, nil)
		wantWakes(t, "a publish nobody subscribes to", 1)
		s.call(t, http.MethodPatch, "/api/v1/webhooks/"+hook.ID, token, map[string]any{"isActive": false}, http.StatusOK, nil)
		wantWakes(t, "pausing", 1)
		s.call(t, http.MethodPatch, "/api/v1/webhooks/"+hook.ID, token, map[string]any{"isActive": true}, http.StatusOK, nil)
		wantWakes(t, "resuming", 2)
	})
}

// wantStatus turns a response into an error unless it has the status.
func wantStatus(resp response, err error) func(int) error {
	return func(want int) error {
		if err != nil {
			return err
		}
		if resp.Status != want {
			return fmt.Errorf("status %d, want %d; body %s", resp.Status, want, resp.Body)
		}
		return nil
	}
}
