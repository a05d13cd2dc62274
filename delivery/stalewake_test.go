package delivery

import (
	"testing"
	"time"

	"github.com/webhookd/webhookd/store"
	"github.com/webhookd/webhookd/store/storetest"
)

// TestStaleWake checks which wake-ups the loop leases for (issue 18,
// item 4): after a lease that took all it could, a wake-up called before
// that lease was asked for is stale (the lease saw its change); one called
// after it is not, and nothing is stale after a lease that filled its batch.
func TestStaleWake(t *testing.T) {
	d := NewDispatcher(DispatcherConfig{})
	if d.staleWake() {
		t.Fatalf("before any lease: stale, want not")
	}
	d.Wake()
	d.partialLeaseStart = time.Now()
	if !d.staleWake() {
		t.Errorf("a wake-up called before the partial lease was asked for: not stale, want stale")
	}
	// The monotonic clock moves on between the two calls.
	for !time.Now().After(d.partialLeaseStart) {
	}
	d.Wake()
	if d.staleWake() {
		t.Errorf("a wake-up called after the partial lease was asked for: stale, want not")
	}
	d.partialLeaseStart = time.Time{}
	if d.staleWake() {
		t.Errorf("after a lease that filled its batch: stale, want not")
	}
}

// TestWakeAfterAPartialLeaseDelivers checks that a publish's wake-up that
// comes while the loop is already past its lease is not taken for stale:
// each event, published after the loop has leased and gone idle, arrives,
// with the poll ten minutes off.
func TestWakeAfterAPartialLeaseDelivers(t *testing.T) {
	storetest.Each(t, func(t *testing.T, st *store.Store) {
		rc := newReceiver(t, nil)
		u := newUser(t, st)
		newWebhook(t, st, u.ID, rc.URL, "*")
		d := NewDispatcher(testConfig(t, st))
		r := run(t, d)
		for i := 1; i <= 5; i++ {
			publish(t, st, u.ID, "contact.created", `{"n":1}`)
			d.Wake()
			waitFor(t, "the event's delivery", func() bool { return rc.count() == i })
		}
		r.stop()
	})
}
