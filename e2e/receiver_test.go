package e2e

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"sync"
	"testing"
	"time"
)

// arrival is one request a receiver got.
type arrival struct {
	id       string // X-Webhook-Id
	n        int    // data.n of the envelope, -1 when absent
	header   http.Header
	body     []byte
	answered bool // the receiver answered 200 (not cut off first)
}

// receiver is a webhook endpoint in the test process. A gated receiver
// answers its first passFirst requests at once and holds the rest until
// release, or until the sender goes away, so tests know exactly which
// deliveries are in flight.
type receiver struct {
	*httptest.Server
	mu        sync.Mutex
	gate      chan struct{} // nil: never hold
	passFirst int
	arrivals  []*arrival
	held      map[*arrival]bool
	once      sync.Once
}

func newReceiver(t testing.TB) *receiver { return startReceiver(t, nil, 0) }

func newGatedReceiver(t testing.TB, passFirst int) *receiver {
	t.Helper()
	return startReceiver(t, make(chan struct{}), passFirst)
}

func startReceiver(t testing.TB, gate chan struct{}, passFirst int) *receiver {
	t.Helper()
	rc := &receiver{gate: gate, passFirst: passFirst, held: map[*arrival]bool{}}
	rc.Server = httptest.NewServer(rc)
	// Registered before any process, so it runs after they are killed.
	t.Cleanup(func() {
		rc.release()
		rc.Close()
	})
	return rc
}

func (rc *receiver) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(r.Body)
	if err != nil {
		return // the sender went away mid-body
	}
	a := &arrival{id: r.Header.Get("X-Webhook-Id"), n: -1, header: r.Header.Clone(), body: body}
	var env struct {
		Data struct {
			N *int `json:"n"`
		} `json:"data"`
	}
	if json.Unmarshal(body, &env) == nil && env.Data.N != nil {
		a.n = *env.Data.N
	}
	rc.mu.Lock()
	rc.arrivals = append(rc.arrivals, a)
	hold := rc.gate != nil && len(rc.arrivals) > rc.passFirst
	if hold {
		rc.held[a] = true
	}
	rc.mu.Unlock()
	if hold {
		select {
		case <-rc.gate:
		case <-r.Context().Done():
			rc.mu.Lock()
			delete(rc.held, a)
			rc.mu.Unlock()
			return
		}
		rc.mu.Lock()
		delete(rc.held, a)
		rc.mu.Unlock()
	}
	rc.mu.Lock()
	a.answered = true
	rc.mu.Unlock()
	io.WriteString(w, "ok")
}

// release lets held and future requests through.
func (rc *receiver) release() {
	rc.once.Do(func() {
		if rc.gate != nil {
			close(rc.gate)
		}
	})
}

// heldIDs returns the delivery ids of the requests being held now.
func (rc *receiver) heldIDs() []string {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	var ids []string
	for a := range rc.held {
		ids = append(ids, a.id)
	}
	slices.Sort(ids)
	return ids
}

// waitNoneHeld waits until every held request has seen its sender go away,
// so that releasing the gate afterwards answers none of them.
func (rc *receiver) waitNoneHeld(t testing.TB) {
	t.Helper()
	waitFor(t, 30*time.Second, func() (bool, string) {
		ids := rc.heldIDs()
		return len(ids) == 0, fmt.Sprintf("held requests %v to see their sender gone", ids)
	})
}

// all returns a copy of every arrival so far.
func (rc *receiver) all() []arrival {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	out := make([]arrival, len(rc.arrivals))
	for i, a := range rc.arrivals {
		out[i] = *a
	}
	return out
}

// answeredByN counts answered requests per data.n.
func (rc *receiver) answeredByN() map[int]int {
	out := map[int]int{}
	for _, a := range rc.all() {
		if a.answered {
			out[a.n]++
		}
	}
	return out
}

// waitAnswered waits until events 0…n-1 each got at least one answered
// delivery.
func (rc *receiver) waitAnswered(t testing.TB, n int) {
	t.Helper()
	rc.waitAnsweredWithin(t, n, 30*time.Second)
}

// waitAnsweredWithin is waitAnswered with its own deadline, for waits that
// include a lease expiring.
func (rc *receiver) waitAnsweredWithin(t testing.TB, n int, timeout time.Duration) {
	t.Helper()
	waitFor(t, timeout, func() (bool, string) {
		got := rc.answeredByN()
		var missing []int
		for i := range n {
			if got[i] == 0 {
				missing = append(missing, i)
			}
		}
		return len(missing) == 0, fmt.Sprintf("deliveries of events %v", missing)
	})
}

// checkStableIDs checks that every delivery of one event carried the same
// X-Webhook-Id (and webhook-id), and different events different ones.
func (rc *receiver) checkStableIDs(t testing.TB) {
	t.Helper()
	idOf := map[int]string{}
	nOf := map[string]int{}
	for _, a := range rc.all() {
		if a.id == "" || a.header.Get("webhook-id") != a.id {
			t.Errorf("event %d: X-Webhook-Id %q, webhook-id %q; want the same non-empty id", a.n, a.id, a.header.Get("webhook-id"))
		}
		if prev, ok := idOf[a.n]; ok && prev != a.id {
			t.Errorf("event %d delivered with X-Webhook-Id %s and %s, want one id on every attempt", a.n, prev, a.id)
		}
		if prev, ok := nOf[a.id]; ok && prev != a.n {
			t.Errorf("X-Webhook-Id %s used for events %d and %d", a.id, prev, a.n)
		}
		idOf[a.n], nOf[a.id] = a.id, a.n
	}
}
