package server

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"unicode/utf8"

	"github.com/webhookd/webhookd/store"
)

// MaxEventDataBytes caps an event's data after compaction.
const MaxEventDataBytes = 1 << 20

// compactData compacts a JSON value given as field, as an event's data and
// a test send's payload are stored: a FieldError when it is not JSON, a
// 413 when its compact form is over MaxEventDataBytes.
func compactData(raw json.RawMessage, field string) ([]byte, *FieldError, error) {
	var buf bytes.Buffer
	buf.Grow(len(raw))
	if err := json.Compact(&buf, raw); err != nil {
		return nil, &FieldError{field, "is not valid JSON"}, nil
	}
	if msg := CheckDataSize(buf.Bytes()); msg != "" {
		return nil, nil, errorf(http.StatusRequestEntityTooLarge, "%s %s", field, msg)
	}
	return buf.Bytes(), nil, nil
}

const maxIdempotencyKeyLength = 255

type eventPublishRequest struct {
	// Tenant names the tenant a service key publishes for; any other
	// credential may name its own.
	Tenant         *string         `json:"tenant"`
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
	key := r.Header.Get("Idempotency-Key")
	if req.IdempotencyKey != nil {
		key = *req.IdempotencyKey
	}
	tenant, err := s.eventTenant(r, req.Tenant, currentPrincipal(r).tenant, "")
	if err != nil {
		return err
	}
	p, bad, err := s.publishParams(req, key, req.IdempotencyKey != nil || key != "", "", tenant)
	if err != nil {
		return err
	}
	if bad != nil {
		return invalid(bad...)
	}
	results, err := s.publisher.PublishEvents(r.Context(), []store.PublishParams{p})
	if conflict := (*store.IdempotencyConflictError)(nil); errors.As(err, &conflict) {
		field := "idempotencyKey"
		if req.IdempotencyKey == nil {
			field = "Idempotency-Key"
		}
		return idempotencyConflict(field, conflict.Key)
	}
	if err != nil {
		return publishError(err, false)
	}
	res := results[0]
	if res.Duplicate {
		w.Header().Set("Idempotent-Replayed", "true")
	} else if res.Deliveries > res.Handed {
		// Deliveries handed to the dispatcher are sending already.
		s.waker.Wake()
	}
	return s.json(w, http.StatusAccepted, eventPublishResponse{ID: res.Event.ID, Event: res.Event.Type, Deliveries: res.Deliveries})
}

// publishParams checks one event as a request gave it and returns what to
// publish, or the fields that are wrong, each named with prefix in front
// ("" for POST /api/v1/events, "events[3]." in a batch). key is the
// idempotency key from wherever the route takes it; hasKey says one was
// given at all, since an empty one is wrong rather than absent.
func (s *Server) publishParams(req eventPublishRequest, key string, hasKey bool, prefix, tenant string) (store.PublishParams, []FieldError, error) {
	p := store.PublishParams{TenantID: tenant, OccurredAt: s.now()}
	var bad []FieldError
	for _, f := range CheckEvent(s.catalog, req.Event, req.Data, s.checkEventData) {
		bad = append(bad, FieldError{prefix + f.Field, f.Message})
	}
	if !slices.ContainsFunc(bad, func(f FieldError) bool { return f.Field == prefix+"event" }) {
		p.Type = *req.Event
	}
	if req.Data != nil {
		payload, notJSON, err := compactData(req.Data, prefix+"data")
		if err != nil {
			return p, nil, err
		}
		if notJSON != nil {
			bad = append(bad, *notJSON)
		}
		p.Payload = payload
	}
	if req.Timestamp != nil {
		t, msg := parseTime(*req.Timestamp)
		if msg != "" {
			bad = append(bad, FieldError{prefix + "timestamp", msg})
		}
		p.OccurredAt, p.HasTimestamp = t, true
	}
	if hasKey {
		if msg := validateIdempotencyKey(key); msg != "" {
			bad = append(bad, FieldError{prefix + "idempotencyKey", msg})
		}
		p.IdempotencyKey = key
	}
	return p, bad, nil
}

// eventTenant resolves the tenant an event is published for: named, as
// the body gave it (nil: not given), or else fallback (the credential's
// tenant, or the one a service key named in the header). A service key
// may name any tenant that exists (any at all with --auto-create-tenants);
// any other credential only its own, another answering 404 as any other
// tenant's ids do. prefix names the event's place in a batch.
func (s *Server) eventTenant(r *http.Request, named *string, fallback, prefix string) (string, error) {
	id, err := s.resolveEventTenant(r, named, fallback, prefix)
	var e *Error
	if prefix != "" && errors.As(err, &e) && e.Status == http.StatusNotFound {
		// In a batch, the 404 says which event named the tenant.
		field := prefix + "tenant"
		return "", &Error{Status: http.StatusNotFound, Message: field + ": " + e.Message, Details: []FieldError{{field, e.Message}}}
	}
	return id, err
}

// resolveEventTenant is eventTenant's work.
func (s *Server) resolveEventTenant(r *http.Request, named *string, fallback, prefix string) (string, error) {
	p := currentPrincipal(r)
	if named == nil {
		if fallback == "" {
			msg := "is required with a service key: the tenant to publish for, in the body or the " + TenantHeader + " header"
			if seen := misspeltTenantHeader(r.Header); seen != "" {
				msg += fmt.Sprintf(" (this request sent %s, which is not it)", seen)
			}
			return "", invalid(FieldError{prefix + "tenant", msg})
		}
		return fallback, nil
	}
	id := *named
	if !store.ValidTenantID(id) {
		return "", invalid(FieldError{prefix + "tenant", "must match " + store.TenantIDPattern})
	}
	if id == fallback {
		return id, nil
	}
	if p.kind != credentialService {
		return "", tenantNotFound(id)
	}
	if fallback != "" && r.Header.Get(TenantHeader) != "" {
		return "", invalid(FieldError{prefix + "tenant", fmt.Sprintf("names %q but the %s header names %q", id, TenantHeader, fallback)})
	}
	if _, err := s.checkTenant(r.Context(), id, s.autoCreateTenants); err != nil {
		return "", err
	}
	return id, nil
}

// MaxBatchEvents is the most events one POST /api/v1/events/batch takes.
const MaxBatchEvents = 1000

// maxBatchBodyBytes caps a batch's body. Each event's data may still be up
// to MaxEventDataBytes, but a whole batch is held in memory while it is
// checked, so all of it together is capped too.
const maxBatchBodyBytes = 4 << 20

type eventBatchRequest struct {
	// Tenant names the tenant of every event that names none itself.
	Tenant *string           `json:"tenant"`
	Events []json.RawMessage `json:"events"`
}

type eventBatchResult struct {
	ID         string `json:"id"`
	Event      string `json:"event"`
	Deliveries int    `json:"deliveries"`
	// Replayed marks an event whose idempotency key was already used
	// within the window: ID is that earlier event, and nothing new was
	// sent.
	Replayed bool `json:"replayed"`
}

type eventBatchResponse struct {
	Data []eventBatchResult `json:"data"`
}

// handleEventPublishBatch publishes up to MaxBatchEvents events in one
// request and one transaction: all of them, or, if any is wrong, none.
// A CRM sending a campaign makes one request per thousand events rather
// than one per event.
func (s *Server) handleEventPublishBatch(w http.ResponseWriter, r *http.Request) error {
	if r.Header.Get("Idempotency-Key") != "" {
		return invalid(FieldError{"Idempotency-Key", "is not taken by the batch route: give each event its own idempotencyKey"})
	}
	var req eventBatchRequest
	if err := decode(w, r, maxBatchBodyBytes, &req); err != nil {
		return err
	}
	switch {
	case req.Events == nil:
		return invalid(FieldError{"events", "is required: an array of 1 to 1000 events, each as POST /api/v1/events takes it"})
	case len(req.Events) == 0 || len(req.Events) > MaxBatchEvents:
		return invalid(FieldError{"events", fmt.Sprintf("must hold 1 to %d events, not %d", MaxBatchEvents, len(req.Events))})
	}
	// The batch's tenant (the body's, else the credential's or header's)
	// is resolved once; an event naming its own is resolved on its own.
	batchTenant := currentPrincipal(r).tenant
	if req.Tenant != nil {
		t, err := s.eventTenant(r, req.Tenant, batchTenant, "")
		if err != nil {
			return err
		}
		batchTenant = t
	}
	batch := make([]store.PublishParams, len(req.Events))
	var bad []FieldError
	for i, raw := range req.Events {
		prefix := fmt.Sprintf("events[%d].", i)
		var ev eventPublishRequest
		if err := decodeAs(raw, "the event", &ev); err != nil {
			bad = append(bad, prefixed(err, prefix)...)
			continue
		}
		key := ""
		if ev.IdempotencyKey != nil {
			key = *ev.IdempotencyKey
		}
		tenant := batchTenant
		if ev.Tenant != nil || tenant == "" {
			t, err := s.eventTenant(r, ev.Tenant, batchTenant, prefix)
			if err != nil {
				return err
			}
			tenant = t
		}
		p, fieldErrs, err := s.publishParams(ev, key, ev.IdempotencyKey != nil, prefix, tenant)
		if err != nil {
			return err
		}
		bad = append(bad, fieldErrs...)
		batch[i] = p
	}
	if bad != nil {
		return invalid(bad...)
	}
	results, err := s.publisher.PublishEvents(r.Context(), batch)
	if conflict := (*store.IdempotencyConflictError)(nil); errors.As(err, &conflict) {
		return idempotencyConflict(fmt.Sprintf("events[%d].idempotencyKey", conflict.Index), conflict.Key)
	}
	if err != nil {
		return publishError(err, true)
	}
	out := eventBatchResponse{Data: make([]eventBatchResult, len(results))}
	wake := false
	for i, res := range results {
		out.Data[i] = eventBatchResult{ID: res.Event.ID, Event: res.Event.Type, Deliveries: res.Deliveries, Replayed: res.Duplicate}
		wake = wake || (!res.Duplicate && res.Deliveries > res.Handed)
	}
	if wake {
		s.waker.Wake()
	}
	return s.json(w, http.StatusAccepted, out)
}

// idempotencyConflict answers a key used again with different content: 422,
// as the IETF Idempotency-Key draft asks, naming where the key was given.
// Replaying the first event would drop the new content without a word.
func idempotencyConflict(field, key string) *Error {
	e := errorf(http.StatusUnprocessableEntity, "%s %q was already used with different content (another event, data or timestamp) within %d hours: use a new key for a new event",
		field, key, int(store.IdempotencyWindow.Hours()))
	e.Details = []FieldError{{field, fmt.Sprintf("%q was already used with different content", key)}}
	return e
}

// publishError names the limit a refused publish ran into. One event over
// the limit cannot be split, so its advice differs from a batch's: "send
// fewer events per request" would leave its publisher nothing to try.
func publishError(err error, batch bool) error {
	if limit := (*store.DeliveryLimitError)(nil); errors.As(err, &limit) {
		if !batch {
			return errorf(http.StatusBadRequest, "the event would create %d deliveries (one per matching webhook), more than the limit of %d per request (--max-deliveries-per-request): ask the operator to raise the limit, or subscribe fewer webhooks to this event type",
				limit.Deliveries, limit.Limit)
		}
		return errorf(http.StatusBadRequest, "the events would create %d deliveries, more than the limit of %d per request (--max-deliveries-per-request): send fewer events per request",
			limit.Deliveries, limit.Limit)
	}
	return err
}

// prefixed names a batch item's decoding error (decodeAs, naming it "the
// event") by its place in the batch:
// its field errors get prefix in front of the field, and any other error
// becomes an error of the item as a whole.
func prefixed(err error, prefix string) []FieldError {
	var e *Error
	if !errors.As(err, &e) {
		return []FieldError{{strings.TrimSuffix(prefix, "."), err.Error()}}
	}
	if len(e.Details) == 0 {
		return []FieldError{{strings.TrimSuffix(prefix, "."), e.Message}}
	}
	out := make([]FieldError, len(e.Details))
	for i, d := range e.Details {
		out[i] = FieldError{prefix + d.Field, d.Message}
	}
	return out
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
	Tenant         string          `json:"tenant"`
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
	e, err := s.store.Event(r.Context(), tenantOf(r), id)
	if err != nil {
		return asNotFound(err, "event")
	}
	out := eventJSON{ID: e.ID, Tenant: e.TenantID, Event: e.Type, Timestamp: ts(e.OccurredAt), Data: e.Payload, Deliveries: e.DeliveryCount, CreatedAt: ts(e.CreatedAt)}
	if e.IdempotencyKey != "" {
		out.IdempotencyKey = &e.IdempotencyKey
	}
	return s.json(w, http.StatusOK, out)
}

// checkData checks data against the schema of eventType when validation
// is on, naming each violation by field followed by its JSON Pointer into
// the data ("data/contact/phone", "events[2].data/messageId").
func (s *Server) checkData(eventType string, data []byte, field string) []FieldError {
	if !s.checkEventData {
		return nil
	}
	vs := s.catalog.ValidateData(eventType, data)
	if vs == nil {
		return nil
	}
	out := make([]FieldError, len(vs))
	for i, v := range vs {
		out[i] = FieldError{field + v.Pointer, v.Reason}
	}
	return out
}

// eventTypeJSON is one type of GET /api/v1/event-types.
type eventTypeJSON struct {
	Name        string `json:"name"`
	Description string `json:"description"`
	// Schema is the JSON Schema of the type's data; null when any data
	// is accepted.
	Schema   json.RawMessage   `json:"schema"`
	Examples []json.RawMessage `json:"examples"`
}

// eventTypesResponse keeps "data", the list of names scripts read, and
// adds "types", what the catalogue says of each, in the same order.
type eventTypesResponse struct {
	Data  []string        `json:"data"`
	Types []eventTypeJSON `json:"types"`
}

func (s *Server) handleEventTypes(w http.ResponseWriter, r *http.Request) error {
	entries := s.catalog.Entries()
	out := eventTypesResponse{Data: make([]string, len(entries)), Types: make([]eventTypeJSON, len(entries))}
	for i, e := range entries {
		out.Data[i] = e.Name
		t := eventTypeJSON{Name: e.Name, Description: e.Description, Schema: e.Schema, Examples: e.Examples}
		if t.Schema == nil {
			t.Schema = json.RawMessage("null")
		}
		if t.Examples == nil {
			t.Examples = []json.RawMessage{}
		}
		out.Types[i] = t
	}
	return s.json(w, http.StatusOK, out)
}
