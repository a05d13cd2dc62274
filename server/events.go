package server

import (
	"bytes"
	"encoding/json"
	"net/http"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/webhookd/webhookd/store"
)

// MaxEventDataBytes caps an event's data after compaction.
const MaxEventDataBytes = 1 << 20

const maxIdempotencyKeyLength = 255

type eventPublishRequest struct {
	Event          *string         `json:"event"`
	Data           json.RawMessage `json:"data"`
	Timestamp      *string         `json:"timestamp"`
	IdempotencyKey *string         `json:"idempotencyKey"`
}

type eventPublishResponse struct {
	ID         string `json:"id"`
	Event      string `json:"event"`
	Deliveries int    `json:"deliveries"`
}

func (s *Server) handleEventPublish(w http.ResponseWriter, r *http.Request) error {
	var req eventPublishRequest
	if err := decode(w, r, maxEventBodyBytes, &req); err != nil {
		return err
	}
	p := store.PublishParams{UserID: currentUser(r).ID, OccurredAt: time.Now()}
	var bad []FieldError
	switch {
	case req.Event == nil || *req.Event == "":
		bad = append(bad, FieldError{"event", "is required: an event type from GET /api/v1/event-types"})
	case !s.catalog.Has(*req.Event):
		bad = append(bad, FieldError{"event", "is not an event type in the catalogue (see GET /api/v1/event-types)"})
	case *req.Event == store.WebhookDisabledEvent:
		// Only webhookd publishes it, so receivers can trust it.
		bad = append(bad, FieldError{"event", "webhook.disabled is published by webhookd itself and cannot be published through the API"})
	default:
		p.Type = *req.Event
	}
	if req.Data == nil {
		bad = append(bad, FieldError{"data", "is required: any JSON value"})
	} else {
		var compact bytes.Buffer
		compact.Grow(len(req.Data))
		if err := json.Compact(&compact, req.Data); err != nil {
			bad = append(bad, FieldError{"data", "is not valid JSON"})
		} else if compact.Len() > MaxEventDataBytes {
			return errorf(http.StatusRequestEntityTooLarge, "data is larger than %d bytes", MaxEventDataBytes)
		}
		p.Payload = compact.Bytes()
	}
	if req.Timestamp != nil {
		t, err := time.Parse(time.RFC3339Nano, *req.Timestamp)
		if err != nil {
			bad = append(bad, FieldError{"timestamp", "must be an RFC 3339 time such as 2024-01-01T12:00:00.000Z"})
		}
		p.OccurredAt = t
	}
	key := r.Header.Get("Idempotency-Key")
	if req.IdempotencyKey != nil {
		key = *req.IdempotencyKey
	}
	if key != "" || req.IdempotencyKey != nil {
		if msg := validateIdempotencyKey(key); msg != "" {
			bad = append(bad, FieldError{"idempotencyKey", msg})
		}
		p.IdempotencyKey = key
	}
	if bad != nil {
		return invalid(bad...)
	}
	results, err := s.publisher.PublishEvents(r.Context(), []store.PublishParams{p})
	if err != nil {
		return err
	}
	res := results[0]
	if res.Duplicate {
		w.Header().Set("Idempotent-Replayed", "true")
	} else if res.Deliveries > 0 {
		s.waker.Wake()
	}
	return s.json(w, http.StatusAccepted, eventPublishResponse{ID: res.Event.ID, Event: res.Event.Type, Deliveries: res.Deliveries})
}

func validateIdempotencyKey(k string) string {
	switch {
	case k == "":
		return "must not be empty"
	case len(k) > maxIdempotencyKeyLength:
		return "must be at most 255 characters"
	case !utf8.ValidString(k):
		// Only the header can carry such bytes; the database stores text.
		return "must be valid UTF-8"
	case strings.IndexFunc(k, func(r rune) bool { return r < ' ' || r == 0x7f }) >= 0:
		return "must not contain control characters"
	}
	return ""
}

type eventJSON struct {
	ID             string          `json:"id"`
	Event          string          `json:"event"`
	Timestamp      string          `json:"timestamp"`
	Data           json.RawMessage `json:"data"`
	Deliveries     int             `json:"deliveries"`
	IdempotencyKey *string         `json:"idempotencyKey"`
	CreatedAt      string          `json:"createdAt"`
}

func (s *Server) handleEventGet(w http.ResponseWriter, r *http.Request) error {
	id := param(r, "id")
	if !validID(id) {
		return notFound("event")
	}
	e, err := s.store.Event(r.Context(), currentUser(r).ID, id)
	if err != nil {
		return asNotFound(err, "event")
	}
	out := eventJSON{ID: e.ID, Event: e.Type, Timestamp: ts(e.OccurredAt), Data: e.Payload, Deliveries: e.DeliveryCount, CreatedAt: ts(e.CreatedAt)}
	if e.IdempotencyKey != "" {
		out.IdempotencyKey = &e.IdempotencyKey
	}
	return s.json(w, http.StatusOK, out)
}
