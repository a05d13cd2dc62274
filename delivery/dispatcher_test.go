package delivery

import (
	"context"
	"net/http"
	"slices"
	"sort"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"github.com/webhookd/webhookd/store"
	"github.com/webhookd/webhookd/store/storetest"
)

// eventTypes returns the X-Webhook-Event of each request, sorted.
func eventTypes(reqs []received) []string {
	out := make([]string, len(reqs))
	for i, r := range reqs {
		out[i] = r.Header.Get("X-Webhook-Event")
	}
	sort.Strings(out)
	return out
}

func TestDispatcherFanOut(t *testing.T) {
	storetest.Each(t, func(t *testing.T, st *store.Store) {
		u, other := newUser(t, st), newUser(t, st)
		type hook struct {
			name     string
			patterns []string
			want     []string // event types it must get, sorted
		}
		hooks := []hook{
			{"everything", []string{"*"}, []string{"campaign.started", "conversation.assigned", "conversation.created", "message.new"}},
			{"conversation.*", []string{"conversation.*"}, []string{"conversation.assigned", "conversation.created"}},
			{"exact", []string{"conversation.created"}, []string{"conversation.created"}},
			{"message.*", []string{"message.*"}, []string{"message.new"}},
			{"several", []string{"message.new", "campaign.*"}, []string{"campaign.started", "message.new"}},
			{"nothing matches", []string{"campaign.completed"}, nil},
		}
		receivers := make([]*receiver, len(hooks))
		webhooks := make([]store.Webhook, len(hooks))
		for i, h := range hooks {
			receivers[i] = newReceiver(t, nil)
			webhooks[i] = newWebhook(t, st, u.ID, receivers[i].URL, h.patterns...)
		}
		// Another user's webhook for everything must get none of u's events.
		stranger := newReceiver(t, nil)
		strangerHook := newWebhook(t, st, other.ID, stranger.URL, "*")

		const data = `{"z":"last key first","a":"<b>&</b>","u":"Zoë ✓"}`
		events := map[string]store.Event{}
		for typ, want := range map[string]int{"message.new": 3, "conversation.created": 3, "conversation.assigned": 2, "campaign.started": 2} {
			res := publish(t, st, u.ID, typ, data)
			if res.Deliveries != want {
				t.Errorf("publish %s fanned out to %d webhooks, want %d", typ, res.Deliveries, want)
			}
			events[typ] = res.Event
		}

		startDispatcher(t, testConfig(t, st)).Wake()

		for i, h := range hooks {
			logs := settled(t, st, webhooks[i], len(h.want))
			reqs := receivers[i].requests()
			if got := eventTypes(reqs); !slices.Equal(got, h.want) {
				t.Errorf("webhook %q got events %v, want %v", h.name, got, h.want)
			}
			ids := map[string]bool{}
			for _, l := range logs {
				if l.Status != store.AttemptSuccess || l.Attempt != 1 {
					t.Errorf("webhook %q log row: status %s attempt %d, want success on attempt 1", h.name, l.Status, l.Attempt)
				}
				ids[l.DeliveryID] = true
			}
			for _, r := range reqs {
				typ := r.Header.Get("X-Webhook-Event")
				e := events[typ]
				if want := Envelope(typ, e.OccurredAt, []byte(data)); string(r.Body) != string(want) {
					t.Errorf("webhook %q got body %s, want %s", h.name, r.Body, want)
				}
				if got, want := r.Header.Get("X-Webhook-Signature"), SignatureHeader(webhooks[i].Secret, r.Body); got != want {
					t.Errorf("webhook %q got signature %s, want %s", h.name, got, want)
				}
				if id := r.Header.Get("X-Webhook-Id"); !ids[id] || r.Header.Get("webhook-id") != id {
					t.Errorf("webhook %q got X-Webhook-Id %q, webhook-id %q; want one of its delivery ids %v",
						h.name, id, r.Header.Get("webhook-id"), ids)
				}
			}
		}
		// Settled above, and publish created nothing for the stranger: it
		// can never be sent anything.
		if n := pending(t, st, strangerHook); n != 0 || stranger.count() != 0 {
			t.Errorf("another user's webhook has %d pending deliveries and got %d requests, want none", n, stranger.count())
		}
	})
}

func TestDispatcherInactiveWebhook(t *testing.T) {
	storetest.Each(t, func(t *testing.T, st *store.Store) {
		ctx := context.Background()
		u := newUser(t, st)
		activeRc, pausedRc := newReceiver(t, nil), newReceiver(t, nil)
		active := newWebhook(t, st, u.ID, activeRc.URL, "*")
		paused := newWebhook(t, st, u.ID, pausedRc.URL, "*")

		// e1 is queued for both; pausing holds paused's delivery, and e2,
		// published while paused, is never queued for it.
		e1 := publish(t, st, u.ID, "message.new", `{"n":1}`)
		setActive(t, st, paused, false)
		if res := publish(t, st, u.ID, "message.new", `{"n":2}`); res.Deliveries != 1 {
			t.Fatalf("event published while a webhook is paused fanned out to %d webhooks, want 1", res.Deliveries)
		}

		d := startDispatcher(t, testConfig(t, st))
		d.Wake()
		settled(t, st, active, 2)
		// Everything was due before the dispatcher started, so one lease
		// would have taken paused's delivery with active's: had it been
		// leased, it would now be in flight or logged.
		q, err := st.Queue(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if q.InFlight != 0 || len(attempts(t, st, paused)) != 0 || pausedRc.count() != 0 || pending(t, st, paused) != 1 {
			t.Fatalf("paused webhook: %d in flight, %d log rows, %d requests, %d pending; want 0, 0, 0, 1",
				q.InFlight, len(attempts(t, st, paused)), pausedRc.count(), pending(t, st, paused))
		}

		setActive(t, st, paused, true)
		d.Wake()
		settled(t, st, paused, 1)
		reqs := pausedRc.requests()
		if len(reqs) != 1 {
			t.Fatalf("re-activated webhook got %d requests, want 1 (the event queued before the pause)", len(reqs))
		}
		if want := Envelope("message.new", e1.Event.OccurredAt, []byte(`{"n":1}`)); string(reqs[0].Body) != string(want) {
			t.Errorf("re-activated webhook got %s, want %s", reqs[0].Body, want)
		}
	})
}

// checkSameDeliveryID checks that every request carried the delivery id of
// the log rows in both id headers.
func checkSameDeliveryID(t testing.TB, reqs []received, logs []store.Log) {
	t.Helper()
	for _, l := range logs {
		if l.DeliveryID != logs[0].DeliveryID {
			t.Fatalf("log rows name deliveries %s and %s, want one delivery", logs[0].DeliveryID, l.DeliveryID)
		}
	}
	for i, r := range reqs {
		if x, std := r.Header.Get("X-Webhook-Id"), r.Header.Get("webhook-id"); x != logs[0].DeliveryID || std != logs[0].DeliveryID {
			t.Errorf("request %d: X-Webhook-Id %q, webhook-id %q; want both %q on every attempt", i+1, x, std, logs[0].DeliveryID)
		}
	}
}

func TestDispatcherRetriesUntilSuccess(t *testing.T) {
	storetest.Each(t, func(t *testing.T, st *store.Store) {
		u := newUser(t, st)
		rc := newReceiver(t, func(w http.ResponseWriter, _ *http.Request, n int) {
			if n <= 2 {
				http.Error(w, "not yet", http.StatusInternalServerError)
				return
			}
			_, _ = w.Write([]byte("finally"))
		})
		w := newWebhook(t, st, u.ID, rc.URL, "*")
		publish(t, st, u.ID, "message.new", `{"retry":true}`)
		startDispatcher(t, testConfig(t, st)).Wake()

		logs := settled(t, st, w, 3)
		for i, l := range logs {
			wantStatus, wantCode := store.AttemptFailed, 500
			if i == 2 {
				wantStatus, wantCode = store.AttemptSuccess, 200
			}
			if l.Attempt != i+1 || l.Status != wantStatus || l.StatusCode != wantCode {
				t.Errorf("log row %d: attempt %d, status %s, code %d; want attempt %d, %s, %d",
					i, l.Attempt, l.Status, l.StatusCode, i+1, wantStatus, wantCode)
			}
			if (l.NextAttemptAt != nil) != (i < 2) {
				t.Errorf("log row %d: nextAttemptAt %v, want it set exactly on the failed attempts", i, l.NextAttemptAt)
			}
		}
		if string(logs[2].ResponseBody) != "finally" {
			t.Errorf("last log row's response body = %q, want %q", logs[2].ResponseBody, "finally")
		}
		reqs := rc.requests()
		if len(reqs) != 3 {
			t.Fatalf("receiver got %d requests, want 3", len(reqs))
		}
		checkSameDeliveryID(t, reqs, logs)
		for _, r := range reqs[1:] {
			if string(r.Body) != string(reqs[0].Body) {
				t.Errorf("a retry sent %s, want the first attempt's body %s", r.Body, reqs[0].Body)
			}
		}
	})
}

func TestDispatcherRetriesUntilFinalFailure(t *testing.T) {
	storetest.Each(t, func(t *testing.T, st *store.Store) {
		u := newUser(t, st)
		rc := newReceiver(t, status(http.StatusInternalServerError))
		w := newWebhook(t, st, u.ID, rc.URL, "*")
		publish(t, st, u.ID, "message.new", `{"doomed":true}`)
		cfg := testConfig(t, st)
		startDispatcher(t, cfg).Wake()

		// No pending delivery after MaxAttempts rows: it is finally failed
		// and nothing will lease it again.
		logs := settled(t, st, w, cfg.Schedule.MaxAttempts())
		for i, l := range logs {
			if l.Attempt != i+1 || l.Status != store.AttemptFailed || l.StatusCode != 500 {
				t.Errorf("log row %d: attempt %d, status %s, code %d; want attempt %d failed with 500", i, l.Attempt, l.Status, l.StatusCode, i+1)
			}
			last := i == len(logs)-1
			if (l.NextAttemptAt == nil) != last {
				t.Errorf("log row %d: nextAttemptAt %v; want it set on every row but the last", i, l.NextAttemptAt)
			}
		}
		checkSameDeliveryID(t, rc.requests(), logs)
		st2, err := st.WebhookStats(context.Background(), u.ID, w.ID, nil)
		if err != nil {
			t.Fatal(err)
		}
		if st2.FailedAttempts != int64(len(logs)) || st2.SuccessfulAttempts != 0 {
			t.Errorf("stats: %d failed, %d successful attempts; want %d, 0", st2.FailedAttempts, st2.SuccessfulAttempts, len(logs))
		}
	})
}

func TestDispatcherRetryAfter(t *testing.T) {
	storetest.Each(t, func(t *testing.T, st *store.Store) {
		start := time.Now()
		u := newUser(t, st)
		tests := []struct {
			status     int
			retryAfter string
			min, max   time.Duration // bounds of nextAttemptAt - send time
		}{
			{http.StatusTooManyRequests, "3600", time.Hour, time.Hour + time.Minute},
			{http.StatusServiceUnavailable, start.Add(2 * time.Hour).UTC().Format(http.TimeFormat), 2*time.Hour - time.Second, 2*time.Hour + time.Minute},
			{http.StatusTooManyRequests, "999999999", MaxRetryAfter, MaxRetryAfter + time.Minute},
			// A Retry-After on any other status is not honoured.
			{http.StatusInternalServerError, "3600", 0, time.Minute},
		}
		var webhooks []store.Webhook
		for _, tt := range tests {
			rc := newReceiver(t, func(w http.ResponseWriter, _ *http.Request, _ int) {
				w.Header().Set("Retry-After", tt.retryAfter)
				w.WriteHeader(tt.status)
			})
			webhooks = append(webhooks, newWebhook(t, st, u.ID, rc.URL, "*"))
		}
		publish(t, st, u.ID, "message.new", `{}`)
		cfg := testConfig(t, st)
		cfg.Schedule = Schedule{Gaps: []time.Duration{time.Millisecond}}
		startDispatcher(t, cfg).Wake()

		for i, tt := range tests {
			var logs []store.Log
			waitFor(t, "the first attempt's log row", func() bool {
				logs = attempts(t, st, webhooks[i])
				return len(logs) > 0
			})
			l := logs[0]
			if l.StatusCode != tt.status || l.NextAttemptAt == nil {
				t.Fatalf("%d %s: log row code %d, nextAttemptAt %v; want %d with a retry time", tt.status, tt.retryAfter, l.StatusCode, l.NextAttemptAt, tt.status)
			}
			if lo, hi := start.Add(tt.min), time.Now().Add(tt.max); l.NextAttemptAt.Before(lo) || l.NextAttemptAt.After(hi) {
				t.Errorf("%d Retry-After %s: nextAttemptAt %s, want within [%s, %s]", tt.status, tt.retryAfter,
					l.NextAttemptAt.Format(time.RFC3339Nano), lo.Format(time.RFC3339Nano), hi.Format(time.RFC3339Nano))
			}
		}
	})
}

// TestDispatcherHangingEndpoint checks that a receiver that never answers
// holds at most its per-webhook cap of workers while a healthy receiver
// beside it gets all its deliveries.
func TestDispatcherHangingEndpoint(t *testing.T) {
	storetest.Each(t, func(t *testing.T, st *store.Store) {
		u := newUser(t, st)
		var stuck atomic.Int64 // hanging requests not yet returned
		hanging := newReceiver(t, func(_ http.ResponseWriter, r *http.Request, _ int) {
			stuck.Add(1)
			defer stuck.Add(-1)
			<-r.Context().Done()
		})
		fast := newReceiver(t, nil)
		hangingHook := newWebhook(t, st, u.ID, hanging.URL, "*")
		fastHook := newWebhook(t, st, u.ID, fast.URL, "*")
		const events = 40
		for i := range events {
			publish(t, st, u.ID, "message.new", `{"i":`+strconv.Itoa(i)+`}`)
		}
		cfg := testConfig(t, st)
		// Few workers, so a hanging receiver holding more than its cap
		// would starve the fast one.
		cfg.Workers, cfg.PerWebhook, cfg.BatchSize = 4, 2, 8
		cfg.Sender = newTestSender(t, 20*time.Second)
		cfg.Timeout = 20 * time.Second
		startDispatcher(t, cfg).Wake()

		settled(t, st, fastHook, events)
		if got := fast.count(); got != events {
			t.Errorf("fast receiver got %d requests, want %d", got, events)
		}
		// Every fast delivery is done while the hanging receiver's first
		// requests are still unanswered: none of its attempts has ended.
		if n := len(attempts(t, st, hangingHook)); n != 0 {
			t.Errorf("hanging webhook has %d log rows, want 0: its requests should still be stuck", n)
		}
		if got, n := hanging.count(), stuck.Load(); got > cfg.PerWebhook || n > int64(cfg.PerWebhook) {
			t.Errorf("hanging receiver got %d requests, %d stuck; want at most the per-webhook cap %d", got, n, cfg.PerWebhook)
		}
		waitFor(t, "the hanging receiver to hold its cap of requests", func() bool { return stuck.Load() == int64(cfg.PerWebhook) })
	})
}

func TestDispatcherGracefulShutdown(t *testing.T) {
	t.Run("in-flight send finishes within the grace", func(t *testing.T) {
		storetest.Each(t, func(t *testing.T, st *store.Store) {
			u := newUser(t, st)
			arrived, finish := make(chan struct{}, 1), make(chan struct{})
			rc := newReceiver(t, func(w http.ResponseWriter, r *http.Request, _ int) {
				arrived <- struct{}{}
				select {
				case <-finish:
				case <-r.Context().Done():
				}
			})
			w := newWebhook(t, st, u.ID, rc.URL, "*")
			publish(t, st, u.ID, "message.new", `{}`)
			cfg := testConfig(t, st)
			cfg.Grace = waitDeadline
			r := runDispatcher(t, cfg)
			r.d.Wake()
			recv(t, "the delivery to arrive", arrived)
			// The receiver answers only after Run was told to stop.
			r.cancel()
			close(finish)
			r.wait()

			logs := attempts(t, st, w)
			if len(logs) != 1 || logs[0].Status != store.AttemptSuccess {
				t.Fatalf("after shutdown: %d log rows %+v, want the one successful attempt recorded", len(logs), logs)
			}
			if n := pending(t, st, w); n != 0 {
				t.Errorf("%d deliveries pending after shutdown, want 0", n)
			}
		})
	})

	t.Run("send cut off is released", func(t *testing.T) {
		storetest.Each(t, func(t *testing.T, st *store.Store) {
			ctx := context.Background()
			u := newUser(t, st)
			arrived := make(chan struct{}, 2)
			rc := newReceiver(t, func(w http.ResponseWriter, r *http.Request, n int) {
				arrived <- struct{}{}
				if n == 1 {
					<-r.Context().Done() // slower than the grace
				}
			})
			w := newWebhook(t, st, u.ID, rc.URL, "*")
			publish(t, st, u.ID, "message.new", `{"slow":true}`)
			cfg := testConfig(t, st)
			cfg.Grace = 50 * time.Millisecond
			r := runDispatcher(t, cfg)
			r.d.Wake()
			recv(t, "the delivery to arrive", arrived)
			r.stop()

			// Cut off, not failed: no attempt is recorded and the delivery
			// is due again at once.
			if logs := attempts(t, st, w); len(logs) != 0 {
				t.Errorf("after shutdown: %d log rows %+v, want none for a cut-off send", len(logs), logs)
			}
			q, err := st.Queue(ctx)
			if err != nil {
				t.Fatal(err)
			}
			if q.Due != 1 || q.InFlight != 0 {
				t.Errorf("after shutdown: queue %+v, want the delivery released: 1 due, 0 in flight", q)
			}

			startDispatcher(t, cfg).Wake()
			recv(t, "the released delivery to arrive again", arrived)
			logs := settled(t, st, w, 1)
			if logs[0].Attempt != 1 || logs[0].Status != store.AttemptSuccess {
				t.Errorf("log row: attempt %d, status %s; want a successful attempt 1 (the cut-off send did not count)", logs[0].Attempt, logs[0].Status)
			}
			checkSameDeliveryID(t, rc.requests(), logs)
		})
	})
}

// TestDispatcherLeaseExpiry leases deliveries the way a process that then
// crashes would, and checks that a dispatcher sends them once the lease
// runs out, and that the dead lease can no longer complete them.
func TestDispatcherLeaseExpiry(t *testing.T) {
	storetest.Each(t, func(t *testing.T, st *store.Store) {
		ctx := context.Background()
		u := newUser(t, st)
		arrivals := make(chan time.Time, 10)
		rc := newReceiver(t, func(w http.ResponseWriter, _ *http.Request, _ int) { arrivals <- time.Now() })
		w := newWebhook(t, st, u.ID, rc.URL, "*")
		publish(t, st, u.ID, "message.new", `{"a":1}`)
		publish(t, st, u.ID, "message.new", `{"a":2}`)

		const leaseFor = 100 * time.Millisecond
		leasedAt := time.Now()
		dead, err := st.LeaseDeliveries(ctx, store.LeaseParams{Limit: 10, LeaseFor: leaseFor})
		if err != nil {
			t.Fatal(err)
		}
		if len(dead) != 2 {
			t.Fatalf("leased %d deliveries, want 2", len(dead))
		}

		startDispatcher(t, testConfig(t, st)).Wake()
		for range dead {
			// The store truncates to milliseconds, so the lease ends no
			// earlier than a millisecond before leasedAt + leaseFor.
			if at := recv(t, "an expired lease's delivery", arrivals); at.Before(leasedAt.Add(leaseFor - time.Millisecond)) {
				t.Errorf("delivery sent at %s, before its lease ran out at %s", at.Format(time.RFC3339Nano), leasedAt.Add(leaseFor).Format(time.RFC3339Nano))
			}
		}
		logs := settled(t, st, w, 2)
		for _, l := range logs {
			if l.Attempt != 1 || l.Status != store.AttemptSuccess {
				t.Errorf("log row: attempt %d, status %s; want a successful attempt 1", l.Attempt, l.Status)
			}
		}

		// The crashed process comes back and reports a failure with its old
		// lease: the fence must keep the delivery as the dispatcher left it.
		l := logFor(Outcome{StatusCode: 500, Error: "HTTP 500"}, dead[0].WebhookID, dead[0].EventID, dead[0].ID, dead[0].EventType, dead[0].Attempt)
		next := time.Now().Add(time.Minute)
		n, err := st.CompleteDeliveries(ctx, []store.Completion{{DeliveryID: dead[0].ID, LeaseToken: dead[0].LeaseToken, Log: l, NextAttemptAt: &next}})
		if err != nil {
			t.Fatal(err)
		}
		if n != 0 || pending(t, st, w) != 0 {
			t.Errorf("stale completion held its lease for %d deliveries and left %d pending, want 0 and 0", n, pending(t, st, w))
		}
	})
}

func TestDispatcherRunTwice(t *testing.T) {
	storetest.Each(t, func(t *testing.T, st *store.Store) {
		d := startDispatcher(t, testConfig(t, st))
		// Run is running or about to; a second Run must refuse either way.
		waitFor(t, "Run to start", func() bool {
			d.mu.Lock()
			defer d.mu.Unlock()
			return d.running
		})
		if err := d.Run(context.Background()); err == nil {
			t.Errorf("second Run returned nil, want an error")
		}
	})
}

// TestDispatcherRecordsAroundDeletedWebhook checks that one outcome that
// can never be recorded (its webhook was deleted while the send was in
// flight) does not take the other outcomes of its batch with it: those
// would be lost until their leases expired and then sent twice.
func TestDispatcherRecordsAroundDeletedWebhook(t *testing.T) {
	storetest.Each(t, func(t *testing.T, st *store.Store) {
		ctx := context.Background()
		u := newUser(t, st)
		gone := newWebhook(t, st, u.ID, "http://127.0.0.1:1/gone", "*")
		kept := newWebhook(t, st, u.ID, "http://127.0.0.1:1/kept", "*")
		publish(t, st, u.ID, "message.new", `{}`)
		leased, err := st.LeaseDeliveries(ctx, store.LeaseParams{Limit: 10, LeaseFor: time.Hour})
		if err != nil {
			t.Fatal(err)
		}
		if len(leased) != 2 {
			t.Fatalf("leased %d deliveries, want 2", len(leased))
		}
		if err := st.DeleteWebhook(ctx, u.ID, gone.ID); err != nil {
			t.Fatal(err)
		}

		// One batch, as the completer gathers outcomes that arrive together.
		batch := make([]completion, len(leased))
		for i, l := range leased {
			batch[i] = completion{lease: l, out: Outcome{Success: true, StatusCode: 200, RequestHeaders: map[string]string{}}}
		}
		d := NewDispatcher(testConfig(t, st))
		d.recordBackoff = time.Millisecond
		d.record(batch)

		logs := attempts(t, st, kept)
		if len(logs) != 1 || logs[0].Status != store.AttemptSuccess || pending(t, st, kept) != 0 {
			t.Errorf("kept webhook: %d log rows, %d pending; want its success recorded despite the deleted webhook in the same batch",
				len(logs), pending(t, st, kept))
		}
	})
}
