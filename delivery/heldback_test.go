package delivery

import (
	"testing"
	"time"

	"github.com/webhookd/webhookd/store"
)

// TestLeftSomeBehind checks when a lease counts as having left due
// deliveries that a finished send would let go (issue 18, item 4): only
// then does a finished send wake the loop. A lease that took every due
// delivery, each of a webhook below its cap and without a rate limit,
// left nothing; at 1,000 tenants' 5,000 webhooks nearly every lease woken
// by a finished send took nothing.
func TestLeftSomeBehind(t *testing.T) {
	d := NewDispatcher(DispatcherConfig{Workers: 256, PerWebhook: 2})
	one := []store.LeasedDelivery{{WebhookID: "a"}}
	for _, c := range []struct {
		name     string
		leased   []store.LeasedDelivery
		inFlight map[string]int
		skip     skipped
		want     bool
	}{
		{"took every due delivery", one, nil, skipped{}, false},
		{"took nothing", nil, nil, skipped{}, false},
		{"two webhooks below their caps", []store.LeasedDelivery{{WebhookID: "a"}, {WebhookID: "b"}}, map[string]int{"b": 0}, skipped{}, false},
		{"filled the batch", one, nil, skipped{more: true}, true},
		{"skipped a webhook at its cap", one, nil, skipped{webhooks: []string{"b"}}, true},
		{"held an owner to its cap", one, nil, skipped{owners: []string{"t"}}, true},
		{"a paced webhook waits", one, nil, skipped{paced: time.Unix(1, 0)}, true},
		{"filled a webhook's cap", []store.LeasedDelivery{{WebhookID: "a"}, {WebhookID: "a"}}, nil, skipped{}, true},
		{"filled it with one in flight", one, map[string]int{"a": 1}, skipped{}, true},
		{"a rate-limited webhook's budget", []store.LeasedDelivery{{WebhookID: "a", RateLimit: 5}}, nil, skipped{}, true},
	} {
		if got := d.leftSomeBehind(c.leased, c.inFlight, c.skip); got != c.want {
			t.Errorf("%s: left some behind %v, want %v", c.name, got, c.want)
		}
	}
}

// TestSendWakesOnlyWhenSomethingWasLeft checks that a finished send does
// not wake the loop after a lease that left nothing behind, whatever the
// pool's state, and does as before otherwise, a new dispatcher included.
func TestSendWakesOnlyWhenSomethingWasLeft(t *testing.T) {
	d := NewDispatcher(DispatcherConfig{Workers: 256, PerWebhook: 64})
	if !d.wakeAfterSendLocked(0, 0) {
		t.Fatalf("a new dispatcher, idle: no wake, want one")
	}
	d.heldBack.Store(false)
	if d.wakeAfterSendLocked(0, 0) {
		t.Errorf("idle after a lease that left nothing: wake, want none")
	}
	if d.wakeAfterSendLocked(32, 63) {
		t.Errorf("webhook and owner crossing their marks after a lease that left nothing: wake, want none")
	}
	d.heldBack.Store(true)
	if !d.wakeAfterSendLocked(0, 0) {
		t.Errorf("idle after a lease that left some behind: no wake, want one")
	}
}
