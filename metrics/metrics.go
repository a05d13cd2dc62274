// Package metrics exposes webhookd's Prometheus metrics: attempts by outcome
// and status class, attempt latency, events accepted, and, read from the
// database at most every few seconds, the queue's depth and webhooks by
// state. No
// metric has a per-webhook label, so cardinality stays fixed however many
// webhooks users create.
package metrics

import (
	"context"
	"log/slog"
	"net/http"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/webhookd/webhookd/store"
)

// Source is what the scrape-time collector reads.
type Source interface {
	Queue(ctx context.Context) (store.QueueStats, error)
	CountWebhooks(ctx context.Context) (store.WebhookCounts, error)
}

// Metrics holds webhookd's metrics and their registry.
type Metrics struct {
	reg      *prometheus.Registry
	attempts *prometheus.CounterVec
	latency  *prometheus.HistogramVec
	accepted prometheus.Counter

	outboxRows *prometheus.CounterVec // nil until WatchOutbox
}

// DefaultStateEvery is how long the gauges read from the database (the
// queue and webhooks by state) are served from their last read: reading
// them scans the pending deliveries, which under a backlog costs far more
// than a scrape should, and /metrics may be open to anyone who can reach
// the port.
const DefaultStateEvery = 5 * time.Second

// Option adjusts New.
type Option func(*stateCollector)

// StateEvery sets how long the gauges read from the database are served
// from their last read (default DefaultStateEvery).
func StateEvery(d time.Duration) Option {
	return func(c *stateCollector) {
		if d > 0 {
			c.every = d
		}
	}
}

// WithClock sets the clock the collector reads, for tests.
func WithClock(now func() time.Time) Option {
	return func(c *stateCollector) { c.now = now }
}

// New registers every metric, reading queue and webhook state from src at
// most once per StateEvery, however many scrapes come.
func New(src Source, logger *slog.Logger, opts ...Option) *Metrics {
	state := &stateCollector{src: src, logger: logger, every: DefaultStateEvery, now: time.Now}
	for _, o := range opts {
		o(state)
	}
	m := &Metrics{
		reg: prometheus.NewRegistry(),
		attempts: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "webhookd_delivery_attempts_total",
			Help: "Delivery attempts by outcome (success, failed) and HTTP status class (2xx … 5xx, or none when no answer arrived).",
		}, []string{"outcome", "status_class"}),
		latency: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "webhookd_delivery_attempt_duration_seconds",
			Help:    "Time from sending a delivery to its answer (or failure).",
			Buckets: []float64{.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30},
		}, []string{"outcome"}),
		accepted: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "webhookd_events_accepted_total",
			Help: "Events accepted by POST /api/v1/events, its batch and the outbox consumer (not counting idempotent repeats).",
		}),
	}
	m.reg.MustRegister(m.attempts, m.latency, m.accepted,
		state,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return m
}

// Handler serves the metrics in the Prometheus text format.
func (m *Metrics) Handler() http.Handler {
	return promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{})
}

// ObserveAttempt counts one delivery attempt.
func (m *Metrics) ObserveAttempt(success bool, statusCode int, d time.Duration) {
	outcome := "failed"
	if success {
		outcome = "success"
	}
	class := "none"
	if statusCode >= 100 && statusCode < 600 {
		class = string(rune('0'+statusCode/100)) + "xx"
	}
	m.attempts.WithLabelValues(outcome, class).Inc()
	m.latency.WithLabelValues(outcome).Observe(d.Seconds())
}

// EventsAccepted counts newly accepted events.
func (m *Metrics) EventsAccepted(n int) { m.accepted.Add(float64(n)) }

// stateCollector reads the queue and webhook counts from the database, so
// the numbers are the database's, shared by every process. It keeps each
// read for the interval every, so that scrapes, concurrent ones too, cost
// one read per interval.
type stateCollector struct {
	src    Source
	logger *slog.Logger
	every  time.Duration
	now    func() time.Time

	// mu is held through a read, so that concurrent scrapes wait for the
	// one read instead of each making their own.
	mu     sync.Mutex
	readAt time.Time // zero: never read
	last   stateRead
}

// stateRead is one read of the database's state. Failures are kept as
// long as values: a failing database is not asked again by every scrape.
type stateRead struct {
	queue              store.QueueStats
	hooks              store.WebhookCounts
	queueErr, hooksErr error
}

// read returns the state read within the last interval, reading it anew
// when it is older.
func (c *stateCollector) read() stateRead {
	c.mu.Lock()
	defer c.mu.Unlock()
	now := c.now()
	if c.readAt.IsZero() || now.Sub(c.readAt) >= c.every || now.Before(c.readAt) {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		var r stateRead
		r.queue, r.queueErr = c.src.Queue(ctx)
		r.hooks, r.hooksErr = c.src.CountWebhooks(ctx)
		c.last, c.readAt = r, now
		if r.queueErr != nil {
			c.logger.Warn("metrics: read queue", "err", r.queueErr)
		}
		if r.hooksErr != nil {
			c.logger.Warn("metrics: count webhooks", "err", r.hooksErr)
		}
	}
	return c.last
}

var (
	queueDesc = prometheus.NewDesc("webhookd_queue_deliveries",
		"Pending deliveries by state: due (waiting for a worker), scheduled (waiting for a retry time), in_flight (being sent).",
		[]string{"state"}, nil)
	oldestDesc = prometheus.NewDesc("webhookd_queue_oldest_due_seconds",
		"How long the longest-waiting due delivery has been due (0 when none is).", nil, nil)
	webhooksDesc = prometheus.NewDesc("webhookd_webhooks",
		"Webhooks by state: active, paused (by their owner), disabled (by webhookd after failing).",
		[]string{"state"}, nil)
)

// Describe implements prometheus.Collector.
func (c *stateCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- queueDesc
	ch <- oldestDesc
	ch <- webhooksDesc
}

// Collect implements prometheus.Collector.
func (c *stateCollector) Collect(ch chan<- prometheus.Metric) {
	r := c.read()
	q, w := r.queue, r.hooks
	if r.queueErr != nil {
		ch <- prometheus.NewInvalidMetric(queueDesc, r.queueErr)
	} else {
		ch <- prometheus.MustNewConstMetric(queueDesc, prometheus.GaugeValue, float64(q.Due), "due")
		ch <- prometheus.MustNewConstMetric(queueDesc, prometheus.GaugeValue, float64(q.Scheduled), "scheduled")
		ch <- prometheus.MustNewConstMetric(queueDesc, prometheus.GaugeValue, float64(q.InFlight), "in_flight")
		// The age is reckoned now from the kept time, so it keeps
		// growing between reads as a stuck queue's would.
		age := 0.0
		if q.OldestDue != nil {
			age = max(c.now().Sub(*q.OldestDue).Seconds(), 0)
		}
		ch <- prometheus.MustNewConstMetric(oldestDesc, prometheus.GaugeValue, age)
	}
	if r.hooksErr != nil {
		ch <- prometheus.NewInvalidMetric(webhooksDesc, r.hooksErr)
		return
	}
	ch <- prometheus.MustNewConstMetric(webhooksDesc, prometheus.GaugeValue, float64(w.Active), "active")
	ch <- prometheus.MustNewConstMetric(webhooksDesc, prometheus.GaugeValue, float64(w.Paused), "paused")
	ch <- prometheus.MustNewConstMetric(webhooksDesc, prometheus.GaugeValue, float64(w.Disabled), "disabled")
}
