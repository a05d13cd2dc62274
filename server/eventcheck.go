package server

import (
	"encoding/json"
	"fmt"

	"github.com/webhookd/webhookd/catalog"
	"github.com/webhookd/webhookd/store"
)

// CheckEvent is the one check of an event's type and data that every way
// of publishing makes: POST /api/v1/events, its batch, and the outbox
// consumer (app.go hands it to the consumer). It reports the bad fields,
// named "event" and "data" (a batch puts its prefix in front), or nothing.
// eventType is nil, and data nil, when the publisher gave none. With
// validate (--validate-events), data is checked against its type's schema
// too, each violation named "data" and its JSON Pointer ("data/contact/phone").
// Any further check of an event's content belongs here, so that no
// publisher can skip it.
func CheckEvent(cat *catalog.Catalog, eventType *string, data json.RawMessage, validate bool) []FieldError {
	var bad []FieldError
	switch {
	case eventType == nil || *eventType == "":
		bad = append(bad, FieldError{"event", "is required: an event type from GET /api/v1/event-types"})
	case !cat.Has(*eventType):
		bad = append(bad, FieldError{"event", "is not an event type in the catalogue (see GET /api/v1/event-types)"})
	case *eventType == store.WebhookDisabledEvent:
		// Only webhookd publishes it, so receivers can trust it.
		bad = append(bad, FieldError{"event", "webhook.disabled is published by webhookd itself and cannot be published through the API"})
	}
	if data == nil {
		bad = append(bad, FieldError{"data", "is required: any JSON value"})
	}
	if validate && len(bad) == 0 {
		for _, v := range cat.ValidateData(*eventType, data) {
			bad = append(bad, FieldError{"data" + v.Pointer, v.Reason})
		}
	}
	return bad
}

// CheckIdempotencyKey says what is wrong with an idempotency key given to
// a publisher ("" when nothing is).
func CheckIdempotencyKey(key string) string { return validateIdempotencyKey(key) }

// CheckDataSize says what is wrong with the size of an event's compacted
// data ("" when nothing is): POST /api/v1/events answers it with 413.
func CheckDataSize(compact []byte) string {
	if len(compact) > MaxEventDataBytes {
		return fmt.Sprintf("is larger than %d bytes", MaxEventDataBytes)
	}
	return ""
}
