package server

import (
	"encoding/json"
	"net/http"

	"github.com/webhookd/webhookd/catalog"
	"github.com/webhookd/webhookd/store"
)

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
		} else {
			// A given payload is checked as publishing would check it: a
			// test that sends what no publish could teaches the receiver
			// the wrong thing. The default {} is not: it stands for "no
			// payload", whatever the schema asks.
			bad = append(bad, s.checkData(eventType, compact, "payload")...)
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
	j := toLogJSON(l, tenantOf(r), false)
	out.StatusCode, out.ResponseBody, out.Error = j.StatusCode, j.ResponseBody, j.Error
	return s.json(w, http.StatusOK, out)
}
