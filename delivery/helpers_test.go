package delivery

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/webhookd/webhookd/store"
)

// waitDeadline bounds every wait for an outcome. It is generous because the
// machine is noisy: tests wait for outcomes, never for durations, so a
// healthy run never comes near it.
const waitDeadline = 30 * time.Second

// waitFor polls cond until it holds and fails t when waitDeadline passes
// first.
func waitFor(t testing.TB, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(waitDeadline)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %s waiting for %s", waitDeadline, what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// recv waits for one value from ch and fails t when waitDeadline passes
// first.
func recv[T any](t testing.TB, what string, ch <-chan T) T {
	t.Helper()
	select {
	case v := <-ch:
		return v
	case <-time.After(waitDeadline):
		t.Fatalf("timed out after %s waiting for %s", waitDeadline, what)
		panic("unreachable")
	}
}

// received is one request a receiver got.
type received struct {
	Header http.Header
	Body   []byte
}

// reply answers a receiver's n-th request (from 1). A reply that blocks
// must also return when r's context ends: the receiver cuts its clients
// off when the test ends.
type reply func(w http.ResponseWriter, r *http.Request, n int)

// receiver is a real HTTP endpoint that records every request.
type receiver struct {
	*httptest.Server
	reply reply

	mu  sync.Mutex
	got []received
}

// newReceiver starts a receiver answering with rep (200 "ok" when nil) and
// closes it when t ends.
func newReceiver(t testing.TB, rep reply) *receiver {
	t.Helper()
	rc := &receiver{reply: rep}
	rc.Server = httptest.NewServer(rc)
	t.Cleanup(func() {
		// Close waits for handlers; cutting the connections first ends the
		// request contexts that blocking replies wait on.
		rc.CloseClientConnections()
		rc.Close()
	})
	return rc
}

// ServeHTTP records the request and answers it.
func (rc *receiver) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(r.Body)
	if err != nil {
		http.Error(w, "read body: "+err.Error(), http.StatusBadRequest)
		return
	}
	rc.mu.Lock()
	rc.got = append(rc.got, received{Header: r.Header.Clone(), Body: body})
	n := len(rc.got)
	rc.mu.Unlock()
	if rc.reply == nil {
		_, _ = io.WriteString(w, "ok")
		return
	}
	rc.reply(w, r, n)
}

// requests returns a copy of what the receiver got so far.
func (rc *receiver) requests() []received {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	return slices.Clone(rc.got)
}

// count returns how many requests the receiver got so far.
func (rc *receiver) count() int {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	return len(rc.got)
}

// status answers every request with code.
func status(code int) reply {
	return func(w http.ResponseWriter, _ *http.Request, _ int) { w.WriteHeader(code) }
}

// testLogger sends the code under test's logs to t's output, so they show
// with a failure.
func testLogger(t testing.TB) *slog.Logger {
	return slog.New(slog.NewTextHandler(t.Output(), &slog.HandlerOptions{Level: slog.LevelDebug}))
}

// newTestSender builds a Sender for loopback receivers.
func newTestSender(t testing.TB, timeout time.Duration) *Sender {
	t.Helper()
	s := NewSender(SenderConfig{Version: "test", Timeout: timeout, Logger: testLogger(t)})
	t.Cleanup(s.Close)
	return s
}

// testSchedule retries twice, quickly, without jitter.
var testSchedule = Schedule{Gaps: []time.Duration{50 * time.Millisecond, 50 * time.Millisecond}}

// testConfig is a Dispatcher configuration for tests. Poll is long on
// purpose: every test must be driven by wake-ups and due times, never by
// the fallback poll.
func testConfig(t testing.TB, st *store.Store) DispatcherConfig {
	t.Helper()
	return DispatcherConfig{
		Store: st, Sender: newTestSender(t, 5*time.Second), Schedule: testSchedule, Logger: testLogger(t),
		Timeout: 5 * time.Second, Poll: 10 * time.Minute, Grace: 100 * time.Millisecond,
		Now: st.Now, // one clock, as main wires it
	}
}

// fakeClock is a clock a test moves by hand. A store opened with
// store.WithClock(c.Now), and a dispatcher reading that store's clock, then
// pace and fall due by the test's moves, not by how fast the machine is.
type fakeClock struct {
	mu  sync.Mutex
	now time.Time
}

// newFakeClock starts a clock at the current time, to the millisecond (the
// store keeps no finer).
func newFakeClock() *fakeClock {
	return &fakeClock{now: time.Now().UTC().Truncate(time.Millisecond)}
}

// Now reads the clock.
func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

// advance moves the clock on by d.
func (c *fakeClock) advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

// startDispatcher runs a Dispatcher until t ends.
func startDispatcher(t testing.TB, cfg DispatcherConfig) *Dispatcher {
	t.Helper()
	return runDispatcher(t, cfg).d
}

// running is a Dispatcher whose Run is going in a goroutine.
type running struct {
	t      testing.TB
	d      *Dispatcher
	cancel context.CancelFunc
	done   chan error
	once   sync.Once
}

// runDispatcher starts a Dispatcher's Run; it is stopped when t ends.
func runDispatcher(t testing.TB, cfg DispatcherConfig) *running {
	t.Helper()
	return run(t, NewDispatcher(cfg))
}

// run starts d's Run, for a test that set d's fields first; it is
// stopped when t ends.
func run(t testing.TB, d *Dispatcher) *running {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	r := &running{t: t, d: d, cancel: cancel, done: make(chan error, 1)}
	go func() { r.done <- r.d.Run(ctx) }()
	t.Cleanup(r.stop)
	return r
}

// stop cancels Run and waits for it to return.
func (r *running) stop() {
	r.cancel()
	r.wait()
}

// wait waits for Run to return, without canceling it.
func (r *running) wait() {
	r.once.Do(func() {
		select {
		case err := <-r.done:
			if err != nil {
				r.t.Errorf("Run: %v", err)
			}
		case <-time.After(waitDeadline):
			r.t.Errorf("Run did not return within %s", waitDeadline)
		}
	})
}

// newUser creates a user with a unique email.
func newUser(t testing.TB, st *store.Store) store.User {
	t.Helper()
	u, err := st.CreateUser(context.Background(), store.NewID()+"@example.com", "not-a-real-hash", "")
	if err != nil {
		t.Fatalf("create user: %v", err)
	}
	return u
}

// newWebhook creates an active webhook of the user's for url.
func newWebhook(t testing.TB, st *store.Store, userID, url string, events ...string) store.Webhook {
	t.Helper()
	w, err := st.CreateWebhook(context.Background(), store.CreateWebhookParams{
		TenantID: userID, Name: "test", URL: url, Events: events, Secret: "secret-" + store.NewID(), IsActive: true,
	})
	if err != nil {
		t.Fatalf("create webhook: %v", err)
	}
	return w
}

// setActive switches a webhook on or off.
func setActive(t testing.TB, st *store.Store, w store.Webhook, active bool) {
	t.Helper()
	if _, err := st.UpdateWebhook(context.Background(), w.TenantID, w.ID, store.WebhookPatch{IsActive: &active}); err != nil {
		t.Fatalf("set webhook %s active=%v: %v", w.ID, active, err)
	}
}

// publish accepts one event for the user and returns it with how many
// deliveries it fanned out to.
func publish(t testing.TB, st *store.Store, userID, eventType, data string) store.PublishResult {
	t.Helper()
	res, err := st.PublishEvents(context.Background(), []store.PublishParams{{
		TenantID: userID, Type: eventType, Payload: []byte(data), OccurredAt: time.Now(),
	}})
	if err != nil {
		t.Fatalf("publish %s: %v", eventType, err)
	}
	return res[0]
}

// attempts returns a webhook's log rows, oldest first.
func attempts(t testing.TB, st *store.Store, w store.Webhook) []store.Log {
	t.Helper()
	logs, _, err := st.ListLogs(context.Background(), w.TenantID, w.ID, store.LogFilter{Page: store.Page{Limit: 500}})
	if err != nil {
		t.Fatalf("list logs of webhook %s: %v", w.ID, err)
	}
	slices.Reverse(logs)
	return logs
}

// pending returns how many of a webhook's deliveries are still pending.
func pending(t testing.TB, st *store.Store, w store.Webhook) int64 {
	t.Helper()
	s, err := st.WebhookStats(context.Background(), w.TenantID, w.ID, nil)
	if err != nil {
		t.Fatalf("stats of webhook %s: %v", w.ID, err)
	}
	return s.PendingDeliveries
}

// settled waits until the webhook has n log rows and no pending delivery,
// and returns the rows, oldest first.
func settled(t testing.TB, st *store.Store, w store.Webhook, n int) []store.Log {
	t.Helper()
	var logs []store.Log
	waitFor(t, "the webhook's deliveries to settle", func() bool {
		logs = attempts(t, st, w)
		return len(logs) >= n && pending(t, st, w) == 0
	})
	if len(logs) != n {
		t.Fatalf("got %d log rows, want %d", len(logs), n)
	}
	return logs
}
