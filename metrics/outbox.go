package metrics

import (
	"context"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/webhookd/webhookd/store"
)

// OutboxSource counts the transactional outbox's rows; ok is false when
// the database has no outbox (SQLite).
type OutboxSource interface {
	CountOutbox(ctx context.Context) (waiting, dead int64, ok bool, err error)
}

var (
	outboxRowsDesc = prometheus.NewDesc("webhookd_outbox_rows",
		"Rows of the transactional outbox by state: waiting (in webhook_outbox, not yet consumed), dead (in webhook_outbox_dead: they could not become events; list them with GET /api/v1/outbox/dead, requeue with webhookd outbox requeue).",
		[]string{"state"}, nil)
)

// WatchOutbox adds the outbox's metrics: webhookd_outbox_rows, read from
// src at most once per DefaultStateEvery (a count of each table), and the
// counters OutboxConsumed feeds.
func (m *Metrics) WatchOutbox(src OutboxSource) {
	m.outboxRows = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "webhookd_outbox_consumed_rows_total",
		Help: "Outbox rows this process consumed, by outcome: event (a new event), duplicate (its idempotency key named an earlier event), dead (moved to webhook_outbox_dead).",
	}, []string{"outcome"})
	m.reg.MustRegister(m.outboxRows, &outboxCollector{src: src, every: DefaultStateEvery})
}

// OutboxConsumed counts one consumed batch's rows by outcome.
func (m *Metrics) OutboxConsumed(res store.ConsumeOutboxResult) {
	if m.outboxRows == nil {
		return
	}
	m.outboxRows.WithLabelValues("event").Add(float64(res.Events))
	m.outboxRows.WithLabelValues("duplicate").Add(float64(res.Duplicates))
	m.outboxRows.WithLabelValues("dead").Add(float64(res.Dead))
}

// outboxCollector keeps each count for every, as stateCollector does.
type outboxCollector struct {
	src   OutboxSource
	every time.Duration

	mu            sync.Mutex
	readAt        time.Time
	waiting, dead int64
	ok            bool
	err           error
}

// Describe implements prometheus.Collector.
func (c *outboxCollector) Describe(ch chan<- *prometheus.Desc) { ch <- outboxRowsDesc }

// Collect implements prometheus.Collector.
func (c *outboxCollector) Collect(ch chan<- prometheus.Metric) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if now := time.Now(); c.readAt.IsZero() || now.Sub(c.readAt) >= c.every || now.Before(c.readAt) {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		c.waiting, c.dead, c.ok, c.err = c.src.CountOutbox(ctx)
		cancel()
		c.readAt = now
	}
	switch {
	case c.err != nil:
		ch <- prometheus.NewInvalidMetric(outboxRowsDesc, c.err)
	case c.ok:
		ch <- prometheus.MustNewConstMetric(outboxRowsDesc, prometheus.GaugeValue, float64(c.waiting), "waiting")
		ch <- prometheus.MustNewConstMetric(outboxRowsDesc, prometheus.GaugeValue, float64(c.dead), "dead")
	}
}
