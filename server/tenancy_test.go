package server_test

import (
	"context"
	"encoding/json"
	"log/slog"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/webhookd/webhookd/delivery"
	"github.com/webhookd/webhookd/store"
	"github.com/webhookd/webhookd/store/storetest"
)

// tenant is one user and a row of every kind it owns.
type tenant struct {
	name  string
	token string
	key   apiKeyJSON
	rc    *receiver
	all   webhookJSON // subscribed to "*"
	msgs  webhookJSON // subscribed to "message.*"
	log   string      // a test send's log entry
	event eventResult // published with the idempotency key "shared-key"
}

// newTenant creates a user with two webhooks to its own receiver, a logged
// test send, a published event and an API key. Every payload names the
// tenant, so a receiver can tell whose events it got.
func newTenant(t testing.TB, s *testServer, name string) *tenant {
	t.Helper()
	tn := &tenant{name: name, rc: newReceiver(t)}
	_, tn.token = s.user(t, name+"@example.com")
	tn.all = s.hookTo(t, tn.token, tn.rc.URL(), "*")
	tn.msgs = s.hookTo(t, tn.token, tn.rc.URL(), "message.*")
	tn.log = s.sendTest(t, tn.token, tn.all.ID, "message.new", map[string]string{"owner": name}).LogID
	s.call(t, http.MethodPost, "/api/v1/events", tn.token,
		map[string]any{"event": "message.new", "data": map[string]string{"owner": name}, "idempotencyKey": "shared-key"},
		http.StatusAccepted, &tn.event)
	tn.key = newAPIKey(t, s, tn.token, name+"'s publisher")
	return tn
}

// views are the GET paths that show everything the tenant owns.
func (tn *tenant) views() []string {
	var out []string
	for _, id := range []string{tn.all.ID, tn.msgs.ID} {
		w := "/api/v1/webhooks/" + id
		out = append(out, w, w+"/logs", w+"/stats")
	}
	return append(out, "/api/v1/webhooks", "/api/v1/api-keys", "/api/v1/events/"+tn.event.ID,
		"/api/v1/webhooks/"+tn.all.ID+"/logs/"+tn.log)
}

// tenancyRequest is one request an intruder makes with a victim's ids.
type tenancyRequest struct {
	method, path string
	body         any
}

// intrusions are every route that takes an id, called with victim's ids
// (and, where a route takes two, with one of the intruder's own).
func intrusions(intruder, victim *tenant) []tenancyRequest {
	v := "/api/v1/webhooks/" + victim.all.ID
	own := "/api/v1/webhooks/" + intruder.all.ID
	return []tenancyRequest{
		{http.MethodGet, v, nil},
		{http.MethodGet, "/api/v1/webhooks/" + victim.msgs.ID, nil},
		{http.MethodPatch, v, map[string]any{"name": "mine now"}},
		{http.MethodPatch, v, map[string]any{"url": intruder.rc.URL()}},
		{http.MethodPatch, v, map[string]any{"isActive": false}},
		{http.MethodPut, v, map[string]any{"events": []string{"campaign.started"}}},
		{http.MethodPut, v, map[string]any{"headers": map[string]string{"X-Stolen": "1"}, "secret": "intruder-secret-0123"}},
		{http.MethodDelete, v, nil},
		{http.MethodPost, v + "/test", nil},
		{http.MethodPost, v + "/test", map[string]any{"eventType": "message.new", "payload": map[string]string{"owner": intruder.name}}},
		{http.MethodGet, v + "/logs", nil},
		{http.MethodGet, v + "/logs?status=success&limit=1", nil},
		{http.MethodGet, v + "/logs/" + victim.log, nil},
		{http.MethodGet, own + "/logs/" + victim.log, nil},
		{http.MethodGet, v + "/logs/" + intruder.log, nil},
		{http.MethodGet, v + "/stats", nil},
		{http.MethodGet, v + "/stats/series", nil},
		{http.MethodGet, v + "/logs/stream", nil},
		{http.MethodGet, v + "/logs/stream?status=failed", nil},
		{http.MethodGet, v + "/stats?since=2000-01-01T00:00:00Z", nil},
		{http.MethodPost, v + "/rotate-secret", nil},
		{http.MethodPost, v + "/rotate-secret", map[string]string{"secret": "intruder-chosen-secret"}},
		{http.MethodPost, v + "/replay", map[string]string{"since": "2000-01-01T00:00:00Z"}},
		{http.MethodPost, v + "/replay", map[string]string{"since": "2000-01-01T00:00:00Z", "status": "failed"}},
		{http.MethodPost, v + "/logs/" + victim.log + "/redeliver", nil},
		{http.MethodPost, own + "/logs/" + victim.log + "/redeliver", nil},
		{http.MethodPost, v + "/logs/" + intruder.log + "/redeliver", nil},
		{http.MethodGet, "/api/v1/events/" + victim.event.ID, nil},
		{http.MethodDelete, "/api/v1/api-keys/" + victim.key.ID, nil},
	}
}

// withFreshIDs replaces the victim's ids in path with ids nobody has, for
// the answer a missing row gets.
func withFreshIDs(path string, victim *tenant) string {
	for _, id := range []string{victim.all.ID, victim.msgs.ID, victim.log, victim.event.ID, victim.key.ID} {
		path = strings.ReplaceAll(path, id, store.NewID())
	}
	return path
}

func TestTenancy(t *testing.T) {
	storetest.EachTarget(t, func(t *testing.T, db string) {
		st := storetest.Open(t, db)
		raw, kind := openRaw(t, db)
		s := newTestServer(t, st)
		a := newTenant(t, s, "alice")
		b := newTenant(t, s, "bob")
		tenants := []*tenant{a, b}
		var views []string
		for _, tn := range tenants {
			views = append(views, tn.views()...)
		}
		// snapshot covers every table and both tenants' views; the
		// receivers' counts are summed into one number.
		snapshot := func(t *testing.T) dbSnapshot {
			t.Helper()
			snap := takeSnapshot(t, s, raw, kind, a.token, a.views(), a.rc)
			other := takeSnapshot(t, s, raw, kind, b.token, b.views(), b.rc)
			for p, h := range other.API {
				snap.API["bob:"+p] = h
			}
			snap.Received += other.Received
			return snap
		}
		before := snapshot(t)

		for _, pair := range [][2]*tenant{{b, a}, {a, b}} {
			intruder, victim := pair[0], pair[1]
			t.Run(intruder.name+" walks "+victim.name+"'s ids", func(t *testing.T) {
				for cred, token := range map[string]string{"token": intruder.token, "API key": intruder.key.Key} {
					for _, r := range intrusions(intruder, victim) {
						resp := s.do(t, r.method, r.path, token, r.body)
						if resp.Status != http.StatusNotFound {
							t.Errorf("%s's %s: %s %s: status %d, want 404; body %s", intruder.name, cred, r.method, r.path, resp.Status, resp.Body)
							continue
						}
						got := wantError(t, resp, http.StatusNotFound)
						// The answer must not tell "someone else's" from
						// "nobody's".
						missing := wantError(t, s.do(t, r.method, withFreshIDs(r.path, victim), token, r.body), http.StatusNotFound)
						if got.Message != missing.Message {
							t.Errorf("%s %s: another user's row answers %q, a missing one %q: they must not differ", r.method, r.path, got.Message, missing.Message)
						}
						for _, secret := range []string{victim.all.Secret, victim.msgs.Secret, victim.key.Key} {
							if strings.Contains(string(resp.Body), secret) {
								t.Errorf("%s %s: the 404 shows a secret of %s's", r.method, r.path, victim.name)
							}
						}
					}
				}
			})
		}

		t.Run("nothing changed", func(t *testing.T) {
			if d := before.diff(snapshot(t)); d != "" {
				t.Errorf("the walks changed the database: %s", d)
			}
			for _, tn := range tenants {
				wantAccepted(t, s, tn.key.Key, tn.name+"'s API key after the walks")
			}
		})

		t.Run("lists show only the caller's rows", func(t *testing.T) {
			for _, tn := range tenants {
				ids := s.webhookIDs(t, tn.token)
				slices.Sort(ids)
				want := []string{tn.all.ID, tn.msgs.ID}
				slices.Sort(want)
				if !slices.Equal(ids, want) {
					t.Errorf("%s lists webhooks %v, want %v", tn.name, ids, want)
				}
				var keys page[apiKeyJSON]
				s.call(t, http.MethodGet, "/api/v1/api-keys", tn.token, nil, http.StatusOK, &keys)
				if len(keys.Data) != 1 || keys.Data[0].ID != tn.key.ID {
					t.Errorf("%s lists API keys %+v, want only %s", tn.name, keys.Data, tn.key.ID)
				}
			}
		})

		t.Run("idempotency keys are per user", func(t *testing.T) {
			if a.event.ID == b.event.ID {
				t.Fatalf("alice and bob published with the same idempotency key and got the same event %s", a.event.ID)
			}
			for _, tn := range tenants {
				if tn.event.Deliveries != 2 {
					t.Errorf("%s's first message.new reached %d webhooks, want 2 (%s's own)", tn.name, tn.event.Deliveries, tn.name)
				}
			}
			// Bob's retry with the key replays bob's event, not alice's.
			resp := s.call(t, http.MethodPost, "/api/v1/events", b.key.Key,
				map[string]any{"event": "message.new", "data": map[string]string{"owner": "bob"}, "idempotencyKey": "shared-key"}, http.StatusAccepted, nil)
			var res eventResult
			decodeJSON(t, resp, &res)
			if res.ID != b.event.ID || resp.Header.Get("Idempotent-Replayed") != "true" {
				t.Errorf("bob's retry = %+v (replayed %q), want bob's event %s replayed", res, resp.Header.Get("Idempotent-Replayed"), b.event.ID)
			}
		})

		t.Run("events reach only their user's webhooks", func(t *testing.T) {
			pending := func(tn *tenant) [2]int64 {
				return [2]int64{s.pending(t, tn.token, tn.all.ID), s.pending(t, tn.token, tn.msgs.ID)}
			}
			pa, pb := pending(a), pending(b)
			for _, tn := range tenants {
				for _, cred := range []string{tn.token, tn.key.Key} {
					for ev, want := range map[string]int{"message.new": 2, "conversation.created": 1, "conversation.assigned": 1, "campaign.completed": 1} {
						var res eventResult
						s.call(t, http.MethodPost, "/api/v1/events", cred,
							map[string]any{"event": ev, "data": map[string]string{"owner": tn.name}}, http.StatusAccepted, &res)
						if res.Deliveries != want {
							t.Errorf("%s's %s reached %d webhooks, want %d (%s's own)", tn.name, ev, res.Deliveries, want, tn.name)
						}
					}
				}
			}
			// Each published 4 events twice: 8 to "*", 2 to "message.*".
			for tn, was := range map[*tenant][2]int64{a: pa, b: pb} {
				if got, want := pending(tn), [2]int64{was[0] + 8, was[1] + 2}; got != want {
					t.Errorf("%s's pending (all, messages) = %v, want %v", tn.name, got, want)
				}
			}
			// In the tables: no delivery pairs one user's event with
			// another user's webhook.
			var crossed int
			err := raw.QueryRow(`SELECT COUNT(*) FROM deliveries d JOIN events e ON e.id = d.event_id
				JOIN webhooks w ON w.id = d.webhook_id WHERE e.tenant_id <> w.tenant_id`).Scan(&crossed)
			if err != nil {
				t.Fatalf("count crossed deliveries: %v", err)
			}
			if crossed != 0 {
				t.Errorf("%d deliveries carry one user's event to another user's webhook", crossed)
			}
		})

		t.Run("delivered events reach only their user's receiver", func(t *testing.T) {
			runDispatcher(t, st)
			deadline := time.Now().Add(time.Minute)
			for _, tn := range tenants {
				for _, id := range []string{tn.all.ID, tn.msgs.ID} {
					for s.pending(t, tn.token, id) > 0 {
						if time.Now().After(deadline) {
							t.Fatalf("%s's webhook %s still has deliveries pending after a minute", tn.name, id)
						}
						time.Sleep(20 * time.Millisecond)
					}
				}
			}
			for _, tn := range tenants {
				reqs := tn.rc.requests()
				// A test send, the first event to both webhooks, then 8 + 2.
				if want := 1 + 2 + 8 + 2; len(reqs) < want {
					t.Errorf("%s's receiver got %d requests, want at least %d", tn.name, len(reqs), want)
				}
				for _, c := range reqs {
					var env struct {
						Data struct {
							Owner string `json:"owner"`
						} `json:"data"`
					}
					if err := json.Unmarshal(c.Body, &env); err != nil {
						t.Fatalf("%s's receiver got %s: %v", tn.name, c.Body, err)
					}
					if env.Data.Owner != tn.name {
						t.Errorf("%s's receiver got %s's event: %s", tn.name, env.Data.Owner, c.Body)
					}
				}
			}
		})
	})
}

// runDispatcher delivers st's due deliveries until t ends.
func runDispatcher(t testing.TB, st *store.Store) {
	t.Helper()
	sender := delivery.NewSender(delivery.SenderConfig{Version: "test", Timeout: 10 * time.Second})
	t.Cleanup(sender.Close)
	disp := delivery.NewDispatcher(delivery.DispatcherConfig{
		Store: st, Sender: sender, Schedule: delivery.Schedule{Gaps: []time.Duration{time.Second}},
		Logger: slog.New(slog.NewTextHandler(testLogWriter{t}, nil)), Timeout: 10 * time.Second,
		Poll: 50 * time.Millisecond, Grace: 2 * time.Second,
	})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- disp.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("dispatcher Run: %v", err)
			}
		case <-time.After(30 * time.Second):
			t.Errorf("dispatcher did not stop within 30s")
		}
	})
}
