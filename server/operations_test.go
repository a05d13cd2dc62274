package server_test

// Issue 7 through the HTTP API: health and readiness, /metrics, redeliver
// and replay, per-webhook delivery options and auto-disable, each on both
// databases with a real delivery.Dispatcher sending to real receivers.

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"

	"github.com/webhookd/webhookd/delivery"
	"github.com/webhookd/webhookd/internal/wiretest"
	"github.com/webhookd/webhookd/metrics"
	"github.com/webhookd/webhookd/metrics/metricstest"
	"github.com/webhookd/webhookd/server"
	"github.com/webhookd/webhookd/store"
	"github.com/webhookd/webhookd/store/storetest"
)

// opsDeadline bounds every wait in these tests; the machine is noisy, so it
// is generous, and a passing test never waits for it.
const opsDeadline = 30 * time.Second

// opsWait polls cond until it reports true, failing t with what is still
// missing once opsDeadline passes.
func opsWait(t testing.TB, what string, cond func() (bool, string)) {
	t.Helper()
	deadline := time.Now().Add(opsDeadline)
	for {
		ok, state := cond()
		if ok {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("gave up after %s waiting for %s; %s", opsDeadline, what, state)
		}
		time.Sleep(10 * time.Millisecond) // poll interval, not synchronisation
	}
}

// opsArrival is one request an opsReceiver got.
type opsArrival struct {
	ID     string // X-Webhook-Id
	Event  string // the envelope's event
	Header http.Header
	Body   []byte
	At     time.Time
	Status int // what the receiver answered (or will, for a held request)
}

// opsPlan decides the answer to the receiver's request number i (from 0):
// its status, and whether to hold it until release.
type opsPlan func(i int) (status int, hold bool)

// opsReceiver is a real webhook endpoint whose answers the test controls:
// by default every request gets the status last set with setStatus (200 at
// first); a plan decides per request instead.
type opsReceiver struct {
	srv    *httptest.Server
	plan   opsPlan
	status atomic.Int64
	held   chan struct{} // one value per request being held
	gate   chan struct{} // closed by release
	once   sync.Once

	mu  sync.Mutex
	got []opsArrival
}

// newOpsReceiver starts a receiver; plan nil answers with setStatus's code.
// Create receivers before the harness, so that they close after its
// dispatcher has stopped.
func newOpsReceiver(t testing.TB, plan opsPlan) *opsReceiver {
	t.Helper()
	rc := &opsReceiver{plan: plan, held: make(chan struct{}, 64), gate: make(chan struct{})}
	rc.status.Store(http.StatusOK)
	rc.srv = httptest.NewServer(rc)
	t.Cleanup(rc.srv.Close)
	// Runs before Close (cleanups run last-in first-out): a held request
	// must be let go or Close would wait for it forever.
	t.Cleanup(rc.release)
	return rc
}

func (rc *opsReceiver) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(r.Body)
	if err != nil {
		return // the sender went away mid-body
	}
	var env struct {
		Event string `json:"event"`
	}
	_ = json.Unmarshal(body, &env)
	rc.mu.Lock()
	i := len(rc.got)
	status, hold := int(rc.status.Load()), false
	if rc.plan != nil {
		status, hold = rc.plan(i)
	}
	rc.got = append(rc.got, opsArrival{ID: r.Header.Get("X-Webhook-Id"), Event: env.Event, Header: r.Header.Clone(),
		Body: body, At: time.Now(), Status: status})
	rc.mu.Unlock()
	if hold {
		rc.held <- struct{}{}
		select {
		case <-rc.gate:
		case <-r.Context().Done():
			return
		}
	}
	w.WriteHeader(status)
	_, _ = fmt.Fprintf(w, "answer %d", status)
}

// URL is where webhooks point.
func (rc *opsReceiver) URL() string { return rc.srv.URL + "/hook" }

// setStatus makes the receiver answer code from now on.
func (rc *opsReceiver) setStatus(code int) { rc.status.Store(int64(code)) }

// release lets held and future requests through.
func (rc *opsReceiver) release() { rc.once.Do(func() { close(rc.gate) }) }

// waitHeld waits until a request is being held.
func (rc *opsReceiver) waitHeld(t testing.TB) {
	t.Helper()
	select {
	case <-rc.held:
	case <-time.After(opsDeadline):
		t.Fatalf("no request was held within %s; the receiver got %d", opsDeadline, len(rc.arrivals()))
	}
}

// arrivals returns every request so far.
func (rc *opsReceiver) arrivals() []opsArrival {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	return slices.Clone(rc.got)
}

// countByID counts requests per X-Webhook-Id.
func (rc *opsReceiver) countByID() map[string]int {
	out := map[string]int{}
	for _, a := range rc.arrivals() {
		out[a.ID]++
	}
	return out
}

// waitArrivals waits until the receiver has had n requests and returns
// them.
func (rc *opsReceiver) waitArrivals(t testing.TB, n int) []opsArrival {
	t.Helper()
	var got []opsArrival
	opsWait(t, fmt.Sprintf("%d requests at the receiver", n), func() (bool, string) {
		got = rc.arrivals()
		return len(got) >= n, fmt.Sprintf("it has %d", len(got))
	})
	return got
}

// opsSetup configures an opsHarness.
type opsSetup struct {
	// Gaps is the retry schedule: Gaps[i] is the wait after failed attempt
	// i+1, without jitter.
	Gaps []time.Duration
	// Observer and Metrics wire /metrics as serve does.
	Observer delivery.Observer
	Metrics  http.Handler
	// Idle leaves the dispatcher stopped until startDispatcher.
	Idle bool
}

// opsHarness is the API served over a store with a real dispatcher
// delivering from the same store, woken by the API as in serve.
type opsHarness struct {
	*testServer
	disp *delivery.Dispatcher

	mu      sync.Mutex
	stopRun func()
}

// newOpsHarness serves the API over st with a dispatcher; it refuses the
// custom headers webhookd reserves, as serve does. The dispatcher's poll is
// a minute, so every delivery in these tests starts because something woke
// it, as in production.
func newOpsHarness(t testing.TB, st *store.Store, setup opsSetup) *opsHarness {
	t.Helper()
	sender := delivery.NewSender(delivery.SenderConfig{Version: "test", Timeout: 10 * time.Second, Now: st.Now})
	t.Cleanup(sender.Close)
	disp := delivery.NewDispatcher(delivery.DispatcherConfig{
		Store: st, Sender: sender, Schedule: delivery.Schedule{Gaps: setup.Gaps},
		Logger: slog.New(slog.NewTextHandler(testLogWriter{t}, nil)), Timeout: 10 * time.Second,
		Poll: time.Minute, Grace: 2 * time.Second, Observer: setup.Observer, Now: st.Now,
	})
	h := &opsHarness{disp: disp}
	h.testServer = newTestServer(t, st, func(c *server.Config) {
		c.Waker, c.Readiness, c.Metrics, c.ReservedHeader = disp, disp, setup.Metrics, delivery.ReservedHeader
	})
	if !setup.Idle {
		h.startDispatcher(t)
	}
	return h
}

// startDispatcher runs the dispatcher until t ends or stopDispatcher.
func (h *opsHarness) startDispatcher(t testing.TB) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- h.disp.Run(ctx) }()
	var once sync.Once
	stop := func() {
		once.Do(func() {
			cancel()
			select {
			case err := <-done:
				if err != nil {
					t.Errorf("dispatcher Run: %v", err)
				}
			case <-time.After(opsDeadline):
				t.Errorf("dispatcher did not stop within %s", opsDeadline)
			}
		})
	}
	h.mu.Lock()
	h.stopRun = stop
	h.mu.Unlock()
	t.Cleanup(stop)
}

// stopDispatcher stops the dispatcher and waits for Run to return.
func (h *opsHarness) stopDispatcher() {
	h.mu.Lock()
	stop := h.stopRun
	h.mu.Unlock()
	if stop != nil {
		stop()
	}
}

// opsPublish publishes one event and returns its id.
func (h *opsHarness) opsPublish(t testing.TB, token, event string, data any) string {
	t.Helper()
	var res struct {
		ID string `json:"id"`
	}
	h.call(t, http.MethodPost, "/api/v1/events", token, map[string]any{"event": event, "data": data}, http.StatusAccepted, &res)
	return res.ID
}

// opsLogs returns every attempt logged for a webhook, newest first.
func (h *opsHarness) opsLogs(t testing.TB, token, hookID string) []logJSON {
	t.Helper()
	var p page[logJSON]
	h.call(t, http.MethodGet, "/api/v1/webhooks/"+hookID+"/logs?limit=500", token, nil, http.StatusOK, &p)
	return p.Data
}

// opsWaitLogs waits until a webhook has n logged attempts and none pending
// (every attempt's outcome is recorded), and returns the logs.
func (h *opsHarness) opsWaitLogs(t testing.TB, token, hookID string, n int) []logJSON {
	t.Helper()
	var logs []logJSON
	opsWait(t, fmt.Sprintf("%d logged attempts and nothing pending for webhook %s", n, hookID), func() (bool, string) {
		logs = h.opsLogs(t, token, hookID)
		pending := h.pending(t, token, hookID)
		return len(logs) >= n && pending == 0, fmt.Sprintf("%d logged, %d pending", len(logs), pending)
	})
	if len(logs) != n {
		t.Fatalf("webhook %s has %d logged attempts, want %d", hookID, len(logs), n)
	}
	return logs
}

// opsWebhookJSON is a webhook with the fields issue 7 added.
type opsWebhookJSON struct {
	ID             string            `json:"id"`
	Secret         string            `json:"secret"`
	IsActive       bool              `json:"isActive"`
	Headers        map[string]string `json:"headers"`
	RateLimit      int               `json:"rateLimit"`
	TimeoutSeconds int               `json:"timeoutSeconds"`
	DisabledReason *string           `json:"disabledReason"`
	DisabledAt     *string           `json:"disabledAt"`
}

func (h *opsHarness) opsWebhook(t testing.TB, token, id string) opsWebhookJSON {
	t.Helper()
	var w opsWebhookJSON
	h.call(t, http.MethodGet, "/api/v1/webhooks/"+id, token, nil, http.StatusOK, &w)
	return w
}

// opsHealth is /healthz and /readyz's answer.
type opsHealth = wiretest.Health

// opsReady fetches /readyz without credentials.
func opsReady(t testing.TB, s *testServer) (int, opsHealth) {
	t.Helper()
	resp := s.do(t, http.MethodGet, "/readyz", "", nil)
	var h opsHealth
	decodeJSON(t, resp, &h)
	return resp.Status, h
}

// opsWantReady requires /readyz to answer status with exactly checks.
func opsWantReady(t testing.TB, s *testServer, status int, checks map[string]string) {
	t.Helper()
	code, h := opsReady(t, s)
	wantStatus := "ok"
	if status != http.StatusOK {
		wantStatus = "unavailable"
	}
	if code != status || h.Status != wantStatus || h.Version != "test" || !maps.Equal(h.Checks, checks) {
		t.Errorf("/readyz = %d %+v, want %d status %q version test checks %v", code, h, status, wantStatus, checks)
	}
}

// opsAllOK is /readyz's checks when everything is ready.
var opsAllOK = map[string]string{"database": "ok", "migrations": "ok", "dispatcher": "ok"}

func TestOpsHealthz(t *testing.T) {
	storetest.Each(t, func(t *testing.T, st *store.Store) {
		s := newTestServer(t, st)
		var h opsHealth
		// No credentials: health checks come from load balancers.
		s.call(t, http.MethodGet, "/healthz", "", nil, http.StatusOK, &h)
		if h.Status != "ok" || h.Version != "test" {
			t.Errorf("/healthz = %+v, want status ok, version test", h)
		}
		// Without a Readiness, /readyz checks the database and migrations
		// and reports the dispatcher as not checked (ok).
		opsWantReady(t, s, http.StatusOK, opsAllOK)
		wantError(t, s.do(t, http.MethodPost, "/healthz", "", nil), http.StatusMethodNotAllowed)
		for _, path := range []string{"/healthz", "/readyz"} {
			if r := s.do(t, http.MethodHead, path, "", nil); r.Status != http.StatusOK || len(r.Body) != 0 ||
				!strings.HasPrefix(r.Header.Get("Content-Type"), "application/json") {
				t.Errorf("HEAD %s = %d %q, %d body bytes; want 200 JSON with no body", path, r.Status, r.Header.Get("Content-Type"), len(r.Body))
			}
		}
	})
}

func TestOpsReadyzFollowsDispatcher(t *testing.T) {
	storetest.Each(t, func(t *testing.T, st *store.Store) {
		h := newOpsHarness(t, st, opsSetup{Idle: true})
		stopped := map[string]string{"database": "ok", "migrations": "ok", "dispatcher": "stopped"}
		opsWantReady(t, h.testServer, http.StatusServiceUnavailable, stopped)

		h.startDispatcher(t)
		opsWait(t, "/readyz to answer 200 once the dispatcher runs", func() (bool, string) {
			code, got := opsReady(t, h.testServer)
			return code == http.StatusOK, fmt.Sprintf("it answers %d %+v", code, got)
		})
		opsWantReady(t, h.testServer, http.StatusOK, opsAllOK)

		// A stopping dispatcher takes the process out of rotation.
		h.stopDispatcher()
		opsWantReady(t, h.testServer, http.StatusServiceUnavailable, stopped)
	})
}

// opsRunning is a Readiness whose dispatcher always runs, for tests about
// the other checks.
type opsRunning struct{}

func (opsRunning) Running() bool { return true }

func TestOpsReadyzPendingMigrations(t *testing.T) {
	storetest.Each(t, func(t *testing.T, st *store.Store) {
		s := newTestServer(t, st, func(c *server.Config) { c.Readiness = opsRunning{} })
		opsWantReady(t, s, http.StatusOK, opsAllOK)

		ctx := context.Background()
		v, err := st.MigrateDown(ctx)
		if err != nil {
			t.Fatalf("MigrateDown: %v", err)
		}
		opsWantReady(t, s, http.StatusServiceUnavailable, map[string]string{"database": "ok", "migrations": "pending", "dispatcher": "ok"})

		if applied, err := st.Migrate(ctx); err != nil || !slices.Equal(applied, []int64{v}) {
			t.Fatalf("Migrate after rolling back %d: applied %v, %v; want [%d]", v, applied, err, v)
		}
		opsWantReady(t, s, http.StatusOK, opsAllOK)
	})
}

// opsScrape fetches /metrics without credentials and parses it with the
// Prometheus text parser.
func opsScrape(t testing.TB, s *testServer) map[string]*dto.MetricFamily {
	t.Helper()
	resp := s.do(t, http.MethodGet, "/metrics", "", nil)
	if resp.Status != http.StatusOK {
		t.Fatalf("GET /metrics: %d %s", resp.Status, resp.Body)
	}
	if ct := resp.Header.Get("Content-Type"); !strings.HasPrefix(ct, "text/plain") {
		t.Errorf("/metrics Content-Type = %q, want the text format", ct)
	}
	return metricstest.Parse(t, resp.Body)
}

func TestOpsMetricsEndpoint(t *testing.T) {
	storetest.Each(t, func(t *testing.T, st *store.Store) {
		rc := newOpsReceiver(t, nil)
		// Each scrape reads the queue anew: the test looks twice within
		// the default interval the gauges are kept for.
		m := metrics.New(st, slog.New(slog.NewTextHandler(testLogWriter{t}, nil)), metrics.StateEvery(time.Nanosecond))
		// One retry an hour out, so a failed delivery sits in the queue as
		// scheduled while the test looks.
		h := newOpsHarness(t, st, opsSetup{Gaps: []time.Duration{time.Hour}, Observer: m, Metrics: m.Handler()})
		_, token := h.user(t, "metrics@example.com")
		hook := h.hookTo(t, token, rc.URL(), "message.new")
		for i := range 3 {
			h.opsPublish(t, token, "message.new", map[string]int{"n": i})
		}
		h.opsWaitLogs(t, token, hook.ID, 3)

		type sample struct {
			name   string
			labels map[string]string
			want   float64
		}
		check := func(fams map[string]*dto.MetricFamily, samples []sample) {
			t.Helper()
			for _, c := range samples {
				if got := metricstest.Value(t, fams, c.name, c.labels); got != c.want {
					t.Errorf("%s%v = %v, want %v", c.name, c.labels, got, c.want)
				}
			}
		}
		fams := opsScrape(t, h.testServer)
		check(fams, []sample{
			{"webhookd_delivery_attempts_total", map[string]string{"outcome": "success", "status_class": "2xx"}, 3},
			{"webhookd_delivery_attempt_duration_seconds", map[string]string{"outcome": "success"}, 3},
			{"webhookd_queue_deliveries", map[string]string{"state": "due"}, 0},
			{"webhookd_queue_deliveries", map[string]string{"state": "scheduled"}, 0},
			{"webhookd_queue_deliveries", map[string]string{"state": "in_flight"}, 0},
			{"webhookd_queue_oldest_due_seconds", map[string]string{}, 0},
			{"webhookd_webhooks", map[string]string{"state": "active"}, 1},
			{"webhookd_webhooks", map[string]string{"state": "disabled"}, 0},
		})

		rc.setStatus(http.StatusServiceUnavailable)
		h.opsPublish(t, token, "message.new", map[string]int{"n": 3})
		opsWait(t, "the failed attempt to be logged", func() (bool, string) {
			n := len(h.opsLogs(t, token, hook.ID))
			return n == 4, fmt.Sprintf("%d logged", n)
		})
		fams = opsScrape(t, h.testServer)
		check(fams, []sample{
			{"webhookd_delivery_attempts_total", map[string]string{"outcome": "failed", "status_class": "5xx"}, 1},
			{"webhookd_delivery_attempts_total", map[string]string{"outcome": "success", "status_class": "2xx"}, 3},
			{"webhookd_queue_deliveries", map[string]string{"state": "scheduled"}, 1},
			{"webhookd_queue_deliveries", map[string]string{"state": "due"}, 0},
		})
		// Cardinality stays fixed whatever users create.
		for name, f := range fams {
			for _, s := range f.GetMetric() {
				for _, l := range s.GetLabel() {
					if n := l.GetName(); n == "webhook_id" || n == "url" || n == "user_id" {
						t.Errorf("%s has a per-webhook label %s", name, n)
					}
				}
			}
		}

		// Without Metrics configured (--metrics-addr elsewhere), the API
		// port has no /metrics.
		plain := newTestServer(t, st)
		wantError(t, plain.do(t, http.MethodGet, "/metrics", "", nil), http.StatusNotFound)
	})
}

// opsRedeliverJSON is the redeliver route's answer.
type opsRedeliverJSON struct {
	DeliveryID string `json:"deliveryId"`
	Status     string `json:"status"`
}

func opsRedeliverPath(hookID, logID string) string {
	return "/api/v1/webhooks/" + hookID + "/logs/" + logID + "/redeliver"
}

func TestOpsRedeliver(t *testing.T) {
	storetest.Each(t, func(t *testing.T, st *store.Store) {
		rc := newOpsReceiver(t, nil)
		h := newOpsHarness(t, st, opsSetup{Gaps: []time.Duration{50 * time.Millisecond}})
		_, token := h.user(t, "redeliver@example.com")
		_, otherToken := h.user(t, "other@example.com")
		hook := h.hookTo(t, token, rc.URL(), "message.new")
		sibling := h.hookTo(t, token, rc.URL(), "conversation.created")

		h.opsPublish(t, token, "message.new", map[string]string{"text": "hello"})
		first := h.opsWaitLogs(t, token, hook.ID, 1)[0]
		if first.Status != "success" || first.Attempt != 1 {
			t.Fatalf("first attempt = %+v, want attempt 1, success", first)
		}

		var got opsRedeliverJSON
		h.call(t, http.MethodPost, opsRedeliverPath(hook.ID, first.ID), token, nil, http.StatusAccepted, &got)
		if got.DeliveryID != first.DeliveryID || got.Status != "pending" {
			t.Errorf("redeliver answered %+v, want deliveryId %s, status pending", got, first.DeliveryID)
		}
		logs := h.opsWaitLogs(t, token, hook.ID, 2)
		arrivals := rc.waitArrivals(t, 2)
		if len(arrivals) != 2 {
			t.Fatalf("receiver got %d requests, want the delivery and its redelivery", len(arrivals))
		}
		// The same delivery again, as GitHub's Redeliver: same webhook-id,
		// so receivers that de-duplicate see a repeat; same payload.
		for i, a := range arrivals {
			if a.ID != first.DeliveryID || a.Header.Get("webhook-id") != first.DeliveryID {
				t.Errorf("request %d: X-Webhook-Id %q, webhook-id %q; want %s", i, a.ID, a.Header.Get("webhook-id"), first.DeliveryID)
			}
		}
		if !bytes.Equal(arrivals[0].Body, arrivals[1].Body) {
			t.Errorf("redelivered body %s differs from the original %s", arrivals[1].Body, arrivals[0].Body)
		}
		// A new attempt in the log, not a rewrite of the old one.
		again := logs[0]
		if again.ID == first.ID || again.DeliveryID != first.DeliveryID || again.Attempt != 2 || again.Status != "success" {
			t.Errorf("redelivery logged as %+v, want a new entry for delivery %s, attempt 2, success", again, first.DeliveryID)
		}

		for _, c := range []struct {
			name, token, path string
			want              int
		}{
			{"unknown log", token, opsRedeliverPath(hook.ID, store.NewID()), http.StatusNotFound},
			{"malformed log id", token, opsRedeliverPath(hook.ID, "not-an-id"), http.StatusNotFound},
			{"unknown webhook", token, opsRedeliverPath(store.NewID(), first.ID), http.StatusNotFound},
			{"log of another webhook", token, opsRedeliverPath(sibling.ID, first.ID), http.StatusNotFound},
			{"another user's webhook", otherToken, opsRedeliverPath(hook.ID, first.ID), http.StatusNotFound},
			{"no credentials", "", opsRedeliverPath(hook.ID, first.ID), http.StatusUnauthorized},
		} {
			t.Run(c.name, func(t *testing.T) {
				wantError(t, h.do(t, http.MethodPost, c.path, c.token, nil), c.want)
			})
		}
	})
}

func TestOpsRedeliverInFlightConflicts(t *testing.T) {
	storetest.Each(t, func(t *testing.T, st *store.Store) {
		// The first attempt fails, the retry is held at the receiver while
		// the test asks for a redelivery, later ones succeed.
		rc := newOpsReceiver(t, func(i int) (int, bool) {
			if i == 0 {
				return http.StatusInternalServerError, false
			}
			return http.StatusOK, i == 1
		})
		h := newOpsHarness(t, st, opsSetup{Gaps: []time.Duration{50 * time.Millisecond}})
		_, token := h.user(t, "inflight@example.com")
		hook := h.hookTo(t, token, rc.URL(), "message.new")
		h.opsPublish(t, token, "message.new", map[string]int{"n": 1})

		rc.waitHeld(t)
		logs := h.opsLogs(t, token, hook.ID)
		if len(logs) != 1 || logs[0].Status != "failed" {
			t.Fatalf("logs while the retry is in flight = %+v, want the one failed attempt", logs)
		}
		failed := logs[0]
		e := wantError(t, h.do(t, http.MethodPost, opsRedeliverPath(hook.ID, failed.ID), token, nil), http.StatusConflict)
		if !strings.Contains(e.Message, failed.DeliveryID) {
			t.Errorf("409 message %q does not name delivery %s", e.Message, failed.DeliveryID)
		}

		rc.release()
		h.opsWaitLogs(t, token, hook.ID, 2)
		// Once the attempt is logged, the same request succeeds.
		h.call(t, http.MethodPost, opsRedeliverPath(hook.ID, failed.ID), token, nil, http.StatusAccepted, nil)
		logs = h.opsWaitLogs(t, token, hook.ID, 3)
		if logs[0].Attempt != 3 || logs[0].Status != "success" || logs[0].DeliveryID != failed.DeliveryID {
			t.Errorf("after the redelivery: %+v, want attempt 3 of %s, success", logs[0], failed.DeliveryID)
		}
	})
}

// opsReplay posts a replay request and returns how many were queued.
func (h *opsHarness) opsReplay(t testing.TB, token, hookID string, body map[string]any) int64 {
	t.Helper()
	var res struct {
		Queued *int64 `json:"queued"`
	}
	h.call(t, http.MethodPost, "/api/v1/webhooks/"+hookID+"/replay", token, body, http.StatusAccepted, &res)
	if res.Queued == nil {
		t.Fatalf("replay %v: no queued count in the answer", body)
	}
	return *res.Queued
}

func opsRFC3339(t time.Time) string { return t.UTC().Format(time.RFC3339Nano) }

// TestOpsReplayAfterOutage is the "done when": a receiver down long
// enough for deliveries to fail for good; replaying the failed ones once
// it is back delivers each exactly once more.
func TestOpsReplayAfterOutage(t *testing.T) {
	storetest.Each(t, func(t *testing.T, st *store.Store) {
		rc := newOpsReceiver(t, nil)
		// Two attempts per delivery, the retry 20ms after the first.
		h := newOpsHarness(t, st, opsSetup{Gaps: []time.Duration{20 * time.Millisecond}})
		_, token := h.user(t, "replay@example.com")
		_, otherToken := h.user(t, "other@example.com")
		hook := h.hookTo(t, token, rc.URL(), "message.new")
		start := time.Now().Add(-time.Second)

		h.opsPublish(t, token, "message.new", map[string]int{"n": 0})
		h.opsWaitLogs(t, token, hook.ID, 1)
		okID := rc.arrivals()[0].ID

		const down = 5
		rc.setStatus(http.StatusInternalServerError)
		for i := 1; i <= down; i++ {
			h.opsPublish(t, token, "message.new", map[string]int{"n": i})
		}
		// Every attempt logged and nothing pending: each delivery failed
		// for good.
		h.opsWaitLogs(t, token, hook.ID, 1+2*down)
		var failedIDs []string
		for id, n := range rc.countByID() {
			if id == okID {
				continue
			}
			if n != 2 {
				t.Errorf("delivery %s attempted %d times during the outage, want 2", id, n)
			}
			failedIDs = append(failedIDs, id)
		}
		if len(failedIDs) != down {
			t.Fatalf("%d deliveries failed, want %d", len(failedIDs), down)
		}
		// Checking whether the receiver is back with a test send: it
		// fails, and its made-up payload must never be replayed.
		if res := h.sendTest(t, token, hook.ID, "message.new", map[string]string{"messageId": "test_123"}); res.Success {
			t.Fatalf("test send to the receiver that is down succeeded: %+v", res)
		}
		testID := rc.arrivals()[1+2*down].ID
		const tests = 1

		rc.setStatus(http.StatusOK)
		// Nothing in a window before the events, nor for another user.
		if n := h.opsReplay(t, token, hook.ID, map[string]any{"since": opsRFC3339(start.Add(-time.Hour)), "until": opsRFC3339(start)}); n != 0 {
			t.Errorf("replay of the hour before: queued %d, want 0", n)
		}
		wantError(t, h.do(t, http.MethodPost, "/api/v1/webhooks/"+hook.ID+"/replay", otherToken,
			map[string]any{"since": opsRFC3339(start)}), http.StatusNotFound)
		wantError(t, h.do(t, http.MethodPost, "/api/v1/webhooks/"+store.NewID()+"/replay", token,
			map[string]any{"since": opsRFC3339(start)}), http.StatusNotFound)

		if n := h.opsReplay(t, token, hook.ID, map[string]any{"since": opsRFC3339(start), "status": "failed"}); n != down {
			t.Fatalf("replay of the failed deliveries: queued %d, want %d", n, down)
		}
		h.opsWaitLogs(t, token, hook.ID, 1+3*down+tests)
		counts := rc.countByID()
		if counts[okID] != 1 {
			t.Errorf("the delivery that had succeeded arrived %d times, want 1 (not replayed)", counts[okID])
		}
		if counts[testID] != 1 {
			t.Errorf("the failed test send arrived %d times, want 1 (never replayed)", counts[testID])
		}
		for _, id := range failedIDs {
			if counts[id] != 3 {
				t.Errorf("failed delivery %s arrived %d times, want 3: two failures and exactly one replay", id, counts[id])
			}
		}
		for _, l := range h.opsLogs(t, token, hook.ID)[:down] {
			if l.Status != "success" || l.Attempt != 3 {
				t.Errorf("replayed attempt %+v, want attempt 3, success", l)
			}
		}
		// Nothing failed is left.
		if n := h.opsReplay(t, token, hook.ID, map[string]any{"since": opsRFC3339(start), "status": "failed"}); n != 0 {
			t.Errorf("second replay of failed deliveries: queued %d, want 0", n)
		}
		// Without status every finished delivery goes again.
		if n := h.opsReplay(t, token, hook.ID, map[string]any{"since": opsRFC3339(start)}); n != 1+down {
			t.Errorf("replay of everything: queued %d, want %d", n, 1+down)
		}
		h.opsWaitLogs(t, token, hook.ID, 2+4*down+tests)
		if n := rc.countByID()[testID]; n != 1 {
			t.Errorf("the test send arrived %d times after replaying everything, want 1", n)
		}
	})
}

func TestOpsReplayValidation(t *testing.T) {
	storetest.Each(t, func(t *testing.T, st *store.Store) {
		s := newTestServer(t, st)
		_, token := s.user(t, "replay-validation@example.com")
		hook := s.hookTo(t, token, "https://example.com/hook", "*")
		path := "/api/v1/webhooks/" + hook.ID + "/replay"
		now := time.Now()
		for _, c := range []struct {
			name   string
			body   any
			fields []string
		}{
			{"since missing", map[string]any{}, []string{"since"}},
			{"since null", map[string]any{"since": nil}, []string{"since"}},
			{"since not a time", map[string]any{"since": "yesterday"}, []string{"since"}},
			{"since a date only", map[string]any{"since": "2024-01-01"}, []string{"since"}},
			{"since a number", map[string]any{"since": 1700000000}, []string{"since"}},
			{"until not a time", map[string]any{"since": opsRFC3339(now), "until": "soon"}, []string{"until"}},
			{"until before since", map[string]any{"since": opsRFC3339(now), "until": opsRFC3339(now.Add(-time.Hour))}, []string{"until"}},
			{"until equal to since", map[string]any{"since": opsRFC3339(now), "until": opsRFC3339(now)}, []string{"until"}},
			{"status success", map[string]any{"since": opsRFC3339(now), "status": "success"}, []string{"status"}},
			{"status pending", map[string]any{"since": opsRFC3339(now), "status": "pending"}, []string{"status"}},
			{"status empty", map[string]any{"since": opsRFC3339(now), "status": ""}, []string{"status"}},
			{"every field bad", map[string]any{"until": "x", "status": "all"}, []string{"since", "until", "status"}},
			{"unknown field", map[string]any{"since": opsRFC3339(now), "webhookId": hook.ID}, []string{"webhookId"}},
			{"no body", nil, nil},
			{"malformed", rawBody(`{"since":`), nil},
		} {
			t.Run(c.name, func(t *testing.T) {
				wantError(t, s.do(t, http.MethodPost, path, token, c.body), http.StatusBadRequest, c.fields...)
			})
		}
		var res struct {
			Queued int64 `json:"queued"`
		}
		s.call(t, http.MethodPost, path, token, map[string]any{"since": opsRFC3339(now.Add(time.Hour)), "status": "failed"}, http.StatusAccepted, &res)
		if res.Queued != 0 {
			t.Errorf("replay of a future window queued %d, want 0", res.Queued)
		}
	})
}

func TestOpsWebhookOptionsValidation(t *testing.T) {
	storetest.Each(t, func(t *testing.T, st *store.Store) {
		s := newTestServer(t, st, func(c *server.Config) { c.ReservedHeader = delivery.ReservedHeader })
		_, token := s.user(t, "options@example.com")

		tooMany := map[string]string{}
		for i := range 21 {
			tooMany[fmt.Sprintf("X-H%d", i)] = "v"
		}
		bad := []struct {
			name   string
			mods   map[string]any
			fields []string
		}{
			{"X-Webhook-Id", map[string]any{"headers": map[string]string{"X-Webhook-Id": "forged"}}, []string{"headers"}},
			{"x-webhook-signature lower case", map[string]any{"headers": map[string]string{"x-webhook-signature": "sha256=00"}}, []string{"headers"}},
			{"webhook-signature", map[string]any{"headers": map[string]string{"webhook-signature": "v1,xx"}}, []string{"headers"}},
			{"webhook-id", map[string]any{"headers": map[string]string{"Webhook-Id": "x"}}, []string{"headers"}},
			{"Content-Type", map[string]any{"headers": map[string]string{"content-type": "text/plain"}}, []string{"headers"}},
			{"User-Agent", map[string]any{"headers": map[string]string{"User-Agent": "me"}}, []string{"headers"}},
			{"Host", map[string]any{"headers": map[string]string{"Host": "evil.example"}}, []string{"headers"}},
			{"Content-Length", map[string]any{"headers": map[string]string{"Content-Length": "0"}}, []string{"headers"}},
			{"CRLF in value", map[string]any{"headers": map[string]string{"X-Tenant": "a\r\nX-Injected: 1"}}, []string{"headers"}},
			{"LF in value", map[string]any{"headers": map[string]string{"X-Tenant": "a\nb"}}, []string{"headers"}},
			{"NUL in value", map[string]any{"headers": map[string]string{"X-Tenant": "a\x00b"}}, []string{"headers"}},
			{"CRLF in name", map[string]any{"headers": map[string]string{"X-A\r\nX-B": "v"}}, []string{"headers"}},
			{"space in name", map[string]any{"headers": map[string]string{"X Tenant": "v"}}, []string{"headers"}},
			{"colon in name", map[string]any{"headers": map[string]string{"X-Tenant:": "v"}}, []string{"headers"}},
			{"empty name", map[string]any{"headers": map[string]string{"": "v"}}, []string{"headers"}},
			{"value over 1024 bytes", map[string]any{"headers": map[string]string{"X-Big": strings.Repeat("v", 1025)}}, []string{"headers"}},
			{"21 headers", map[string]any{"headers": tooMany}, []string{"headers"}},
			{"headers an array", map[string]any{"headers": []string{"X-A: b"}}, []string{"headers"}},
			{"rateLimit negative", map[string]any{"rateLimit": -1}, []string{"rateLimit"}},
			{"rateLimit over 10000", map[string]any{"rateLimit": 10001}, []string{"rateLimit"}},
			{"rateLimit a fraction", map[string]any{"rateLimit": 1.5}, []string{"rateLimit"}},
			{"rateLimit a string", map[string]any{"rateLimit": "5"}, []string{"rateLimit"}},
			{"timeoutSeconds over 30", map[string]any{"timeoutSeconds": 31}, []string{"timeoutSeconds"}},
			{"timeoutSeconds negative", map[string]any{"timeoutSeconds": -1}, []string{"timeoutSeconds"}},
			{"all three", map[string]any{"headers": map[string]string{"X-Webhook-Event": "x"}, "rateLimit": -5, "timeoutSeconds": 3600},
				[]string{"headers", "rateLimit", "timeoutSeconds"}},
		}
		before := s.webhookIDs(t, token)
		for _, c := range bad {
			t.Run("create "+c.name, func(t *testing.T) {
				wantError(t, s.do(t, http.MethodPost, "/api/v1/webhooks", token, validHook(c.mods)), http.StatusBadRequest, c.fields...)
			})
		}
		if after := s.webhookIDs(t, token); len(after) != len(before) {
			t.Errorf("rejected creates left webhooks behind: %v", after)
		}

		var w opsWebhookJSON
		s.call(t, http.MethodPost, "/api/v1/webhooks", token, validHook(map[string]any{
			"headers":   map[string]string{"X-Tenant": "acme", "Authorization": "Bearer receiver-credential", "X-Tab": "a\tb"},
			"rateLimit": 10000, "timeoutSeconds": 30,
		}), http.StatusCreated, &w)
		if !maps.Equal(w.Headers, map[string]string{"X-Tenant": "acme", "Authorization": "Bearer receiver-credential", "X-Tab": "a\tb"}) ||
			w.RateLimit != 10000 || w.TimeoutSeconds != 30 {
			t.Errorf("created %+v, want the headers, rateLimit 10000, timeoutSeconds 30", w)
		}
		path := "/api/v1/webhooks/" + w.ID
		saved := s.getWebhook(t, token, w.ID)
		for _, c := range bad {
			t.Run("patch "+c.name, func(t *testing.T) {
				wantError(t, s.do(t, http.MethodPatch, path, token, c.mods), http.StatusBadRequest, c.fields...)
				if after := s.getWebhook(t, token, w.ID); after != saved {
					t.Errorf("rejected PATCH changed the webhook:\nbefore %s\n after %s", saved, after)
				}
			})
		}

		// 0 means no rate limit and the server's timeout; headers replace
		// the whole set, {} clears it.
		var p opsWebhookJSON
		s.call(t, http.MethodPatch, path, token, map[string]any{"headers": map[string]string{}, "rateLimit": 0, "timeoutSeconds": 0}, http.StatusOK, &p)
		if len(p.Headers) != 0 || p.RateLimit != 0 || p.TimeoutSeconds != 0 {
			t.Errorf("after clearing: %+v, want no headers, rateLimit 0, timeoutSeconds 0", p)
		}
		s.call(t, http.MethodPatch, path, token, map[string]any{"headers": map[string]string{"X-Only": "1"}, "timeoutSeconds": 1}, http.StatusOK, &p)
		if !maps.Equal(p.Headers, map[string]string{"X-Only": "1"}) || p.TimeoutSeconds != 1 || p.RateLimit != 0 {
			t.Errorf("after PATCH: %+v, want headers {X-Only: 1}, timeoutSeconds 1, rateLimit unchanged 0", p)
		}
		// A webhook without options shows them empty, not missing.
		var plain map[string]any
		s.call(t, http.MethodPost, "/api/v1/webhooks", token, validHook(nil), http.StatusCreated, &plain)
		for field, want := range map[string]any{"headers": map[string]any{}, "rateLimit": float64(0), "timeoutSeconds": float64(0), "disabledReason": nil, "disabledAt": nil} {
			got, ok := plain[field]
			if !ok {
				t.Errorf("webhook JSON has no %q field: %v", field, plain)
				continue
			}
			if fmt.Sprint(got) != fmt.Sprint(want) {
				t.Errorf("%s = %v, want %v", field, got, want)
			}
		}
	})
}

func TestOpsWebhookOptionsReachDeliveries(t *testing.T) {
	storetest.Each(t, func(t *testing.T, st *store.Store) {
		rc := newOpsReceiver(t, nil)
		// A receiver that never answers: only the webhook's timeout ends
		// the attempt.
		hang := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			// Reading the body to its end lets the server notice the
			// sender hanging up, which ends the request's context.
			_, _ = io.Copy(io.Discard, r.Body)
			<-r.Context().Done()
		}))
		t.Cleanup(hang.Close)
		h := newOpsHarness(t, st, opsSetup{})
		u, token := h.user(t, "options-delivery@example.com")

		var w opsWebhookJSON
		h.call(t, http.MethodPost, "/api/v1/webhooks", token, map[string]any{
			"name": "with headers", "url": rc.URL(), "events": []string{"message.new"},
			"headers": map[string]string{"X-Tenant": "acme", "Authorization": "Bearer receiver-credential"},
		}, http.StatusCreated, &w)
		h.opsPublish(t, token, "message.new", map[string]int{"n": 1})
		logs := h.opsWaitLogs(t, token, w.ID, 1)
		a := rc.arrivals()[0]
		if a.Header.Get("X-Tenant") != "acme" || a.Header.Get("Authorization") != "Bearer receiver-credential" {
			t.Errorf("custom headers arrived as X-Tenant %q, Authorization %q", a.Header.Get("X-Tenant"), a.Header.Get("Authorization"))
		}
		if a.ID != logs[0].DeliveryID || a.Header.Get("webhook-id") != logs[0].DeliveryID {
			t.Errorf("X-Webhook-Id %q, webhook-id %q; want the delivery id %s", a.ID, a.Header.Get("webhook-id"), logs[0].DeliveryID)
		}
		// The log keeps the request, but not the receiver's credential.
		var full logJSON
		h.call(t, http.MethodGet, "/api/v1/webhooks/"+w.ID+"/logs/"+logs[0].ID, token, nil, http.StatusOK, &full)
		if full.RequestHeaders["X-Tenant"] != "acme" || strings.Contains(fmt.Sprint(full.RequestHeaders), "receiver-credential") {
			t.Errorf("logged request headers %v, want X-Tenant and the Authorization value redacted", full.RequestHeaders)
		}

		// A webhook saved with reserved headers (before they were refused,
		// say) still cannot override webhookd's own.
		forged, err := st.CreateWebhook(context.Background(), store.CreateWebhookParams{
			TenantID: u.ID, Name: "forged", URL: rc.URL(), Events: []string{"conversation.created"}, Secret: "forged-secret-123",
			IsActive: true, Headers: map[string]string{"X-Webhook-Id": "forged", "webhook-id": "forged", "X-Webhook-Event": "forged", "Content-Type": "text/plain"},
		})
		if err != nil {
			t.Fatalf("create webhook with reserved headers in the store: %v", err)
		}
		h.opsPublish(t, token, "conversation.created", map[string]int{"n": 2})
		logs = h.opsWaitLogs(t, token, forged.ID, 1)
		a = rc.arrivals()[1]
		if a.ID != logs[0].DeliveryID || a.Header.Get("webhook-id") != logs[0].DeliveryID ||
			a.Header.Get("X-Webhook-Event") != "conversation.created" || a.Header.Get("Content-Type") != "application/json" {
			t.Errorf("reserved headers overridden: X-Webhook-Id %q, webhook-id %q, X-Webhook-Event %q, Content-Type %q; want %s, %s, conversation.created, application/json",
				a.ID, a.Header.Get("webhook-id"), a.Header.Get("X-Webhook-Event"), a.Header.Get("Content-Type"), logs[0].DeliveryID, logs[0].DeliveryID)
		}
		for _, name := range []string{"X-Webhook-Id", "Webhook-Id", "X-Webhook-Event", "Content-Type"} {
			if n := len(a.Header.Values(name)); n != 1 {
				t.Errorf("%s sent %d times, want once", name, n)
			}
		}

		// timeoutSeconds cuts an attempt off well before the server's 10s.
		slow := h.createWebhook(t, token, map[string]any{"name": "slow", "url": hang.URL + "/hook", "events": []string{"campaign.started"}, "timeoutSeconds": 1})
		h.opsPublish(t, token, "campaign.started", map[string]int{"n": 3})
		logs = h.opsWaitLogs(t, token, slow.ID, 1)
		if l := logs[0]; l.Status != "failed" || l.Error == nil || !strings.Contains(*l.Error, "timeout") || !strings.Contains(*l.Error, "1s") {
			t.Errorf("attempt to a receiver that never answers = %+v, want failed with a 1s timeout", l)
		}
	})
}

func TestOpsRateLimitSpreadsDeliveries(t *testing.T) {
	storetest.Each(t, func(t *testing.T, st *store.Store) {
		rc := newOpsReceiver(t, nil)
		h := newOpsHarness(t, st, opsSetup{})
		_, token := h.user(t, "rate@example.com")
		const rate, n = 5, 4
		w := h.createWebhook(t, token, map[string]any{"name": "paced", "url": rc.URL(), "events": []string{"message.new"}, "rateLimit": rate})
		published := time.Now()
		for i := range n {
			h.opsPublish(t, token, "message.new", map[string]int{"n": i})
		}
		logs := h.opsWaitLogs(t, token, w.ID, n)
		for _, l := range logs {
			if l.Status != "success" {
				t.Errorf("paced attempt %+v failed; a burst must be smoothed, not failed", l)
			}
		}
		// Each send waits its turn, 1/rate after the one before, and the
		// first cannot start before the events were published: a lower
		// bound, which a slow machine only makes longer.
		arrivals := rc.arrivals()
		minSpan := time.Duration(n-1) * time.Second / rate
		if span := arrivals[len(arrivals)-1].At.Sub(published); span < minSpan {
			t.Errorf("%d deliveries at %d/s arrived within %s of publishing, want at least %s", n, rate, span, minSpan)
		}
	})
}

// opsDisabledEvent is the data of a webhook.disabled event.
type opsDisabledEvent struct {
	Event string `json:"event"`
	Data  struct {
		WebhookID  string `json:"webhookId"`
		Name       string `json:"name"`
		URL        string `json:"url"`
		Reason     string `json:"reason"`
		DisabledAt string `json:"disabledAt"`
	} `json:"data"`
}

func TestOpsGoneDisablesAndPatchResumes(t *testing.T) {
	storetest.Each(t, func(t *testing.T, st *store.Store) {
		failing := newOpsReceiver(t, nil)
		failing.setStatus(http.StatusGone)
		watcher := newOpsReceiver(t, nil)
		stranger := newOpsReceiver(t, nil)
		h := newOpsHarness(t, st, opsSetup{Gaps: []time.Duration{50 * time.Millisecond, 50 * time.Millisecond}})
		_, token := h.user(t, "gone@example.com")
		_, otherToken := h.user(t, "stranger@example.com")
		// Subscribed to everything: it must not be told of its own disabling.
		hook := h.hookTo(t, token, failing.URL(), "*")
		watch := h.hookTo(t, token, watcher.URL(), "webhook.disabled")
		strangerHook := h.hookTo(t, otherToken, stranger.URL(), "webhook.disabled")

		h.opsPublish(t, token, "message.new", map[string]int{"n": 1})
		got := watcher.waitArrivals(t, 1)[0]
		w := h.opsWebhook(t, token, hook.ID)
		if w.IsActive || w.DisabledReason == nil || !strings.Contains(*w.DisabledReason, "410") {
			t.Errorf("after a 410: isActive %v, disabledReason %v; want inactive with a reason naming 410", w.IsActive, w.DisabledReason)
		}
		disabledAt := wantRecent(t, "disabledAt", w.DisabledAt)

		var ev opsDisabledEvent
		if err := json.Unmarshal(got.Body, &ev); err != nil {
			t.Fatalf("webhook.disabled body %s: %v", got.Body, err)
		}
		if ev.Event != "webhook.disabled" || got.Event != "webhook.disabled" || ev.Data.WebhookID != hook.ID || ev.Data.URL != failing.URL() ||
			ev.Data.Reason != *w.DisabledReason || !parseTime(t, "data.disabledAt", ev.Data.DisabledAt).Equal(disabledAt) {
			t.Errorf("webhook.disabled event %s, want webhookId %s, url %s, the reason and disabledAt %s", got.Body, hook.ID, failing.URL(), *w.DisabledAt)
		}
		h.opsWaitLogs(t, token, watch.ID, 1)
		// Another user is told nothing.
		if n := h.pending(t, otherToken, strangerHook.ID); n != 0 || len(stranger.arrivals()) != 0 {
			t.Errorf("another user's webhook.disabled subscriber has %d pending and got %d requests, want none", n, len(stranger.arrivals()))
		}

		// Re-enabled: the reason goes, and the delivery that got the 410
		// is sent again with its id, now to a receiver that is back.
		failing.setStatus(http.StatusOK)
		var on opsWebhookJSON
		h.call(t, http.MethodPatch, "/api/v1/webhooks/"+hook.ID, token, map[string]any{"isActive": true}, http.StatusOK, &on)
		if !on.IsActive || on.DisabledReason != nil || on.DisabledAt != nil {
			t.Errorf("after PATCH isActive true: %+v, want active without disabledReason or disabledAt", on)
		}
		logs := h.opsWaitLogs(t, token, hook.ID, 2)
		if logs[0].Status != "success" || logs[0].Attempt != 2 || logs[0].DeliveryID != logs[1].DeliveryID || logs[1].StatusCode == nil || *logs[1].StatusCode != http.StatusGone {
			t.Errorf("logs after re-enabling %+v, want the 410 attempt then attempt 2 of the same delivery succeeding", logs)
		}
		for _, a := range failing.arrivals() {
			if a.Event != "message.new" {
				t.Errorf("the disabled webhook received %s, want only its own message.new", a.Event)
			}
		}
		if len(watcher.arrivals()) != 1 {
			t.Errorf("watcher got %d requests, want the one webhook.disabled", len(watcher.arrivals()))
		}
	})
}

// opsClock is the real time moved by an offset the test sets, so that
// deliveries keep flowing while the auto-disable window passes at once.
type opsClock struct{ offset atomic.Int64 }

func (c *opsClock) now() time.Time { return time.Now().Add(time.Duration(c.offset.Load())) }

func (c *opsClock) advance(d time.Duration) { c.offset.Add(int64(d)) }

func TestOpsAutoDisableAfterFailingLongEnough(t *testing.T) {
	c := &opsClock{}
	storetest.Each(t, func(t *testing.T, st *store.Store) {
		c.offset.Store(0)
		rc := newOpsReceiver(t, nil)
		rc.setStatus(http.StatusInternalServerError)
		watcher := newOpsReceiver(t, nil)
		h := newOpsHarness(t, st, opsSetup{Gaps: []time.Duration{10 * time.Millisecond, 10 * time.Millisecond}})
		_, token := h.user(t, "failing@example.com")
		hook := h.hookTo(t, token, rc.URL(), "message.new")
		h.hookTo(t, token, watcher.URL(), "webhook.disabled")

		// Three failed attempts in a row, but within the hour: still on.
		h.opsPublish(t, token, "message.new", map[string]int{"n": 1})
		h.opsWaitLogs(t, token, hook.ID, 3)
		if w := h.opsWebhook(t, token, hook.ID); !w.IsActive || w.DisabledReason != nil {
			t.Fatalf("after 3 failures within the hour: %+v, want still active", w)
		}

		// Two hours on, one more failure: failing for an hour with at
		// least three failures in a row.
		c.advance(2 * time.Hour)
		h.opsPublish(t, token, "message.new", map[string]int{"n": 2})
		watcher.waitArrivals(t, 1)
		w := h.opsWebhook(t, token, hook.ID)
		if w.IsActive || w.DisabledReason == nil || !strings.Contains(*w.DisabledReason, "failed") || w.DisabledAt == nil {
			t.Fatalf("after failing for 2h: %+v, want inactive with disabledReason and disabledAt", w)
		}
		if at := parseTime(t, "disabledAt", *w.DisabledAt); at.Before(time.Now().Add(time.Hour)) {
			t.Errorf("disabledAt = %s, want the store's clock (2h ahead)", *w.DisabledAt)
		}

		// The receiver is fixed; re-enabling resumes the pending retry.
		rc.setStatus(http.StatusOK)
		h.call(t, http.MethodPatch, "/api/v1/webhooks/"+hook.ID, token, map[string]any{"isActive": true}, http.StatusOK, nil)
		logs := h.opsWaitLogs(t, token, hook.ID, 5)
		if logs[0].Status != "success" || logs[0].Attempt != 2 {
			t.Errorf("after re-enabling: %+v, want the second delivery's attempt 2 succeeding", logs[0])
		}
		if w := h.opsWebhook(t, token, hook.ID); !w.IsActive {
			t.Errorf("webhook after a success = %+v, want active", w)
		}
	}, store.WithClock(c.now), store.WithAutoDisable(store.AutoDisable{After: time.Hour, MinFailures: 3}))
}
