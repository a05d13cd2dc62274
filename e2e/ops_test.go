package e2e

// Issue 7 on the real binary: /healthz and /readyz, /metrics on the API
// port or on --metrics-addr, JSON logs that name failed attempts without
// leaking secrets, and the flags that configure them.

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"

	"github.com/webhookd/webhookd/internal/wiretest"
	"github.com/webhookd/webhookd/metrics/metricstest"
	"github.com/webhookd/webhookd/store/storetest"
)

// opsGet fetches url without credentials and returns the status, the
// Content-Type and the body.
func opsGet(t testing.TB, url string) (int, string, []byte) {
	t.Helper()
	resp, err := httpClient.Get(url)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("GET %s: read answer: %v", url, err)
	}
	return resp.StatusCode, resp.Header.Get("Content-Type"), b
}

// opsHealthWire is /healthz and /readyz's answer.
type opsHealthWire = wiretest.Health

// opsCheckHealth checks /healthz, and waits for /readyz to report every
// check ok: the dispatcher may start a moment after the API answers.
func opsCheckHealth(t testing.TB, base string) {
	t.Helper()
	code, ct, body := opsGet(t, base+"/healthz")
	var h opsHealthWire
	if err := json.Unmarshal(body, &h); err != nil || code != http.StatusOK || !strings.HasPrefix(ct, "application/json") ||
		h.Status != "ok" || h.Version != e2eVersion {
		t.Errorf("/healthz = %d %s %s (%v), want 200 JSON status ok, version %s", code, ct, body, err, e2eVersion)
	}
	waitFor(t, 30*time.Second, func() (bool, string) {
		code, ct, body := opsGet(t, base+"/readyz")
		var r opsHealthWire
		err := json.Unmarshal(body, &r)
		ok := err == nil && code == http.StatusOK && strings.HasPrefix(ct, "application/json") && r.Status == "ok" &&
			r.Version == e2eVersion && len(r.Checks) == 3 && r.Checks["database"] == "ok" && r.Checks["migrations"] == "ok" && r.Checks["dispatcher"] == "ok"
		return ok, fmt.Sprintf("/readyz to answer 200 with database, migrations and dispatcher ok; it answers %d %s", code, body)
	})
}

// opsParseMetrics parses a /metrics answer with the Prometheus text parser.
func opsParseMetrics(t testing.TB, code int, ct string, body []byte) map[string]*dto.MetricFamily {
	t.Helper()
	if code != http.StatusOK || !strings.HasPrefix(ct, "text/plain") {
		t.Fatalf("/metrics = %d %s, want 200 in the text format\n%s", code, ct, body)
	}
	return metricstest.Parse(t, body)
}

func TestE2EOpsHealthAndMetrics(t *testing.T) {
	t.Parallel()
	storetest.EachTarget(t, func(t *testing.T, db string) {
		t.Parallel()
		rc := newReceiver(t)
		// --retention 0 keeps everything; serve must accept it. Pruning
		// itself is delivery.Retention's unit test (TestRetention).
		p := startServe(t, db, adminEnv, append([]string{"--retention", "0"}, deliveryArgs...)...)
		opsCheckHealth(t, p.URL)

		a := api{t: t, base: p.URL, token: login(t, p.URL, adminEmail, adminPassword)}
		hook := createWebhook(t, a, rc.URL+"/hook")
		publish(t, a, 3)
		waitSettled(t, a, hook.ID, 3)

		code, ct, body := opsGet(t, p.URL+"/metrics")
		fams := opsParseMetrics(t, code, ct, body)
		for _, c := range []struct {
			name   string
			labels map[string]string
			want   float64
		}{
			{"webhookd_delivery_attempts_total", map[string]string{"outcome": "success", "status_class": "2xx"}, 3},
			{"webhookd_delivery_attempt_duration_seconds", map[string]string{"outcome": "success"}, 3},
			{"webhookd_events_accepted_total", nil, 3},
			{"webhookd_queue_deliveries", map[string]string{"state": "due"}, 0},
			{"webhookd_queue_deliveries", map[string]string{"state": "scheduled"}, 0},
			{"webhookd_queue_deliveries", map[string]string{"state": "in_flight"}, 0},
			{"webhookd_queue_oldest_due_seconds", nil, 0},
			{"webhookd_webhooks", map[string]string{"state": "active"}, 1},
			{"webhookd_webhooks", map[string]string{"state": "disabled"}, 0},
		} {
			if got := metricstest.Value(t, fams, c.name, c.labels); got != c.want {
				t.Errorf("%s%v = %v, want %v", c.name, c.labels, got, c.want)
			}
		}
		if _, ok := fams["go_goroutines"]; !ok {
			t.Errorf("no go_goroutines: the Go runtime collector is missing")
		}
		for name, f := range fams {
			for _, m := range f.GetMetric() {
				for _, l := range m.GetLabel() {
					if v := l.GetValue(); v == hook.ID || strings.Contains(v, rc.URL) {
						t.Errorf("%s carries webhook %s in label %s: cardinality must not grow with webhooks", name, hook.ID, l.GetName())
					}
				}
			}
		}
		p.stop()
	})
}

func TestE2EMetricsAddr(t *testing.T) {
	t.Parallel()
	storetest.EachTarget(t, func(t *testing.T, db string) {
		t.Parallel()
		p, metricsURL := opsStartWithMetricsAddr(t, db)
		opsCheckHealth(t, p.URL)

		code, ct, body := opsGet(t, metricsURL+"/metrics")
		fams := opsParseMetrics(t, code, ct, body)
		if got := metricstest.Value(t, fams, "webhookd_queue_deliveries", map[string]string{"state": "due"}); got != 0 {
			t.Errorf("webhookd_queue_deliveries{state=due} = %v on an empty database, want 0", got)
		}
		// Moved off the public port, not copied.
		if code, _, body := opsGet(t, p.URL+"/metrics"); code != http.StatusNotFound {
			t.Errorf("GET /metrics on the API port = %d %s, want 404 with --metrics-addr", code, body)
		}
		// And the metrics port serves nothing else.
		if code, _, _ := opsGet(t, metricsURL+"/api/v1/openapi.json"); code != http.StatusNotFound {
			t.Errorf("GET /api/v1/openapi.json on --metrics-addr = %d, want 404", code)
		}
		p.stop()
	})
}

// opsStartWithMetricsAddr starts serve with --metrics-addr on a port the
// system picks and returns it with the metrics base URL, read from the
// line serve logs (before it logs the API's).
func opsStartWithMetricsAddr(t testing.TB, db string) (*serveProc, string) {
	t.Helper()
	p := startServe(t, db, adminEnv, "--metrics-addr", "127.0.0.1:0")
	maddr := p.loggedAddr("metrics listening")
	if maddr == "" {
		t.Fatalf("serve --metrics-addr 127.0.0.1:0 logged no \"metrics listening\" address\n%s", p.output())
	}
	return p, "http://" + maddr
}

// opsFailingReceiver answers every delivery 500 and records the delivery
// ids it saw.
type opsFailingReceiver struct {
	*httptest.Server
	mu  sync.Mutex
	ids []string
}

func newOpsFailingReceiver(t testing.TB) *opsFailingReceiver {
	t.Helper()
	rc := &opsFailingReceiver{}
	rc.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		rc.mu.Lock()
		rc.ids = append(rc.ids, r.Header.Get("X-Webhook-Id"))
		rc.mu.Unlock()
		http.Error(w, "down for maintenance", http.StatusInternalServerError)
	}))
	t.Cleanup(rc.Close)
	return rc
}

func (rc *opsFailingReceiver) seen() []string {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	return slices.Clone(rc.ids)
}

func TestE2EJSONLogsNameFailedAttemptsWithoutSecrets(t *testing.T) {
	t.Parallel()
	storetest.EachTarget(t, func(t *testing.T, db string) {
		t.Parallel()
		rc := newOpsFailingReceiver(t)
		// Debug shows every attempt, so the secret check covers the most
		// output webhookd can write.
		p := startServe(t, db, adminEnv, "--log-format", "json", "--log-level", "debug", "--retry-schedule", "100ms", "--delivery-timeout", "20s")
		token := login(t, p.URL, adminEmail, adminPassword)
		a := api{t: t, base: p.URL, token: token}

		const credential = "Bearer receiver-credential-7f3a9c"
		const apiKey = "receiver-api-key-51be02"
		var hook webhookWire
		a.json(http.MethodPost, "/api/v1/webhooks", fmt.Sprintf(`{"name":"down","url":%q,"events":["message.new"],
			"headers":{"Authorization":%q,"X-Api-Key":%q}}`, rc.URL+"/hook", credential, apiKey), http.StatusCreated, &hook)
		publish(t, a, 1)

		// Two attempts (one retry), both failed, the second for good.
		waitFor(t, 30*time.Second, func() (bool, string) {
			s := stats(t, a, hook.ID)
			return s.PendingDeliveries == 0 && s.FailedDeliveries >= 2, fmt.Sprintf("two failed attempts and nothing pending, have %+v", s)
		})
		ids := rc.seen()
		if len(ids) != 2 || ids[0] == "" || ids[0] != ids[1] {
			t.Fatalf("receiver saw deliveries %v, want one delivery twice", ids)
		}
		deliveryID := ids[0]

		type line struct {
			Time       string  `json:"time"`
			Level      string  `json:"level"`
			Msg        string  `json:"msg"`
			WebhookID  string  `json:"webhook_id"`
			DeliveryID string  `json:"delivery_id"`
			Attempt    int     `json:"attempt"`
			Status     float64 `json:"status"`
			Error      string  `json:"error"`
			Final      *bool   `json:"final"`
		}
		var failed []line
		var debug int
		// A failure is logged before its outcome is recorded, but the pipe
		// may still hold the last lines; a line without its newline yet is
		// still arriving.
		waitFor(t, 30*time.Second, func() (bool, string) {
			failed, debug = nil, 0
			out := p.stderr.String()
			for _, raw := range strings.Split(out[:strings.LastIndex(out, "\n")+1], "\n") {
				if raw == "" {
					continue
				}
				var l line
				if err := json.Unmarshal([]byte(raw), &l); err != nil || l.Time == "" || l.Level == "" || l.Msg == "" {
					t.Fatalf("--log-format json wrote a line that is not a JSON log record (%v): %s", err, raw)
				}
				if l.Msg == "delivery attempt failed" && l.DeliveryID == deliveryID {
					failed = append(failed, l)
				}
				if l.Level == "DEBUG" {
					debug++
				}
			}
			return len(failed) >= 2, fmt.Sprintf("two \"delivery attempt failed\" lines for %s, have %d", deliveryID, len(failed))
		})
		if len(failed) != 2 {
			t.Fatalf("%d failure lines for delivery %s, want one per attempt (2): %+v", len(failed), deliveryID, failed)
		}
		for i, l := range failed {
			final := i == 1
			if l.Level != "WARN" || l.WebhookID != hook.ID || l.Attempt != i+1 || l.Status != 500 ||
				l.Error != "HTTP 500 Internal Server Error" || l.Final == nil || *l.Final != final {
				t.Errorf("failure line %d = %+v, want WARN with webhook_id %s, attempt %d, status 500, error \"HTTP 500 Internal Server Error\", final %v",
					i+1, l, hook.ID, i+1, final)
			}
		}
		if debug == 0 {
			t.Errorf("--log-level debug wrote no DEBUG line")
		}

		out := p.stdout.String() + p.stderr.String()
		secretKey := strings.TrimPrefix(hook.Secret, "whsec_")
		for what, s := range map[string]string{
			"the webhook secret": secretKey, "the Authorization header value": "receiver-credential-7f3a9c",
			"the X-Api-Key header value": apiKey, "the access token": token, "the admin password": adminPassword,
		} {
			if strings.Contains(out, s) {
				t.Errorf("the output contains %s (%q)", what, s)
			}
		}
		p.stop()
	})
}

func TestE2EOpsFlagsRefused(t *testing.T) {
	t.Parallel()
	db := filepath.Join(t.TempDir(), "webhookd.db")
	for _, c := range []struct {
		args []string
		says string
	}{
		{[]string{"--log-format", "xml"}, "--log-format"},
		{[]string{"--log-level", "loud"}, "--log-level"},
		{[]string{"--retention", "-1h"}, "--retention"},
		{[]string{"--disable-after", "-1h"}, "--disable-after"},
		{[]string{"--disable-min-failures", "-1"}, "--disable-min-failures"},
	} {
		r := webhookd(t, adminEnv, "", append([]string{"serve", "--addr", "127.0.0.1:0", "--db", db}, c.args...)...)
		if r.code == 0 || !strings.Contains(r.stderr, c.says) {
			t.Errorf("%s\nwant a non-zero exit naming %s", r, c.says)
		}
	}
}
