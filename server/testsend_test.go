package server_test

import (
	"net/http"
	"sync/atomic"
	"testing"
	"time"

	"github.com/webhookd/webhookd/store"
	"github.com/webhookd/webhookd/store/storetest"
)

// countingObserver counts the attempts the dispatcher reports to metrics.
type countingObserver struct{ n atomic.Int64 }

func (o *countingObserver) ObserveAttempt(bool, int, time.Duration) { o.n.Add(1) }

// TestOpsRedeliveredTestSendStaysTest redelivers a test send's log entry
// (issue 12 item 10): the new attempt must still be a test, logged as
// one, made once and never retried, left out of the metrics, and a 410
// answer to it must not disable the webhook; replaying the window must not
// turn it into a real delivery either.
func TestOpsRedeliveredTestSendStaysTest(t *testing.T) {
	storetest.Each(t, func(t *testing.T, st *store.Store) {
		rc := newOpsReceiver(t, nil)
		observer := &countingObserver{}
		// Real deliveries would be retried after 20ms.
		h := newOpsHarness(t, st, opsSetup{Gaps: []time.Duration{20 * time.Millisecond}, Observer: observer})
		_, token := h.user(t, "tester@example.com")
		hook := h.hookTo(t, token, rc.URL(), "message.new")
		start := time.Now().Add(-time.Second)

		rc.setStatus(http.StatusInternalServerError)
		if res := h.sendTest(t, token, hook.ID, "message.new", map[string]string{"messageId": "test_123"}); res.Success {
			t.Fatalf("test send to a failing receiver succeeded: %+v", res)
		}
		first := h.opsWaitLogs(t, token, hook.ID, 1)[0]
		if !first.Test {
			t.Fatalf("test send logged as %+v, want test", first)
		}

		rc.setStatus(http.StatusGone)
		var got opsRedeliverJSON
		h.call(t, http.MethodPost, opsRedeliverPath(hook.ID, first.ID), token, nil, http.StatusAccepted, &got)
		logs := h.opsWaitLogs(t, token, hook.ID, 2)
		again := logs[0]
		if !again.Test || again.DeliveryID != first.DeliveryID || again.Attempt != 2 || again.Status != "failed" || again.NextAttemptAt != nil {
			t.Errorf("redelivered test logged as %+v; want test, delivery %s, attempt 2, failed with no retry scheduled", again, first.DeliveryID)
		}
		if w := h.opsWebhook(t, token, hook.ID); !w.IsActive || w.DisabledReason != nil {
			t.Errorf("after a 410 to a redelivered test send: active %v, reason %v; want the webhook left active", w.IsActive, w.DisabledReason)
		}
		if n := observer.n.Load(); n != 0 {
			t.Errorf("metrics observed %d attempts, want 0: test sends are left out", n)
		}

		rc.setStatus(http.StatusOK)
		if n := h.opsReplay(t, token, hook.ID, map[string]any{"since": opsRFC3339(start)}); n != 0 {
			t.Errorf("replay of the window: queued %d, want 0 (a test send, redelivered or not, is never replayed)", n)
		}
		// The redelivered test is finished for good, so it can be
		// redelivered again, as a test again.
		h.call(t, http.MethodPost, opsRedeliverPath(hook.ID, again.ID), token, nil, http.StatusAccepted, &got)
		third := h.opsWaitLogs(t, token, hook.ID, 3)[0]
		if !third.Test || third.Attempt != 3 || third.Status != "success" {
			t.Errorf("second redelivery logged as %+v; want test, attempt 3, success", third)
		}
		if n := len(rc.arrivals()); n != 3 {
			t.Errorf("receiver got %d requests, want 3: the test send and two redeliveries, no retries", n)
		}
	})
}
