package metrics

import "github.com/prometheus/client_golang/prometheus"

// WALSource reports the size of the SQLite write-ahead log; ok is false
// when the database has none (PostgreSQL).
type WALSource interface {
	WALBytes() (bytes int64, ok bool)
}

var walDesc = prometheus.NewDesc("webhookd_sqlite_wal_bytes",
	"Size of the SQLite write-ahead log file (webhookd.db-wal); kept near --wal-limit by truncating checkpoints, and cut to 0 when writes pause.",
	nil, nil)

// WatchWAL adds webhookd_sqlite_wal_bytes, read from src at each scrape
// (a stat of the file, no query).
func (m *Metrics) WatchWAL(src WALSource) {
	m.reg.MustRegister(walCollector{src})
}

type walCollector struct{ src WALSource }

// Describe implements prometheus.Collector.
func (c walCollector) Describe(ch chan<- *prometheus.Desc) { ch <- walDesc }

// Collect implements prometheus.Collector.
func (c walCollector) Collect(ch chan<- prometheus.Metric) {
	if n, ok := c.src.WALBytes(); ok {
		ch <- prometheus.MustNewConstMetric(walDesc, prometheus.GaugeValue, float64(n))
	}
}
