package metrics_test

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"

	"github.com/webhookd/webhookd/metrics"
	"github.com/webhookd/webhookd/metrics/metricstest"
	"github.com/webhookd/webhookd/store"
	"github.com/webhookd/webhookd/store/storetest"
)

func scrape(t *testing.T, h http.Handler) map[string]*dto.MetricFamily {
	t.Helper()
	srv := httptest.NewServer(h)
	defer srv.Close()
	resp, err := http.Get(srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return metricstest.Parse(t, body)
}

func TestMetrics(t *testing.T) {
	storetest.Each(t, func(t *testing.T, s *store.Store) {
		ctx := context.Background()
		u, err := s.CreateUser(ctx, "a@x.io", "h", "")
		if err != nil {
			t.Fatal(err)
		}
		for i := 0; i < 2; i++ {
			if _, err := s.CreateWebhook(ctx, store.CreateWebhookParams{TenantID: u.ID, Name: "h", URL: "https://example.com", Events: []string{"*"}, Secret: "whsec_x", IsActive: i == 0}); err != nil {
				t.Fatal(err)
			}
		}
		for i := 0; i < 3; i++ {
			if _, err := s.PublishEvents(ctx, []store.PublishParams{{TenantID: u.ID, Type: "message.new", Payload: []byte(`{}`), OccurredAt: time.Now()}}); err != nil {
				t.Fatal(err)
			}
		}
		m := metrics.New(s, slog.Default())
		m.ObserveAttempt(true, 204, 3*time.Millisecond)
		m.ObserveAttempt(false, 503, time.Second)
		m.ObserveAttempt(false, 0, 30*time.Second)
		m.EventsAccepted(3)

		fams := scrape(t, m.Handler())
		checks := []struct {
			name   string
			labels map[string]string
			want   float64
		}{
			{"webhookd_delivery_attempts_total", map[string]string{"outcome": "success", "status_class": "2xx"}, 1},
			{"webhookd_delivery_attempts_total", map[string]string{"outcome": "failed", "status_class": "5xx"}, 1},
			{"webhookd_delivery_attempts_total", map[string]string{"outcome": "failed", "status_class": "none"}, 1},
			{"webhookd_delivery_attempt_duration_seconds", map[string]string{"outcome": "failed"}, 2},
			{"webhookd_events_accepted_total", nil, 3},
			{"webhookd_queue_deliveries", map[string]string{"state": "due"}, 3},
			{"webhookd_queue_deliveries", map[string]string{"state": "in_flight"}, 0},
			{"webhookd_webhooks", map[string]string{"state": "active"}, 1},
			{"webhookd_webhooks", map[string]string{"state": "paused"}, 1},
			{"webhookd_webhooks", map[string]string{"state": "disabled"}, 0},
		}
		for _, c := range checks {
			if got := metricstest.Value(t, fams, c.name, c.labels); got != c.want {
				t.Errorf("%s%v = %v, want %v", c.name, c.labels, got, c.want)
			}
		}
		if age := metricstest.Value(t, fams, "webhookd_queue_oldest_due_seconds", nil); age < 0 {
			t.Errorf("oldest due age = %v, want ≥ 0", age)
		}
		for name, f := range fams {
			for _, metric := range f.GetMetric() {
				for _, l := range metric.GetLabel() {
					if l.GetName() == "webhook_id" || l.GetName() == "url" {
						t.Errorf("%s has a per-webhook label %s", name, l.GetName())
					}
				}
			}
		}
	})
}
