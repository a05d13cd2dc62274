package delivery

import (
	"context"
	"encoding/json"
	"fmt"
	"hash/fnv"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/webhookd/webhookd/store"
	"github.com/webhookd/webhookd/store/storetest"
)

// orderLog is what an ordered receiver saw: each key's events in the order
// they arrived, and each delivery's attempts.
type orderLog struct {
	mu       sync.Mutex
	byKey    map[string][]int
	attempts map[string]int // by webhook-id (the delivery id)
	inFlight map[string]int // sends of a key being answered now
	overlap  []string       // keys that had two sends at once
	okCount  int
}

// orderedReceiver answers like a receiver that fails about 10% of first
// attempts (chosen by a hash of the delivery id, so the choice does not
// depend on timing), and records the order each key's events succeed in.
func orderedReceiver(t *testing.T) (*receiver, *orderLog) {
	t.Helper()
	ol := &orderLog{byKey: map[string][]int{}, attempts: map[string]int{}, inFlight: map[string]int{}}
	var rc *receiver
	rc = newReceiver(t, func(w http.ResponseWriter, r *http.Request, n int) {
		var env struct {
			Data struct {
				Key string `json:"conversationId"`
				N   int    `json:"n"`
			} `json:"data"`
		}
		rc.mu.Lock()
		body := rc.got[n-1].Body
		rc.mu.Unlock()
		if err := json.Unmarshal(body, &env); err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		id := r.Header.Get("Webhook-Id")
		h := fnv.New32a()
		h.Write([]byte(id))
		ol.mu.Lock()
		ol.attempts[id]++
		first := ol.attempts[id] == 1
		key := env.Data.Key
		if ol.inFlight[key]++; ol.inFlight[key] > 1 {
			ol.overlap = append(ol.overlap, key)
		}
		fail := first && h.Sum32()%10 == 0
		if !fail {
			ol.byKey[key] = append(ol.byKey[key], env.Data.N)
			ol.okCount++
		}
		ol.mu.Unlock()
		defer func() {
			ol.mu.Lock()
			ol.inFlight[key]--
			ol.mu.Unlock()
		}()
		if fail {
			w.WriteHeader(http.StatusServiceUnavailable)
			return
		}
		w.WriteHeader(http.StatusOK)
	})
	return rc, ol
}

func (ol *orderLog) delivered() int {
	ol.mu.Lock()
	defer ol.mu.Unlock()
	return ol.okCount
}

// TestOrderedDelivery: 1,000 events over 20 keys to a FIFO webhook whose
// receiver fails 10% of first attempts arrive, each key's in the order
// they were accepted, one at a time per key, while the keys go in
// parallel.
func TestOrderedDelivery(t *testing.T) {
	storetest.Each(t, func(t *testing.T, st *store.Store) {
		const events, keys = 1000, 20
		rc, ol := orderedReceiver(t)
		u := newUser(t, st)
		w, err := st.CreateWebhook(context.Background(), store.CreateWebhookParams{TenantID: u.ID, Name: "fifo", URL: rc.URL,
			Events: []string{"*"}, Secret: "secret-" + store.NewID(), IsActive: true,
			Ordering: store.OrderingFIFO, OrderingKey: "data.conversationId"})
		if err != nil {
			t.Fatalf("create webhook: %v", err)
		}
		cfg := testConfig(t, st)
		cfg.Workers, cfg.PerWebhook, cfg.BatchSize = 16, 16, 32
		d := startDispatcher(t, cfg)
		// Published in batches of 10 while the dispatcher runs, so that
		// publishing, leasing and completing interleave.
		for lo := 0; lo < events; lo += 10 {
			batch := make([]store.PublishParams, 0, 10)
			for n := lo; n < lo+10; n++ {
				batch = append(batch, store.PublishParams{TenantID: u.ID, Type: "message.new", OccurredAt: st.Now(),
					Payload: fmt.Appendf(nil, `{"conversationId":"c-%d","n":%d}`, n%keys, n)})
			}
			if _, err := st.PublishEvents(context.Background(), batch); err != nil {
				t.Fatalf("publish: %v", err)
			}
			d.Wake()
		}
		// 1,000 deliveries, 50 one after the other per key: on a loaded
		// machine under -race that outlasts waitDeadline, so this wait
		// has a bound of its own (a bound, not a timed assertion).
		deadline := time.Now().Add(5 * time.Minute)
		for ol.delivered() < events {
			if time.Now().After(deadline) {
				t.Fatalf("timed out waiting for every event to arrive: %d of %d", ol.delivered(), events)
			}
			time.Sleep(10 * time.Millisecond)
		}
		waitFor(t, "no delivery left pending", func() bool { return pending(t, st, w) == 0 })
		if failed := failedFirst(ol); failed == 0 {
			t.Errorf("the receiver failed no first attempt; want about 10%%")
		}
		ol.mu.Lock()
		defer ol.mu.Unlock()
		if ol.okCount != events {
			t.Errorf("%d deliveries succeeded, want %d", ol.okCount, events)
		}
		for k := range keys {
			key := fmt.Sprintf("c-%d", k)
			got := ol.byKey[key]
			if len(got) != events/keys {
				t.Errorf("key %s: %d events arrived, want %d", key, len(got), events/keys)
			}
			for i, n := range got {
				if want := k + i*keys; n != want {
					t.Fatalf("key %s: event %d arrived as number %d of the key, want event %d there (order %v)", key, n, i, want, got)
				}
			}
		}
		if len(ol.overlap) > 0 {
			t.Errorf("keys %v had two sends in flight at once", ol.overlap)
		}
	})
}

// failedFirst is how many first attempts the receiver failed.
func failedFirst(ol *orderLog) int {
	ol.mu.Lock()
	defer ol.mu.Unlock()
	n := 0
	for id := range ol.attempts {
		h := fnv.New32a()
		h.Write([]byte(id))
		if h.Sum32()%10 == 0 {
			n++
		}
	}
	return n
}
