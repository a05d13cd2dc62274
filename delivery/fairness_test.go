package delivery

import (
	"context"
	"net/http"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/webhookd/webhookd/store"
	"github.com/webhookd/webhookd/store/storetest"
)

// publishMany accepts n events for the user in one batch.
func publishMany(t testing.TB, st *store.Store, userID string, n int) {
	t.Helper()
	batch := make([]store.PublishParams, n)
	for i := range batch {
		batch[i] = store.PublishParams{TenantID: userID, Type: "message.new", Payload: []byte(`{"i":` + strconv.Itoa(i) + `}`), OccurredAt: time.Now()}
	}
	if _, err := st.PublishEvents(context.Background(), batch); err != nil {
		t.Fatalf("publish %d events: %v", n, err)
	}
}

// arrivals is a fast receiver that notes when the last of its requests
// arrived.
type arrivals struct {
	*receiver
	mu   sync.Mutex
	last time.Time
}

func newArrivals(t testing.TB) *arrivals {
	t.Helper()
	a := &arrivals{}
	a.receiver = newReceiver(t, func(w http.ResponseWriter, _ *http.Request, _ int) {
		a.mu.Lock()
		a.last = time.Now()
		a.mu.Unlock()
	})
	return a
}

func (a *arrivals) lastAt() time.Time {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.last
}

// TestOwnerCannotHoldAllWorkers is issue 12, item 3: owner B's receivers
// never answer and B has hundreds of deliveries queued; owner A's
// deliveries to a fast receiver must still all arrive while every one of
// B's requests is still hanging, long before the first of them times out
// and frees a worker. Without a per-owner cap B holds every worker and A
// waits for B's timeouts.
func TestOwnerCannotHoldAllWorkers(t *testing.T) {
	storetest.Each(t, func(t *testing.T, st *store.Store) {
		var stuck atomic.Int64 // B's requests not yet returned
		hanging := newReceiver(t, func(_ http.ResponseWriter, r *http.Request, _ int) {
			stuck.Add(1)
			defer stuck.Add(-1)
			<-r.Context().Done()
		})
		fast := newArrivals(t)
		a, b := newUser(t, st), newUser(t, st)
		var hooksB []store.Webhook
		for i := range 20 {
			hooksB = append(hooksB, newWebhook(t, st, b.ID, hanging.URL+"/"+strconv.Itoa(i), "*"))
		}
		hookA := newWebhook(t, st, a.ID, fast.URL, "*")
		publishMany(t, st, b.ID, 15) // 300 deliveries

		cfg := testConfig(t, st)
		// Few workers, so B could take them all; a timeout far past the
		// test's wait, so no worker of B's comes free while A waits.
		cfg.Workers, cfg.BatchSize = 16, 64
		cfg.Timeout = time.Minute
		cfg.Sender = newTestSender(t, time.Minute)
		d := startDispatcher(t, cfg)
		d.Wake()
		perOwner := DefaultPerOwner(cfg.Workers)
		// B alone takes all but one share.
		waitFor(t, "owner B's requests to hang", func() bool { return stuck.Load() >= int64(cfg.Workers-perOwner) })

		start := time.Now()
		publishMany(t, st, a.ID, 50)
		d.Wake()
		waitFor(t, "owner A's 50 deliveries to arrive", func() bool { return fast.count() >= 50 })
		t.Logf("owner A's 50 deliveries arrived %s after publishing, with %d of owner B's requests hanging",
			fast.lastAt().Sub(start).Round(time.Millisecond), stuck.Load())
		settled(t, st, hookA, 50)
		// Every one of B's attempts is still hanging: A's deliveries did not
		// wait for a worker of B's to come free.
		for _, w := range hooksB {
			if n := len(attempts(t, st, w)); n != 0 {
				t.Fatalf("B's webhook %s has %d log rows, want 0: its requests should all still hang", w.ID, n)
			}
		}
		if n := stuck.Load(); n > int64(cfg.Workers-perOwner) {
			t.Errorf("%d of B's requests hang, want at most %d (%d workers less a share of %d)", n, cfg.Workers-perOwner, cfg.Workers, perOwner)
		}
	})
}

// TestRateLimitDoesNotHoldWorkers is issue 12, item 3 through rate limits:
// owner B's rateLimit 1 webhooks have a backlog that takes minutes to send
// at that rate, older than owner A's deliveries. A delivery waiting for its
// turn must not hold a worker, so A's deliveries all arrive while B's
// backlog is still far from sent, and B's are still paced. The per-owner
// cap is lifted, so only pacing is under test.
func TestRateLimitDoesNotHoldWorkers(t *testing.T) {
	storetest.Each(t, func(t *testing.T, st *store.Store) {
		paced := newReceiver(t, nil)
		fast := newArrivals(t)
		a, b := newUser(t, st), newUser(t, st)
		one := 1
		var hooksB []store.Webhook
		for i := range 4 {
			w := newWebhook(t, st, b.ID, paced.URL+"/"+strconv.Itoa(i), "*")
			if _, err := st.UpdateWebhook(context.Background(), b.ID, w.ID, store.WebhookPatch{RateLimit: &one}); err != nil {
				t.Fatal(err)
			}
			hooksB = append(hooksB, w)
		}
		hookA := newWebhook(t, st, a.ID, fast.URL, "*")
		const backlog = 100 // a second each per webhook
		publishMany(t, st, b.ID, backlog)

		cfg := testConfig(t, st)
		// Pacing sleeps counted as in flight would take every worker:
		// 4 webhooks × 4 in flight each.
		cfg.Workers, cfg.PerWebhook, cfg.PerOwner = 16, 4, 16
		d := startDispatcher(t, cfg)
		d.Wake()
		waitFor(t, "owner B's first deliveries", func() bool { return paced.count() >= len(hooksB) })

		start := time.Now()
		publishMany(t, st, a.ID, 50)
		d.Wake()
		waitFor(t, "owner A's 50 deliveries to arrive", func() bool { return fast.count() >= 50 })
		t.Logf("owner A's 50 deliveries arrived %s after publishing, %d of owner B's paced deliveries sent",
			fast.lastAt().Sub(start).Round(time.Millisecond), paced.count())
		settled(t, st, hookA, 50)
		left := int64(0)
		for _, w := range hooksB {
			left += pending(t, st, w)
		}
		if left < int64(len(hooksB)*backlog/2) {
			t.Errorf("%d of B's deliveries left; want most of its %d: A's should not have waited for B's backlog",
				left, len(hooksB)*backlog)
		}
	})
}
