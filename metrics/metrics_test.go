package metrics_test

import (
	"context"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/webhookd/webhookd/metrics"
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
	parser := expfmt.NewTextParser(model.UTF8Validation)
	families, err := parser.TextToMetricFamilies(resp.Body)
	if err != nil {
		t.Fatalf("metrics do not parse as Prometheus text: %v", err)
	}
	return families
}

// value finds the sample of family name whose labels include want.
func value(t *testing.T, fams map[string]*dto.MetricFamily, name string, want map[string]string) float64 {
	t.Helper()
	f, ok := fams[name]
	if !ok {
		t.Fatalf("metric %s missing", name)
	}
	for _, m := range f.GetMetric() {
		match := true
		for k, v := range want {
			found := false
			for _, l := range m.GetLabel() {
				found = found || (l.GetName() == k && l.GetValue() == v)
			}
			match = match && found
		}
		if !match {
			continue
		}
		switch {
		case m.Counter != nil:
			return m.Counter.GetValue()
		case m.Gauge != nil:
			return m.Gauge.GetValue()
		case m.Histogram != nil:
			return float64(m.Histogram.GetSampleCount())
		}
	}
	t.Fatalf("metric %s has no sample with labels %v", name, want)
	return 0
}

func TestMetrics(t *testing.T) {
	storetest.Each(t, func(t *testing.T, s *store.Store) {
		ctx := context.Background()
		u, err := s.CreateUser(ctx, "a@x.io", "h")
		if err != nil {
			t.Fatal(err)
		}
		for i := 0; i < 2; i++ {
			if _, err := s.CreateWebhook(ctx, store.CreateWebhookParams{UserID: u.ID, Name: "h", URL: "https://example.com", Events: []string{"*"}, Secret: "whsec_x", IsActive: i == 0}); err != nil {
				t.Fatal(err)
			}
		}
		for i := 0; i < 3; i++ {
			if _, err := s.PublishEvents(ctx, []store.PublishParams{{UserID: u.ID, Type: "message.new", Payload: []byte(`{}`), OccurredAt: time.Now()}}); err != nil {
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
			if got := value(t, fams, c.name, c.labels); got != c.want {
				t.Errorf("%s%v = %v, want %v", c.name, c.labels, got, c.want)
			}
		}
		if age := value(t, fams, "webhookd_queue_oldest_due_seconds", nil); age < 0 {
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
