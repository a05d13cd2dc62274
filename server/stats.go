package server

import (
	"math"
	"net/http"
	"strconv"
	"time"
)

// seriesJSON is a webhook's attempts over time, for the console's chart.
type seriesJSON struct {
	BucketSeconds int64              `json:"bucketSeconds"`
	Buckets       []seriesBucketJSON `json:"buckets"`
}

type seriesBucketJSON struct {
	Start         string   `json:"start"`
	Total         int64    `json:"total"`
	Success       int64    `json:"success"`
	Failed        int64    `json:"failed"`
	SuccessRate   *float64 `json:"successRate"`
	AvgDurationMs *float64 `json:"avgDurationMs"`
	MaxDurationMs *int64   `json:"maxDurationMs"`
}

// handleWebhookSeries answers a webhook's attempts per hour over the last
// `hours` hours (default 24, at most 168), oldest first, the current hour
// last.
func (s *Server) handleWebhookSeries(w http.ResponseWriter, r *http.Request) error {
	hook, err := s.webhookParam(r)
	if err != nil {
		return err
	}
	hours := 24
	if v, ok := r.URL.Query()["hours"]; ok {
		n, err := strconv.Atoi(v[0])
		if err != nil || n < 1 || n > 168 {
			return invalid(FieldError{"hours", "must be a whole number from 1 to 168"})
		}
		hours = n
	}
	now := s.now()
	since := now.Truncate(time.Hour).Add(-time.Duration(hours-1) * time.Hour)
	buckets, err := s.store.WebhookSeriesOf(r.Context(), hook, since, time.Hour, now)
	if err != nil {
		return err
	}
	out := seriesJSON{BucketSeconds: 3600, Buckets: make([]seriesBucketJSON, len(buckets))}
	for i, b := range buckets {
		j := seriesBucketJSON{Start: ts(b.Start), Total: b.Total, Success: b.Successful, Failed: b.Failed,
			MaxDurationMs: b.MaxDurationMs}
		if b.Total > 0 {
			rate := round2(float64(b.Successful) / float64(b.Total))
			j.SuccessRate = &rate
		}
		if b.AvgDurationMs != nil {
			avg := round2(*b.AvgDurationMs)
			j.AvgDurationMs = &avg
		}
		out.Buckets[i] = j
	}
	return s.json(w, http.StatusOK, out)
}

type statsJSON struct {
	TotalDeliveries       int64   `json:"totalDeliveries"`
	SuccessfulDeliveries  int64   `json:"successfulDeliveries"`
	FailedDeliveries      int64   `json:"failedDeliveries"`
	PendingDeliveries     int64   `json:"pendingDeliveries"`
	SuccessRate           float64 `json:"successRate"`
	AverageResponseTimeMs float64 `json:"averageResponseTimeMs"`
	P95ResponseTimeMs     int64   `json:"p95ResponseTimeMs"`
	LastDeliveryAt        *string `json:"lastDeliveryAt"`
	LastSuccessAt         *string `json:"lastSuccessAt"`
	LastFailureAt         *string `json:"lastFailureAt"`
	ConsecutiveFailures   int64   `json:"consecutiveFailures"`
	Since                 *string `json:"since"`
}

func (s *Server) handleWebhookStats(w http.ResponseWriter, r *http.Request) error {
	hook, err := s.webhookParam(r)
	if err != nil {
		return err
	}
	since, err := timeParam(r, "since")
	if err != nil {
		return err
	}
	st, err := s.store.WebhookStatsOf(r.Context(), hook, since)
	if err != nil {
		return err
	}
	out := statsJSON{
		TotalDeliveries: st.TotalAttempts, SuccessfulDeliveries: st.SuccessfulAttempts, FailedDeliveries: st.FailedAttempts,
		PendingDeliveries: st.PendingDeliveries, AverageResponseTimeMs: round2(st.AverageDurationMs),
		P95ResponseTimeMs: st.P95DurationMs, LastDeliveryAt: tsp(st.LastAttemptAt), LastSuccessAt: tsp(st.LastSuccessAt),
		LastFailureAt: tsp(st.LastFailureAt), ConsecutiveFailures: st.ConsecutiveFailures, Since: tsp(since),
	}
	if st.TotalAttempts > 0 {
		out.SuccessRate = round2(100 * float64(st.SuccessfulAttempts) / float64(st.TotalAttempts))
	}
	return s.json(w, http.StatusOK, out)
}

func round2(f float64) float64 { return math.Round(f*100) / 100 }
