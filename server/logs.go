package server

import (
	"encoding/json"
	"math"
	"net/http"
	"time"
	"unicode/utf8"

	"github.com/webhookd/webhookd/catalog"
	"github.com/webhookd/webhookd/store"
)

type logJSON struct {
	ID             string            `json:"id"`
	WebhookID      string            `json:"webhookId"`
	EventID        string            `json:"eventId"`
	DeliveryID     string            `json:"deliveryId"`
	EventType      string            `json:"eventType"`
	Attempt        int               `json:"attempt"`
	Status         string            `json:"status"`
	StatusCode     *int              `json:"statusCode"`
	DurationMs     int64             `json:"durationMs"`
	Error          *string           `json:"error"`
	RequestHeaders map[string]string `json:"requestHeaders,omitempty"`
	RequestBody    *string           `json:"requestBody,omitempty"`
	ResponseBody   *string           `json:"responseBody"`
	CreatedAt      string            `json:"createdAt"`
	NextAttemptAt  *string           `json:"nextAttemptAt"`
	Test           bool              `json:"test"`
}

// toLogJSON renders an attempt; full adds the request headers and body,
// which lists leave out to stay small.
func toLogJSON(l store.Log, full bool) logJSON {
	out := logJSON{
		ID: l.ID, WebhookID: l.WebhookID, EventID: l.EventID, DeliveryID: l.DeliveryID, EventType: l.EventType,
		Attempt: l.Attempt, Status: l.Status, DurationMs: l.DurationMs, CreatedAt: ts(l.CreatedAt),
		NextAttemptAt: tsp(l.NextAttemptAt), Test: l.Test,
	}
	if l.StatusCode != 0 {
		code := l.StatusCode
		out.StatusCode = &code
	}
	if l.Error != "" {
		e := l.Error
		out.Error = &e
	}
	if l.ResponseBody != nil {
		b := bodyText(l.ResponseBody)
		out.ResponseBody = &b
	}
	if full {
		out.RequestHeaders = l.RequestHeaders
		b := bodyText(l.RequestBody)
		out.RequestBody = &b
	}
	return out
}

func (s *Server) handleLogList(w http.ResponseWriter, r *http.Request) error {
	hook, err := s.webhookParam(r)
	if err != nil {
		return err
	}
	page, err := pageParams(r, 50, 500)
	if err != nil {
		return err
	}
	f, err := logFilterParams(r)
	if err != nil {
		return err
	}
	f.Page = page
	logs, next, err := s.store.ListLogs(r.Context(), currentUser(r).ID, hook.ID, f)
	if err != nil {
		return asNotFound(err, "webhook")
	}
	out := make([]logJSON, len(logs))
	for i, l := range logs {
		out[i] = toLogJSON(l, false)
	}
	return s.json(w, http.StatusOK, newList(out, next))
}

// logIDParam reads the route's :logId; one webhookd cannot have issued is
// simply not found.
func logIDParam(r *http.Request) (string, error) {
	id := param(r, "logId")
	if !validID(id) {
		return "", notFound("log entry")
	}
	return id, nil
}

func (s *Server) handleLogGet(w http.ResponseWriter, r *http.Request) error {
	hook, err := s.webhookParam(r)
	if err != nil {
		return err
	}
	logID, err := logIDParam(r)
	if err != nil {
		return err
	}
	l, err := s.store.LogEntry(r.Context(), currentUser(r).ID, hook.ID, logID)
	if err != nil {
		return asNotFound(err, "log entry")
	}
	return s.json(w, http.StatusOK, toLogJSON(l, true))
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
	st, err := s.store.WebhookStats(r.Context(), currentUser(r).ID, hook.ID, since)
	if err != nil {
		return asNotFound(err, "webhook")
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

type testRequest struct {
	EventType *string         `json:"eventType"`
	Payload   json.RawMessage `json:"payload"`
}

type testResponse struct {
	Success        bool    `json:"success"`
	StatusCode     *int    `json:"statusCode"`
	ResponseTimeMs int64   `json:"responseTimeMs"`
	ResponseBody   *string `json:"responseBody"`
	Error          *string `json:"error"`
	LogID          string  `json:"logId"`
}

// TestEventType is the event type of a test send that names none.
const TestEventType = "webhook.test"

func (s *Server) handleWebhookTest(w http.ResponseWriter, r *http.Request) error {
	hook, err := s.webhookParam(r)
	if err != nil {
		return err
	}
	var req testRequest
	if r.ContentLength != 0 {
		if err := decode(w, r, maxEventBodyBytes, &req); err != nil {
			return err
		}
	}
	eventType := TestEventType
	var bad []FieldError
	if req.EventType != nil {
		switch {
		case !s.catalog.Has(*req.EventType) && *req.EventType != TestEventType:
			bad = append(bad, FieldError{"eventType", "is not an event type in the catalogue (see GET /api/v1/event-types)"})
		case catalog.IsReserved(*req.EventType):
			// Receivers trust these to come from webhookd; a test send
			// of one would be indistinguishable from the real thing.
			bad = append(bad, FieldError{"eventType", *req.EventType + " is sent by webhookd itself and cannot be sent as a test"})
		}
		eventType = *req.EventType
	}
	payload := []byte("{}")
	if req.Payload != nil {
		compact, notJSON, err := compactData(req.Payload, "payload")
		if err != nil {
			return err
		}
		if notJSON != nil {
			bad = append(bad, *notJSON)
		}
		payload = compact
	}
	if bad != nil {
		return invalid(bad...)
	}
	l, err := s.sender.SendTest(r.Context(), hook, eventType, payload)
	if err != nil {
		return err
	}
	out := testResponse{Success: l.Status == store.AttemptSuccess, ResponseTimeMs: l.DurationMs, LogID: l.ID}
	j := toLogJSON(l, false)
	out.StatusCode, out.ResponseBody, out.Error = j.StatusCode, j.ResponseBody, j.Error
	return s.json(w, http.StatusOK, out)
}

// logFilterParams reads the filters that the log list and the log stream
// share: status, eventType, since and until.
func logFilterParams(r *http.Request) (store.LogFilter, error) {
	var f store.LogFilter
	q := r.URL.Query()
	var bad []FieldError
	switch st := q.Get("status"); st {
	case "", store.AttemptSuccess, store.AttemptFailed:
		f.Status = st
	default:
		bad = append(bad, FieldError{"status", `must be "success" or "failed"`})
	}
	if et := q.Get("eventType"); et != "" {
		switch {
		case len(et) > 255:
			bad = append(bad, FieldError{"eventType", "must be at most 255 characters"})
		case !utf8.ValidString(et) || hasControl(et):
			// PostgreSQL refuses such text outright; no event type has it.
			bad = append(bad, FieldError{"eventType", "must be valid UTF-8 without control characters"})
		}
		f.EventType = et
	}
	// In a fixed order, so that the details come out the same each time.
	for _, p := range []struct {
		name string
		dst  **time.Time
	}{{"since", &f.Since}, {"until", &f.Until}} {
		t, msg := parseTimeParam(r, p.name)
		if msg != "" {
			bad = append(bad, FieldError{p.name, msg})
		}
		*p.dst = t
	}
	if bad != nil {
		return f, invalid(bad...)
	}
	return f, nil
}
