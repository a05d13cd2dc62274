package store_test

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/webhookd/webhookd/internal/wire"
	"github.com/webhookd/webhookd/store"
	"github.com/webhookd/webhookd/store/storetest"
)

func TestOrderingKeyValue(t *testing.T) {
	at := time.Date(2026, 12, 1, 9, 30, 0, 5e6, time.UTC)
	data := []byte(`{"conversationId":"c-1","n":42,"f":1.50,"ok":true,"nil":null,"obj":{"b":1,"a":[1,2]},"list":["x",{"id":"y"}]}`)
	for _, c := range []struct{ path, want string }{
		{"data.conversationId", "c-1"},
		{"data.n", "42"},
		{"data.f", "1.50"},
		{"data.ok", "true"},
		{"data.nil", ""},
		{"data.missing", ""},
		{"data.obj", `{"a":[1,2],"b":1}`},
		{"data.obj.a.1", "2"},
		{"data.list.1.id", "y"},
		{"data.list.7", ""},
		{"data.list.x", ""},
		{"data.conversationId.deeper", ""},
		{"event", "message.new"},
		{"event.x", ""},
		{"timestamp", wire.Time(at)},
		{"other", ""},
	} {
		if got := store.OrderingKeyValue(c.path, "message.new", at, data); got != c.want {
			t.Errorf("OrderingKeyValue(%q) = %q, want %q", c.path, got, c.want)
		}
	}
	if store.EnvelopeTimeLayout != wire.TimeLayout {
		t.Errorf("envelope time layout %q, want wire.TimeLayout %q", store.EnvelopeTimeLayout, wire.TimeLayout)
	}
}

// orderedFixture is a tenant with a FIFO webhook keyed by data.k and an
// unordered one on the same events.
type orderedFixture struct {
	s         *store.Store
	c         *clock
	tenant    string
	fifo, any store.Webhook
}

func newOrderedFixture(t *testing.T, s *store.Store, c *clock) *orderedFixture {
	t.Helper()
	u := newUser(t, s, "fifo@example.com")
	fifo, err := s.CreateWebhook(context.Background(), store.CreateWebhookParams{TenantID: u.TenantID, Name: "fifo",
		URL: "https://example.com/fifo", Events: []string{"*"}, Secret: "whsec_x", IsActive: true,
		Ordering: store.OrderingFIFO, OrderingKey: "data.k"})
	if err != nil {
		t.Fatalf("create fifo webhook: %v", err)
	}
	if fifo.Ordering != store.OrderingFIFO || fifo.OrderingKey != "data.k" {
		t.Fatalf("created %+v, want ordering fifo by data.k", fifo)
	}
	return &orderedFixture{s: s, c: c, tenant: u.TenantID, fifo: fifo, any: newWebhook(t, s, u.TenantID, "*")}
}

// publish accepts one batch of events, data {"k": key, "n": n} each.
func (f *orderedFixture) publish(t *testing.T, events ...[2]any) {
	t.Helper()
	batch := make([]store.PublishParams, len(events))
	for i, e := range events {
		batch[i] = store.PublishParams{TenantID: f.tenant, Type: "message.new",
			Payload: fmt.Appendf(nil, `{"k":%q,"n":%d}`, e[0], e[1]), OccurredAt: f.c.t}
	}
	if _, err := f.s.PublishEvents(context.Background(), batch); err != nil {
		t.Fatalf("publish: %v", err)
	}
}

// lease leases every due delivery and returns the FIFO webhook's, by n.
func (f *orderedFixture) lease(t *testing.T) map[int]store.LeasedDelivery {
	t.Helper()
	leased, err := f.s.LeaseDeliveries(context.Background(), store.LeaseParams{Limit: 100, LeaseFor: time.Minute})
	if err != nil {
		t.Fatalf("lease: %v", err)
	}
	out := map[int]store.LeasedDelivery{}
	var other []store.Completion
	for _, l := range leased {
		if l.WebhookID != f.fifo.ID {
			other = append(other, done(l, true, nil))
			continue
		}
		var d struct{ N int }
		if err := json.Unmarshal(l.Payload, &d); err != nil {
			t.Fatalf("payload %s: %v", l.Payload, err)
		}
		if !l.Ordered {
			t.Errorf("delivery %d of the FIFO webhook leased unordered", d.N)
		}
		out[d.N] = l
	}
	f.complete(t, other...)
	return out
}

func (f *orderedFixture) complete(t *testing.T, cs ...store.Completion) {
	t.Helper()
	if _, err := f.s.CompleteDeliveries(context.Background(), cs); err != nil {
		t.Fatalf("complete: %v", err)
	}
}

// done is the completion of l: a success, or a failure retried at next
// (nil: failed for good).
func done(l store.LeasedDelivery, ok bool, next *time.Time) store.Completion {
	c := store.Completion{DeliveryID: l.ID, LeaseToken: l.LeaseToken, Log: store.Log{
		WebhookID: l.WebhookID, EventID: l.EventID, DeliveryID: l.ID, EventType: l.EventType, Attempt: l.Attempt,
		Status: store.AttemptSuccess, StatusCode: 200, RequestHeaders: map[string]string{}, RequestBody: []byte("{}"),
	}}
	if !ok {
		c.Log.Status, c.Log.StatusCode, c.NextAttemptAt = store.AttemptFailed, 500, next
	}
	return c
}

func keysOf(m map[int]store.LeasedDelivery) []int {
	out := make([]int, 0, len(m))
	for n := range m {
		out = append(out, n)
	}
	slices.Sort(out)
	return out
}

// TestOrderedDeliveryLease: only the oldest pending delivery of each key
// is leased; a failed attempt keeps its place until its retry succeeds
// or it fails for good, and then the next goes.
func TestOrderedDeliveryLease(t *testing.T) {
	c := &clock{}
	storetest.Each(t, func(t *testing.T, s *store.Store) {
		c.t = time.Date(2026, 12, 1, 9, 0, 0, 0, time.UTC)
		f := newOrderedFixture(t, s, c)
		f.publish(t, [2]any{"a", 1}, [2]any{"a", 2}, [2]any{"b", 3}, [2]any{"a", 4})
		f.publish(t, [2]any{"b", 5})

		got := f.lease(t)
		if !slices.Equal(keysOf(got), []int{1, 3}) {
			t.Fatalf("first lease took %v of the FIFO webhook, want the heads of a and b: [1 3]", keysOf(got))
		}
		if got[1].OrderingKey != "a" || got[3].OrderingKey != "b" {
			t.Errorf("keys %q, %q; want a, b", got[1].OrderingKey, got[3].OrderingKey)
		}
		if next, err := s.NextDueAt(context.Background(), nil); err != nil || next == nil || next.Year() > 3000 {
			t.Errorf("next due = %v, %v; want the leases' end, not a waiting delivery's", next, err)
		}
		retry := c.t.Add(time.Minute)
		f.complete(t, done(got[1], false, &retry), done(got[3], true, nil))

		if got = f.lease(t); !slices.Equal(keysOf(got), []int{5}) {
			t.Fatalf("after 1 failed and 3 succeeded: leased %v, want [5] (a waits for 1's retry)", keysOf(got))
		}
		f.complete(t, done(got[5], true, nil))
		if got = f.lease(t); len(got) != 0 {
			t.Fatalf("leased %v while 1 waits for its retry, want nothing", keysOf(got))
		}

		c.t = c.t.Add(2 * time.Minute)
		got = f.lease(t)
		if !slices.Equal(keysOf(got), []int{1}) || got[1].Attempt != 2 {
			t.Fatalf("at 1's retry: leased %v (attempt %d), want [1] again, attempt 2", keysOf(got), got[1].Attempt)
		}
		f.complete(t, done(got[1], false, nil)) // retries exhausted: failed, and 2 goes
		for _, n := range []int{2, 4} {
			got = f.lease(t)
			if !slices.Equal(keysOf(got), []int{n}) {
				t.Fatalf("leased %v, want [%d]", keysOf(got), n)
			}
			f.complete(t, done(got[n], true, nil))
		}
		if got = f.lease(t); len(got) != 0 {
			t.Fatalf("leased %v after every delivery finished", keysOf(got))
		}
	}, store.WithClock(c.now))
}

// TestOrderedReplayAndRedeliver: replayed and redelivered deliveries of a
// FIFO webhook join the tail of their keys' queues, in order.
func TestOrderedReplayAndRedeliver(t *testing.T) {
	c := &clock{}
	storetest.Each(t, func(t *testing.T, s *store.Store) {
		ctx := context.Background()
		c.t = time.Date(2026, 12, 1, 9, 0, 0, 0, time.UTC)
		f := newOrderedFixture(t, s, c)
		f.publish(t, [2]any{"a", 1}, [2]any{"a", 2}, [2]any{"a", 3})
		for n := 1; n <= 3; n++ {
			got := f.lease(t)
			if !slices.Equal(keysOf(got), []int{n}) {
				t.Fatalf("leased %v, want [%d]", keysOf(got), n)
			}
			f.complete(t, done(got[n], true, nil))
			c.t = c.t.Add(time.Second)
		}
		f.publish(t, [2]any{"a", 4})
		head := f.lease(t)
		if !slices.Equal(keysOf(head), []int{4}) {
			t.Fatalf("leased %v, want [4]", keysOf(head))
		}
		n, err := s.Replay(ctx, f.tenant, f.fifo.ID, store.ReplayParams{})
		if err != nil || n != 3 {
			t.Fatalf("replay = %d, %v; want the 3 finished deliveries", n, err)
		}
		if got := f.lease(t); len(got) != 0 {
			t.Fatalf("leased %v while 4 is in flight, want the replayed ones behind it", keysOf(got))
		}
		f.complete(t, done(head[4], true, nil))
		for n := 1; n <= 3; n++ {
			got := f.lease(t)
			if !slices.Equal(keysOf(got), []int{n}) {
				t.Fatalf("replayed: leased %v, want [%d]", keysOf(got), n)
			}
			if n == 2 {
				// Redelivering 1 now puts it behind 3.
				logs, _, err := s.ListLogs(ctx, f.tenant, f.fifo.ID, store.LogFilter{Page: store.Page{Limit: 100}})
				if err != nil {
					t.Fatal(err)
				}
				var first string
				for _, l := range logs {
					if l.DeliveryID == head[4].ID {
						continue
					}
					first = l.ID // newest first: the last is 1's first attempt
				}
				if _, err := s.Redeliver(ctx, f.tenant, f.fifo.ID, first); err != nil {
					t.Fatalf("redeliver: %v", err)
				}
				// Asking again while it waits its turn changes nothing.
				if _, err := s.Redeliver(ctx, f.tenant, f.fifo.ID, first); err != nil {
					t.Fatalf("redeliver again: %v", err)
				}
			}
			f.complete(t, done(got[n], true, nil))
		}
		got := f.lease(t)
		if !slices.Equal(keysOf(got), []int{1}) {
			t.Fatalf("redelivered: leased %v, want [1] last", keysOf(got))
		}
		f.complete(t, done(got[1], true, nil))
		if got = f.lease(t); len(got) != 0 {
			t.Fatalf("leased %v after every delivery finished", keysOf(got))
		}
	}, store.WithClock(c.now))
}

// TestOrderingSwitchedOff: a webhook no longer ordered lets its waiting
// deliveries go at once.
func TestOrderingSwitchedOff(t *testing.T) {
	c := &clock{}
	storetest.Each(t, func(t *testing.T, s *store.Store) {
		c.t = time.Date(2026, 12, 1, 9, 0, 0, 0, time.UTC)
		f := newOrderedFixture(t, s, c)
		f.publish(t, [2]any{"a", 1}, [2]any{"a", 2}, [2]any{"a", 3})
		first := f.lease(t)
		if !slices.Equal(keysOf(first), []int{1}) {
			t.Fatalf("leased %v, want [1]", keysOf(first))
		}
		none := store.OrderingNone
		w, err := s.UpdateWebhook(context.Background(), f.tenant, f.fifo.ID, store.WebhookPatch{Ordering: &none})
		if err != nil || w.Ordering != store.OrderingNone || w.OrderingKey != "" {
			t.Fatalf("switch off = %+v, %v; want ordering none without a key", w, err)
		}
		leased, err := s.LeaseDeliveries(context.Background(), store.LeaseParams{Limit: 100, LeaseFor: time.Minute})
		if err != nil || len(leased) != 2 {
			t.Fatalf("after switching off: leased %d, %v; want 2 and 3 together", len(leased), err)
		}
		f.complete(t, done(first[1], true, nil), done(leased[0], true, nil), done(leased[1], true, nil))
	}, store.WithClock(c.now))
}

// TestOrderedQueuePlans: looking up a batch's keys and letting the next
// of each finished key go read deliveries through
// deliveries_ordering_idx and the key, never the whole table, on a
// PostgreSQL without statistics as on SQLite.
func TestOrderedQueuePlans(t *testing.T) {
	c := &clock{}
	storetest.Each(t, func(t *testing.T, s *store.Store) {
		c.t = time.Date(2026, 12, 1, 9, 0, 0, 0, time.UTC)
		f := newOrderedFixture(t, s, c)
		var events [][2]any
		for n := range 300 {
			events = append(events, [2]any{fmt.Sprintf("k-%d", n%30), n})
		}
		f.publish(t, events...)
		waiting, promote, err := s.ExplainOrdering(context.Background(), f.fifo.ID, []string{"k-1", "k-2", "k-3"})
		if err != nil {
			t.Fatal(err)
		}
		for what, plan := range map[string]string{"keys waiting": waiting, "promote next": promote} {
			if s.Kind() == store.SQLite {
				if strings.Contains(plan, "SCAN deliveries") || strings.Contains(plan, "SCAN h") || !strings.Contains(plan, "deliveries_ordering_idx") {
					t.Errorf("%s: plan reads deliveries other than through the ordering index:\n%s", what, plan)
				}
				continue
			}
			// (A HashAggregate over the few keys' VALUES list is fine.)
			if strings.Contains(plan, "Seq Scan") || strings.Contains(plan, "Hash Join") || strings.Contains(plan, "deliveries_webhook_id_idx") ||
				!strings.Contains(plan, "deliveries_ordering_idx") {
				t.Errorf("%s: plan reads deliveries other than through the ordering index:\n%s", what, plan)
			}
		}
		t.Logf("keys waiting:\n%s\npromote next:\n%s", waiting, promote)
	}, store.WithClock(c.now))
}
