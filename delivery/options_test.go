package delivery

import (
	"context"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/webhookd/webhookd/store"
	"github.com/webhookd/webhookd/store/storetest"
)

// TestRotatedSecretSignsBoth checks that during a rotation's grace period
// webhook-signature carries entries for the new and the old secret, and
// X-Webhook-Signature uses the new one.
func TestRotatedSecretSignsBoth(t *testing.T) {
	storetest.Each(t, func(t *testing.T, st *store.Store) {
		rc := newReceiver(t, nil)
		u := newUser(t, st)
		w := newWebhook(t, st, u.ID, rc.URL, "*")
		old := w.Secret
		rotated, err := st.RotateSecret(context.Background(), u.ID, w.ID, "whsec_"+strings.Repeat("QUJD", 8), time.Hour)
		if err != nil {
			t.Fatal(err)
		}
		d := startDispatcher(t, testConfig(t, st))
		publish(t, st, u.ID, "message.new", `{"a":1}`)
		d.Wake() // after the publish commits, so the wake cannot come too early
		settled(t, st, w, 1)
		got := rc.requests()[0]
		id, ts := got.Header.Get("webhook-id"), got.Header.Get("webhook-timestamp")
		unix, err := strconv.ParseInt(ts, 10, 64)
		if err != nil {
			t.Fatalf("webhook-timestamp %q: %v", ts, err)
		}
		want := StandardSignature(rotated.Secret, id, unix, got.Body) + " " + StandardSignature(old, id, unix, got.Body)
		if sig := got.Header.Get("webhook-signature"); sig != want {
			t.Errorf("webhook-signature = %q, want %q", sig, want)
		}
		if sig := got.Header.Get("X-Webhook-Signature"); sig != SignatureHeader(rotated.Secret, got.Body) {
			t.Errorf("X-Webhook-Signature = %q, want the new secret's", sig)
		}
	})
}

// TestCustomHeaders checks a webhook's static headers are sent, never
// replace webhookd's own, and are redacted in the log when they carry
// credentials.
func TestCustomHeaders(t *testing.T) {
	storetest.Each(t, func(t *testing.T, st *store.Store) {
		rc := newReceiver(t, nil)
		u := newUser(t, st)
		w := newWebhook(t, st, u.ID, rc.URL, "*")
		headers := map[string]string{"X-Tenant": "acme", "Authorization": "Bearer receiver-token", "x-webhook-id": "forged", "content-type": "text/plain"}
		if _, err := st.UpdateWebhook(context.Background(), u.ID, w.ID, store.WebhookPatch{Headers: &headers}); err != nil {
			t.Fatal(err)
		}
		d := startDispatcher(t, testConfig(t, st))
		publish(t, st, u.ID, "message.new", `{}`)
		d.Wake() // after the publish commits, so the wake cannot come too early
		logs := settled(t, st, w, 1)
		got := rc.requests()[0].Header
		if got.Get("X-Tenant") != "acme" || got.Get("Authorization") != "Bearer receiver-token" {
			t.Errorf("custom headers not sent: %v", got)
		}
		if v := got.Values("X-Webhook-Id"); len(v) != 1 || v[0] == "forged" {
			t.Errorf("X-Webhook-Id = %v, want only webhookd's", v)
		}
		if v := got.Values("Content-Type"); len(v) != 1 || v[0] != "application/json" {
			t.Errorf("Content-Type = %v, want only application/json", v)
		}
		if v := logs[0].RequestHeaders["Authorization"]; v != "[redacted]" {
			t.Errorf("logged Authorization = %q, want it redacted", v)
		}
		if v := logs[0].RequestHeaders["X-Tenant"]; v != "acme" {
			t.Errorf("logged X-Tenant = %q", v)
		}
	})
}

// TestWebhookTimeout checks a webhook's own timeout cuts a slow receiver
// off before the sender's default would.
func TestWebhookTimeout(t *testing.T) {
	storetest.Each(t, func(t *testing.T, st *store.Store) {
		rc := newReceiver(t, func(w http.ResponseWriter, r *http.Request, _ int) { <-r.Context().Done() })
		u := newUser(t, st)
		w := newWebhook(t, st, u.ID, rc.URL, "*")
		one := 1
		if _, err := st.UpdateWebhook(context.Background(), u.ID, w.ID, store.WebhookPatch{TimeoutSeconds: &one}); err != nil {
			t.Fatal(err)
		}
		cfg := testConfig(t, st)
		cfg.Sender = newTestSender(t, time.Hour) // only the webhook's 1s can end the attempt
		cfg.Schedule = Schedule{}
		d := startDispatcher(t, cfg)
		publish(t, st, u.ID, "message.new", `{}`)
		d.Wake() // after the publish commits, so the wake cannot come too early
		logs := settled(t, st, w, 1)
		if !strings.Contains(logs[0].Error, "timeout") || !strings.Contains(logs[0].Error, "1s") {
			t.Errorf("error = %q, want a timeout after the webhook's 1s", logs[0].Error)
		}
	})
}

// TestRateLimitSmoothsBursts checks that a burst to a rate-limited webhook
// is spread out, not failed: every delivery succeeds, and they cannot all
// arrive faster than the rate allows. The store and the dispatcher read a
// fake clock the test moves on, so the spacing is pacing's alone, whatever
// the machine's load.
func TestRateLimitSmoothsBursts(t *testing.T) {
	clock := newFakeClock()
	storetest.Each(t, func(t *testing.T, st *store.Store) {
		var mu sync.Mutex
		var arrivals []time.Time
		rc := newReceiver(t, func(w http.ResponseWriter, r *http.Request, _ int) {
			mu.Lock()
			arrivals = append(arrivals, st.Now())
			mu.Unlock()
		})
		u := newUser(t, st)
		w := newWebhook(t, st, u.ID, rc.URL, "*")
		rate := 20
		if _, err := st.UpdateWebhook(context.Background(), u.ID, w.ID, store.WebhookPatch{RateLimit: &rate}); err != nil {
			t.Fatal(err)
		}
		const n = 6
		for i := 0; i < n; i++ {
			publish(t, st, u.ID, "message.new", `{}`)
		}
		d := startDispatcher(t, testConfig(t, st))
		d.Wake()
		// Time passes only while no send is in flight, so each arrival
		// reads the clock its send's pacing read; a wake-up after each
		// move lets the dispatcher see the next turn come.
		waitFor(t, "the burst to arrive", func() bool {
			if rc.count() >= n {
				return true
			}
			d.mu.Lock()
			if d.inFlight == 0 {
				clock.advance(10 * time.Millisecond)
			}
			d.mu.Unlock()
			d.Wake()
			return false
		})
		logs := settled(t, st, w, n)
		for _, l := range logs {
			if l.Status != store.AttemptSuccess {
				t.Errorf("attempt %s: %s %s, want success", l.ID, l.Status, l.Error)
			}
		}
		mu.Lock()
		defer mu.Unlock()
		if span, min := arrivals[len(arrivals)-1].Sub(arrivals[0]), time.Duration(n-1)*time.Second/time.Duration(rate); span < min-5*time.Millisecond {
			t.Errorf("%d deliveries arrived within %s, faster than %d/s allows (≥ %s)", n, span, rate, min)
		}
	}, store.WithClock(clock.Now))
}

// TestGoneDisablesWebhook checks a 410 answer switches the webhook off.
func TestGoneDisablesWebhook(t *testing.T) {
	storetest.Each(t, func(t *testing.T, st *store.Store) {
		rc := newReceiver(t, status(http.StatusGone))
		u := newUser(t, st)
		w := newWebhook(t, st, u.ID, rc.URL, "*")
		d := startDispatcher(t, testConfig(t, st))
		publish(t, st, u.ID, "message.new", `{}`)
		d.Wake() // after the publish commits, so the wake cannot come too early
		waitFor(t, "the webhook to be disabled", func() bool {
			got, err := st.Webhook(context.Background(), u.ID, w.ID)
			return err == nil && !got.IsActive
		})
		got, _ := st.Webhook(context.Background(), u.ID, w.ID)
		if !strings.Contains(got.DisabledReason, "410") {
			t.Errorf("disabled reason = %q, want it to name the 410", got.DisabledReason)
		}
	})
}

// countingObserver records attempts for TestObserver.
type countingObserver struct {
	mu       sync.Mutex
	ok, fail int
}

func (o *countingObserver) ObserveAttempt(success bool, _ int, _ time.Duration) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if success {
		o.ok++
	} else {
		o.fail++
	}
}

func TestObserver(t *testing.T) {
	storetest.Each(t, func(t *testing.T, st *store.Store) {
		rc := newReceiver(t, func(w http.ResponseWriter, _ *http.Request, n int) {
			if n == 1 {
				w.WriteHeader(http.StatusInternalServerError)
			}
		})
		u := newUser(t, st)
		w := newWebhook(t, st, u.ID, rc.URL, "*")
		obs := &countingObserver{}
		cfg := testConfig(t, st)
		cfg.Observer = obs
		d := startDispatcher(t, cfg)
		publish(t, st, u.ID, "message.new", `{}`)
		d.Wake() // after the publish commits, so the wake cannot come too early
		settled(t, st, w, 2)
		obs.mu.Lock()
		defer obs.mu.Unlock()
		if obs.ok != 1 || obs.fail != 1 {
			t.Errorf("observed %d successes and %d failures, want 1 and 1", obs.ok, obs.fail)
		}
	})
}

func TestRetention(t *testing.T) {
	storetest.Each(t, func(t *testing.T, st *store.Store) {
		rc := newReceiver(t, nil)
		u := newUser(t, st)
		w := newWebhook(t, st, u.ID, rc.URL, "*")
		d := startDispatcher(t, testConfig(t, st))
		publish(t, st, u.ID, "message.new", `{}`)
		d.Wake() // after the publish commits, so the wake cannot come too early
		settled(t, st, w, 1)
		// Nothing is old enough yet.
		r := Retention{Store: st, Keep: time.Hour, Batch: 1, Pause: time.Millisecond}
		if n := r.RunOnce(context.Background()); n != 0 {
			t.Errorf("pruned %d rows younger than an hour", n)
		}
		// With a retention in the past, everything finished goes, one row
		// per statement.
		r.Keep = -time.Hour
		if n := r.RunOnce(context.Background()); n != 5 {
			t.Errorf("pruned %d rows, want the log, its minute's and hour's counts, the delivery and the event", n)
		}
		if logs := attempts(t, st, w); len(logs) != 0 {
			t.Errorf("%d logs left", len(logs))
		}
	})
}
