package delivery

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/webhookd/webhookd/store"
	"github.com/webhookd/webhookd/store/storetest"
)

// TestWokenLoopLingersBeforeLeasing checks that a loop woken soon after a
// lease that took fewer than it asked for waits out the lease linger
// before it leases again, so that a busy dispatcher's wake-ups (every
// publish commit, every finished send) share one lease transaction, and
// that the linger ends at shutdown. The linger here is an hour: while the
// loop lingers, a delivery published since is still there for the test's
// own lease to take.
func TestWokenLoopLingersBeforeLeasing(t *testing.T) {
	storetest.Each(t, func(t *testing.T, st *store.Store) {
		rc := newReceiver(t, nil)
		u := newUser(t, st)
		newWebhook(t, st, u.ID, rc.URL, "*")
		d := NewDispatcher(testConfig(t, st))
		d.leaseLinger = time.Hour
		// Busy with no send in flight, so that one delivery shows it.
		d.lingerInFlight = 0
		lingering := make(chan struct{}, 1)
		d.onLinger = func() {
			select {
			case lingering <- struct{}{}:
			default:
			}
		}
		// The first lease takes the one delivery, fewer than it asks for;
		// its send's end wakes the loop, which lingers then.
		publish(t, st, u.ID, "contact.created", `{"n":1}`)
		r := run(t, d)
		recv(t, "the loop to linger", lingering)

		publish(t, st, u.ID, "contact.created", `{"n":2}`)
		d.Wake()
		leased, err := st.LeaseDeliveries(context.Background(), store.LeaseParams{Limit: 10, LeaseFor: time.Minute})
		if err != nil {
			t.Fatalf("lease: %v", err)
		}
		if len(leased) != 1 {
			t.Fatalf("the test's own lease took %d deliveries while the loop lingered, want the 1 published since", len(leased))
		}
		if n := rc.count(); n != 1 {
			t.Fatalf("%d requests arrived, want only the first event's", n)
		}
		// Shutdown cuts the linger short: stop fails the test if Run
		// does not return.
		r.stop()
	})
}

// TestLeaseAfterAFullBatchDoesNotLinger checks that a lease that took all
// it asked for is followed by the next as soon as a worker is free,
// whatever the linger: a backlog is leased batch after batch. With one
// worker, every lease but the last is full, and the loop is never woken to
// linger.
func TestLeaseAfterAFullBatchDoesNotLinger(t *testing.T) {
	storetest.Each(t, func(t *testing.T, st *store.Store) {
		rc := newReceiver(t, nil)
		u := newUser(t, st)
		w := newWebhook(t, st, u.ID, rc.URL, "*")
		for _, data := range []string{`{"n":1}`, `{"n":2}`, `{"n":3}`} {
			publish(t, st, u.ID, "contact.created", data)
		}
		cfg := testConfig(t, st)
		cfg.Workers, cfg.BatchSize = 1, 1
		d := NewDispatcher(cfg)
		d.leaseLinger = time.Hour
		d.onLinger = func() { t.Error("the loop lingered after a full batch") }
		r := run(t, d)
		settled(t, st, w, 3)
		r.stop()
	})
}

// TestQuietLoopDoesNotLinger checks that a loop with fewer sends in flight
// than make it busy leases at once when woken, even within the linger of
// a lease that took fewer than it asked for: at a steady low rate every
// event would otherwise wait out the linger. Each of three events is
// published after the previous one arrived, with the linger at an hour.
func TestQuietLoopDoesNotLinger(t *testing.T) {
	storetest.Each(t, func(t *testing.T, st *store.Store) {
		rc := newReceiver(t, nil)
		u := newUser(t, st)
		w := newWebhook(t, st, u.ID, rc.URL, "*")
		d := NewDispatcher(testConfig(t, st))
		d.leaseLinger = time.Hour
		d.onLinger = func() { t.Error("the loop lingered with no send in flight") }
		r := run(t, d)
		for i := 1; i <= 3; i++ {
			publish(t, st, u.ID, "contact.created", fmt.Sprintf(`{"n":%d}`, i))
			d.Wake()
			settled(t, st, w, i)
		}
		r.stop()
	})
}
